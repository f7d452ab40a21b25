"""tools/benchmark_yolo11_vs_ultralytics.py: both training steps compute the same loss on
the same batch (the check it makes before timing), and it reports the ratio."""
import json

import pytest

from joint_testing import run_tool

pytestmark = pytest.mark.slow  # every test here trains or starts processes


def test_same_loss_then_a_ratio(tmp_path):
    out = tmp_path / 'bench.json'
    printed = run_tool('benchmark_yolo11_vs_ultralytics.py', '--rounds', '2', '--iters', '1',
                       '--warmup', '0', '--batch', '2', '--image-size', '96', '--device', 'cpu',
                       '--out', str(out), cwd=str(tmp_path))
    assert 'ratio ours/Ultralytics' in printed
    result = json.loads(out.read_text())
    first = result['first_loss']
    assert abs(first['ours'] - first['ultralytics']) < 1e-4 * first['ultralytics']
    assert len(result['times']['ours']) == len(result['times']['ultralytics']) == 2
    median = result['median']
    assert result['ratio'] == pytest.approx(median['ours'] / median['ultralytics'])
