"""CLIP-Joint-Detect on the stock YOLOX head."""
import contextlib
from typing import Optional, Tuple

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

    def _get_targets_single(self, priors: Tensor, cls_preds: Tensor, decoded_bboxes: Tensor,
                            objectness: Tensor, gt_instances, img_meta,
                            gt_instances_ignore: Optional[object] = None) -> tuple:
        with recorded_assignments(self.assigner) as assignments:
            targets = super()._get_targets_single(priors, cls_preds, decoded_bboxes, objectness,
                                                  gt_instances, img_meta, gt_instances_ignore)
        labels, weights = cell_targets_from_assignment(
            assignments[0] if assignments else None, priors.size(0), self.num_classes,
            priors.device)
        self.contrastive_branch.hand_over_targets(labels[None], weights[None])
        return targets
