"""CLIP-Joint-Detect on the stock RTMDet head."""
import torch

from mmdet.models.dense_heads import RTMDetSepBNHead
from mmdet.registry import MODELS
from ...utils.upstream import rtmdet_labels_and_weights
from ..layers import ContrastiveDenseHeadMixin


@MODELS.register_module()
class ContrastiveRTMDetHead(ContrastiveDenseHeadMixin, RTMDetSepBNHead):
    """The stock ``RTMDetSepBNHead`` plus the grid contrastive branch.

    The branch reads the input of ``rtm_cls`` on every level; its loss uses the labels
    and label weights RTMDet's own ``get_targets`` (dynamic soft label assignment)
    computed in the same step: the hard class of every positive (its soft IoU score
    is not used) and background elsewhere.

    Args:
        contrastive_branch (dict): see :class:`ContrastiveHeadMixin`.
        **kwargs: ``RTMDetSepBNHead``'s arguments.
    """

    legacy_state_dict_prefixes = {'contrastive.': 'contrastive_branch.'}

    def contrastive_branch_inputs(self):
        return self.rtm_cls, dict(in_channels=self.feat_channels,
                                  num_levels=len(self.prior_generator.strides))

    def get_targets(self, *args, **kwargs):
        targets = super().get_targets(*args, **kwargs)
        if targets is not None:  # labels and label weights per level, (B, N_level) each
            labels, weights = rtmdet_labels_and_weights(targets)
            self.contrastive_branch.hand_over_targets(torch.cat(labels, 1),
                                                      torch.cat(weights, 1).float())
        return targets
