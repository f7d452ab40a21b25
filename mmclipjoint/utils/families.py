"""The detector families this project compares on its built-in dataset, written once:
each family's stock config and its joint config in the paper's end-to-end setting
(paths from the repository root). The robustness study, the overhead benchmark and the
tests take their pairs from here."""
import os.path as osp
from typing import Dict, Tuple

# The source checkout (mmclipjoint is installed editable by `make env`): the configs, the
# tools and pretrained/ are paths in it.
REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

BUILTIN_FAMILIES: Dict[str, Tuple[str, str]] = {
    # The Faster R-CNN joint model of the main job (fused, a tenth of the gradient) is
    # the end-to-end config plus two fields; the study runs it with --configs.
    'faster-rcnn': (
        'configs/faster_rcnn/faster-rcnn_r18-slim_fpn_12e_shapes.py',
        'configs/clip_joint/faster-rcnn_r18-slim_fpn_clip-joint-end-to-end_12e_shapes.py'),
    'yolox': ('configs/yolox/yolox_tiny_12e_shapes.py',
              'configs/clip_joint/yolox_tiny_clip-joint_12e_shapes.py'),
    'rtmdet': ('configs/rtmdet/rtmdet_tiny_12e_shapes.py',
               'configs/clip_joint/rtmdet_tiny_clip-joint_12e_shapes.py'),
    'yolo11': ('configs/yolo11/yolo11_n_24e_shapes.py',
               'configs/clip_joint/yolo11_n_clip-joint_24e_shapes.py'),
}


def family_configs(family: str, root: str) -> Tuple[str, str]:
    """(stock config, joint config) of ``family`` as paths under ``root``."""
    return tuple(osp.join(root, path) for path in BUILTIN_FAMILIES[family])
