"""Ultralytics YOLO11 checkpoints -> this package's YOLO11 modules.

The reference model numbers its layers 0..23 (``model.<i>.``): 0-10 the backbone,
11-22 the neck (upsampling and concatenation layers have no weights), 23 the head.
Inside a layer the names are the architecture's, which the modules here keep.
"""
from typing import Dict

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
