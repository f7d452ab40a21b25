"""GridContrastiveBranch on the one-stage heads (YOLOX, RTMDet, YOLO11): per-level shapes on
non-square maps, exact projection of sampled cells, sampling, empty ground truth, and
fused inference against an independent computation."""
import pytest
import torch
import torch.nn.functional as F

from joint_testing import (GRID_FEATS, GRID_METAS, RTMDET_HEAD, YOLO11_HEAD, YOLOX_HEAD, build_head,
                           gt)

HEADS = pytest.mark.parametrize('cfg', [YOLOX_HEAD, RTMDET_HEAD, YOLO11_HEAD],
                                ids=['yolox', 'rtmdet', 'yolo11'])


def classifier_inputs(head, feats):
    """The features entering the head's classifier layers, taken by a hook of the test's
    own (not the branch's) on a stock forward."""
    layers, _ = head.contrastive_branch_inputs()
    taken = {}
    handles = [layer.register_forward_pre_hook(
        lambda module, inputs, level=level: taken.__setitem__(level, inputs[0]))
        for level, layer in enumerate(layers)]
    outs = head(feats)
    for handle in handles:
        handle.remove()
    return outs, [taken[level] for level in range(len(layers))]


@HEADS
def test_projection_shapes_per_level_and_exact_cell_projection(cfg):
    head = build_head(cfg).eval()
    branch = head.contrastive_branch
    feats = [torch.randn(s) for s in GRID_FEATS]
    outs, features = classifier_inputs(head, feats)
    embeds = branch.embed(features)
    for level, shape in enumerate(GRID_FEATS):
        assert outs[0][level].shape == (2, 3, shape[2], shape[3])
        assert embeds[level].shape == (2, 24, shape[2], shape[3])
    # The loss projects only the cells it uses, exactly as the full 1x1 projection would,
    # cells numbered image by image, level by level, row-major within a level.
    sizes = [h * w for _, _, h, w in GRID_FEATS]  # 96, 24, 6
    total = sum(sizes)
    cells = torch.tensor([0, 13, 95, 96, 119, 120, 125, total + 7, 2 * total - 1])
    flat = torch.cat([e.flatten(2) for e in embeds], 2).transpose(1, 2).reshape(-1, 24)
    picked, order, unused = branch.embed_cells(features, cells)
    assert sorted(order.tolist()) == cells.tolist()  # every cell once, grouped by level
    assert order.tolist() == [0, 13, 95, total + 7, 96, 119, 120, 125, 2 * total - 1]
    torch.testing.assert_close(picked, flat[order])
    assert unused.item() == 0.0
    # Cell 13 of image 0 is row 1, column 1 of level 0 (12 columns): check by hand.
    by_hand = branch.projections[0](features[0][:1, :, 1:2, 1:2]).flatten()
    torch.testing.assert_close(picked[1], by_hand)
    # A level without any of the cells still has a graph to its projection.
    picked, order, unused = branch.embed_cells(features, cells[:3])
    assert order.tolist() == [0, 13, 95] and unused.requires_grad
    # Eval with inference='stock': the projections are never run.
    calls = []
    for proj in branch.projections:
        proj.register_forward_hook(lambda *args: calls.append(1))
    head(feats)
    assert calls == []


def test_cell_sampling_keeps_every_positive_and_bounds_negatives():
    branch = build_head(YOLOX_HEAD).contrastive_branch
    labels = torch.full((2, 500), 3)
    labels[0, [3, 40, 41]], labels[1, 17] = 1, 2
    weights = torch.ones(2, 500)
    weights[1, :10] = 0  # ignored cells (e.g. ignore regions) are never used
    torch.manual_seed(0)
    cells = branch.sample_cells(labels, weights)
    assert {3, 40, 41, 517} <= set(cells.tolist())
    assert len(cells) == 4 + 64  # max(3 * 4 positives, min_negatives=64) negatives
    assert not set(range(500, 510)) & set(cells.tolist())
    branch.negative_ratio = 20.0
    assert len(branch.sample_cells(labels, weights)) == 4 + 80
    branch.negative_ratio = None
    assert len(branch.sample_cells(labels, weights)) == 1000 - 10  # every usable cell


@HEADS
def test_empty_ground_truth_and_gradients_to_the_bank(cfg):
    head = build_head(cfg)
    feats = [torch.randn(s, requires_grad=True) for s in GRID_FEATS]
    losses = head.loss_by_feat(*head(feats), [gt([], []), gt([], [])], GRID_METAS)
    assert losses['loss_infonce'].item() == 0.0
    assert torch.isfinite(losses['loss_aux_ce']) and losses['loss_aux_ce'] > 0
    total = sum(v.sum() if torch.is_tensor(v) else sum(v) for k, v in losses.items()
                if k.startswith('loss'))
    assert torch.isfinite(total)
    total.backward()

    losses = head.loss_by_feat(*head(feats), [gt([[2, 2, 30, 30]], [1]),
                                              gt([[20, 20, 50, 60]], [2])], GRID_METAS)
    head.zero_grad()
    (losses['loss_infonce'] + losses['loss_aux_ce']).backward()
    bank = head.contrastive_branch.text_bank
    for param in (bank.embeddings, bank.log_logit_scale, bank.background_embedding):
        assert param.grad is not None and param.grad.abs().sum() > 0
    assert 0 <= losses['infonce_acc'] <= 100 and losses['text_logit_scale'] > 1


@HEADS
def test_fused_inference_mixes_sigmoid_scores(cfg):
    head = build_head(cfg, inference='fused', fusion_weight=0.25).eval()
    stock = build_head(cfg).eval()
    stock.load_state_dict(head.state_dict())
    feats = [torch.randn(s) for s in GRID_FEATS]
    with torch.no_grad():
        fused = head(feats)[0]
        plain, features = classifier_inputs(stock, feats)
        bank = head.contrastive_branch.text_bank
        text = F.normalize(torch.cat([bank.embeddings, bank.background_embedding[None]]), dim=1)
        for level, (score, feature) in enumerate(zip(plain[0], features)):
            cell = head.contrastive_branch.projections[level](feature)  # (B, D, H, W)
            cos = torch.einsum('bdhw,cd->bchw', F.normalize(cell, dim=1), text)
            probs = (cos * bank.logit_scale()[None, :, None, None]).softmax(1)[:, :3]
            expected = 0.75 * score.sigmoid() + 0.25 * probs
            torch.testing.assert_close(fused[level].sigmoid(), expected, atol=1e-5, rtol=1e-4)
