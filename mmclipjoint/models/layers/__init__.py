from .contrastive_branch import ContrastiveBranch
from .contrastive_head_mixin import ContrastiveDenseHeadMixin, ContrastiveHeadMixin
from .grid_contrastive_branch import GridContrastiveBranch
from .region_contrastive_branch import RegionContrastiveBranch
from .score_fusion import fuse_sigmoid_scores, fuse_softmax_scores
from .text_embedding_bank import TextEmbeddingBank

__all__ = [
    'ContrastiveBranch', 'ContrastiveDenseHeadMixin', 'ContrastiveHeadMixin',
    'GridContrastiveBranch', 'RegionContrastiveBranch', 'TextEmbeddingBank',
    'fuse_sigmoid_scores', 'fuse_softmax_scores'
]
