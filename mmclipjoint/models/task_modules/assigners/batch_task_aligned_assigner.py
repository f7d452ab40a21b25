"""Task-aligned assignment for a whole batch at once, as YOLOv8 / YOLO11 train.

mmdet's ``TaskAlignedAssigner`` assigns one image at a time, measures the fit with plain
IoU, and takes the top-k before checking that a prior lies inside its box; YOLO11's
assignment is batched, measures the fit with (ungated) CIoU, only considers priors
whose centre lies inside the box, and normalises the targets differently. Reproducing
the reference detector's training needs this one.
"""
from typing import Dict

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from mmdet.registry import TASK_UTILS
from ...losses.yolo_ciou_loss import complete_iou


@TASK_UTILS.register_module()
class BatchTaskAlignedAssigner(nn.Module):
    """Assigns the priors of a batch to padded ground truth.

    1. Candidates of a box: priors whose centre lies strictly inside it (a box side
       shorter than ``min_box_size`` is widened to it about the box centre for this
       test only).
    2. Fit of a candidate: ``t = s^alpha * u^beta``, ``s`` the predicted score of the
       box's class, ``u`` the CIoU (clamped at 0) of the predicted and true boxes.
    3. Positives of a box: its ``topk`` candidates by ``t``. A prior positive for several
       boxes keeps the one it overlaps most (highest CIoU).
    4. Soft targets: a positive's class target is ``t * max_u / max_t`` of its box (the
       maxima over that box's positives), so every box's best prior scores its best
       overlap; all other entries are 0.

    Args:
        num_classes (int): classes.
        topk (int): positives per box at most (YOLO11: 10).
        alpha (float): exponent of the score (YOLO11: 0.5).
        beta (float): exponent of the overlap (YOLO11: 6.0).
        min_box_size (float): pixels; the reference uses its middle stride (16).
        eps (float): numerical guard of the reference (1e-9).
    """

    def __init__(self, num_classes: int, topk: int = 10, alpha: float = 0.5, beta: float = 6.0,
                 min_box_size: float = 16.0, eps: float = 1e-9):
        super().__init__()
        self.num_classes = num_classes
        self.topk = topk
        self.alpha = alpha
        self.beta = beta
        self.min_box_size = min_box_size
        self.eps = eps

    @torch.no_grad()
    def forward(self, pred_scores: Tensor, pred_bboxes: Tensor, priors: Tensor,
                gt_labels: Tensor, gt_bboxes: Tensor, gt_mask: Tensor) -> Dict[str, Tensor]:
        """
        Args:
            pred_scores (Tensor): (B, N, C) class probabilities.
            pred_bboxes (Tensor): (B, N, 4) predicted boxes, pixels, corners.
            priors (Tensor): (N, 2+) prior centres, pixels (extra columns ignored).
            gt_labels (Tensor): (B, G) classes of the padded ground truth.
            gt_bboxes (Tensor): (B, G, 4) its boxes, pixels, corners.
            gt_mask (Tensor): (B, G) True for real boxes, False for padding.

        Returns:
            dict: ``labels`` (B, N) (``num_classes`` for background), ``bboxes``
            (B, N, 4), ``scores`` (B, N, C) soft targets, ``fg_mask`` (B, N) bool,
            ``gt_inds`` (B, N) index of the assigned box (0 for background).
        """
        batch, num_priors, num_classes = pred_scores.shape
        num_gts = gt_bboxes.shape[1]
        device = pred_scores.device
        if num_gts == 0:
            return dict(
                labels=torch.full((batch, num_priors), self.num_classes, dtype=torch.long,
                                  device=device),
                bboxes=pred_bboxes.new_zeros(batch, num_priors, 4),
                scores=pred_scores.new_zeros(batch, num_priors, num_classes),
                fg_mask=torch.zeros(batch, num_priors, dtype=torch.bool, device=device),
                gt_inds=torch.zeros(batch, num_priors, dtype=torch.long, device=device))
        gt_mask = gt_mask.bool()
        gt_labels = gt_labels.long()
        candidates = self.centres_in_boxes(priors[:, :2], gt_bboxes, gt_mask) \
            & gt_mask[..., None]  # (B, G, N)

        b, g, n = candidates.nonzero(as_tuple=True)
        overlap = complete_iou(gt_bboxes[b, g], pred_bboxes[b, n]).clamp_(0)
        overlaps = pred_bboxes.new_zeros(batch, num_gts, num_priors)
        overlaps[b, g, n] = overlap
        fit = pred_scores.new_zeros(batch, num_gts, num_priors)
        fit[b, g, n] = pred_scores[b, n, gt_labels[b, g]].pow(self.alpha) * overlap.pow(self.beta)

        top = fit.topk(self.topk, dim=-1).indices
        positive = torch.zeros_like(candidates).scatter_(-1, top, True) & candidates
        shared = positive.sum(1, keepdim=True) > 1
        best_gt = F.one_hot(overlaps.max(1).indices, num_gts).transpose(1, 2).bool()
        positive = torch.where(shared, best_gt, positive)
        fg_mask, gt_inds = positive.to(torch.uint8).max(1)
        fg_mask = fg_mask.bool()

        labels = gt_labels.gather(1, gt_inds)
        bboxes = gt_bboxes.gather(1, gt_inds[..., None].expand(-1, -1, 4))
        fit, overlaps = fit * positive, overlaps * positive
        fit = fit * overlaps.amax(-1, keepdim=True) / (fit.amax(-1, keepdim=True) + self.eps)
        scores = F.one_hot(labels, num_classes) * (fit.amax(1) * fg_mask)[..., None]
        labels = torch.where(fg_mask, labels, torch.full_like(labels, self.num_classes))
        return dict(labels=labels, bboxes=bboxes, scores=scores, fg_mask=fg_mask,
                    gt_inds=gt_inds)

    def centres_in_boxes(self, centres: Tensor, boxes: Tensor, mask: Tensor) -> Tensor:
        """(B, G, N): centre n strictly inside box g, sides under ``min_box_size`` widened."""
        middle, size = (boxes[..., :2] + boxes[..., 2:]) / 2, boxes[..., 2:] - boxes[..., :2]
        size = torch.where((size < self.min_box_size) & mask[..., None],
                           size.new_tensor(self.min_box_size), size)
        top_left = (middle - size / 2)[:, :, None]
        bottom_right = (middle + size / 2)[:, :, None]
        return ((centres - top_left).amin(-1) > self.eps) & \
            ((bottom_right - centres).amin(-1) > self.eps)
