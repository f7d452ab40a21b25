"""Complete IoU as YOLOv8 / YOLO11 define it.

mmdet's ``bbox_overlaps(mode='ciou')`` / ``CIoULoss`` keep the aspect-ratio term only
where IoU > 0.5 (its alpha is gated); YOLO11's overlap, used by its assigner and its box
loss alike, applies it everywhere, with alpha out of the graph. Matching the reference
detector's assignment and loss needs the ungated form, written here.
"""
import math

import torch
import torch.nn as nn
from torch import Tensor

from mmdet.models.losses.utils import weighted_loss
from mmdet.registry import MODELS


def complete_iou(boxes1: Tensor, boxes2: Tensor, eps: float = 1e-7) -> Tensor:
    """Element-wise CIoU of ``(..., 4)`` corner boxes ``(x1, y1, x2, y2)``:
    ``IoU - rho^2 / c^2 - alpha v`` with ``v = 4 / pi^2 (atan(w2/h2) - atan(w1/h1))^2``,
    ``alpha = v / (1 - IoU + v)`` (no gradient), heights padded by ``eps``."""
    x1a, y1a, x2a, y2a = boxes1.unbind(-1)
    x1b, y1b, x2b, y2b = boxes2.unbind(-1)
    wa, ha = x2a - x1a, y2a - y1a + eps
    wb, hb = x2b - x1b, y2b - y1b + eps
    inter = (torch.minimum(x2a, x2b) - torch.maximum(x1a, x1b)).clamp(0) * \
        (torch.minimum(y2a, y2b) - torch.maximum(y1a, y1b)).clamp(0)
    iou = inter / (wa * ha + wb * hb - inter + eps)
    enclose_w = torch.maximum(x2a, x2b) - torch.minimum(x1a, x1b)
    enclose_h = torch.maximum(y2a, y2b) - torch.minimum(y1a, y1b)
    diagonal2 = enclose_w.pow(2) + enclose_h.pow(2) + eps
    centre2 = ((x1b + x2b - x1a - x2a).pow(2) + (y1b + y2b - y1a - y2a).pow(2)) / 4
    v = (4 / math.pi**2) * (torch.atan(wb / hb) - torch.atan(wa / ha)).pow(2)
    with torch.no_grad():
        alpha = v / (1 - iou + v + eps)
    return iou - (centre2 / diagonal2 + v * alpha)


@weighted_loss
def yolo_ciou_loss(pred: Tensor, target: Tensor, eps: float = 1e-7) -> Tensor:
    return 1 - complete_iou(pred, target, eps)


@MODELS.register_module()
class YOLOCIoULoss(nn.Module):
    """``1 - CIoU`` with YOLO's ungated aspect term (see :func:`complete_iou`), in
    MMDetection's loss conventions (``weight``, ``avg_factor``, ``reduction_override``).

    Args:
        eps (float): the reference's 1e-7.
        reduction (str): ``'none'``, ``'mean'`` or ``'sum'``.
        loss_weight (float): YOLO11's box gain is 7.5.
    """

    def __init__(self, eps: float = 1e-7, reduction: str = 'mean', loss_weight: float = 1.0):
        super().__init__()
        self.eps = eps
        self.reduction = reduction
        self.loss_weight = loss_weight

    def forward(self, pred: Tensor, target: Tensor, weight=None, avg_factor=None,
                reduction_override=None) -> Tensor:
        reduction = reduction_override or self.reduction
        return self.loss_weight * yolo_ciou_loss(pred, target, weight, eps=self.eps,
                                                 reduction=reduction, avg_factor=avg_factor)
