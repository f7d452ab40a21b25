"""The study's tables: mean ± sample std over seeds of each cell (family, variant,
config, noise, imbalance) and its worst seed, printed and written to ``summary.txt`` and
``summary.md``, and the collapse check of every joint cell against its stock model."""
import json
import os.path as osp
from collections import defaultdict
from typing import Dict, List, Optional

import numpy as np

METRICS = ('bbox_mAP', 'bbox_mAP_50', 'bbox_mAP_75')
# A joint cell collapses when a seed scores below this fraction of its stock model's mean.
COLLAPSE_FRACTION = 0.8


def by_length(rows: List[dict]) -> List[dict]:
    """The rows, a config trained at several lengths (a schedule sweep) shown as one
    variant per length, ``<variant>@<epochs>e``; a config at one length as it is."""
    lengths = defaultdict(set)
    for row in rows:
        lengths[(row['family'], row['config'])].add(row.get('epochs'))
    return [dict(row, variant=f"{row['variant']}@{row['epochs']}e",
                 config=f"{row['config']}@{row['epochs']}e")
            if len(lengths[(row['family'], row['config'])]) > 1 else row for row in rows]


def with_fused(rows: List[dict]) -> List[dict]:
    """The rows (:func:`by_length`), and for each run also evaluated with fused inference
    a row of the variant ``<variant>+fused`` with those metrics."""
    expanded = []
    for row in by_length(rows):
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
    """``mean ± sample std (n; worst w)`` of one cell's values: the worst seed is shown
    beside the mean; a single seed reads ``mean ± 0.000 (1)``."""
    if len(values) < 2:
        return f'{values.mean():.3f} ± 0.000 ({len(values)})'
    return (f'{values.mean():.3f} ± {values.std(ddof=1):.3f} ({len(values)}; '
            f'worst {values.min():.3f})')


def stock_config_of(config: str) -> Optional[str]:
    """The stock config a joint config's cell is compared with, by the configs' naming
    rule (a joint config is its stock config's name with a ``clip-joint[-option]`` part):
    ``rtmdet_tiny_crops-pre_clip-joint_12e_shapes@24e+fused`` ->
    ``rtmdet_tiny_crops-pre_12e_shapes@24e``; None for a config that is not joint."""
    name, _, length = config.split('+', 1)[0].partition('@')
    parts = name.split('_')
    kept = [part for part in parts if not part.startswith('clip-joint')]
    if len(kept) == len(parts):
        return None
    return '_'.join(kept) + (f'@{length}' if length else '')


def collapse_check(rows: List[dict], split: str = 'test') -> List[dict]:
    """Every joint cell beside its stock cell (same family, noise, imbalance; the stock
    config by :func:`stock_config_of`): the worst seed's ``bbox_mAP`` over the stock mean,
    ``collapsed`` when below :data:`COLLAPSE_FRACTION`. Cells whose stock model is not in
    the results are left out."""
    grouped = cells(rows, split)
    stock = {(k[0], k[2], k[3], k[4]): np.mean(v) for k, v in grouped.items()
             if stock_config_of(k[2]) is None}
    checks = []
    for (family, variant, config, noise, imbalance), values in sorted(grouped.items()):
        base = stock_config_of(config)
        reference = stock.get((family, base, noise, imbalance)) if base else None
        if reference is None:
            continue
        ratio = float(min(values) / reference) if reference > 0 else float('nan')
        checks.append(dict(family=family, variant=variant, noise=noise, imbalance=imbalance,
                           seeds=len(values), worst=float(min(values)),
                           stock_mean=float(reference), ratio=ratio,
                           collapsed=bool(ratio < COLLAPSE_FRACTION)))
    return checks


def noise_mode(rows: List[dict]) -> Optional[Dict[str, str]]:
    """The pair flips of the rows' label noise (None: symmetric); one results file holds
    one kind, so that a rate names one cell."""
    modes = {json.dumps(row.get('noise_pairs'), sort_keys=True) for row in rows}
    if len(modes) > 1:
        raise SystemExit(f'study: the results mix symmetric and pair-flip label noise '
                         f'({sorted(modes)}); fix: give each kind its own --out folder')
    return json.loads(modes.pop()) if modes else None


def noise_title(rows: List[dict]) -> str:
    pairs = noise_mode(rows)
    if not pairs:
        return ''
    shown = sorted({tuple(sorted(p)) for p in pairs.items()})
    return ('label noise: pair flips ' + ', '.join(
        f'{a} <-> {b}' if pairs.get(b) == a else f'{a} -> {b}' for a, b in shown) + '\n')


def report(rows: List[dict]) -> str:
    """The plain-text table: a line per cell, the test metrics and the validation mAP."""
    lines = [noise_title(rows) + 'test split, mean ± std over seeds (n = seeds; worst seed)',
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
    checks = collapse_check(rows)
    if checks:
        lines += ['', f'collapse check: worst seed / stock mean, test mAP (collapsed below '
                      f'{COLLAPSE_FRACTION:g})']
        lines += [f"{c['family']:<12} {c['variant']:<8} {c['noise']:>5g} {c['imbalance']:>4g}  "
                  f"{c['worst']:.3f} / {c['stock_mean']:.3f} = {c['ratio']:.2f}"
                  f"{'  COLLAPSED' if c['collapsed'] else ''}" for c in checks]
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


def write_summaries(rows: List[dict], out: str) -> str:
    """Write ``<out>/summary.txt`` (the plain table) and ``<out>/summary.md`` (the test
    and the validation mAP as markdown tables); returns the plain table."""
    table = report(rows)
    with open(osp.join(out, 'summary.txt'), 'w') as f:
        f.write(table + '\n')
    with open(osp.join(out, 'summary.md'), 'w') as f:
        f.write(noise_title(rows).replace('\n', '\n\n'))
        for split in ('test', 'val'):
            f.write(f'{split} bbox mAP, mean ± std (seeds; worst seed)\n\n'
                    f'{markdown_table(rows, split)}\n\n')
        checks = collapse_check(rows)
        if checks:
            f.write(f'collapse check (test): worst seed / stock mean, collapsed below '
                    f'{COLLAPSE_FRACTION:g}\n\n| family | variant | noise | imbalance | worst | '
                    f'stock mean | ratio |\n| --- | --- | --- | --- | --- | --- | --- |\n')
            for c in checks:
                f.write(f"| {c['family']} | {c['variant']} | {c['noise']:g} | "
                        f"{c['imbalance']:g} | {c['worst']:.3f} | {c['stock_mean']:.3f} | "
                        f"{c['ratio']:.2f}{' **collapsed**' if c['collapsed'] else ''} |\n")
            f.write('\n')
    return table
