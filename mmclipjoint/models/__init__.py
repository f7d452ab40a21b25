from .losses import InfoNCELoss
from .roi_heads import ContrastiveBBoxHead
from .text_embedding_bank import TextEmbeddingBank

__all__ = ['InfoNCELoss', 'ContrastiveBBoxHead', 'TextEmbeddingBank']
