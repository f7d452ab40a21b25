from .dense_heads import ContrastiveRTMDetHead, ContrastiveYOLOXHead
from .layers import (ContrastiveBranch, GridContrastiveBranch, RegionContrastiveBranch,
                     TextEmbeddingBank)
from .losses import InfoNCELoss
from .roi_heads import ContrastiveBBoxHead

__all__ = [
    'ContrastiveBBoxHead', 'ContrastiveBranch', 'ContrastiveRTMDetHead',
    'ContrastiveYOLOXHead', 'GridContrastiveBranch', 'InfoNCELoss', 'RegionContrastiveBranch',
    'TextEmbeddingBank'
]
