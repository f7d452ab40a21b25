from .dense_heads import ContrastiveRTMDetHead, ContrastiveYOLOHead, GridContrastiveBranch
from .losses import InfoNCELoss
from .roi_heads import ContrastiveBBoxHead
from .text_embedding_bank import TextEmbeddingBank

__all__ = [
    'ContrastiveBBoxHead', 'ContrastiveRTMDetHead', 'ContrastiveYOLOHead',
    'GridContrastiveBranch', 'InfoNCELoss', 'TextEmbeddingBank'
]
