from .contrastive_yolo_head import ContrastiveRTMDetHead, ContrastiveYOLOHead
from .grid_contrastive_branch import GridContrastiveBranch

__all__ = ['ContrastiveRTMDetHead', 'ContrastiveYOLOHead', 'GridContrastiveBranch']
