"""Does joint training help, and when: a seeded grid of trainings on the built-in dataset.

    python tools/study.py                                  # the README's study (resumable)
    python tools/study.py --families faster-rcnn --noise 0.2 --seeds 0 1 2 --out studies/x
    python tools/study.py --configs A.py B.py --noise 0 0.4 --out studies/mine
    python tools/study.py --report-only                    # table and figures from results

Every (config, label-noise rate, imbalance ratio, seed) of the grid is one run: a config
derived from the named one (the built-in dataset with that noise and long tail, a
``randomness.seed``, the schedule shortened to ``--epochs`` with its learning-rate steps
and the branch's loss warm-up (``loss_warmup_iters``) scaled alike, COCO metrics per
class) is trained with ``tools/train.py`` and its last
checkpoint evaluated with ``tools/test.py`` on the held-out test split, each in its own
process: the path a user takes. Validation metrics (where options are chosen) and test
metrics (what is reported) are both recorded.

Resumable: finished runs are rows of ``<out>/results.json`` (with their parameters,
metrics, minutes and the code's git commit) and are read back, not redone; a run cut
short is started again. The data seed is fixed (the same images and the same flipped
labels for every training seed), so the spread over seeds is that of training alone.

A joint config whose branch predicts with ``inference='stock'`` is also evaluated with
``inference='fused'`` (the same checkpoint, ``tools/test.py`` with ``--cfg-options``) on
the validation and the test split: its rows carry ``val_fused`` and ``test_fused``, and
the table and figures show it as the variant ``<variant>+fused``. ``--reuse`` takes the
rows of another study's results file whose run is the same (the same config, cell, seed,
epochs and overrides) instead of training them again: an options comparison shares its
stock and joint runs with the main study.

Prints mean ± std of the test mAP per cell (also as markdown tables of the test and the
validation split in ``<out>/summary.md``, a column per noise rate) and writes
``<out>/map_vs_noise.png`` (one line per config, error bars over seeds) and
``<out>/per_class_ap.png`` (stock vs joint per class, classes from the most to the least
frequent in training).
"""
import argparse
import ctypes
import hashlib
import json
import os
import os.path as osp
import re
import signal
import subprocess
import sys
import time
from collections import defaultdict
from typing import Dict, List, Optional, Tuple

import numpy as np
from mmengine.config import Config

from mmclipjoint.utils.config import fused_options, joint_heads
from mmclipjoint.utils.families import BUILTIN_FAMILIES
from mmclipjoint.utils.files import atomic_write

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
# The detector families the study compares: (stock config, joint config).
FAMILIES = BUILTIN_FAMILIES
# Epochs of a family's runs when --epochs is not given: 6, i.e. 600 iterations at the
# batch of 4 of the first three; YOLO11's configs use batches of 8, so 12 epochs give it
# the same 600 iterations.
DEFAULT_EPOCHS = 6
FAMILY_EPOCHS = {'yolo11': 12}
METRICS = ('bbox_mAP', 'bbox_mAP_50', 'bbox_mAP_75')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--families', nargs='+', choices=sorted(FAMILIES),
                        default=list(FAMILIES), help='stock/joint pairs to run')
    parser.add_argument('--configs', nargs='+', help='configs to run instead of --families')
    parser.add_argument('--family', default='custom',
                        help='the family the --configs runs are shown under in the table and '
                             'figures (e.g. faster-rcnn, to compare an option with that pair)')
    parser.add_argument('--noise', nargs='+', type=float, default=[0.0, 0.2, 0.4],
                        help='label-noise rates of the training split')
    parser.add_argument('--imbalance', nargs='+', type=float, default=[5.0],
                        help='imbalance ratios (most / least frequent training class)')
    parser.add_argument('--seeds', nargs='+', type=int, default=[0, 1, 2])
    parser.add_argument('--epochs', type=int,
                        help='training epochs of every run (schedules scaled to them; '
                             f'default {DEFAULT_EPOCHS}, or the family\'s own: '
                             f'{FAMILY_EPOCHS})')
    parser.add_argument('--out', default='studies/robustness', help='results folder')
    parser.add_argument('--cfg-options', nargs='+', default=[],
                        help='key=value overrides for every run, as in tools/train.py')
    parser.add_argument('--jobs', type=int, default=1,
                        help='runs at a time (each with cores / jobs threads); for machines '
                             'with many cores or a GPU')
    parser.add_argument('--reuse', nargs='+', default=[],
                        help="other studies' results.json files: runs found there (same "
                             'id) are copied, not trained again')
    parser.add_argument('--report-only', action='store_true',
                        help='print the table and draw the figures from the results only')
    return parser.parse_args(argv)


def planned_runs(args) -> List[dict]:
    """The grid, one dict per run, in the order they are run (seed-major, so that a
    partial study already has every cell at its first seed)."""
    if args.configs:
        configs = [(osp.splitext(osp.basename(c))[0], args.family, c) for c in args.configs]
    else:
        configs = [(variant, family, osp.join(ROOT, path)) for family in args.families
                   for variant, path in zip(('stock', 'joint'), FAMILIES[family])]
    runs = []
    for seed in args.seeds:
        for noise in args.noise:
            for imbalance in args.imbalance:
                for variant, family, path in configs:
                    config = osp.splitext(osp.basename(path))[0]
                    epochs = args.epochs or FAMILY_EPOCHS.get(family, DEFAULT_EPOCHS)
                    run_id = f'{config}_noise{noise:g}_imb{imbalance:g}_seed{seed}_ep{epochs}'
                    if args.cfg_options:  # other overrides, another run
                        digest = hashlib.sha1(' '.join(args.cfg_options).encode()).hexdigest()
                        run_id += f'_options-{digest[:8]}'
                    runs.append(dict(id=run_id, family=family, variant=variant, config=config,
                                     config_path=osp.abspath(path), noise=noise,
                                     imbalance=imbalance, seed=seed, epochs=epochs,
                                     cfg_options=list(args.cfg_options)))
    return runs


def scaled_schedulers(schedulers: List[dict], factor: float) -> List[dict]:
    """The learning-rate schedule stretched by ``factor`` in its epoch-based fields, its
    shape kept: a scheduler that started after epoch 0 still does, a ``T_max`` that
    spanned begin..end still does; iteration-based warm-ups keep their length."""
    scaled = []
    for old in schedulers:
        new = dict(old)
        if old.get('by_epoch', True):
            if 'begin' in old:
                new['begin'] = max(int(round(old['begin'] * factor)), min(old['begin'], 1))
            if 'end' in old:
                new['end'] = max(int(round(old['end'] * factor)), new.get('begin', 0) + 1)
            if 'T_max' in old:
                spans = old['T_max'] == old.get('end', -1) - old.get('begin', 0)
                new['T_max'] = new['end'] - new.get('begin', 0) if spans else \
                    max(int(round(old['T_max'] * factor)), 1)
            if 'milestones' in old:
                new['milestones'] = [max(int(round(m * factor)), 1) for m in old['milestones']]
        scaled.append(new)
    return scaled


def fused_option(model: dict) -> Optional[str]:
    """The ``--cfg-options`` items (space-separated) that make every contrastive branch
    of ``model`` predict with fused scores, or None (no branch, or they fuse already)."""
    return ' '.join(fused_options(model)) or None


def run_config(run: dict, data_root: str) -> str:
    """The text of the derived config of one run."""
    cfg = Config.fromfile(run['config_path'])
    if 'builtin_dataset' not in cfg:
        raise SystemExit(f"{run['config_path']}: the study runs on the built-in dataset, and "
                         f'this config has no builtin_dataset field; fix: derive it from a '
                         f'*_shapes.py config')
    old_root = cfg.builtin_dataset.root
    fields = dict(
        builtin_dataset=dict(cfg.builtin_dataset, root=data_root, label_noise=run['noise'],
                             imbalance_ratio=run['imbalance']),
        randomness=dict(seed=run['seed']),
        train_cfg=dict(max_epochs=run['epochs'], val_interval=run['epochs']),
        param_scheduler=scaled_schedulers(cfg.param_scheduler,
                                          run['epochs'] / cfg.train_cfg.max_epochs),
        default_hooks=dict(checkpoint=dict(interval=run['epochs'], max_keep_ckpts=1)),
    )
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        fields[loader] = dict(dataset=dict(data_root=data_root))
    for evaluator in ('val_evaluator', 'test_evaluator'):
        ann_file = cfg[evaluator].ann_file.replace(old_root, data_root)
        fields[evaluator] = dict(ann_file=ann_file, classwise=True)
    # A warm-up of the branch's loss weights is part of the schedule: scaled alike.
    for path, head in joint_heads(cfg.model):
        warmup = head.contrastive_branch.get('loss_warmup_iters', 0)
        if not warmup:
            continue
        if '[' in path:
            raise SystemExit(f"study: {run['config_path']}: the branch at {path} sits in a list "
                             f'of heads, which a derived config cannot merge into; give the '
                             f'run a config without loss_warmup_iters there')
        override = dict(contrastive_branch=dict(loss_warmup_iters=int(round(
            warmup * run['epochs'] / cfg.train_cfg.max_epochs))))
        for key in reversed(path.split('.')[1:]):
            override = {key: override}
        fields['model'] = override
    lines = [f'_base_ = {run["config_path"]!r}'] + [f'{k} = {v!r}' for k, v in fields.items()]
    return '\n'.join(lines) + '\n'


def last_metrics(work_dir: str) -> Dict[str, float]:
    """The coco/* scalars of the newest run logged in ``work_dir``."""
    stamps = sorted(d for d in os.listdir(work_dir) if d[:1].isdigit())
    newest = osp.join(work_dir, stamps[-1])
    for path in (osp.join(newest, 'vis_data', f'{stamps[-1]}.json'),
                 osp.join(newest, f'{stamps[-1]}.json')):
        if osp.isfile(path):
            records = [json.loads(line) for line in open(path)]
            metrics = [r for r in records if any(k.startswith('coco/') for k in r)]
            return {k.split('/', 1)[1]: v for k, v in metrics[-1].items()
                    if k.startswith('coco/')}
    raise RuntimeError(f'no metrics logged in {newest}')


def device_name() -> str:
    """Where the runs train: ``cuda: <GPU name>`` or ``cpu`` (a study may be run on both
    kinds of machine; its rows say which)."""
    import torch
    return f'cuda: {torch.cuda.get_device_name()}' if torch.cuda.is_available() else 'cpu'


def git_commit() -> str:
    try:
        return subprocess.run(['git', 'rev-parse', '--short', 'HEAD'], cwd=ROOT,
                              capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return 'unknown'


def prepare(run: dict, out: str) -> Tuple[str, str, str]:
    """Write the run's derived config; its (run folder, data folder, config path).

    Parsing configs is kept out of worker threads: mmengine resolves ``mmdet::`` bases
    through pkg_resources, whose first use is not thread-safe.
    """
    run_dir = osp.join(out, 'runs', run['id'])
    os.makedirs(run_dir, exist_ok=True)
    run['fused_option'] = fused_option(Config.fromfile(run['config_path']).model)
    # One data folder per (noise, imbalance): the runs of a cell share it.
    data_root = osp.join(out, 'data', f"shapes_noise{run['noise']:g}_imb{run['imbalance']:g}/")
    config = osp.join(run_dir, 'config.py')
    with open(config, 'w') as f:
        f.write(run_config(run, data_root))
    # The same run's config, its test loader and evaluator those of the validation split:
    # tools/test.py on it gives the validation metrics of another inference mode.
    with open(osp.join(run_dir, 'config_val.py'), 'w') as f:
        f.write("_base_ = './config.py'\ntest_dataloader = _base_.val_dataloader\n"
                'test_evaluator = _base_.val_evaluator\n')
    return run_dir, data_root, config


# Resolved here, not in the child: between fork and exec only a C call is made.
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith('linux') else None


def die_with_parent() -> None:
    """In a run's process, before it starts: ask Linux to kill it when the study dies.
    A study killed outright (SIGKILL, a lost session) would otherwise leave its training
    running on, writing into the run folder that the next study redoes."""
    if _LIBC is not None:
        _LIBC.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def execute(run: dict, out: str, threads: Optional[int] = None,
            prepared: Optional[Tuple[str, str, str]] = None) -> dict:
    """Train and test one run in their own processes; the row of the results table."""
    run_dir, data_root, config = prepared or prepare(run, out)
    start = time.time()
    checkpoint = osp.join(run_dir, f"epoch_{run['epochs']}.pth")
    commands = [('train', 'train.py', [config, '--work-dir', run_dir], []),
                ('test', 'test.py', [config, checkpoint, '--work-dir',
                                     osp.join(run_dir, 'test')], [])]
    if run.get('fused_option'):
        for split, path in (('test', config), ('val', osp.join(run_dir, 'config_val.py'))):
            commands.append((f'{split}_fused', 'test.py',
                             [path, checkpoint, '--work-dir', osp.join(run_dir,
                                                                       f'{split}_fused')],
                             run['fused_option'].split()))
    for name, tool, args, extra in commands:
        overrides = run['cfg_options'] + extra
        options = ['--cfg-options', *overrides] if overrides else []
        env = dict(os.environ, OMP_NUM_THREADS=str(threads)) if threads else None
        with open(osp.join(run_dir, f'{name}.log'), 'w') as log:
            proc = subprocess.run([sys.executable, osp.join(ROOT, 'tools', tool), *args,
                                   *options], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                  env=env, preexec_fn=die_with_parent)
        if proc.returncode:
            raise RuntimeError(f"{tool} failed for run {run['id']}; see "
                               f'{osp.join(run_dir, name)}.log')
    val = last_metrics(run_dir)
    test = last_metrics(osp.join(run_dir, 'test'))
    fused = {f'{split}_fused': last_metrics(osp.join(run_dir, f'{split}_fused'))
             for split in ('val', 'test') if run.get('fused_option')}
    meta = json.load(open(osp.join(data_root, 'meta.json')))
    return dict({k: v for k, v in run.items() if k != 'config_path'},
                val=val, test=test, **fused, minutes=(time.time() - start) / 60,
                commit=git_commit(), device=device_name(), classes=meta['classes'],
                train_class_counts=meta['train']['label_class_counts'])


def load_results(path: str) -> List[dict]:
    """The rows of a results file (none when it does not exist yet); a file that is not a
    list of rows is an error naming it, never overwritten."""
    if not osp.isfile(path):
        return []
    try:
        with open(path) as f:
            rows = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise SystemExit(
            f'study: {path} is not valid JSON ({error}); it was left as it is. Fix: restore it '
            f'(git checkout -- {path}, or a copy), or move it away to start the study '
            f'afresh') from None
    if not isinstance(rows, list) or not all(isinstance(r, dict) and 'id' in r for r in rows):
        raise SystemExit(f'study: {path} is not a list of result rows (each a dict with an '
                         f'"id"); it was left as it is. Fix: restore it, or move it away')
    return rows


def reused_row(run: dict, others: List[str]) -> Optional[dict]:
    """The row of the same run in another study's results, relabelled for this one."""
    for path in others:
        for row in load_results(path):
            if row['id'] == run['id']:
                return dict(row, family=run['family'], variant=run['variant'],
                            reused_from=osp.relpath(path, ROOT))
    return None


def save_results(path: str, rows: List[dict]) -> List[dict]:
    """Write ``rows``, keeping the rows another process wrote there meanwhile (two studies
    sharing a folder lose nothing); returns what was written."""
    ids = {row['id'] for row in rows}
    rows = rows + [row for row in load_results(path) if row['id'] not in ids]
    # Whole or not at all: a study killed while saving leaves the previous file.
    atomic_write(path, lambda f: json.dump(rows, f, indent=1), mode='w')
    return rows


def with_fused(rows: List[dict]) -> List[dict]:
    """The rows, and for each run also evaluated with fused inference a row of the
    variant ``<variant>+fused`` with those metrics."""
    expanded = []
    for row in rows:
        expanded.append(row)
        if 'test_fused' in row:
            expanded.append(dict(row, variant=f"{row['variant']}+fused",
                                 config=f"{row['config']}+fused", test=row['test_fused'],
                                 val=row['val_fused']))
    return expanded


def cells(rows: List[dict], split: str = 'test', metric: str = 'bbox_mAP') -> Dict[tuple, list]:
    """{(family, variant, config, noise, imbalance): [value per seed]}."""
    grouped = defaultdict(list)
    for row in with_fused(rows):
        grouped[(row['family'], row['variant'], row['config'], row['noise'],
                 row['imbalance'])].append(row[split][metric])
    return grouped


def mean_std(values: np.ndarray) -> str:
    """``mean ± sample std (n)`` of one cell's values (std 0 for a single seed)."""
    std = values.std(ddof=1) if len(values) > 1 else 0.0
    return f'{values.mean():.3f} ± {std:.3f} ({len(values)})'


def report(rows: List[dict]) -> str:
    lines = ['test split, mean ± std over seeds (n = seeds)',
             f'{"family":<12} {"variant":<8} {"noise":>5} {"imb":>4}  ' +
             '  '.join(f'{m:>15}' for m in METRICS) + f'  {"val mAP":>15}']
    keys = sorted(cells(rows), key=lambda k: (k[0], k[3], k[4], k[1] != 'stock', k[1], k[2]))
    for key in keys:
        parts = []
        for split, metric in [('test', m) for m in METRICS] + [('val', 'bbox_mAP')]:
            values = np.array(cells(rows, split, metric)[key])
            parts.append(mean_std(values))
        lines.append(f'{key[0]:<12} {key[1]:<8} {key[3]:>5g} {key[4]:>4g}  ' +
                     '  '.join(f'{p:>15}' for p in parts))
    return '\n'.join(lines)


def markdown_table(rows: List[dict], split: str = 'test', metric: str = 'bbox_mAP') -> str:
    """One markdown table of ``split`` ``metric``: a row per (family, variant, imbalance),
    a column per noise rate, cells ``mean ± std (seeds)``."""
    grouped = cells(rows, split, metric)
    noises = sorted({k[3] for k in grouped})
    lines = ['| family | variant | imbalance | ' +
             ' | '.join(f'noise {n:g}' for n in noises) + ' |',
             '| --- | --- | --- | ' + ' | '.join('---' for _ in noises) + ' |']
    keys = sorted({(k[0], k[1], k[2], k[4]) for k in grouped},
                  key=lambda k: (k[0], k[3], k[1] != 'stock', k[1], k[2]))
    for family, variant, config, imbalance in keys:
        parts = []
        for noise in noises:
            values = np.array(grouped.get((family, variant, config, noise, imbalance), []))
            parts.append(mean_std(values) if len(values) else '')
        lines.append(f'| {family} | {variant} | {imbalance:g} | ' + ' | '.join(parts) + ' |')
    return '\n'.join(lines)


def short_names(names: List[str]) -> Dict[str, str]:
    """Legend labels: the ``_``-separated parts that all config names among ``names``
    share at their start and their end left out, and of an ablation of a joint config only
    its change (``..._clip-joint-detached_12e_shapes`` -> ``detached``), a ``+fused`` mark
    kept; plain variant names (``stock``) and other lone config names are kept whole."""
    configs = [name for name in names if '_' in name]
    bases = {name: name.split('+', 1) for name in configs}
    split = [bases[name][0].split('_') for name in configs]
    head = tail = 0
    if len(set(base[0] for base in bases.values())) > 1:
        while all(len(parts) > head + 1 and parts[head] == split[0][head] for parts in split):
            head += 1
        while all(len(parts) > head + tail + 1 and parts[-tail - 1] == split[0][-tail - 1]
                  for parts in split):
            tail += 1
    labels = {name: name for name in names}
    for name, parts in zip(configs, split):
        kept = '_'.join(parts[head:len(parts) - tail])
        ablation = re.search(r'(?:^|_)clip-joint-([^_]+)', kept)
        kept = ablation.group(1) if ablation else kept
        labels[name] = kept + ''.join(f'+{mark}' for mark in bases[name][1:])
    return labels


def variant_colours(labels: List[str]) -> Dict[str, tuple]:
    """One colour per legend label for every panel of both figures (stock, joint and
    joint+fused first, then the others alphabetically), so that a variant keeps its
    colour from one family's panel to the next; distinct for up to 20 labels (an
    options comparison has 13)."""
    import matplotlib.pyplot as plt
    first = ['stock', 'joint', 'joint+fused']
    ordered = [x for x in first if x in labels] + sorted(set(labels) - set(first))
    cmap, n = (plt.cm.tab10, 10) if len(ordered) <= 10 else (plt.cm.tab20, 20)
    return {label: cmap(i % n) for i, label in enumerate(ordered)}


def figures(rows: List[dict], out: str, per_class_noise: Optional[float] = None) -> List[str]:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    written = []
    families = sorted({r['family'] for r in rows})
    test = cells(rows)
    expanded = with_fused(rows)
    family_labels = {family: short_names(sorted({r['variant'] for r in expanded
                                                 if r['family'] == family}))
                     for family in families}
    colours = variant_colours([label for labels in family_labels.values()
                               for label in labels.values()])
    fig, axes = plt.subplots(1, len(families), figsize=(4.5 * len(families), 5.0),
                             squeeze=False)
    for ax, family in zip(axes[0], families):
        lines = sorted({(k[1], k[2], k[4]) for k in test if k[0] == family})
        labels = family_labels[family]
        for variant, config, imbalance in lines:
            points = sorted((k[3], np.mean(v), np.std(v, ddof=1) if len(v) > 1 else 0.0)
                            for k, v in test.items()
                            if k[:3] == (family, variant, config) and k[4] == imbalance)
            noise, mean, std = zip(*points)
            ax.errorbar(noise, mean, yerr=std, marker='o', capsize=3,
                        color=colours[labels[variant]],
                        label=f'{labels[variant]} (imbalance {imbalance:g})')
        ax.set_title(family)
        ax.set_xlabel('label noise rate (training split)')
        ax.set_ylabel('test bbox mAP')
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc='upper center', bbox_to_anchor=(0.5, -0.38))
    fig.tight_layout()
    path = osp.join(out, 'map_vs_noise.png')
    fig.savefig(path, dpi=110, bbox_inches='tight')
    plt.close(fig)
    written.append(path)

    rows = expanded
    noises = sorted({r['noise'] for r in rows})
    noise = per_class_noise if per_class_noise in noises else noises[len(noises) // 2]
    chosen = [r for r in rows if r['noise'] == noise]
    if not chosen:
        return written
    classes, counts = chosen[0]['classes'], np.array(chosen[0]['train_class_counts'])
    order = np.argsort(-counts)
    fig, axes = plt.subplots(1, len(families), figsize=(4.5 * len(families), 5.0),
                             squeeze=False)
    for ax, family in zip(axes[0], families):
        variants = sorted({r['variant'] for r in chosen if r['family'] == family},
                          key=lambda v: (v != 'stock', v))
        width = 0.8 / max(len(variants), 1)
        labels = family_labels[family]
        for i, variant in enumerate(variants):
            per_seed = np.array([[r['test'].get(f'{classes[c]}_precision', np.nan)
                                  for c in order] for r in chosen
                                 if r['family'] == family and r['variant'] == variant])
            ax.bar(np.arange(len(order)) + i * width, per_seed.mean(0), width,
                   color=colours[labels[variant]],
                   yerr=per_seed.std(0, ddof=1) if len(per_seed) > 1 else None, capsize=2,
                   label=f'{labels[variant]} (n={len(per_seed)})')
        ax.set_xticks(np.arange(len(order)) + 0.4 - width / 2)
        ax.set_xticklabels([f'{classes[c]}\n{counts[c]}' for c in order], fontsize=7)
        ax.set_title(f'{family}, noise {noise:g}: AP per class')
        ax.set_ylabel('test AP')
        ax.set_xlabel('most to least frequent in training (label count)', fontsize=8)
        ax.legend(fontsize=7, loc='upper center', bbox_to_anchor=(0.5, -0.38))
    fig.tight_layout()
    path = osp.join(out, 'per_class_ap.png')
    fig.savefig(path, dpi=110, bbox_inches='tight')
    plt.close(fig)
    written.append(path)
    return written


def main(argv=None):
    args = parse_args(argv)
    args.out = osp.abspath(args.out)  # the runs' processes work from the repository root
    os.makedirs(args.out, exist_ok=True)
    results_path = osp.join(args.out, 'results.json')
    rows = load_results(results_path)
    if not args.report_only:
        from tqdm import tqdm
        done = {row['id'] for row in rows}
        pending = [run for run in planned_runs(args) if run['id'] not in done]
        print(f'study: {len(done)} runs done in {results_path}, {len(pending)} to run')
        bar = tqdm(total=len(pending), unit='run', dynamic_ncols=True)
        if args.jobs <= 1:
            for run in pending:
                bar.set_postfix_str(f"{run['config']} noise {run['noise']:g} seed {run['seed']}")
                # Read again before each run: the other study may be running alongside.
                reused = reused_row(run, args.reuse)
                rows.append(reused or execute(run, args.out))
                rows = save_results(results_path, rows)
                bar.update()
        else:
            # Several runs at once, each in its own processes; results saved as they end.
            from concurrent.futures import ThreadPoolExecutor, as_completed
            threads = max(1, (os.cpu_count() or 1) // args.jobs)
            for run in list(pending):
                reused = reused_row(run, args.reuse)
                if reused:
                    rows.append(reused)
                    pending.remove(run)
                    bar.update()
            rows = save_results(results_path, rows)
            prepared = [prepare(run, args.out) for run in pending]
            with ThreadPoolExecutor(args.jobs) as pool:
                futures = [pool.submit(execute, run, args.out, threads, paths)
                           for run, paths in zip(pending, prepared)]
                for future in as_completed(futures):
                    row = future.result()
                    rows = save_results(results_path, rows + [row])
                    bar.set_postfix_str(f"done: {row['config']} noise {row['noise']:g} "
                                        f"seed {row['seed']}")
                    bar.update()
        bar.close()
    if rows:
        table = report(rows)
        print(table)
        with open(osp.join(args.out, 'summary.txt'), 'w') as f:
            f.write(table + '\n')
        with open(osp.join(args.out, 'summary.md'), 'w') as f:
            for split in ('test', 'val'):
                f.write(f'{split} bbox mAP, mean ± std (seeds)\n\n'
                        f'{markdown_table(rows, split)}\n\n')
        for path in figures(rows, args.out):
            print(f'wrote {path}')


if __name__ == '__main__':
    main()
