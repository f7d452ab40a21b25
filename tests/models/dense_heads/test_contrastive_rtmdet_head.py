"""ContrastiveRTMDetHead: the branch's targets are RTMDet's own of the same step."""
import torch

from joint_testing import GRID_FEATS, GRID_METAS, RTMDET_HEAD, build_head, capture, gt
from mmdet.models.dense_heads import RTMDetSepBNHead


def test_targets_are_its_own_get_targets(monkeypatch):
    head = build_head(RTMDET_HEAD)
    feats = [torch.randn(s) for s in GRID_FEATS]
    gts = [gt([[2, 2, 30, 30], [58, 30, 94, 62]], [2, 0]), gt([[10, 30, 40, 60]], [1])]
    stock_targets, handed_over = [], []
    capture(monkeypatch, RTMDetSepBNHead, 'get_targets', stock_targets)
    capture(monkeypatch, head.contrastive_branch, 'hand_over_targets', handed_over)
    head.loss_by_feat(*head(feats), gts, GRID_METAS)
    (_, _, targets), = stock_targets
    (args, _, _), = handed_over
    torch.testing.assert_close(args[0], torch.cat(targets[1], 1))
    torch.testing.assert_close(args[1], torch.cat(targets[2], 1).float())
    assert set(args[0][0][args[0][0] < 3].tolist()) == {0, 2}
    assert set(args[0][1][args[0][1] < 3].tolist()) == {1}
