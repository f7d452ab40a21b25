"""The baseline through the real tools: train, save, resume, evaluate, load_from.

Runs tools/train.py and tools/test.py as a user would (subprocesses, cwd in a temporary
folder so that the built-in dataset and work dirs land there) on tiny images.
"""
import glob
import json
import os.path as osp
import pickle
import subprocess
import sys

import pytest
import torch
from mmengine.runner.checkpoint import CheckpointLoader

from conftest import BASELINE_CONFIG, REPO
from mmclipjoint.utils import load_local_training_checkpoint

TINY_RUN = [
    'builtin_dataset.image_size=96', 'builtin_dataset.num_train=8', 'builtin_dataset.num_val=4',
    'train_dataloader.batch_size=2', 'default_hooks.logger.interval=1',
    'default_hooks.checkpoint.interval=1', 'randomness.seed=0',
] + [f'{loader}.{key}' for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader')
     for key in ('num_workers=0', 'persistent_workers=False')]
ITERS_PER_EPOCH = 4  # 8 images, batch 2


def run_tool(tool, *args, cwd):
    proc = subprocess.run([sys.executable, osp.join(REPO, 'tools', tool), *args], cwd=cwd,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f'{tool} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}'
    return proc.stdout + proc.stderr


def scalars(work_dir):
    """Log records of the newest run in work_dir (LoggerHook's json log: under vis_data/
    for training, beside the text log for testing)."""
    newest = sorted(glob.glob(osp.join(work_dir, '2*')))[-1]
    stamp = osp.basename(newest)
    (path, ) = [p for p in (osp.join(newest, 'vis_data', f'{stamp}.json'),
                            osp.join(newest, f'{stamp}.json')) if osp.isfile(p)]
    return [json.loads(line) for line in open(path)]


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


def test_load_from_a_saved_checkpoint_starts_a_new_run(trained, tmp_path):
    ckpt = osp.join(trained['work_dir'], 'epoch_2.pth')
    out = run_tool('train.py', *train_args(str(tmp_path), 1), f'load_from={ckpt}',
                   cwd=trained['cwd'])
    assert f'Load checkpoint from {ckpt}' in out
    assert 'resumed epoch' not in out
    assert [r['iter'] for r in scalars(str(tmp_path)) if 'loss' in r][0] == 1


def test_checkpoints_need_the_scoped_loader(trained):
    ckpt = osp.join(trained['work_dir'], 'epoch_1.pth')
    # torch >= 2.6 refuses mmengine's checkpoints by default...
    with pytest.raises(pickle.UnpicklingError, match='HistoryBuffer|weights_only'):
        torch.load(ckpt)
    # ...so importing mmclipjoint registers a loader for local paths only.
    assert CheckpointLoader._schemes[''] is load_local_training_checkpoint
    assert CheckpointLoader._schemes['http://'] is not load_local_training_checkpoint
    checkpoint = CheckpointLoader.load_checkpoint(ckpt, map_location='cpu')
    assert checkpoint['meta']['iter'] == ITERS_PER_EPOCH
    assert 'message_hub' in checkpoint and 'optimizer' in checkpoint
    with pytest.raises(FileNotFoundError, match='missing.pth can not be found'):
        CheckpointLoader.load_checkpoint(osp.join(trained['cwd'], 'missing.pth'))
