from .contrastive_rtmdet_head import ContrastiveRTMDetHead
from .contrastive_yolo_head import ContrastiveYOLOHead
from .contrastive_yolox_head import ContrastiveYOLOXHead
from .yolo11_head import YOLO11Head

__all__ = ['ContrastiveRTMDetHead', 'ContrastiveYOLOHead', 'ContrastiveYOLOXHead', 'YOLO11Head']
