"""CLIP-Joint-Detect on stock one-stage heads: YOLOX, and the same branch on RTMDet."""
from typing import List, Optional, Sequence, Tuple

import torch
from torch import Tensor

from mmdet.models.dense_heads import RTMDetSepBNHead, YOLOXHead
from mmdet.registry import MODELS

from .grid_contrastive_branch import build_grid_branch, recorded_assignments


def cell_targets_from_assignment(assign_result, num_priors: int, num_classes: int,
                                 device) -> Tuple[Tensor, Tensor]:
    """(N,) labels (``num_classes`` = background) and weights (0 = ignored) of one image.

    ``assign_result`` is None when the image has no ground truth (the head then skips
    its assigner): every cell is background.
    """
    if assign_result is None:
        return (torch.full((num_priors, ), num_classes, dtype=torch.long, device=device),
                torch.ones(num_priors, device=device))
    positive = assign_result.gt_inds > 0
    labels = torch.where(positive, assign_result.labels.long(),
                         torch.full_like(assign_result.gt_inds, num_classes)).long()
    return labels, (assign_result.gt_inds >= 0).float()


@MODELS.register_module()
class ContrastiveYOLOHead(YOLOXHead):
    """The stock ``YOLOXHead`` plus CLIP-Joint-Detect's grid contrastive branch.

    On every level the classification-branch feature (the input of ``conv_cls``,
    ``(B, feat_channels, H, W)``) is projected to the bank's ``embed_dims`` by a
    :class:`GridContrastiveBranch`. The contrastive loss uses exactly the cells YOLOX's
    SimOTA assignment of the same step made positive, with their assigned classes (the
    ``AssignResult`` is recorded, not recomputed); all other cells are background for the
    auxiliary term. Outputs, losses, and predictions with ``inference='stock'`` are the
    stock head's.

    Args:
        text_bank (dict): config of a :class:`TextEmbeddingBank`.
        proj_hidden_dims (int, optional): hidden width of the projection
            (default ``feat_channels``).
        loss_contrastive (dict, optional): the loss config (default: InfoNCE + 0.5 aux CE
            over all non-ignored cells).
        inference (str): ``'stock'`` or ``'fused'``.
        fusion_weight (float): weight of the contrastive probabilities when fused.
        negative_ratio (float, optional): background cells sampled per positive for the
            auxiliary term (None: all cells); see :class:`GridContrastiveBranch`.
        min_negatives (int): background cells sampled per batch at least.
        **kwargs: ``YOLOXHead``'s arguments.
    """

    def __init__(self, *args, text_bank: dict, proj_hidden_dims: Optional[int] = None,
                 loss_contrastive: Optional[dict] = None, inference: str = 'stock',
                 fusion_weight: float = 0.5, negative_ratio: Optional[float] = 3.0,
                 min_negatives: int = 64, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.contrastive = build_grid_branch(
            self, self.feat_channels, len(self.strides), text_bank, proj_hidden_dims,
            loss_contrastive, inference, fusion_weight, negative_ratio, min_negatives,
            self.multi_level_conv_cls)
        self._cell_targets: List[Tuple[Tensor, Tensor]] = []

    def forward(self, x: Tuple[Tensor]) -> Tuple[List]:
        """Stock outputs: per-level class scores (B, C, H, W), boxes, objectness."""
        cls_scores, bbox_preds, objectnesses = super().forward(x)
        return self.contrastive.after_forward(cls_scores), bbox_preds, objectnesses

    def loss_by_feat(self, cls_scores: Sequence[Tensor], bbox_preds: Sequence[Tensor],
                     objectnesses: Sequence[Tensor], batch_gt_instances, batch_img_metas,
                     batch_gt_instances_ignore=None) -> dict:
        """YOLOX's losses plus the contrastive ones on the same assignment."""
        self._cell_targets = []
        losses = super().loss_by_feat(cls_scores, bbox_preds, objectnesses, batch_gt_instances,
                                      batch_img_metas, batch_gt_instances_ignore)
        labels, weights = (torch.stack(t) for t in zip(*self._cell_targets))
        self._cell_targets = []
        losses.update(self.contrastive.loss(labels, weights))
        return losses

    def _get_targets_single(self, priors: Tensor, cls_preds: Tensor, decoded_bboxes: Tensor,
                            objectness: Tensor, gt_instances, img_meta,
                            gt_instances_ignore=None) -> tuple:
        with recorded_assignments(self.assigner) as assignments:
            targets = super()._get_targets_single(priors, cls_preds, decoded_bboxes, objectness,
                                                  gt_instances, img_meta, gt_instances_ignore)
        self._cell_targets.append(cell_targets_from_assignment(
            assignments[0] if assignments else None, priors.size(0), self.num_classes,
            priors.device))
        return targets


@MODELS.register_module()
class ContrastiveRTMDetHead(RTMDetSepBNHead):
    """The stock ``RTMDetSepBNHead`` plus the same :class:`GridContrastiveBranch`.

    The branch takes the input of ``rtm_cls`` on every level; the contrastive loss uses
    the labels and weights RTMDet's own ``get_targets`` (dynamic soft label assignment)
    computed in the same step. Arguments as :class:`ContrastiveYOLOHead`, plus
    ``RTMDetSepBNHead``'s.
    """

    def __init__(self, *args, text_bank: dict, proj_hidden_dims: Optional[int] = None,
                 loss_contrastive: Optional[dict] = None, inference: str = 'stock',
                 fusion_weight: float = 0.5, negative_ratio: Optional[float] = 3.0,
                 min_negatives: int = 64, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.contrastive = build_grid_branch(
            self, self.feat_channels, len(self.prior_generator.strides), text_bank,
            proj_hidden_dims, loss_contrastive, inference, fusion_weight, negative_ratio,
            min_negatives, self.rtm_cls)
        self._cell_targets: Optional[Tuple[Tensor, Tensor]] = None

    def forward(self, feats: Tuple[Tensor, ...]) -> tuple:
        """Stock outputs: per-level class scores (B, C, H, W) and boxes."""
        cls_scores, bbox_preds = super().forward(feats)
        return tuple(self.contrastive.after_forward(cls_scores)), bbox_preds

    def get_targets(self, *args, **kwargs):
        targets = super().get_targets(*args, **kwargs)
        if targets is not None:  # labels and weights per level, (B, N_level) each
            self._cell_targets = (torch.cat(targets[1], 1), torch.cat(targets[2], 1))
        return targets

    def loss_by_feat(self, cls_scores: List[Tensor], bbox_preds: List[Tensor],
                     batch_gt_instances, batch_img_metas, batch_gt_instances_ignore=None):
        """RTMDet's losses plus the contrastive ones on the same targets."""
        losses = super().loss_by_feat(cls_scores, bbox_preds, batch_gt_instances,
                                      batch_img_metas, batch_gt_instances_ignore)
        (labels, weights), self._cell_targets = self._cell_targets, None
        losses.update(self.contrastive.loss(labels, weights.float()))
        return losses
