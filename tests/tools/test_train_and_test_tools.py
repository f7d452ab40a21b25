"""The baseline through the real tools: train, save, resume, evaluate, load_from.

Runs tools/train.py and tools/test.py as a user would (subprocesses, cwd in a temporary
folder so that the built-in dataset and work dirs land there) on tiny images.
"""
import os.path as osp
import pickle

import pytest
import torch
from mmengine.runner.checkpoint import CheckpointLoader

from joint_testing import BASELINE_CONFIG, ITERS_PER_EPOCH, TINY_RUN, run_tool, scalars
from mmclipjoint.utils import load_local_checkpoint

pytestmark = pytest.mark.slow  # every test here trains or starts processes


def train_args(work_dir, max_epochs, *extra):
    return [BASELINE_CONFIG, '--work-dir', work_dir, *extra, '--cfg-options', *TINY_RUN,
            f'train_cfg.max_epochs={max_epochs}', f'train_cfg.val_interval={max_epochs}']


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """One epoch of training, then an automatic resume to a second epoch."""
    cwd = str(tmp_path_factory.mktemp('run'))
    work_dir = osp.join(cwd, 'work')
    first = run_tool('train.py', *train_args(work_dir, 1), cwd=cwd)
    first_log = scalars(work_dir)
    resumed = run_tool('train.py', *train_args(work_dir, 2, '--resume'), cwd=cwd)
    return dict(cwd=cwd, work_dir=work_dir, first=first, first_log=first_log, resumed=resumed,
                resumed_log=scalars(work_dir))


def test_training_generates_data_and_saves(trained):
    assert osp.isfile(osp.join(trained['cwd'], 'data/shapes/meta.json'))
    iters = [r['iter'] for r in trained['first_log'] if 'loss' in r]
    assert iters == list(range(1, ITERS_PER_EPOCH + 1))
    assert all(r['loss'] == r['loss'] for r in trained['first_log'] if 'loss' in r)  # finite
    for name in ('epoch_1.pth', 'epoch_2.pth'):
        assert osp.isfile(osp.join(trained['work_dir'], name))


def test_resume_starts_at_the_saved_iteration(trained):
    assert f'resumed epoch: 1, iter: {ITERS_PER_EPOCH}' in trained['resumed']
    iters = [r['iter'] for r in trained['resumed_log'] if 'loss' in r]
    assert iters == list(range(ITERS_PER_EPOCH + 1, 2 * ITERS_PER_EPOCH + 1))
    # The end-of-training validation ran and logged COCO metrics.
    assert any('coco/bbox_mAP' in r for r in trained['resumed_log'])


def test_tools_test_evaluates_a_saved_checkpoint(trained, tmp_path):
    ckpt = osp.join(trained['work_dir'], 'epoch_2.pth')
    out = run_tool('test.py', BASELINE_CONFIG, ckpt, '--work-dir', str(tmp_path),
                   '--cfg-options', *TINY_RUN, cwd=trained['cwd'])
    assert 'Load checkpoint from' in out
    (record,) = [r for r in scalars(str(tmp_path)) if 'coco/bbox_mAP' in r]
    for key in ('coco/bbox_mAP', 'coco/bbox_mAP_50', 'coco/bbox_mAP_75'):
        assert 0.0 <= record[key] <= 1.0
    for key in ('coco/bbox_mAP_s', 'coco/bbox_mAP_m', 'coco/bbox_mAP_l'):
        # -1 is pycocotools' "no ground truth of that size"
        assert record[key] == -1.0 or 0.0 <= record[key] <= 1.0


def test_mmdets_own_test_tool_works_through_custom_imports(trained, tmp_path):
    """No mmclipjoint tool involved: the config's custom_imports registers everything and
    makes the checkpoint loadable (the data exists already, from training)."""
    import subprocess
    import sys

    from mmclipjoint.utils.tools import mmdet_tool_path
    ckpt = osp.join(trained['work_dir'], 'epoch_2.pth')
    proc = subprocess.run([sys.executable, mmdet_tool_path('test.py'), BASELINE_CONFIG, ckpt,
                           '--work-dir', str(tmp_path), '--cfg-options', *TINY_RUN],
                          cwd=trained['cwd'], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert any('coco/bbox_mAP' in r for r in scalars(str(tmp_path)))


def test_load_from_a_saved_checkpoint_starts_a_new_run(trained, tmp_path):
    ckpt = osp.join(trained['work_dir'], 'epoch_2.pth')
    out = run_tool('train.py', *train_args(str(tmp_path), 1), f'load_from={ckpt}',
                   cwd=trained['cwd'])
    assert f'Load checkpoint from {ckpt}' in out
    assert 'resumed epoch' not in out
    assert [r['iter'] for r in scalars(str(tmp_path)) if 'loss' in r][0] == 1


def test_checkpoints_load_through_the_safe_local_loader(trained):
    ckpt = osp.join(trained['work_dir'], 'epoch_1.pth')
    # torch >= 2.6 refuses mmengine's checkpoints by default...
    with pytest.raises(pickle.UnpicklingError, match='HistoryBuffer|weights_only'):
        torch.load(ckpt)
    # ...so importing mmclipjoint registers a loader for local paths that allows exactly
    # the types they hold (tests/utils/test_checkpoint.py: what else is refused).
    assert CheckpointLoader._schemes[''] is load_local_checkpoint
    assert CheckpointLoader._schemes['http://'] is not load_local_checkpoint
    checkpoint = CheckpointLoader.load_checkpoint(ckpt, map_location='cpu')
    assert checkpoint['meta']['iter'] == ITERS_PER_EPOCH
    assert 'message_hub' in checkpoint and 'optimizer' in checkpoint
    with pytest.raises(FileNotFoundError, match='missing.pth can not be found'):
        CheckpointLoader.load_checkpoint(osp.join(trained['cwd'], 'missing.pth'))
