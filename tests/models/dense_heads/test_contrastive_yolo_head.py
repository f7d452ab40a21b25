"""ContrastiveYOLOHead: the branch's positives are exactly the task-aligned assigner's of
the same step, with their classes, and the head's own terms are YOLO11Head's."""
import torch

from joint_testing import GRID_FEATS, GRID_METAS, YOLO11_HEAD, build_head, capture, gt
from mmclipjoint.models import BatchTaskAlignedAssigner, YOLO11Head


def test_positives_are_exactly_the_task_aligned_positives_with_their_classes(monkeypatch):
    head = build_head(YOLO11_HEAD)
    feats = [torch.randn(s, generator=torch.Generator().manual_seed(0)) for s in GRID_FEATS]
    # Image 0: two objects of different classes far apart; image 1: no object.
    gts = [gt([[2, 2, 30, 30], [58, 30, 94, 62]], [2, 0]), gt([], [])]
    assignments, handed_over = [], []
    capture(monkeypatch, BatchTaskAlignedAssigner, 'forward', assignments)
    capture(monkeypatch, head.contrastive_branch, 'hand_over_targets', handed_over)
    losses = head.loss_by_feat(*head(feats), gts, GRID_METAS)
    assert len(assignments) == 1 and len(handed_over) == 1  # assigned once, recorded
    (labels, weights), _, _ = handed_over[0]
    assigned = assignments[0][2]
    assert labels.shape == weights.shape == (2, sum(h * w for _, _, h, w in GRID_FEATS))
    assert torch.equal(labels < 3, assigned['fg_mask'])
    assert torch.equal(labels[assigned['fg_mask']], assigned['labels'][assigned['fg_mask']])
    positives = labels[0] < 3
    assert positives.sum() >= 2
    centres, strides = head.cell_centres(head(feats)[0])
    in_first = (centres[positives] * strides[positives])[:, 0] < 48
    assert in_first.any() and (~in_first).any()
    assert (labels[0][positives][in_first] == 2).all()
    assert (labels[0][positives][~in_first] == 0).all()
    assert (labels[1] == 3).all() and (weights == 1).all()
    assert losses['loss_infonce'] > 0

    # The stock terms are YOLO11Head's with the same weights.
    stock = YOLO11Head(num_classes=3, in_channels=[16, 16, 16])
    stock.load_state_dict(head.state_dict(), strict=False)
    theirs = stock.loss_by_feat(*stock(feats), gts, GRID_METAS)
    for key in ('loss_cls', 'loss_bbox', 'loss_dfl'):
        torch.testing.assert_close(losses[key], theirs[key])
