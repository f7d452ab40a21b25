"""Two-process CPU training (gloo, torchrun through tools/dist_train.sh) of the three
joint detectors: every parameter gets a gradient on every step, so data-parallel
training runs through, and the ranks end with identical parameters; the logged losses are
the mean of the ranks' own. A two-process run resumed from a checkpoint continues every
rank with the losses of an unbroken run; two nodes (one process each, started as on two
machines) train to identical parameters."""
import json
import os
import os.path as osp
import socket
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config

from joint_testing import (DETERMINISTIC, HELPERS, JOINT_CONFIG, REPO, RTMDET_JOINT, YOLOX_JOINT,
                           run_tool, scalars, write_config)
from mmclipjoint.datasets import prepare_builtin_dataset
from mmclipjoint.utils import load_checkpoint_file
from mmclipjoint.utils.branches import branch_state_keys

pytestmark = pytest.mark.slow  # every test here trains or starts processes

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


def recording_config(path, config):
    """``config`` with each process recording its own losses and final parameters."""
    return write_config(
        path, config,
        custom_imports="dict(imports=['mmclipjoint', 'mmclipjoint_test_hooks'], "
                       'allow_failed_imports=False)',
        custom_hooks="[dict(type='RecordRankHook')] + _base_.clip_joint_hooks")


def dist_train(cwd, config, work_dir, epochs, *extra, options=()):
    return run_tool(None, config, '2', '--work-dir', str(work_dir), *extra, '--cfg-options',
                    *DETERMINISTIC, *options, f'train_cfg.max_epochs={epochs}',
                    f'train_cfg.val_interval={epochs + 1}', cwd=cwd, launcher='dist_train.sh',
                    env=dict(PORT=str(free_port()), OMP_NUM_THREADS='1', PYTHON=sys.executable))


@pytest.mark.parametrize('config, sparse', [(JOINT_CONFIG, False), (YOLOX_JOINT, True),
                                            (RTMDET_JOINT, True)],
                         ids=['faster-rcnn', 'yolox', 'rtmdet'])
def test_two_process_training_on_cpu_ends_with_identical_parameters(
        tmp_path_factory, tmp_path, monkeypatch, config, sparse):
    cwd = str(tmp_path_factory.mktemp('dist'))
    test_config = recording_config(tmp_path / 'dist.py', config)
    options = (SPARSE + rank_one_without_objects(cwd, config, tmp_path, monkeypatch)
               if sparse else [])
    work_dir = tmp_path / 'work'
    dist_train(cwd, test_config, work_dir, 2, options=options)
    weights = [torch.load(work_dir / f'rank{r}_parameters.pth', weights_only=True)
               for r in (0, 1)]
    assert weights[0].keys() == weights[1].keys()
    branch = branch_state_keys(weights[0])
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


def test_two_process_resume_continues_every_rank_with_its_own_losses(tmp_path):
    """Each rank draws its own RoI samples and flips; after a resume each must draw what it
    would have drawn, so every rank's random state is in the checkpoint."""
    config = recording_config(tmp_path / 'dist.py', JOINT_CONFIG)
    straight, resumed = tmp_path / 'straight', tmp_path / 'resumed'
    dist_train(str(tmp_path), config, straight, 2)
    dist_train(str(tmp_path), config, resumed, 1)
    states = load_checkpoint_file(str(resumed / 'epoch_1.pth'))['meta']['rng_state']
    assert sorted(states) == [0, 1]
    assert not torch.equal(states[0]['torch'], states[1]['torch'])  # the ranks drew apart
    out = dist_train(str(tmp_path), config, resumed, 2, '--resume')
    assert 'resumed epoch: 1, iter: 2' in out
    for rank in (0, 1):
        unbroken = json.load(open(straight / f'rank{rank}_losses.json'))
        after = json.load(open(resumed / f'rank{rank}_losses.json'))
        assert len(unbroken) == 4 and len(after) == 2  # 2 iterations an epoch
        for want, have in zip(unbroken[2:], after):
            assert have.keys() == want.keys()
            for key in want:
                assert have[key] == pytest.approx(want[key], rel=1e-5, abs=1e-6), (rank, key)


@pytest.mark.parametrize('config', [JOINT_CONFIG, YOLOX_JOINT], ids=['faster-rcnn', 'yolox'])
def test_two_nodes_of_one_process_each_train_to_identical_parameters(tmp_path, config):
    """`NNODES=2 NODE_RANK=0|1 MASTER_ADDR=... bash tools/dist_train.sh CONFIG 1`, started
    twice as on two machines: each node in its own folder (its own copy of the built-in
    dataset, its own work dir), meeting at the master's address and port; they end with
    identical parameters and the validation at the end runs across both."""
    test_config = recording_config(tmp_path / 'dist.py', config)
    port = str(free_port())
    nodes = []
    for node in (0, 1):
        folder = tmp_path / f'node{node}'
        folder.mkdir()
        env = dict(os.environ, NNODES='2', NODE_RANK=str(node), MASTER_ADDR='127.0.0.1',
                   PORT=port, OMP_NUM_THREADS='1', PYTHON=sys.executable,
                   PYTHONPATH=HELPERS + os.pathsep + os.environ.get('PYTHONPATH', ''))
        command = ['bash', osp.join(REPO, 'tools', 'dist_train.sh'), test_config, '1',
                   '--work-dir', str(folder / 'work'), '--cfg-options', *DETERMINISTIC,
                   'train_cfg.max_epochs=2', 'train_cfg.val_interval=3',
                   # No file system is shared: evaluation results travel over the
                   # process group, not through a folder only node 0 can see.
                   'val_evaluator.collect_device=gpu']
        nodes.append(subprocess.Popen(command, cwd=folder, env=env, stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, text=True))
    outputs = [node.communicate(timeout=900)[0] for node in nodes]
    for rank, (node, output) in enumerate(zip(nodes, outputs)):
        assert node.returncode == 0, f'node {rank}:\n' + '\n\n'.join(o[-3000:] for o in outputs)
    weights = [torch.load(tmp_path / f'node{r}' / 'work' / f'rank{r}_parameters.pth',
                          weights_only=True) for r in (0, 1)]
    assert weights[0].keys() == weights[1].keys()
    assert branch_state_keys(weights[0])
    for key, value in weights[0].items():
        torch.testing.assert_close(value, weights[1][key], msg=key)
    local = [json.load(open(tmp_path / f'node{r}' / 'work' / f'rank{r}_losses.json'))
             for r in (0, 1)]
    assert len(local[0]) == len(local[1]) == 4  # 8 images over 2 processes of batch 2
    assert any(r0['loss'] != pytest.approx(r1['loss'], rel=1e-4) for r0, r1 in zip(*local))
    # The validation at the end ran across both nodes (an untrained YOLOX may predict
    # nothing yet: then CocoMetric logs no mAP, but the gathering ran all the same).
    (log, ) = (tmp_path / 'node0' / 'work').glob('2*/2*.log')
    assert 'Epoch(val) [2][1/1]' in log.read_text()
