"""The two-stage head: Shared2FCBBoxHead plus a parallel contrastive branch."""
from typing import Optional

from torch import Tensor

from mmdet.models.roi_heads.bbox_heads import Shared2FCBBoxHead
from mmdet.registry import MODELS
from ...layers import ContrastiveHeadMixin


@MODELS.register_module()
class ContrastiveBBoxHead(ContrastiveHeadMixin, Shared2FCBBoxHead):
    """``Shared2FCBBoxHead`` with CLIP-Joint-Detect's contrastive branch.

    The branch (default :class:`RegionContrastiveBranch`) reads the feature that feeds
    the stock classifier ``fc_cls`` (the output of the shared fully connected layers,
    ``(N, fc_out_channels)``), and its loss joins the stock ``loss_cls`` / ``loss_bbox``
    over the same sampled RoIs, labels and label weights. The stock layers, their names
    and the ``(cls_score, bbox_pred)`` output are unchanged, so the stock
    ``StandardRoIHead``, ``CascadeRoIHead`` and Mask R-CNN's RoI head run it, and stock
    checkpoints load.

    Args:
        contrastive_feature (str): what the branch reads: ``'classifier'`` (default, the
            paper's): the feature that feeds ``fc_cls``, after the shared fully connected
            layers; ``'roi'``: the flattened RoI feature, through the branch's own MLP,
            so that the branch does not train the shared layers box regression reads.
        contrastive_branch (dict): see :class:`ContrastiveHeadMixin`;
            ``inference='fused'`` returns, from ``forward``, the log of
            ``(1 - w) * p_stock + w * p_contrastive`` as ``cls_score`` (the stock
            softmax recovers the fused probabilities); it needs a softmax ``loss_cls``.
        **kwargs: ``Shared2FCBBoxHead``'s arguments.
    """

    default_branch_type = 'RegionContrastiveBranch'
    legacy_state_dict_prefixes = {'text_bank.': 'contrastive_branch.text_bank.',
                                  'projection.': 'contrastive_branch.projection.'}

    def __init__(self, *args, contrastive_feature: str = 'classifier', **kwargs) -> None:
        if contrastive_feature not in ('classifier', 'roi'):
            raise ValueError(f"ContrastiveBBoxHead.contrastive_feature must be 'classifier' "
                             f"or 'roi', got '{contrastive_feature}'")
        self.contrastive_feature = contrastive_feature
        super().__init__(*args, **kwargs)
        if self.contrastive_branch.inference == 'fused' and self.loss_cls.use_sigmoid:
            raise ValueError("ContrastiveBBoxHead: contrastive_branch.inference='fused' needs "
                             'a softmax loss_cls (use_sigmoid=False)')

    def contrastive_branch_inputs(self):
        if not self.with_cls or self.custom_cls_channels:
            raise ValueError('ContrastiveBBoxHead needs the stock softmax classifier '
                             '(with_cls=True, no custom_cls_channels)')
        if self.contrastive_feature == 'roi':
            if self.num_shared_convs or not self.num_shared_fcs:
                raise ValueError("ContrastiveBBoxHead: contrastive_feature='roi' reads the "
                                 'input of the first shared fully connected layer; this head '
                                 'has shared convolutions or no shared fully connected layer')
            return [self.shared_fcs[0]], dict(in_channels=self.shared_fcs[0].in_features)
        return [self.fc_cls], dict(in_channels=self.cls_last_dim)

    def loss(self, cls_score: Tensor, bbox_pred: Tensor, rois: Tensor, labels: Tensor,
             label_weights: Tensor, bbox_targets: Tensor, bbox_weights: Tensor,
             reduction_override: Optional[str] = None) -> dict:
        """The stock losses plus the branch's, on the RoIs of the last forward."""
        losses = super().loss(cls_score, bbox_pred, rois, labels, label_weights, bbox_targets,
                              bbox_weights, reduction_override=reduction_override)
        self.contrastive_branch.hand_over_targets(labels, label_weights)
        return self.add_contrastive_losses(losses)
