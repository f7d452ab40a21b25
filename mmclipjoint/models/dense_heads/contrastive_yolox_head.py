"""CLIP-Joint-Detect on the stock YOLOX head."""
import contextlib
from typing import Optional, Sequence, Tuple

import torch
from torch import Tensor

from mmdet.models.dense_heads import YOLOXHead
from mmdet.registry import MODELS
from ..layers import ContrastiveDenseHeadMixin


@contextlib.contextmanager
def recorded_assignments(assigner):
    """Record the ``AssignResult`` of every ``assigner.assign`` call inside the block.

    The head's own assignment of this very step is what the contrastive loss must use;
    recording it (rather than assigning again) guarantees the same positives.
    """
    results = []
    assign = assigner.assign
    patched_before = 'assign' in vars(assigner)

    def recording_assign(*args, **kwargs):
        result = assign(*args, **kwargs)
        results.append(result)
        return result

    assigner.assign = recording_assign
    try:
        yield results
    finally:
        if patched_before:
            assigner.assign = assign
        else:
            del assigner.assign  # back to the class's method


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
class ContrastiveYOLOXHead(ContrastiveDenseHeadMixin, YOLOXHead):
    """The stock ``YOLOXHead`` plus CLIP-Joint-Detect's grid contrastive branch.

    The branch (default :class:`GridContrastiveBranch`) reads, on every level, the
    input of ``conv_cls`` (``(B, feat_channels, H, W)``). Its loss uses exactly the
    cells YOLOX's SimOTA assignment of the same step made positive, with their
    assigned classes (the ``AssignResult`` is recorded, not recomputed); all other
    non-ignored cells are background. Outputs, losses, and predictions with
    ``inference='stock'`` are the stock head's.

    Args:
        contrastive_branch (dict): see :class:`ContrastiveHeadMixin`.
        **kwargs: ``YOLOXHead``'s arguments.
    """

    legacy_state_dict_prefixes = {'contrastive.': 'contrastive_branch.'}

    def contrastive_branch_inputs(self):
        return self.multi_level_conv_cls, dict(in_channels=self.feat_channels,
                                               num_levels=len(self.strides))

    def loss_by_feat(self, cls_scores: Sequence[Tensor], bbox_preds: Sequence[Tensor],
                     objectnesses: Sequence[Tensor], batch_gt_instances: Sequence,
                     batch_img_metas: Sequence[dict],
                     batch_gt_instances_ignore: Optional[Sequence] = None) -> dict:
        # YOLOXHead.loss_by_feat assigns each image with ground truth once, in batch
        # order, and skips the assigner for images without: the recorded assignments
        # map back to the images from the public arguments alone.
        with recorded_assignments(self.assigner) as assignments:
            losses = YOLOXHead.loss_by_feat(self, cls_scores, bbox_preds, objectnesses,
                                            batch_gt_instances, batch_img_metas,
                                            batch_gt_instances_ignore)
        with_gt = [len(gt) > 0 for gt in batch_gt_instances]
        if len(assignments) != sum(with_gt):
            raise RuntimeError(
                f'{type(self).__name__}: YOLOXHead assigned {len(assignments)} times for '
                f'{sum(with_gt)} images with ground truth; the head no longer assigns once '
                f'per image (read from mmdet 3.3.0), so the branch cannot take its targets')
        num_priors = sum(score.shape[2] * score.shape[3] for score in cls_scores)
        recorded = iter(assignments)
        targets = [cell_targets_from_assignment(next(recorded) if has_gt else None, num_priors,
                                                self.num_classes, cls_scores[0].device)
                   for has_gt in with_gt]
        self.contrastive_branch.hand_over_targets(torch.stack([t[0] for t in targets]),
                                                  torch.stack([t[1] for t in targets]))
        return self.add_contrastive_losses(losses)
