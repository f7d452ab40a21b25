"""The study's figures: ``map_vs_noise.png`` (test mAP against the label-noise rate, a
line per variant, error bars over seeds, a panel per family) and ``per_class_ap.png``
(test AP per class, from the most to the least frequent class in training)."""
import os.path as osp
import re
from typing import Dict, List, Optional

import numpy as np

from .report import cells, with_fused


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


def _save(fig, path: str) -> str:
    """Lay out, write and close one figure of the study; its path."""
    import matplotlib.pyplot as plt
    fig.tight_layout()
    fig.savefig(path, dpi=110, bbox_inches='tight')
    plt.close(fig)
    return path


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
    written.append(_save(fig, osp.join(out, 'map_vs_noise.png')))

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
    written.append(_save(fig, osp.join(out, 'per_class_ap.png')))
    return written
