from .backbones import YOLO11Backbone
from .dense_heads import ContrastiveRTMDetHead, ContrastiveYOLOXHead, YOLO11HeadModule
from .layers import (ContrastiveBranch, GridContrastiveBranch, RegionContrastiveBranch,
                     TextEmbeddingBank)
from .losses import InfoNCELoss
from .necks import YOLO11PAFPN
from .roi_heads import ContrastiveBBoxHead

__all__ = [
    'ContrastiveBBoxHead', 'ContrastiveBranch', 'ContrastiveRTMDetHead',
    'ContrastiveYOLOXHead', 'GridContrastiveBranch', 'InfoNCELoss', 'RegionContrastiveBranch',
    'TextEmbeddingBank', 'YOLO11Backbone', 'YOLO11HeadModule', 'YOLO11PAFPN'
]
