"""benchmarks/gpu/check.py, the prepared GPU check, on the CPU: the dry run builds and
validates every step's command, a wrong command is named, and a real run skips what
needs CUDA and stops by its deadline."""
import json
import os.path as osp
import subprocess
import sys

import pytest

from joint_testing import REPO

pytestmark = pytest.mark.slow  # starts processes that parse every config
CHECK = osp.join(REPO, 'benchmarks', 'gpu', 'check.py')
EXPECTED_STEPS = {
    'stack', 'overhead', 'yolo11-vs-ultralytics-train', 'yolo11-vs-ultralytics-predict',
    'train-amp-faster-rcnn', 'train-amp-yolox', 'train-amp-rtmdet', 'train-amp-yolo11',
    'mmdet-benchmark', 'projection-faster-rcnn-r50-voc', 'projection-yolo11n-coco',
    'projection-yolo11s-coco', 'nccl'}


def run_check(tmp_path, *args):
    proc = subprocess.run([sys.executable, CHECK, '--work-dir', str(tmp_path / 'work'),
                           '--out', str(tmp_path / 'results'), *args], cwd=REPO,
                          capture_output=True, text=True, timeout=600)
    return proc, json.loads((tmp_path / 'results.json').read_text())


def test_dry_run_validates_every_step(tmp_path):
    proc, results = run_check(tmp_path, '--dry-run')
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    steps = {row['name']: row for row in results['steps']}
    assert set(steps) == EXPECTED_STEPS
    for row in steps.values():
        assert row['status'] == 'valid (dry run)', row
    # The commands are the tools' own, with the settings the docs describe.
    assert '--device cuda --pair all' in steps['overhead']['command']
    assert '--amp' in steps['train-amp-yolo11']['command']
    assert '--image-scale 1000 600' in steps['projection-faster-rcnn-r50-voc']['command']
    assert 'dist_train.sh' in steps['nccl']['command']
    assert '| step | status |' in (tmp_path / 'results.md').read_text()


def test_a_wrong_command_is_named():
    sys.path.insert(0, osp.dirname(CHECK))
    try:
        import check
    finally:
        sys.path.remove(osp.dirname(CHECK))
    config = 'configs/yolo11/yolo11_n_24e_shapes.py'
    assert check.validate(check.Step('ok', ['tools/benchmark_overhead.py', '--pair', 'yolo11'],
                                     10, configs=[config],
                                     options=['train_cfg.max_epochs=1'])) == []
    problems = check.validate(check.Step(
        'bad', ['tools/benchmark_overhead.py', '--pair', 'nonsense'], 10, configs=[
            config, 'configs/missing.py'], options=['train_cfg.max_epoch=1']))
    assert any('refuses its arguments' in p for p in problems)
    assert any('configs/missing.py does not exist' in p for p in problems)
    assert any('train_cfg.max_epoch names no field' in p for p in problems)
    assert check.validate(check.Step('gone', ['tools/nothing.py'], 10)) == \
        ['tools/nothing.py does not exist']
    # MMDetection's own tools are validated by their own parsers.
    assert check.validate(check.Step('mmdet', ['tools/train.py', config, '--amp'], 10)) == []
    assert check.validate(check.Step('mmdet', ['tools/train.py', config, '--no-such'], 10))


def test_on_the_cpu_cuda_steps_are_skipped_and_the_deadline_holds(tmp_path):
    proc, results = run_check(tmp_path, '--only', 'stack', 'overhead', 'nccl',
                              '--deadline-s', '120')
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    steps = {row['name']: row for row in results['steps']}
    assert steps['stack']['status'] == 'ok'
    assert steps['stack']['metrics']['nms_keeps'] == [0, 2]
    assert steps['overhead']['status'] == 'skipped: needs cuda'
    assert steps['nccl']['status'] == 'skipped: needs cuda, two_gpus'
    proc, results = run_check(tmp_path, '--only', 'stack', '--deadline-s', '1')
    assert results['steps'][0]['status'] == 'skipped: deadline'
