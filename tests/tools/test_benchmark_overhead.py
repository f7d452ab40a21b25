"""tools/benchmark_overhead.py runs end to end and reports its ratios with intervals and a
control (no timing is asserted: speed is measured by the benchmark, not by tests)."""
import json
import os.path as osp
import statistics

import pytest

from joint_testing import JOINT_CONFIG, REPO, TINY_RUN, build_detector, run_tool

pytestmark = pytest.mark.slow  # every test here trains or starts processes


def test_benchmark_reports_ratios_with_intervals_and_a_control(tmp_path):
    out = tmp_path / 'bench'
    run_tool('benchmark_overhead.py', '--rounds', '3', '--max-rounds', '3', '--train-repeats',
             '1', '--warmup', '1', '--infer-repeats', '1', '--threads', '1', '--out', str(out),
             '--cfg-options', *TINY_RUN, cwd=str(tmp_path))
    result = json.loads((tmp_path / 'bench.json').read_text())
    assert result['setup']['device'] == 'cpu' and result['setup']['threads'] == 1
    (row, ) = result['pairs']
    assert row['shared_weights']  # the joint model runs the stock detector's weights
    rounds = row['rounds']
    assert set(rounds['train']) == {'stock', 'joint', 'control'}
    assert set(rounds['inference']) == {'stock', 'joint_stock', 'joint_fused', 'control'}
    for times in (*rounds['train'].values(), *rounds['inference'].values()):
        assert len(times) == 3 and all(t > 0 for t in times)
    # Each ratio is the median of per-round ratios, inside its interval.
    ratio = row['ratio']
    per_round = [j / s for j, s in zip(rounds['train']['joint'], rounds['train']['stock'])]
    assert ratio['train_time']['ratio'] == pytest.approx(statistics.median(per_round))
    for key in ('train_time', 'train_control', 'infer_time_stock', 'infer_time_fused',
                'infer_control'):
        assert ratio[key]['low'] <= ratio[key]['ratio'] <= ratio[key]['high']
        assert ratio[key]['rounds'] == 3
    # --max-rounds equal to --rounds: a fixed number, and whether it resolved is recorded.
    assert row['rounds_run'] == dict(train=3, inference=3)
    assert set(row['resolved']) == {'train', 'inference'}
    # The CPU memory count sees the branch: its parameters and their gradients at least.
    model = build_detector(JOINT_CONFIG)
    branch_bytes = sum(p.numel() * 4 for n, p in model.named_parameters()
                       if '.contrastive_branch.' in n)
    extra_mb = row['train_memory_mb']['joint'] - row['train_memory_mb']['stock']
    assert extra_mb >= 2 * branch_bytes / 2**20
    table = (tmp_path / 'bench.md').read_text()
    assert '| pair | train step | control |' in table and row['pair'] in table


def test_a_joint_config_without_a_branch_is_refused(tmp_path):
    stock = osp.join(REPO, 'configs/yolo11/yolo11_n_24e_shapes.py')
    code, output = run_tool('benchmark_overhead.py', '--joint', stock, '--baseline', stock,
                            '--rounds', '2', '--max-rounds', '2', '--cfg-options', *TINY_RUN,
                            cwd=str(tmp_path), check=False)
    assert code != 0 and 'has no contrastive branch' in output
