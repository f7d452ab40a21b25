"""Ultralytics YOLO11 checkpoints -> this package's YOLO11 modules.

The reference model numbers its layers 0..23 (``model.<i>.``): 0-10 the backbone,
11-22 the neck (upsampling and concatenation layers have no weights), 23 the head.
Inside a layer the names are the architecture's, which the modules here keep.
"""
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

from torch import Tensor

NECK_LAYERS = {13: 'top_down_p4', 16: 'top_down_p3', 17: 'downsample_p3',
               19: 'bottom_up_p4', 20: 'downsample_p4', 22: 'bottom_up_p5'}
HEAD_LAYER = 23
HEAD_PARTS = {'cv2': 'box_branches', 'cv3': 'cls_branches', 'dfl': 'dfl'}


def convert_yolo11_state_dict(state_dict: Dict[str, Tensor], backbone: str = 'backbone.',
                              neck: str = 'neck.', head: str = 'bbox_head.') -> Dict[str, Tensor]:
    """Rename a YOLO11 detection state_dict (keys ``model.<layer>.<...>``) to
    ``<backbone>layers.<layer>.``, ``<neck><stage>.``, ``<head><branches>.`` keys."""
    converted = {}
    for key, value in state_dict.items():
        parts = key.split('.')
        if parts[0] != 'model' or not parts[1].isdigit():
            raise ValueError(f"not a YOLO11 detection checkpoint key: '{key}' (expected "
                             f"'model.<layer>.<...>')")
        layer, rest = int(parts[1]), '.'.join(parts[2:])
        if layer <= 10:
            converted[f'{backbone}layers.{layer}.{rest}'] = value
        elif layer in NECK_LAYERS:
            converted[f'{neck}{NECK_LAYERS[layer]}.{rest}'] = value
        elif layer == HEAD_LAYER and parts[2] in HEAD_PARTS:
            converted[f'{head}{HEAD_PARTS[parts[2]]}.{".".join(parts[3:])}'] = value
        else:
            raise ValueError(f"'{key}': layer {layer} of a YOLO11 detector has no weights "
                             f'here; the checkpoint is of another architecture')
    return converted


def yolo11_detector_shapes(scale: str, num_classes: int) -> Dict[str, tuple]:
    """Parameter and buffer shapes of this package's YOLO11 at ``scale`` (built on the
    meta device: nothing allocated)."""
    import torch
    import torch.nn as nn

    from ..models import YOLO11PAFPN, YOLO11Backbone, YOLO11Head
    with torch.device('meta'):
        model = nn.Module()
        model.backbone = YOLO11Backbone(scale)
        model.neck = YOLO11PAFPN(scale, model.backbone.out_channels)
        model.bbox_head = YOLO11Head(num_classes, model.neck.out_channels)
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def match_yolo11_scale(converted: Dict[str, Tensor], scale: Optional[str] = None,
                       source: str = 'the checkpoint') -> Tuple[str, int]:
    """The scale (n / s / m / l / x) and class count whose model has exactly the keys
    and shapes of ``converted``; a clear error when none (or not ``scale``) does."""
    from ..models.layers.yolo11_blocks import YOLO11_SCALES
    cls_key = 'bbox_head.cls_branches.0.2.weight'
    if cls_key not in converted:
        raise ValueError(f'{source} is not a YOLO11 detector: it has no {cls_key} (the class '
                         f'output of the head, model.23.cv3.0.2 in Ultralytics)')
    num_classes = converted[cls_key].shape[0]
    found = {k: tuple(v.shape) for k, v in converted.items()}
    mismatches = {}
    for candidate in ([scale] if scale else sorted(YOLO11_SCALES)):
        expected = yolo11_detector_shapes(candidate, num_classes)
        if expected == found:
            return candidate, num_classes
        missing = sorted(set(expected) - set(found))
        wrong = sorted(k for k in set(expected) & set(found) if expected[k] != found[k])
        extra = sorted(set(found) - set(expected))
        mismatches[candidate] = (
            f'{len(missing)} missing keys {missing[:2]}, {len(extra)} unexpected {extra[:2]}, '
            f'{len(wrong)} of another shape' + (f' (e.g. {wrong[0]}: {found[wrong[0]]} here, '
                                                f'{expected[wrong[0]]} at scale {candidate})'
                                                if wrong else ''))
    detail = '; '.join(f'scale {s}: {m}' for s, m in mismatches.items())
    if scale:
        raise ValueError(f"{source} is not a YOLO11{scale} detector ({detail}); fix: pass the "
                         f'scale it was trained at, or leave --scale out to detect it')
    raise ValueError(f'{source} matches no YOLO11 scale ({detail}); it is a checkpoint of '
                     f'another architecture (YOLOv8, YOLO11 with another task head...)')


def load_ultralytics_checkpoint(path: str, trusted: bool = False
                                ) -> Tuple[Dict[str, Tensor], Optional[List[str]]]:
    """The weights (EMA if saved, as Ultralytics evaluates them) and class names of an
    Ultralytics checkpoint: a ``.pt`` of Ultralytics (``{'model': DetectionModel, 'ema':
    ...}``: a pickled model, unpickled only when ``trusted``, and with ``ultralytics``
    installed), or a plain state_dict (``model.<i>.`` keys; no class names), which is
    loaded without running code and needs no trust."""
    from .checkpoint import CheckpointRefusedError, load_checkpoint_file
    try:
        checkpoint = load_checkpoint_file(path, map_location='cpu', trusted=trusted)
    except CheckpointRefusedError as error:
        raise CheckpointRefusedError(
            f'{error}. An Ultralytics .pt file is a pickled model: converting it runs the '
            f'code it names, so it is converted only with --trust-checkpoint (use it for '
            f'files from Ultralytics or another source you trust), or save '
            f'model.state_dict() with Ultralytics and convert that file with --classes, which '
            f'needs no trust') from None
    except ModuleNotFoundError as error:
        raise RuntimeError(
            f'{path}: unpickling this Ultralytics checkpoint needs the module {error.name!r}; '
            f'fix: pip install ultralytics, or save model.state_dict() with Ultralytics and '
            f'convert that file with --classes') from error
    if isinstance(checkpoint, dict) and ('model' in checkpoint or 'ema' in checkpoint):
        model = checkpoint.get('ema') or checkpoint.get('model')
        if isinstance(model, dict):  # a state_dict under 'model'
            return model, None
        names = getattr(model, 'names', None)
        if isinstance(names, dict):
            names = [names[i] for i in sorted(names)]
        return {k: v.float() for k, v in model.state_dict().items()}, names
    if isinstance(checkpoint, dict) and all(isinstance(v, Tensor) for v in checkpoint.values()):
        return checkpoint, None
    raise ValueError(f'{path}: neither an Ultralytics checkpoint (a dict with "model") nor a '
                     f'state_dict')


def convert_ultralytics_checkpoint(src: str, dst: str, scale: Optional[str] = None,
                                   classes: Optional[Sequence[str]] = None,
                                   trusted: bool = False) -> dict:
    """Write an MMDetection checkpoint of :class:`YOLO11Head` detectors from an
    Ultralytics YOLO11 checkpoint (``trusted``: the user trusts ``src``, see
    :func:`load_ultralytics_checkpoint`); returns its ``meta``."""
    import torch

    from mmdet.evaluation import get_classes
    state_dict, names = load_ultralytics_checkpoint(src, trusted)
    try:
        converted = convert_yolo11_state_dict(state_dict)
    except ValueError as error:
        raise ValueError(f'{src}: {error}') from None
    scale, num_classes = match_yolo11_scale(converted, scale, source=src)
    if classes is not None:
        names = list(classes)
    elif names is None and num_classes == 80:
        names = list(get_classes('coco'))
    if names is None or len(names) != num_classes:
        raise ValueError(
            f'{src}: the head has {num_classes} classes but the class names are '
            f'{"missing" if names is None else f"{len(names)}"}; fix: pass --classes with '
            f'the {num_classes} names in label order (or a file of one name per line)')
    meta = dict(dataset_meta=dict(classes=tuple(names)), yolo11_scale=scale,
                converted_from=osp.basename(src))
    torch.save(dict(state_dict=converted, meta=meta), dst)
    return meta
