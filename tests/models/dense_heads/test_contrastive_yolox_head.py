"""ContrastiveYOLOXHead: the branch's positives are exactly SimOTA's of the same step."""
import torch

from joint_testing import GRID_FEATS, GRID_METAS, YOLOX_HEAD, build_head, capture, gt
from mmdet.models.dense_heads import YOLOXHead


def test_positives_are_exactly_simota_positives_with_their_classes(monkeypatch):
    head = build_head(YOLOX_HEAD)
    feats = [torch.randn(s) for s in GRID_FEATS]
    # Image 0: two objects of different classes far apart; image 1: no object.
    gts = [gt([[2, 2, 30, 30], [58, 30, 94, 62]], [2, 0]), gt([], [])]
    stock_targets, handed_over = [], []
    capture(monkeypatch, YOLOXHead, '_get_targets_single', stock_targets)
    capture(monkeypatch, head.contrastive_branch, 'hand_over_targets', handed_over)
    losses = head.loss_by_feat(*head(feats), gts, GRID_METAS)
    labels = torch.cat([args[0] for args, _, _ in handed_over])
    weights = torch.cat([args[1] for args, _, _ in handed_over])
    assert labels.shape == weights.shape == (2, sum(h * w for _, _, h, w in GRID_FEATS))
    priors = torch.cat(head.prior_generator.grid_priors([f[2:] for f in GRID_FEATS],
                                                        device='cpu', with_stride=True))
    for image, (_, _, out) in enumerate(stock_targets):
        assert torch.equal(labels[image] < 3, out[0])  # the same cells, no others
    positives = labels[0] < 3
    assert positives.sum() >= 2
    # Every positive carries the class of the object whose centre region it lies in.
    centres = priors[positives, :2] + priors[positives, 2:] * 0.5
    in_first = centres[:, 0] < 48
    assert in_first.any() and (~in_first).any()
    assert (labels[0][positives][in_first] == 2).all()
    assert (labels[0][positives][~in_first] == 0).all()
    assert (labels[1] == 3).all() and (weights == 1).all()
    assert losses['loss_infonce'] > 0
