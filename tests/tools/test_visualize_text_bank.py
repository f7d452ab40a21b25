"""tools/visualize_text_bank.py: the initial bank it rebuilds is the one training started
from, the learned one is the checkpoint's, and it draws both."""
import pytest
import torch
from mmengine.config import Config

from joint_testing import JOINT_CONFIG, TINY_RUN, run_tool
from mmclipjoint.utils import load_checkpoint_file
from mmclipjoint.utils.branches import text_banks
from mmclipjoint.visualization import bank_state, build_model

pytestmark = pytest.mark.slow  # every test here trains or starts processes

BANK = 'roi_head.bbox_head.contrastive_branch.text_bank'


def test_initial_bank_is_what_training_started_from_and_learned_is_the_checkpoints(tmp_path):
    work = tmp_path / 'work'
    # Learning rate 0: the checkpoint's bank is still the one the Runner built.
    run_tool('train.py', JOINT_CONFIG, '--work-dir', str(work), '--cfg-options', *TINY_RUN,
             'train_cfg.max_epochs=1', 'train_cfg.val_interval=2',
             'optim_wrapper.optimizer.lr=0.0', cwd=str(tmp_path))
    checkpoint = str(work / 'epoch_1.pth')
    cfg = Config.fromfile(JOINT_CONFIG)
    initial = text_banks(build_model(cfg))[BANK]
    saved = load_checkpoint_file(checkpoint, map_location='cpu')['state_dict']
    torch.testing.assert_close(initial.embeddings.data, saved[f'{BANK}.embeddings'])
    torch.testing.assert_close(initial.background_embedding.data,
                               saved[f'{BANK}.background_embedding'])

    # A "learned" bank: two classes made identical, temperatures changed.
    saved[f'{BANK}.embeddings'][1] = saved[f'{BANK}.embeddings'][0]
    saved[f'{BANK}.log_logit_scale'] += 1.0
    learned_path = str(tmp_path / 'learned.pth')
    torch.save(dict(state_dict=saved), learned_path)
    out = tmp_path / 'bank.png'
    printed = run_tool('visualize_text_bank.py', JOINT_CONFIG, learned_path, '--out', str(out),
                       cwd=str(tmp_path))
    assert out.stat().st_size > 0 and f'wrote {out}' in printed
    learned = bank_state(
        text_banks(build_model(cfg, learned_path))[BANK])
    assert learned['cosine'][0, 1] > 0.9999  # the two classes' embeddings now coincide
    start = bank_state(initial)
    torch.testing.assert_close(learned['temperature'], start['temperature'] / torch.e)
    assert f'{BANK}: mean off-diagonal cosine' in printed and '(initial) ->' in printed


def test_a_stock_config_is_refused(tmp_path):
    from joint_testing import BASELINE_CONFIG
    code, out = run_tool('visualize_text_bank.py', BASELINE_CONFIG, 'missing.pth',
                         cwd=str(tmp_path), check=False)
    assert code != 0 and 'the model has no TextEmbeddingBank (a stock config?)' in out
