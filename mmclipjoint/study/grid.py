"""The study's grid: which runs it plans, and the config each run trains.

Every (config, label-noise rate, imbalance ratio, seed) is one run: a config derived from
the named one (the built-in dataset with that noise and long tail, a ``randomness.seed``,
the schedule shortened to the run's epochs with its learning-rate steps and the branch's
loss warm-up scaled alike, COCO metrics per class).
"""
import hashlib
import os.path as osp
from typing import Dict, Iterable, List, Optional, Sequence

from mmengine.config import Config

from ..utils.config import fused_options, joint_heads
from ..utils.families import BUILTIN_FAMILIES, REPO_ROOT

# The detector families the study compares: (stock config, joint config).
FAMILIES = BUILTIN_FAMILIES
# Epochs of a family's runs when none are given: 6, i.e. 600 iterations at the batch of
# 4 of the first three; YOLO11's configs use batches of 8, so 12 epochs give it the same
# 600 iterations.
DEFAULT_EPOCHS = 6
FAMILY_EPOCHS = {'yolo11': 12}


def planned_runs(families: Iterable[str] = tuple(FAMILIES),
                 configs: Optional[Sequence[str]] = None, family: str = 'custom',
                 noise: Sequence[float] = (0.0, 0.2, 0.4),
                 imbalance: Sequence[float] = (5.0, ), seeds: Sequence[int] = (0, 1, 2),
                 epochs: Optional[int] = None,
                 cfg_options: Sequence[str] = (),
                 noise_pairs: Optional[Dict[str, str]] = None) -> List[dict]:
    """The grid, one dict per run, in the order they are run (seed-major, so that a
    partial study already has every cell at its first seed).

    ``configs`` (shown under ``family``) replaces the stock/joint pairs of ``families``;
    ``cfg_options`` (``key=value`` items, as in tools/train.py) apply to every run and
    give the runs ids of their own. ``noise_pairs`` (class -> class) makes the label noise
    pair flips (the dataset's ``label_noise_pairs``) instead of symmetric; the runs' ids
    and data folders say ``pair`` after the rate.
    """
    if configs:
        named = [(osp.splitext(osp.basename(c))[0], family, c) for c in configs]
    else:
        named = [(variant, name, osp.join(REPO_ROOT, path)) for name in families
                 for variant, path in zip(('stock', 'joint'), FAMILIES[name])]
    runs = []
    for seed in seeds:
        for rate in noise:
            for ratio in imbalance:
                for variant, name, path in named:
                    config = osp.splitext(osp.basename(path))[0]
                    run_epochs = epochs or FAMILY_EPOCHS.get(name, DEFAULT_EPOCHS)
                    run_id = (f'{config}_noise{noise_tag(rate, noise_pairs)}_imb{ratio:g}'
                              f'_seed{seed}_ep{run_epochs}')
                    if cfg_options:  # other overrides, another run
                        digest = hashlib.sha1(' '.join(cfg_options).encode()).hexdigest()
                        run_id += f'_options-{digest[:8]}'
                    runs.append(dict(id=run_id, family=name, variant=variant, config=config,
                                     config_path=osp.abspath(path), noise=rate,
                                     imbalance=ratio, seed=seed, epochs=run_epochs,
                                     cfg_options=list(cfg_options)))
                    if noise_pairs:
                        runs[-1]['noise_pairs'] = dict(noise_pairs)
    return runs


def noise_tag(rate: float, pairs: Optional[Dict[str, str]] = None) -> str:
    """The label noise of a run as its id and data folder name it: ``0.3``, or
    ``0.3pair`` for pair flips."""
    return f'{rate:g}pair' if pairs else f'{rate:g}'


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
    fields: Dict[str, object] = dict(
        builtin_dataset=dict(cfg.builtin_dataset, root=data_root, label_noise=run['noise'],
                             imbalance_ratio=run['imbalance'],
                             label_noise_pairs=run.get('noise_pairs')),
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
