"""MMDetection's analysis tools on a tiny trained joint model, through the project's
wrappers (tools/analysis_tools/*.py): confusion_matrix.py on test.py --out results,
analyze_logs.py plot_curve of the contrastive terms, get_flops.py (the branch counted
with fused inference, absent with stock), and benchmark.py (CUDA only: on the CPU a
clear error that names the replacement)."""
import os.path as osp
import re

import pytest
import torch

from joint_testing import BASELINE_CONFIG, JOINT_CONFIG, TINY_RUN, run_tool

pytestmark = pytest.mark.slow  # every test here trains or starts processes

BRANCH = 'model.roi_head.bbox_head.contrastive_branch.inference'
DATA = [o for o in TINY_RUN if o.startswith(('builtin_dataset', 'val_', 'test_'))]


@pytest.fixture(scope='module')
def trained(tmp_path_factory, joint_runs):
    """The shared joint Faster R-CNN run (its log and epoch-2 checkpoint, read only), and
    its test-split results."""
    cwd = str(tmp_path_factory.mktemp('analysis'))
    work_dir = str(joint_runs.straight)
    results = osp.join(cwd, 'results.pkl')
    run_tool('test.py', JOINT_CONFIG, osp.join(work_dir, 'epoch_2.pth'), '--out', results,
             '--cfg-options', *DATA, cwd=cwd)
    return cwd, work_dir, results


def test_confusion_matrix_on_test_results(trained):
    cwd, _, results = trained
    out = osp.join(cwd, 'confusion')
    run_tool('analysis_tools/confusion_matrix.py', JOINT_CONFIG, results, out,
             '--cfg-options', *DATA, cwd=cwd)
    assert osp.getsize(osp.join(out, 'confusion_matrix.png')) > 10_000


def test_plot_curve_of_the_contrastive_terms(trained):
    import glob
    cwd, work_dir, _ = trained
    (log, ) = glob.glob(osp.join(work_dir, '2*', 'vis_data', '2*.json'))
    out = osp.join(cwd, 'curves.png')
    output = run_tool('analysis_tools/analyze_logs.py', 'plot_curve', log, '--keys',
                      'loss_infonce', 'loss_aux_ce', 'infonce_acc', '--out', out, cwd=cwd)
    for key in ('loss_infonce', 'loss_aux_ce', 'infonce_acc'):
        assert f'metric is {key}' in output
    assert osp.getsize(out) > 10_000


def flops(config, cwd, *options):
    output = run_tool('analysis_tools/get_flops.py', config, '--cfg-options', *DATA, *options,
                      cwd=cwd)
    return float(re.search(r'Flops: ([\d.]+)G', output).group(1))


def test_get_flops_counts_the_branch_only_when_it_runs(trained):
    cwd = trained[0]
    stock = flops(BASELINE_CONFIG, cwd)
    joint_stock = flops(JOINT_CONFIG, cwd, f'{BRANCH}=stock')
    joint_fused = flops(JOINT_CONFIG, cwd, f'{BRANCH}=fused')
    assert joint_stock == stock  # the branch is skipped: the stock detector's count
    assert joint_fused > stock


def test_benchmark(trained):
    cwd, work_dir, _ = trained
    code, output = run_tool('analysis_tools/benchmark.py', JOINT_CONFIG, '--checkpoint',
                            osp.join(work_dir, 'epoch_2.pth'), '--task', 'inference',
                            '--max-iter', '20', '--log-interval', '10', '--cfg-options', *DATA,
                            cwd=cwd, check=False)
    if torch.cuda.is_available():
        assert code == 0 and 'fps' in output.lower(), output[-3000:]
    else:
        assert code != 0 and 'no CUDA GPU is available here' in output
        assert 'tools/benchmark_overhead.py --device cpu' in output
