from .contrastive_rtmdet_head import ContrastiveRTMDetHead
from .contrastive_yolox_head import ContrastiveYOLOXHead
from .yolo11_head import YOLO11Head

__all__ = ['ContrastiveRTMDetHead', 'ContrastiveYOLOXHead', 'YOLO11Head']
