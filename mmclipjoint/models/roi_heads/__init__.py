from .bbox_heads import ContrastiveBBoxHead

__all__ = ['ContrastiveBBoxHead']
