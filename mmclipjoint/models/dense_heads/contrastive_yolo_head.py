"""CLIP-Joint-Detect on YOLO11, the paper's one-stage detector."""
from typing import Dict

import torch
from torch import Tensor

from mmdet.registry import MODELS
from ..layers import ContrastiveDenseHeadMixin
from .yolo11_head import YOLO11Head


@MODELS.register_module()
class ContrastiveYOLOHead(ContrastiveDenseHeadMixin, YOLO11Head):
    """:class:`YOLO11Head` plus the grid contrastive branch (the paper's YOLO).

    The branch (default :class:`GridContrastiveBranch`) reads, on every level, the
    input of the class branch's last 1x1 convolution (``(B, cls_width, H, W)``). Its
    positives are the cells the task-aligned assignment of the same step made positive,
    with their assigned classes (handed over from :meth:`loss_by_feat`, never assigned
    again); every other cell is background.

    The soft alignment scores do not weight the contrastive terms: they are the
    targets of the class loss, while in InfoNCE every positive counts once, as every
    foreground RoI does in the two-stage head (the alignment decides only which cells
    are positive, and of which class). Outputs, losses and predictions with
    ``inference='stock'`` are :class:`YOLO11Head`'s with the same weights.

    Args:
        contrastive_branch (dict): see :class:`ContrastiveHeadMixin`.
        **kwargs: :class:`YOLO11Head`'s arguments.
    """

    def contrastive_branch_inputs(self):
        return [branch[-1] for branch in self.cls_branches], dict(
            in_channels=self.cls_branches[0][-1].in_channels, num_levels=len(self.strides))

    def hand_over_assignment(self, assigned: Dict[str, Tensor]) -> None:
        labels = assigned['labels']
        self.contrastive_branch.hand_over_targets(
            labels, torch.ones(labels.shape, device=labels.device))
