"""tools/benchmark_overhead.py runs end to end and reports its ratios (no timing is
asserted: speed is measured by the benchmark, not by tests)."""
import json
import math

import pytest

from joint_testing import JOINT_CONFIG, TINY_RUN, build_detector, run_tool

pytestmark = pytest.mark.slow  # every test here trains or starts processes


def test_benchmark_reports_joint_over_baseline_ratios(tmp_path):
    out = tmp_path / 'bench.json'
    run_tool('benchmark_overhead.py', '--rounds', '2', '--train-iters', '1', '--warmup', '1',
             '--infer-images', '1', '--out', str(out), '--cfg-options', *TINY_RUN,
             cwd=str(tmp_path))
    result = json.load(open(out))
    assert result['setup']['device'] == 'cpu' and result['setup']['joint_inference'] == 'stock'
    for name in ('baseline', 'joint'):
        for key in ('train_s_per_iter', 'infer_images_per_s', 'train_memory_mb'):
            assert result[name][key] > 0 and math.isfinite(result[name][key])
    ratio = result['ratio']
    assert ratio['train_time'] == result['joint']['train_s_per_iter'] / \
        result['baseline']['train_s_per_iter']
    # The CPU memory count sees the branch: its parameters and their gradients at least.
    model = build_detector(JOINT_CONFIG)
    branch_bytes = sum(p.numel() * 4 for n, p in model.named_parameters()
                       if '.contrastive_branch.' in n)
    extra_mb = result['joint']['train_memory_mb'] - result['baseline']['train_memory_mb']
    assert extra_mb >= 2 * branch_bytes / 2**20
