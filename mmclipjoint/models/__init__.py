from .backbones import YOLO11Backbone
from .dense_heads import (ContrastiveRTMDetHead, ContrastiveYOLOHead, ContrastiveYOLOXHead,
                          YOLO11Head)
from .layers import (ContrastiveBranch, GridContrastiveBranch, RegionContrastiveBranch,
                     TextEmbeddingBank)
from .losses import InfoNCELoss, YOLOCIoULoss
from .necks import YOLO11PAFPN
from .roi_heads import ContrastiveBBoxHead
from .task_modules import BatchTaskAlignedAssigner

__all__ = [
    'ContrastiveBBoxHead', 'ContrastiveBranch', 'ContrastiveRTMDetHead', 'ContrastiveYOLOHead',
    'ContrastiveYOLOXHead', 'GridContrastiveBranch', 'InfoNCELoss', 'RegionContrastiveBranch',
    'TextEmbeddingBank', 'YOLO11Backbone', 'YOLO11Head', 'YOLO11PAFPN', 'BatchTaskAlignedAssigner',
    'YOLOCIoULoss'
]
