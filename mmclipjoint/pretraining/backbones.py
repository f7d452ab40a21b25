"""Pretrained backbones for the built-in families: image classification of the
pretraining split's object crops (the ten shapes), as ImageNet pretraining is done, with
the OpenMMLab classification stack: mmpretrain's ``ImageClassifier`` with the detector's
own backbone taken from MMDetection's registry (``type='mmdet.ResNet'`` ...).

:class:`PretrainingCrops` serves the crops to mmpretrain: BGR, as MMDetection's
``LoadImageFromFile`` reads images, so that each family's classifier normalises exactly
as its detector's data preprocessor does. Scenes with an index in the last
``val_fraction`` of the split are the validation part (no scene in both).
"""
import json
import os.path as osp
import time
from typing import Dict, List, Optional

import numpy as np
import torch
from mmpretrain.datasets import BaseDataset
from mmpretrain.registry import DATASETS

from ..datasets.pretraining import (PRETRAINING_SHAPES, PretrainingParams, load_pretraining_objects,
                                    object_scenes)
from ..utils.families import REPO_ROOT
from ..utils.files import atomic_write
from .artifacts import BACKBONE_CONFIGS


@DATASETS.register_module()
class PretrainingCrops(BaseDataset):
    """The pretraining split's object crops labelled with their shape (ten classes).

    Args:
        data_root: where the split is cached (rendered on first use).
        split: ``'train'`` or ``'val'`` (scenes in the last ``val_fraction``).
        params: :class:`~mmclipjoint.datasets.pretraining.PretrainingParams` fields.
        val_fraction: the share of scenes held out for validation.
        pipeline: mmpretrain transforms applied to ``dict(img=<BGR uint8>, gt_label=...)``.
    """

    METAINFO = dict(classes=PRETRAINING_SHAPES)

    def __init__(self, data_root: str, split: str = 'train', params: Optional[dict] = None,
                 val_fraction: float = 0.1, pipeline=(), **kwargs):
        if split not in ('train', 'val'):
            raise ValueError(f"PretrainingCrops.split must be 'train' or 'val', got {split!r}")
        self.params = PretrainingParams(**(params or {}))
        self.split, self.val_fraction = split, val_fraction
        super().__init__(ann_file='', data_root=data_root, pipeline=list(pipeline),
                         serialize_data=False, **kwargs)

    def load_data_list(self) -> List[dict]:
        crops, attributes = load_pretraining_objects(self.data_root, self.params)
        scenes = object_scenes(self.params)
        first_val = int(round(self.params.num_scenes * (1 - self.val_fraction)))
        keep = scenes >= first_val if self.split == 'val' else scenes < first_val
        return [dict(img=np.ascontiguousarray(crops[i][..., ::-1]), gt_label=int(attributes[i, 0]))
                for i in np.flatnonzero(keep)]


BACKBONE_PREFIX = 'backbone.'


def _config_path(config: str) -> str:
    """A config path as given, or relative to the repository (BACKBONE_CONFIGS')."""
    return config if osp.isabs(config) else osp.join(REPO_ROOT, config)


def backbone_training_config(config: str, epochs: Optional[int] = None,
                             num_scenes: Optional[int] = None, data_root: Optional[str] = None,
                             batch_size: Optional[int] = None, options: Optional[dict] = None):
    """The classification config, with its length, split size, data folder or batch size
    changed everywhere they appear (tests train a few iterations on a small split), and
    other ``options`` (``{'dotted.key': value}``) merged in."""
    from mmengine.config import Config
    cfg = Config.fromfile(_config_path(config))
    loaders = (cfg.train_dataloader, cfg.val_dataloader, cfg.test_dataloader)
    if epochs is not None:
        cfg.train_cfg.max_epochs = epochs
        warmup, cosine = cfg.param_scheduler
        cosine.end = cosine.T_max = epochs
    for loader in loaders:
        if num_scenes is not None:
            loader.dataset.params = dict(loader.dataset.get('params') or {},
                                         num_scenes=num_scenes)
        if data_root is not None:
            loader.dataset.data_root = data_root
    if batch_size is not None:
        cfg.train_dataloader.batch_size = batch_size
    cfg.merge_from_dict(options or {})
    return cfg


def save_backbone_weights(state_dict: Dict[str, torch.Tensor], path: str,
                          meta: Optional[dict] = None) -> None:
    """Write a classifier's weights as MMDetection reads an ImageNet checkpoint:
    ``{'state_dict': {'backbone.<name>': ..., 'head.<name>': ...}, 'meta': {...}}``; a
    detector takes the ``backbone.`` entries (``init_cfg.prefix``). Tensors and plain
    types only: it loads with ``weights_only=True``."""
    if not any(k.startswith(BACKBONE_PREFIX) for k in state_dict):
        raise KeyError(f'{path}: no {BACKBONE_PREFIX}* entries in the state dict to save')
    checkpoint = dict(state_dict=dict(state_dict), meta=dict(meta or {}))
    atomic_write(path, lambda f: torch.save(checkpoint, f))


def build_classifier(name_or_config: str):
    """The ImageClassifier of a built-in backbone's config (random weights)."""
    from mmengine.config import Config
    from mmengine.registry import DefaultScope
    from mmpretrain.registry import MODELS
    cfg = Config.fromfile(_config_path(BACKBONE_CONFIGS.get(name_or_config, name_or_config)))
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        return MODELS.build(cfg.model)


@torch.no_grad()
def classify_crops(classifier, crops: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Predicted class indices of RGB uint8 crops ``(N, H, W, 3)`` (given to the
    classifier in BGR, as it was trained)."""
    classifier.eval()
    predictions = []
    for start in range(0, len(crops), batch_size):
        batch = [torch.from_numpy(np.ascontiguousarray(c[..., ::-1].transpose(2, 0, 1)))
                 for c in crops[start:start + batch_size]]
        inputs = classifier.data_preprocessor(dict(inputs=batch), False)['inputs']
        predictions.append(classifier(inputs, mode='tensor').argmax(1).numpy())
    return np.concatenate(predictions)


def evaluate_builtin_backbone(classifier, data_root: Optional[str] = None,
                              split: str = 'test') -> dict:
    """Top-1 of a pretrained classifier (ten outputs) on the object crops of a detection
    split, whose six classes are the first six of its outputs. The split is generated
    first if needed."""
    from .clip import builtin_split_objects
    crops, labels, _ = builtin_split_objects(data_root, split, 64)
    return dict(split=split, objects=int(len(labels)),
                top1=float((classify_crops(classifier, crops) == labels).mean()))


def build_builtin_backbone(name: str, out_dir: str = 'data/pretrained',
                           work_dir: Optional[str] = None, resume: bool = False,
                           pack_to: Optional[str] = None, config: Optional[str] = None,
                           eval_data_root: Optional[str] = None, **overrides) -> dict:
    """Pretrain one built-in backbone by classification, export it, measure it.

    Trains ``BACKBONE_CONFIGS[name]`` (or ``config``) on mmengine's Runner, rounds the
    weights to what the packed copy holds (float16), loads them back and measures top-1
    on the held-out scenes' crops and on the detection test split's object crops
    (:func:`evaluate_builtin_backbone`), then writes ``out_dir/name`` (the classifier's
    weights, as an ImageNet checkpoint) and ``out_dir/<stem>.json``. ``pack_to``: also
    write the packed copy there, with the figures as its metadata.

    Returns:
        dict: the figures (top-1 on both, crops, epochs, training minutes), the file name.
    """
    from mmengine.registry import DefaultScope
    from mmengine.runner import Runner

    from .packing import pack_weights, save_packed, unpack_weights
    if name not in BACKBONE_CONFIGS and config is None:
        raise KeyError(f'{name!r} is not a built-in backbone; known: {sorted(BACKBONE_CONFIGS)}')
    config = config or BACKBONE_CONFIGS[name]
    stem = osp.splitext(name)[0]
    cfg = backbone_training_config(config, **overrides)
    cfg.work_dir = work_dir or osp.join('work_dirs', 'builtin_backbones', stem)
    cfg.resume = resume
    # measured once below (test split = the validation crops), on the weights as
    # shipped; not also on the float32 weights at the last epoch
    cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None
    # The Runner makes its scope (mmpretrain) the current default scope; restored after,
    # so that a detector built next (a first use inside tools/train.py) finds mmdet's.
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        runner = Runner.from_cfg(cfg)
        start = time.time()
        runner.train()
        minutes = (time.time() - start) / 60
        packed = pack_weights(runner.model.state_dict())
        rounded = unpack_weights(packed)
        runner.model.load_state_dict(rounded)
        metrics = runner.test()
        test = evaluate_builtin_backbone(runner.model, eval_data_root)
        val_crops = len(runner.test_dataloader.dataset)
    result = dict(weights=name, config=osp.relpath(osp.join(REPO_ROOT, config), REPO_ROOT),
                  epochs=cfg.train_cfg.max_epochs, train_minutes=minutes,
                  top1=float(metrics['accuracy/top1']) / 100, val_crops=val_crops,
                  test_split_top1=test['top1'], test_split_objects=test['objects'])
    save_backbone_weights(rounded, osp.join(out_dir, name), meta=result)
    atomic_write(osp.join(out_dir, f'{stem}.json'),
                 lambda f: json.dump(result, f, indent=1), mode='w')
    if pack_to:
        packed['metadata'] = dict(result)
        save_packed(pack_to, packed)
    return result
