"""MMDetection's DetInferencer on this package's models, with the model's own classes."""
from typing import Optional, Sequence

import torch
from mmengine.config import Config
from mmengine.logging import print_log


def config_class_names(cfg: Config) -> Optional[Sequence[str]]:
    """Class names a config states: its test dataset's metainfo, else a text bank's."""
    from .config import joint_heads
    for loader in ('test_dataloader', 'val_dataloader', 'train_dataloader'):
        classes = cfg.get(loader, {}).get('dataset', {}).get('metainfo', {}).get('classes')
        if classes:
            return tuple(classes)
    for _, head in joint_heads(cfg.model):
        names = head.contrastive_branch.get('text_bank', {}).get('class_names')
        if names:
            from ..models.layers.clip_text import resolve_class_names
            return tuple(resolve_class_names(names))
    return None


def build_inferencer(cfg: Config, weights: str, device: Optional[str] = None,
                     trust_checkpoint: bool = False):
    """A ``DetInferencer`` whose labels are the model's classes.

    The classes come from the checkpoint's ``meta.dataset_meta`` (what the Runner
    saves); a checkpoint without it takes the config's (test dataset metainfo, else the
    text bank's class names) instead of DetInferencer's silent fall-back to COCO's 80.
    A class count that differs from the model's is an error. The checkpoint is loaded
    without running code from it (:func:`~mmclipjoint.utils.checkpoint.load_checkpoint_file`)
    unless ``trust_checkpoint`` says the user trusts the file.
    """
    from mmdet.apis import DetInferencer
    from . import checkpoint
    if trust_checkpoint:  # DetInferencer loads the file again, through mmengine's loader
        checkpoint.trust_checkpoint(weights)
    content = checkpoint.load_checkpoint_file(weights, map_location='cpu')
    meta = content.get('meta', {}) if isinstance(content, dict) else {}
    classes = tuple(meta.get('dataset_meta', {}).get('classes') or ())
    source = f'{weights} (meta.dataset_meta)'
    if not classes:
        classes = config_class_names(cfg)
        source = f'the config {cfg.filename} (the checkpoint has no meta.dataset_meta)'
        if not classes:
            raise ValueError(
                f'{weights} has no meta.dataset_meta and the config names no classes; '
                f'without them the labels would be COCO names. Fix: use a checkpoint written '
                f'by tools/train.py, or set test_dataloader.dataset.metainfo.classes')
    inferencer = DetInferencer(model=cfg, weights=weights, device=device, show_progress=False)
    model = inferencer.model
    head = getattr(getattr(model, 'roi_head', None), 'bbox_head', None) or \
        getattr(model, 'bbox_head', None)
    head = head[-1] if isinstance(head, torch.nn.ModuleList) else head  # cascade stages
    num_classes = getattr(head, 'num_classes', None)
    if num_classes is not None and num_classes != len(classes):
        raise ValueError(f'{source} names {len(classes)} classes but the model predicts '
                         f'{num_classes}; fix: the config and checkpoint must belong together')
    dataset_meta = dict(meta.get('dataset_meta') or {}, classes=classes)
    model.dataset_meta = dataset_meta
    inferencer.visualizer.dataset_meta = dataset_meta
    print_log(f'classes from {source}: {list(classes)}', logger='current')
    return inferencer
