from .contrastive_bbox_head import ContrastiveBBoxHead

__all__ = ['ContrastiveBBoxHead']
