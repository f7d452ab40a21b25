"""tools/benchmark_yolo11_vs_ultralytics.py: both training steps compute the same loss on
the same batch (the check it makes before timing), and it reports the ratio."""
import json
import os.path as osp
import sys

import pytest

from joint_testing import REPO

sys.path.insert(0, osp.join(REPO, 'tools'))
import benchmark_yolo11_vs_ultralytics as bench  # noqa: E402

pytestmark = pytest.mark.slow  # every test here trains or starts processes


def test_same_loss_then_a_ratio(tmp_path, capsys):
    out = tmp_path / 'bench.json'
    ratio = bench.main(['--rounds', '2', '--iters', '1', '--warmup', '0', '--batch', '2',
                        '--image-size', '96', '--device', 'cpu', '--out', str(out)])
    printed = capsys.readouterr().out
    assert 'ratio ours/Ultralytics' in printed and ratio > 0
    result = json.loads(out.read_text())
    first = result['first_loss']
    assert abs(first['ours'] - first['ultralytics']) < 1e-4 * first['ultralytics']
    assert len(result['times']['ours']) == len(result['times']['ultralytics']) == 2
