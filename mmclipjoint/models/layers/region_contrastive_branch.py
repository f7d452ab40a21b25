"""The contrastive branch of RoI heads: one embedding per region."""
from typing import List, Tuple

import torch.nn as nn
from torch import Tensor

from mmdet.registry import MODELS
from .contrastive_branch import ContrastiveBranch
from .score_fusion import fuse_softmax_scores


@MODELS.register_module()
class RegionContrastiveBranch(ContrastiveBranch):
    """Projects the feature that feeds a RoI head's classifier to the text space.

    A two-layer MLP maps ``(N, in_channels)`` region features (for
    ``Shared2FCBBoxHead``: the output of the shared fully connected layers) to the
    bank's ``embed_dims``. The loss uses every sampled RoI with the RoI head's own
    labels and label weights, normalised per process as the RoI head's own
    ``loss_cls`` is. Fused inference mixes softmax probabilities
    (:func:`fuse_softmax_scores`).

    Args:
        in_channels (int): width of the region features (set by the head).
        hidden_channels (int): hidden width of the MLP.
        **kwargs: :class:`ContrastiveBranch`'s arguments.
    """

    def __init__(self, in_channels: int, hidden_channels: int = 1024, **kwargs):
        super().__init__(**kwargs)
        self.projection = nn.Sequential(
            nn.Linear(in_channels, hidden_channels), nn.ReLU(inplace=True),
            nn.Linear(hidden_channels, self.text_bank.embed_dims))

    @property
    def num_inputs(self) -> int:
        return 1

    def logits(self, region_features: Tensor) -> Tensor:
        """(N, C [+1]) bank logits of (N, in_channels) region features."""
        return self.text_bank(self.projection(region_features))

    def embed_for_loss(self, features: List[Tensor], labels: Tensor,
                       weights: Tensor) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
        (regions, ) = features
        if len(regions) != len(labels):
            raise RuntimeError(f'RegionContrastiveBranch: {len(labels)} targets for the '
                               f'{len(regions)} regions of the training forward')
        return self.projection(regions), labels, weights, regions.new_zeros(())

    def fuse(self, cls_score: Tensor, features: List[Tensor]) -> Tensor:
        return fuse_softmax_scores(cls_score, self.logits(features[0]), self.fusion_weight)
