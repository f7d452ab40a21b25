"""Two-process CPU training (gloo, torchrun through tools/dist_train.sh) of the three
joint detectors: every parameter gets a gradient on every step, so data-parallel
training runs through, and the ranks end with identical parameters; the logged losses are
the mean of the ranks' own."""
import json
import os.path as osp
import socket
import sys

import pytest
import torch
from mmengine.config import Config

from joint_testing import (JOINT_CONFIG, RTMDET_JOINT, TINY_RUN, YOLOX_JOINT, run_tool, scalars,
                           write_config)
from mmclipjoint.datasets import prepare_builtin_dataset

DETERMINISTIC = TINY_RUN + ['randomness.deterministic=True', 'log_processor.window_size=1']
# The sampling that made one-stage training die in its first iteration before every
# level had a gradient: a level often gets no sampled cell.
SPARSE = ['model.bbox_head.contrastive_branch.negative_ratio=0.2',
          'model.bbox_head.contrastive_branch.min_negatives=1']


def free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def rank_one_without_objects(cwd, config, tmp_path, monkeypatch):
    """Options for a training set whose images on rank 1 (odd indices, unshuffled) have
    no object: with SPARSE sampling rank 1 then projects one cell a step, so at least
    two of its three levels have none."""
    cfg = Config.fromfile(config)
    cfg.merge_from_dict(dict((o.split('=', 1)[0], eval(o.split('=', 1)[1], {}, {}))
                             for o in DETERMINISTIC))
    monkeypatch.chdir(cwd)  # where the tool generates the data too
    prepare_builtin_dataset(cfg, logger=lambda *_: None)
    ann_file = osp.join(cwd, cfg.train_dataloader.dataset.data_root,
                        cfg.train_dataloader.dataset.ann_file)
    coco = json.load(open(ann_file))
    empty = {image['id'] for image in coco['images'][1::2]}
    coco['annotations'] = [a for a in coco['annotations'] if a['image_id'] not in empty]
    path = tmp_path / 'rank1_empty.json'
    json.dump(coco, open(path, 'w'))
    return [f'train_dataloader.dataset.ann_file={path}',
            'train_dataloader.dataset.filter_cfg.filter_empty_gt=False',
            'train_dataloader.sampler.shuffle=False']


@pytest.mark.parametrize('config, sparse', [(JOINT_CONFIG, False), (YOLOX_JOINT, True),
                                            (RTMDET_JOINT, True)],
                         ids=['faster-rcnn', 'yolox', 'rtmdet'])
def test_two_process_training_on_cpu_ends_with_identical_parameters(
        tmp_path_factory, tmp_path, monkeypatch, config, sparse):
    cwd = str(tmp_path_factory.mktemp('dist'))
    test_config = write_config(
        tmp_path / 'dist.py', config,
        custom_imports="dict(imports=['mmclipjoint', 'mmclipjoint_test_hooks'], "
                       'allow_failed_imports=False)',
        custom_hooks="[dict(type='RecordRankHook')] + _base_.clip_joint_hooks")
    options = (SPARSE + rank_one_without_objects(cwd, config, tmp_path, monkeypatch)
               if sparse else [])
    work_dir = tmp_path / 'work'
    run_tool(None, test_config, '2', '--work-dir', str(work_dir), '--cfg-options',
             *DETERMINISTIC, *options, 'train_cfg.max_epochs=2', 'train_cfg.val_interval=3',
             cwd=cwd, launcher='dist_train.sh',
             env=dict(PORT=str(free_port()), OMP_NUM_THREADS='1', PYTHON=sys.executable))
    weights = [torch.load(work_dir / f'rank{r}_parameters.pth', weights_only=True)
               for r in (0, 1)]
    assert weights[0].keys() == weights[1].keys()
    branch = [k for k in weights[0] if '.contrastive_branch.' in k]
    assert branch
    for key, value in weights[0].items():
        torch.testing.assert_close(value, weights[1][key], msg=key)
    local = [json.load(open(work_dir / f'rank{r}_losses.json')) for r in (0, 1)]
    logged = [r for r in scalars(str(work_dir)) if 'loss' in r]
    # 8 images over 2 processes of batch 2: 2 iterations an epoch.
    assert [r['iter'] for r in logged] == [1, 2, 3, 4] and len(local[0]) == len(local[1]) == 4
    for record, rank0, rank1 in zip(logged, *local):
        for key in ('loss', 'loss_cls', 'loss_infonce', 'loss_aux_ce'):
            assert record[key] == pytest.approx((rank0[key] + rank1[key]) / 2, rel=1e-4)
    assert any(r0['loss'] != pytest.approx(r1['loss'], rel=1e-4) for r0, r1 in zip(*local))
    if sparse:  # rank 1 had no object: no positive, so no InfoNCE term of its own
        assert all(r1['loss_infonce'] == 0.0 for r1 in local[1])
        assert any(r0['loss_infonce'] > 0 for r0 in local[0])
