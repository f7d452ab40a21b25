"""The study's tables: mean ± sample std over seeds of each cell (family, variant,
config, noise, imbalance), printed and written to ``summary.txt`` and ``summary.md``."""
import os.path as osp
from collections import defaultdict
from typing import Dict, List

import numpy as np

METRICS = ('bbox_mAP', 'bbox_mAP_50', 'bbox_mAP_75')


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
    """``mean ± sample std (n)`` of one cell's values (std 0 for a single seed)."""
    std = values.std(ddof=1) if len(values) > 1 else 0.0
    return f'{values.mean():.3f} ± {std:.3f} ({len(values)})'


def report(rows: List[dict]) -> str:
    """The plain-text table: a line per cell, the test metrics and the validation mAP."""
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


def write_summaries(rows: List[dict], out: str) -> str:
    """Write ``<out>/summary.txt`` (the plain table) and ``<out>/summary.md`` (the test
    and the validation mAP as markdown tables); returns the plain table."""
    table = report(rows)
    with open(osp.join(out, 'summary.txt'), 'w') as f:
        f.write(table + '\n')
    with open(osp.join(out, 'summary.md'), 'w') as f:
        for split in ('test', 'val'):
            f.write(f'{split} bbox mAP, mean ± std (seeds)\n\n'
                    f'{markdown_table(rows, split)}\n\n')
    return table
