from .contrastive_rtmdet_head import ContrastiveRTMDetHead
from .contrastive_yolox_head import ContrastiveYOLOXHead

__all__ = ['ContrastiveRTMDetHead', 'ContrastiveYOLOXHead']
