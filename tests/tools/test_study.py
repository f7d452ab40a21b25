"""tools/study.py: the grid it plans, the configs it derives, a real (tiny) study run
through tools/train.py and tools/test.py, resumption, and its table and figures."""
import glob
import json
import os
import os.path as osp
import shutil
import signal
import subprocess
import sys
import time

import pytest
import torch
from mmengine.config import Config

from joint_testing import BASELINE_CONFIG, REPO, TINY_RUN, run_tool
from mmclipjoint import study
from mmclipjoint.study import results as study_results


def test_schedules_scale_in_epochs_and_keep_iteration_warmups():
    schedulers = Config.fromfile(BASELINE_CONFIG).param_scheduler
    warmup, steps = study.scaled_schedulers(schedulers, 0.5)
    assert (warmup['begin'], warmup['end']) == (0, 100)  # iterations: unchanged
    assert steps['milestones'] == [4] and steps['end'] == 6  # 9 of 12 epochs -> 4 of 6
    yolox = Config.fromfile(osp.join(REPO, 'configs/yolox/yolox_tiny_12e_shapes.py'))
    cosine = study.scaled_schedulers(yolox.param_scheduler, 0.5)[1]
    assert (cosine['begin'], cosine['end'], cosine['T_max']) == (1, 6, 5)  # 1..12 -> 1..6


def test_grid_is_seed_major_and_the_derived_config_sets_the_cell(tmp_path):
    runs = study.planned_runs(families=['faster-rcnn', 'yolox'], noise=[0, 0.4], seeds=[0, 1],
                              epochs=3)
    assert len(runs) == 2 * 2 * 2 * 2
    assert [r['seed'] for r in runs[:8]] == [0] * 8  # every cell at seed 0 first
    assert len({r['id'] for r in runs}) == len(runs)
    run = next(r for r in runs if r['variant'] == 'joint' and r['noise'] == 0.4)
    path = tmp_path / 'config.py'
    path.write_text(study.run_config(run, 'studies/x/data/n04/'))
    cfg = Config.fromfile(str(path))
    assert cfg.builtin_dataset.label_noise == 0.4 and cfg.builtin_dataset.imbalance_ratio == 5.0
    assert cfg.builtin_dataset.root == 'studies/x/data/n04/'
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        assert cfg[loader].dataset.data_root == 'studies/x/data/n04/'
    assert cfg.test_evaluator.ann_file == 'studies/x/data/n04/annotations/instances_test.json'
    assert cfg.val_evaluator.classwise and cfg.test_evaluator.classwise
    assert cfg.randomness.seed == run['seed'] and cfg.train_cfg.max_epochs == 3
    assert cfg.model.roi_head.bbox_head.type == 'ContrastiveBBoxHead'  # the joint config


def test_the_loss_warmup_scales_with_the_schedule(tmp_path):
    warmup = osp.join(REPO, 'configs/clip_joint/ablations/'
                      'faster-rcnn_r18-slim_fpn_clip-joint-warmup_12e_shapes.py')
    (run, ) = study.planned_runs(configs=[warmup], noise=[0], seeds=[0])
    path = tmp_path / 'config.py'
    path.write_text(study.run_config(run, 'data/x/'))
    cfg = Config.fromfile(str(path))
    branch = cfg.model.roi_head.bbox_head.contrastive_branch
    assert branch.loss_warmup_iters == 300  # 600 of 12 epochs -> 300 of 6: half, as meant
    assert branch.loss_contrastive.loss_weight == 1.0  # the rest of the branch kept


def test_each_family_trains_the_same_iterations_by_default(tmp_path):
    """6 epochs at batch 4 for the first three, 12 at batch 8 for YOLO11: 600 iterations
    each; --epochs still sets every run."""
    runs = study.planned_runs(noise=[0], seeds=[0])
    assert {r['family'] for r in runs} == {'faster-rcnn', 'yolox', 'rtmdet', 'yolo11'}
    for run in runs:
        path = tmp_path / f"{run['id']}.py"
        path.write_text(study.run_config(run, 'data/x/'))
        cfg = Config.fromfile(str(path))
        batches = 400 // cfg.train_dataloader.batch_size  # the built-in 400 training images
        assert cfg.train_cfg.max_epochs * batches == 600, run['id']
    forced = study.planned_runs(families=['yolo11'], epochs=2)
    assert {r['epochs'] for r in forced} == {2}


def test_a_config_without_the_builtin_dataset_is_refused(tmp_path):
    runs = study.planned_runs(configs=['configs/pascal_voc/faster-rcnn_r50_fpn_1x_voc0712.py'])
    with pytest.raises(SystemExit, match='has no builtin_dataset field'):
        study.run_config(runs[0], str(tmp_path))


@pytest.mark.slow
def test_a_tiny_study_runs_resumes_and_reports(tmp_path):
    out = tmp_path / 'study'
    tiny = [o for o in TINY_RUN if not o.startswith('default_hooks.checkpoint')]
    command = ['--families', 'faster-rcnn', '--noise', '0.5', '--seeds', '0', '--epochs', '1',
               '--out', str(out), '--cfg-options', *tiny]
    first = run_tool('study.py', *command, '--jobs', '2', cwd=str(tmp_path))  # both at once
    assert 'study: 0 runs done' in first and '2 to run' in first
    rows = json.load(open(out / 'results.json'))
    cells = sorted((r['variant'], r['noise'], r['seed']) for r in rows)
    assert cells == [('joint', 0.5, 0), ('stock', 0.5, 0)]
    for row in rows:
        for split in ('val', 'test'):
            assert 0.0 <= row[split]['bbox_mAP'] <= 1.0
        # Per-class AP (CocoMetric classwise) on the test split, for the figures.
        assert {f'{c}_precision' for c in row['classes']} <= set(row['test'])
        assert len(row['train_class_counts']) == 6 and row['minutes'] > 0
        assert row['device'] == ('cuda: ' + torch.cuda.get_device_name()
                                 if torch.cuda.is_available() else 'cpu')
    # The joint run is also evaluated with fused inference, on both splits; the stock not.
    joint = next(r for r in rows if r['variant'] == 'joint')
    stock = next(r for r in rows if r['variant'] == 'stock')
    assert joint['fused_option'] == \
        'model.roi_head.bbox_head.contrastive_branch.inference=fused'
    for split in ('val', 'test'):
        assert 0.0 <= joint[f'{split}_fused']['bbox_mAP'] <= 1.0
        assert f'{split}_fused' not in stock
    fused_log = (out / 'runs' / joint['id'] / 'val_fused.log').read_text()
    assert 'instances_val.json' in fused_log  # the validation split, not the test split
    # The cell's data: that noise, flips recorded, and a test split of its own.
    (data_dir, ) = [d for d in (out / 'data').iterdir() if d.is_dir()]
    meta = json.load(open(data_dir / 'meta.json'))
    assert meta['params']['label_noise'] == 0.5
    assert len(meta['train']['flipped_annotation_ids']) == round(0.5 * meta['train']['num_boxes'])
    assert meta['test']['num_images'] == 4 and meta['test']['flipped_annotation_ids'] == []

    again = run_tool('study.py', *command, cwd=str(tmp_path))
    assert 'study: 2 runs done' in again and '0 to run' in again
    assert json.load(open(out / 'results.json')) == rows  # read back, not redone
    assert 'faster-rcnn  stock      0.5' in again and '(1)' in again
    assert 'joint+fused' in again
    # Another study of the same stock run copies its row instead of training it.
    other = tmp_path / 'other'
    reused = run_tool('study.py', '--configs', BASELINE_CONFIG, '--noise', '0.5', '--seeds', '0',
                      '--epochs', '1', '--out', str(other), '--reuse', str(out / 'results.json'),
                      '--cfg-options', *tiny, cwd=str(tmp_path))
    assert '1 to run' in reused
    (copied, ) = json.load(open(other / 'results.json'))
    assert copied['test'] == stock['test'] and copied['family'] == 'custom'
    assert copied['reused_from'].endswith('results.json')
    assert not (other / 'runs').exists()  # nothing trained
    assert (out / 'map_vs_noise.png').stat().st_size > 0
    assert (out / 'per_class_ap.png').stat().st_size > 0
    assert '| faster-rcnn | joint+fused | 5 |' in (out / 'summary.md').read_text()


def test_two_studies_writing_one_results_file_lose_no_row(tmp_path):
    path = str(tmp_path / 'results.json')
    mine = [dict(id='a'), dict(id='b')]
    study.save_results(path, mine)
    study.save_results(path, [dict(id='c')])  # another process, started before 'a' and 'b'
    assert [r['id'] for r in study.load_results(path)] == ['c', 'a', 'b']
    written = study.save_results(path, mine + [dict(id='d')])
    assert [r['id'] for r in written] == ['a', 'b', 'd', 'c']


def test_configs_can_be_shown_under_a_family():
    detached = osp.join(REPO, 'configs/clip_joint/ablations/'
                        'faster-rcnn_r18-slim_fpn_clip-joint-detached_12e_shapes.py')
    (run, ) = study.planned_runs(configs=[detached], family='faster-rcnn', noise=[0],
                                 seeds=[0])
    assert run['family'] == 'faster-rcnn'
    assert run['variant'] == 'faster-rcnn_r18-slim_fpn_clip-joint-detached_12e_shapes'


def test_legend_labels_leave_out_what_the_config_names_share():
    labels = study.short_names(['stock', 'joint+fused', 'a_r18_fpn_12e_shapes',
                                'a_r18_fpn_clip-joint-detached_12e_shapes+fused'])
    assert labels['stock'] == 'stock' and labels['joint+fused'] == 'joint+fused'
    assert labels['a_r18_fpn_clip-joint-detached_12e_shapes+fused'] == 'detached+fused'
    assert labels['a_r18_fpn_12e_shapes'] == '12e'
    assert study.short_names(['stock', 'x_y_z']) == {'stock': 'stock', 'x_y_z': 'x_y_z'}
    # An ablation alone in its panel (beside stock and joint) is named by its change.
    assert study.short_names(['stock', 'joint', 'y_tiny_clip-joint-grad-scale-0.1_12e_s',
                              'y_tiny_clip-joint-grad-scale-0.1_12e_s+fused'])[
        'y_tiny_clip-joint-grad-scale-0.1_12e_s+fused'] == 'grad-scale-0.1+fused'
    # A variant keeps its colour across panels; stock, joint, joint+fused come first.
    colours = study.variant_colours(['grad-scale-0.1', 'joint', 'stock', 'joint+fused'])
    assert list(colours) == ['stock', 'joint', 'joint+fused', 'grad-scale-0.1']
    assert len(set(colours.values())) == 4
    many = study.variant_colours([f'option-{i}' for i in range(13)])
    assert len(set(many.values())) == 13


def test_report_gives_mean_and_std_over_seeds():
    rows = [dict(family='yolox', variant=v, config=f'cfg_{v}', noise=0.2, imbalance=5.0,
                 seed=s, test={m: value for m in study.METRICS}, val={'bbox_mAP': value})
            for v, values in (('stock', (0.30, 0.40)), ('joint', (0.50, 0.50)))
            for s, value in enumerate(values)]
    table = study.report(rows).splitlines()
    (stock, ) = [line for line in table if ' stock ' in line]
    (joint, ) = [line for line in table if ' joint ' in line]
    assert '0.350 ± 0.071 (2; worst 0.300)' in stock  # sample std of 0.30 and 0.40
    assert '0.500 ± 0.000 (2; worst 0.500)' in joint
    markdown = study.markdown_table(rows).splitlines()
    assert markdown[0] == '| family | variant | imbalance | noise 0.2 |'
    assert markdown[2] == '| yolox | stock | 5 | 0.350 ± 0.071 (2; worst 0.300) |'
    assert markdown[3] == '| yolox | joint | 5 | 0.500 ± 0.000 (2; worst 0.500) |'


def test_the_collapse_check_compares_each_joint_seed_with_its_own_stock_config():
    def rows_of(config, variant, values, noise=0.4):
        return [dict(family='rtmdet', variant=variant, config=config, noise=noise,
                     imbalance=5.0, seed=s, test={m: v for m in study.METRICS},
                     val={'bbox_mAP': v}) for s, v in enumerate(values)]
    rows = (rows_of('rtmdet_tiny_12e_shapes', 'rtmdet_tiny_12e_shapes', (0.40, 0.50))
            + rows_of('rtmdet_tiny_crops-pre_12e_shapes', 'rtmdet_tiny_crops-pre_12e_shapes',
                      (0.60, 0.60))
            # joint from scratch: one seed at 0.3 < 0.8 * 0.45 (its own stock's mean)
            + rows_of('rtmdet_tiny_clip-joint_12e_shapes', 'rtmdet_tiny_clip-joint_12e_shapes',
                      (0.30, 0.50))
            # the pretrained joint config against the pretrained stock: 0.50 / 0.60 > 0.8
            + rows_of('rtmdet_tiny_crops-pre_clip-joint-random-text_12e_shapes', 'random',
                      (0.50, 0.55))
            + rows_of('rtmdet_tiny_clip-joint_12e_shapes', 'no-stock', (0.1, ), noise=0.2))
    assert study.stock_config_of('rtmdet_tiny_crops-pre_clip-joint_12e_shapes@24e+fused') == \
        'rtmdet_tiny_crops-pre_12e_shapes@24e'
    assert study.stock_config_of('rtmdet_tiny_12e_shapes') is None
    checks = {c['variant']: c for c in study.collapse_check(rows)}
    assert set(checks) == {'rtmdet_tiny_clip-joint_12e_shapes', 'random'}  # no stock at 0.2
    scratch = checks['rtmdet_tiny_clip-joint_12e_shapes']
    assert scratch['collapsed'] and scratch['worst'] == 0.30
    assert scratch['stock_mean'] == pytest.approx(0.45)
    assert scratch['ratio'] == pytest.approx(0.30 / 0.45)
    assert not checks['random']['collapsed']
    assert checks['random']['ratio'] == pytest.approx(0.50 / 0.60)
    table = study.report(rows)
    assert 'collapse check' in table and table.count('COLLAPSED') == 1


def test_pair_flip_rows_get_their_own_ids_and_folders_and_do_not_mix(tmp_path):
    pairs = {'circle': 'hexagon', 'hexagon': 'circle', 'square': 'cross', 'cross': 'square',
             'triangle': 'star', 'star': 'triangle'}
    (run, ) = study.planned_runs(families=['rtmdet'], noise=[0.3], seeds=[0], epochs=2,
                                 noise_pairs=pairs)[:1]
    (plain, ) = study.planned_runs(families=['rtmdet'], noise=[0.3], seeds=[0], epochs=2)[:1]
    assert '_noise0.3pair_imb5_' in run['id'] and '_noise0.3_imb5_' in plain['id']
    assert run['noise_pairs'] == pairs and 'noise_pairs' not in plain
    run_dir, data_root, config = study.prepare(dict(run), str(tmp_path))
    assert data_root.endswith('shapes_noise0.3pair_imb5/')
    cfg = Config.fromfile(config)
    assert cfg.builtin_dataset.label_noise_pairs == pairs
    assert cfg.builtin_dataset.label_noise == 0.3
    row = dict(family='rtmdet', variant='stock', config='c', noise=0.3, imbalance=5.0, seed=0,
               test={m: 0.5 for m in study.METRICS}, val={'bbox_mAP': 0.5})
    assert study.report([dict(row, noise_pairs=pairs)]).startswith(
        'label noise: pair flips circle <-> hexagon, cross <-> square, star <-> triangle\n')
    with pytest.raises(SystemExit, match='mix symmetric and pair-flip.*own --out folder'):
        study.report([row, dict(row, noise_pairs=pairs, seed=1)])
    # the study refuses to add pair-flip runs to a folder of symmetric ones before running
    study.save_results(str(tmp_path / 'results.json'), [dict(row, id='old')])
    with pytest.raises(SystemExit, match='mix symmetric and pair-flip'):
        study.run_study([run], str(tmp_path))


def test_noise_pairs_on_the_command_line_are_both_ways_and_checked():
    sys.path.insert(0, osp.join(REPO, 'tools'))
    try:
        import study as study_tool
    finally:
        sys.path.pop(0)
    assert study_tool.parse_pairs(['circle:hexagon', 'square:cross']) == {
        'circle': 'hexagon', 'hexagon': 'circle', 'square': 'cross', 'cross': 'square'}
    assert study_tool.parse_pairs(None) is None
    for bad in (['circle'], ['circle:circle'], ['circle:hexagon', 'circle:square']):
        with pytest.raises(SystemExit, match='--noise-pairs .*A:B'):
            study_tool.parse_pairs(bad)


def test_a_config_swept_over_lengths_gives_a_cell_per_length():
    rows = [dict(family='rtmdet', variant='stock', config='cfg', noise=0.0, imbalance=5.0,
                 seed=0, epochs=epochs, test={m: value for m in study.METRICS},
                 val={'bbox_mAP': value})
            for epochs, value in ((12, 0.40), (24, 0.50), (36, 0.52))]
    markdown = study.markdown_table(rows, split='val').splitlines()
    assert markdown[2:] == ['| rtmdet | stock@12e | 5 | 0.400 ± 0.000 (1) |',
                            '| rtmdet | stock@24e | 5 | 0.500 ± 0.000 (1) |',
                            '| rtmdet | stock@36e | 5 | 0.520 ± 0.000 (1) |']
    # one length: shown as before
    assert study.markdown_table(rows[:1]).splitlines()[2] == \
        '| rtmdet | stock | 5 | 0.400 ± 0.000 (1) |'


def test_the_branch_is_found_for_fused_evaluation_in_every_family():
    expected = {'faster-rcnn': 'model.roi_head.bbox_head.contrastive_branch.inference=fused',
                'yolox': 'model.bbox_head.contrastive_branch.inference=fused',
                'rtmdet': 'model.bbox_head.contrastive_branch.inference=fused',
                'yolo11': 'model.bbox_head.contrastive_branch.inference=fused'}
    for family, (stock, joint) in study.FAMILIES.items():
        assert study.fused_option(Config.fromfile(osp.join(REPO, stock)).model) is None
        assert study.fused_option(Config.fromfile(osp.join(REPO, joint)).model) == \
            expected[family]
    fused = osp.join(REPO, 'configs/clip_joint/ablations/'
                     'faster-rcnn_r18-slim_fpn_clip-joint-fused_12e_shapes.py')
    assert study.fused_option(Config.fromfile(fused).model) is None  # fuses already


def test_fused_evaluations_are_a_variant_of_their_own():
    row = dict(family='yolox', variant='joint', config='cfg', noise=0.2, imbalance=5.0, seed=0,
               test={m: 0.3 for m in study.METRICS}, val={'bbox_mAP': 0.3},
               test_fused={m: 0.4 for m in study.METRICS}, val_fused={'bbox_mAP': 0.4})
    (line, ) = [line for line in study.report([row]).splitlines() if 'joint+fused' in line]
    assert '0.400 ± 0.000 (1)' in line


def test_a_study_killed_while_saving_leaves_the_previous_results(tmp_path):
    """The process dies (SIGKILL) with half of the new file written: results.json still
    holds the rows saved before, complete, and no temporary file is taken for results."""
    path = str(tmp_path / 'results.json')
    study.save_results(path, [dict(id='a')])
    before = open(path).read()
    pid = os.fork()
    if pid == 0:  # the study process, killed inside its save
        def dump_half_then_die(rows, f, **kwargs):
            f.write(json.dumps(rows, **kwargs)[:20])
            f.flush()
            os.kill(os.getpid(), signal.SIGKILL)
        study_results.json.dump = dump_half_then_die
        study.save_results(path, [dict(id='a'), dict(id='b', val={'bbox_mAP': 0.5})])
        os._exit(0)  # not reached
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
    assert open(path).read() == before
    assert study.load_results(path) == [dict(id='a')]
    assert [p.name for p in tmp_path.iterdir()] != ['results.json']  # the partial temp file
    assert all(p.name.startswith('.results.') for p in tmp_path.iterdir()
               if p.name != 'results.json')


@pytest.mark.slow
@pytest.mark.parametrize('content, problem', [
    ('[{"id": "a"}, {"id": "b", "val"', 'not valid JSON'),
    ('{"id": "a"}', 'not a list of result rows')])
def test_a_corrupt_results_file_is_an_error_naming_it_and_is_kept(tmp_path, content, problem):
    out = tmp_path / 'study'
    out.mkdir()
    (out / 'results.json').write_text(content)
    code, log = run_tool('study.py', '--configs', BASELINE_CONFIG, '--noise', '0', '--seeds', '0',
                         '--out', str(out), cwd=str(tmp_path), check=False)
    assert code != 0
    assert f"study: {out / 'results.json'} is {problem}" in log and 'Fix: restore it' in log
    assert 'Traceback' not in log
    assert (out / 'results.json').read_text() == content  # left as it is
    assert not (out / 'runs').exists()  # nothing ran


@pytest.mark.slow
def test_a_study_killed_during_a_run_keeps_finished_rows_and_redoes_that_run(tmp_path):
    import psutil
    out = tmp_path / 'study'
    tiny = [o for o in TINY_RUN if not o.startswith('default_hooks.checkpoint')]
    command = [sys.executable, osp.join(REPO, 'tools', 'study.py'), '--configs', BASELINE_CONFIG,
               '--noise', '0.5', '--seeds', '0', '1', '--epochs', '1', '--out', str(out),
               '--cfg-options', *tiny]
    env = dict(os.environ, PYTHONPATH=osp.join(REPO, 'tests', 'helpers'))
    proc = subprocess.Popen(command, cwd=str(tmp_path), env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    results = out / 'results.json'
    deadline = time.time() + 600
    children = []
    # Wait for the first run's row, then for the second run's training to be under way.
    while time.time() < deadline and proc.poll() is None:
        rows = json.load(open(results)) if results.exists() else []
        if len(rows) == 1:
            second = next((d for d in (out / 'runs').iterdir() if d.name != rows[0]['id']), None)
            children = psutil.Process(proc.pid).children(recursive=True)
            if second and (second / 'train.log').exists() and children:
                break
        time.sleep(0.2)
    assert proc.poll() is None and children, 'the study ended before it could be killed'
    first = json.load(open(results))
    proc.kill()  # SIGKILL: the study gets no chance to clean up
    proc.wait()
    # Its training process dies with it (it would otherwise train on into the run folder).
    gone, alive = psutil.wait_procs(children, timeout=30)
    assert not alive
    assert json.load(open(results)) == first

    again = run_tool('study.py', *command[2:], cwd=str(tmp_path))
    assert 'study: 1 runs done' in again and '1 to run' in again
    rows = json.load(open(results))
    assert rows[0] == first[0]  # kept, not redone
    assert sorted(r['seed'] for r in rows) == [0, 1]
    assert all(0.0 <= r['test']['bbox_mAP'] <= 1.0 for r in rows)


STUDIES = sorted(osp.relpath(osp.dirname(p), REPO) for p in
                 glob.glob(osp.join(REPO, 'studies', '*', 'results.json')))


@pytest.mark.parametrize('folder', STUDIES)
def test_the_committed_results_give_the_committed_tables_and_figures_byte_for_byte(
        tmp_path, folder):
    """The store, the tables and the figures of every committed study, rebuilt from its
    results.json alone, are the files in the repository, byte for byte."""
    committed = osp.join(REPO, folder)
    path = str(tmp_path / 'results.json')
    shutil.copy(osp.join(committed, 'results.json'), path)
    rows = study.load_results(path)
    study.save_results(path, rows)
    study.write_summaries(rows, str(tmp_path))
    written = study.figures(rows, str(tmp_path))
    assert [osp.basename(p) for p in written] == ['map_vs_noise.png', 'per_class_ap.png']
    for name in ('results.json', 'summary.txt', 'summary.md', 'map_vs_noise.png',
                 'per_class_ap.png'):
        with open(osp.join(committed, name), 'rb') as f, open(tmp_path / name, 'rb') as g:
            assert f.read() == g.read(), f'{folder}/{name} differs from what the study writes'


STUDY_SCRIPTS = sorted(p for p in glob.glob(osp.join(REPO, 'studies', '*', 'run.sh'))
                       if 'PY=${PY:-' in open(p).read())


@pytest.mark.parametrize('script', STUDY_SCRIPTS)
def test_every_study_script_names_configs_that_exist_and_valid_study_arguments(script):
    """Each committed study script (those that run tools/study.py with $PY), run with
    PY=echo: the command lines it would run parse, and every config they name exists."""
    env = dict(os.environ, PY='echo')
    out = subprocess.run(['bash', script], env=env, capture_output=True, text=True, cwd=REPO)
    assert out.returncode == 0, out.stderr
    lines = [line.split()[1:] for line in out.stdout.splitlines()
             if line.startswith('tools/study.py')]
    assert lines, out.stdout
    sys.path.insert(0, osp.join(REPO, 'tools'))
    try:
        import study as study_tool
    finally:
        sys.path.pop(0)
    for argv in lines:
        args = study_tool.parse_args(argv)
        study_tool.parse_pairs(args.noise_pairs)
        for config in args.configs or []:
            assert osp.isfile(osp.join(REPO, config)), config
