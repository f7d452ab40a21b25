"""The two-stage head: Shared2FCBBoxHead plus a parallel contrastive branch."""
from typing import Optional, Tuple

import torch
import torch.nn as nn
from torch import Tensor

from mmdet.models.roi_heads.bbox_heads import Shared2FCBBoxHead
from mmdet.registry import MODELS

from ..contrastive_scores import check_bank_matches_head, fuse_class_scores

INFERENCE_MODES = ('stock', 'fused')


@MODELS.register_module()
class ContrastiveBBoxHead(Shared2FCBBoxHead):
    """``Shared2FCBBoxHead`` with CLIP-Joint-Detect's contrastive branch.

    A two-layer MLP projects the feature that feeds the stock classifier (the output of
    the shared fully connected layers, ``(N, fc_out_channels)``) to the bank's
    ``embed_dims``; the bank scores it against the class text embeddings, and
    ``loss_contrastive`` joins the stock ``loss_cls`` / ``loss_bbox``, over the same
    sampled RoIs and labels. The stock layers, their names and the
    ``(cls_score, bbox_pred)`` output are unchanged, so the stock ``StandardRoIHead``,
    ``CascadeRoIHead`` and Mask R-CNN's RoI head run it, and stock checkpoints load.

    Args:
        text_bank (dict): config of a :class:`TextEmbeddingBank`.
        proj_hidden_dims (int): hidden width of the projection MLP.
        loss_contrastive (dict): config of the contrastive loss (:class:`InfoNCELoss`).
        inference (str): ``'stock'``: the branch is not computed at test time and the
            predictions are the stock head's (zero overhead); ``'fused'``: class
            probabilities are ``(1 - w) * p_stock + w * p_contrastive``.
        fusion_weight (float): ``w`` for ``'fused'``.
        **kwargs: ``Shared2FCBBoxHead``'s arguments.
    """

    def __init__(self,
                 text_bank: dict,
                 proj_hidden_dims: int = 1024,
                 loss_contrastive: dict = dict(type='InfoNCELoss'),
                 inference: str = 'stock',
                 fusion_weight: float = 0.5,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        if inference not in INFERENCE_MODES:
            raise ValueError(f'ContrastiveBBoxHead.inference must be one of {INFERENCE_MODES}, '
                             f"got '{inference}'")
        if not self.with_cls or self.custom_cls_channels:
            raise ValueError('ContrastiveBBoxHead needs the stock softmax classifier (with_cls)')
        if inference == 'fused' and self.loss_cls.use_sigmoid:
            raise ValueError("ContrastiveBBoxHead: inference='fused' needs a softmax loss_cls")
        self.text_bank = MODELS.build(text_bank)
        check_bank_matches_head(self.text_bank, self.num_classes, 'roi_head.bbox_head')
        self.projection = nn.Sequential(
            nn.Linear(self.cls_last_dim, proj_hidden_dims), nn.ReLU(inplace=True),
            nn.Linear(proj_hidden_dims, self.text_bank.embed_dims))
        self.loss_contrastive = MODELS.build(loss_contrastive)
        self.inference = inference
        self.fusion_weight = fusion_weight
        # The classifier's input is the feature the paper projects: take it where the
        # stock forward hands it over, without re-implementing that forward.
        self._cls_feature: Optional[Tensor] = None
        self._region_logits: Optional[Tensor] = None
        self.fc_cls.register_forward_pre_hook(self._keep_cls_feature)

    def _keep_cls_feature(self, module: nn.Module, inputs: Tuple[Tensor]) -> None:
        self._cls_feature = inputs[0]

    def contrastive_logits(self, cls_feature: Tensor) -> Tensor:
        """(N, C [+1]) bank logits of the classifier features ``(N, cls_last_dim)``."""
        return self.text_bank(self.projection(cls_feature))

    def forward(self, x: Tuple[Tensor]) -> tuple:
        """Same contract as ``Shared2FCBBoxHead.forward``.

        Args:
            x (Tensor): (N, C_in, roi_feat_size, roi_feat_size) RoI features.

        Returns:
            tuple: ``cls_score`` (N, num_classes + 1) and ``bbox_pred`` (N, 4 or
            4 * num_classes). In training, the contrastive logits of the same RoIs are
            kept for :meth:`loss`; with ``inference='fused'`` in eval mode, ``cls_score``
            is the log of the fused probabilities (so the stock softmax recovers them).
        """
        cls_score, bbox_pred = super().forward(x)
        cls_feature, self._cls_feature = self._cls_feature, None
        if self.training:
            self._region_logits = self.contrastive_logits(cls_feature)
        elif self.inference == 'fused':
            cls_score = fuse_class_scores(cls_score, self.contrastive_logits(cls_feature),
                                          self.fusion_weight)
        return cls_score, bbox_pred

    def loss(self, cls_score: Tensor, bbox_pred: Tensor, rois: Tensor, labels: Tensor,
             label_weights: Tensor, bbox_targets: Tensor, bbox_weights: Tensor,
             reduction_override: Optional[str] = None) -> dict:
        """The stock losses plus ``loss_contrastive`` on the RoIs of the last forward."""
        losses = super().loss(cls_score, bbox_pred, rois, labels, label_weights, bbox_targets,
                              bbox_weights, reduction_override=reduction_override)
        region_logits, self._region_logits = self._region_logits, None
        if region_logits is None or len(region_logits) != len(labels):
            raise RuntimeError('ContrastiveBBoxHead.loss needs the training forward of the same '
                               'RoIs first (as StandardRoIHead.bbox_loss does)')
        losses.update(self.loss_contrastive(region_logits, labels, self.num_classes,
                                            weights=label_weights))
        # Logged (not optimised): how sharp the learned temperatures have become.
        losses['text_logit_scale'] = self.text_bank.logit_scale().detach().mean()
        return losses
