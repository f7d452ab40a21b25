"""InfoNCELoss against hand-computed values, in MMDetection's loss conventions
(weight, avg_factor, reduction_override); gradients; batches without positives."""
import math

import pytest
import torch

from mmclipjoint.models import InfoNCELoss, TextEmbeddingBank


def log_softmax_at(row, index):
    return row[index] - math.log(sum(math.exp(v) for v in row))


# 2 classes + background column; labels: class 0, class 1, background.
ROWS = [[2.0, 0.5, -1.0], [0.1, 1.5, 0.3], [0.2, -0.4, 1.0]]
LABELS = [0, 1, 2]


def test_matches_hand_computed_reference():
    loss = InfoNCELoss(loss_weight=1.0, aux_loss_weight=0.5, aux_samples='all')
    out = loss(torch.tensor(ROWS), torch.tensor(LABELS), num_classes=2)
    assert set(out) == {'loss_infonce', 'loss_aux_ce'}
    # InfoNCE: foreground rows, the 2 class columns only.
    infonce = -(log_softmax_at(ROWS[0][:2], 0) + log_softmax_at(ROWS[1][:2], 1)) / 2
    # Auxiliary CE: every row, classes + background.
    aux = -sum(log_softmax_at(r, y) for r, y in zip(ROWS, LABELS)) / 3
    assert out['loss_infonce'].item() == pytest.approx(infonce, rel=1e-6)
    assert out['loss_aux_ce'].item() == pytest.approx(0.5 * aux, rel=1e-6)

    # Sample weights (the RoI head's label_weights) exclude samples.
    weighted = loss(torch.tensor(ROWS), torch.tensor(LABELS), torch.tensor([1.0, 0.0, 1.0]),
                    num_classes=2)
    assert weighted['loss_infonce'].item() == pytest.approx(-log_softmax_at(ROWS[0][:2], 0))
    assert weighted['loss_aux_ce'].item() == pytest.approx(
        -0.5 * (log_softmax_at(ROWS[0], 0) + log_softmax_at(ROWS[2], 2)) / 2, rel=1e-6)

    # Foreground-only auxiliary CE: the foreground rows, over classes and background.
    foreground = InfoNCELoss(aux_samples='foreground')(torch.tensor(ROWS), torch.tensor(LABELS),
                                                       num_classes=2)
    assert foreground['loss_aux_ce'].item() == pytest.approx(
        -0.5 * (log_softmax_at(ROWS[0], 0) + log_softmax_at(ROWS[1], 1)) / 2, rel=1e-6)


def test_avg_factor_and_reduction_override_follow_mmdet():
    loss = InfoNCELoss(aux_loss_weight=0.5)
    logits, labels = torch.tensor(ROWS), torch.tensor(LABELS)
    per_sample = loss(logits, labels, num_classes=2, reduction_override='none')
    expected_infonce = [-log_softmax_at(ROWS[0][:2], 0), -log_softmax_at(ROWS[1][:2], 1), 0.0]
    torch.testing.assert_close(per_sample['loss_infonce'], torch.tensor(expected_infonce))
    expected_aux = [-0.5 * log_softmax_at(r, y) for r, y in zip(ROWS, LABELS)]
    torch.testing.assert_close(per_sample['loss_aux_ce'], torch.tensor(expected_aux))
    summed = loss(logits, labels, num_classes=2, reduction_override='sum')
    assert summed['loss_infonce'].item() == pytest.approx(sum(expected_infonce), rel=1e-6)
    # avg_factor divides the InfoNCE sum (e.g. positives over all processes); the
    # auxiliary term has its own.
    scaled = loss(logits, labels, avg_factor=4.0, num_classes=2, aux_avg_factor=6.0)
    assert scaled['loss_infonce'].item() == pytest.approx(sum(expected_infonce) / 4, rel=1e-5)
    assert scaled['loss_aux_ce'].item() == pytest.approx(sum(expected_aux) / 6, rel=1e-5)
    with pytest.raises(ValueError, match="reduction must be 'none', 'mean' or 'sum'"):
        loss(logits, labels, num_classes=2, reduction_override='max')
    with pytest.raises(ValueError, match='symmetric .*is per class'):
        InfoNCELoss(symmetric=True)(logits, labels, num_classes=2, reduction_override='none')


def test_symmetric_adds_the_weighted_text_to_region_direction():
    rows = [[2.0, 0.5], [0.1, 1.5], [1.0, 0.2], [0.3, 0.9]]
    labels = [0, 1, 0, 0]
    weights = [1.0, 1.0, 0.5, 0.0]  # the last sample is ignored in both directions
    out = InfoNCELoss(aux_loss_weight=0.0, symmetric=True)(
        torch.tensor(rows), torch.tensor(labels), torch.tensor(weights), num_classes=2)
    region_to_text = -sum(w * log_softmax_at(r, y) for r, y, w in
                          zip(rows, labels, weights)) / sum(weights)
    col0, col1 = [r[0] for r in rows[:3]], [r[1] for r in rows[:3]]
    text_to_region = (-(1.0 * log_softmax_at(col0, 0) + 0.5 * log_softmax_at(col0, 2)) / 1.5
                      - log_softmax_at(col1, 1)) / 2
    assert out['loss_infonce'].item() == pytest.approx(
        0.5 * (region_to_text + text_to_region), rel=1e-6)
    assert 'loss_aux_ce' not in out
    # Unweighted, the text-to-region term is CLIP's: each class over all its regions.
    plain = InfoNCELoss(aux_loss_weight=0.0, symmetric=True)(
        torch.tensor(rows[:3]), torch.tensor(labels[:3]), num_classes=2)
    region_to_text = -sum(log_softmax_at(r, y) for r, y in zip(rows[:3], labels[:3])) / 3
    text_to_region = (-(log_softmax_at(col0, 0) + log_softmax_at(col0, 2)) / 2
                      - log_softmax_at(col1, 1)) / 2
    assert plain['loss_infonce'].item() == pytest.approx(
        0.5 * (region_to_text + text_to_region), rel=1e-6)


def test_gradients_reach_text_embeddings_and_temperatures():
    bank = TextEmbeddingBank(class_names=['a', 'b', 'c'], init='random')
    regions = torch.randn(6, 512, requires_grad=True)
    labels = torch.tensor([0, 1, 2, 3, 3, 1])
    losses = InfoNCELoss()(bank(regions), labels, num_classes=3)
    sum(losses.values()).backward()
    for param in (bank.embeddings, bank.log_logit_scale, bank.background_embedding, regions):
        assert param.grad is not None and param.grad.abs().sum() > 0
    # Class-specific temperatures get class-specific gradients.
    assert len(set(bank.log_logit_scale.grad.tolist())) == 4

    frozen = TextEmbeddingBank(class_names=['a', 'b', 'c'], init='random', learnable=False,
                               temperature=dict(mode='fixed'))
    sum(InfoNCELoss()(frozen(regions), labels, num_classes=3).values()).backward()
    assert frozen.embeddings.grad is None
    assert frozen.background_embedding.grad is not None  # background stays learnable


def test_batch_without_positives_is_a_finite_zero_with_a_graph():
    bank = TextEmbeddingBank(class_names=['a', 'b', 'c'], init='random')
    regions = torch.randn(4, 512, requires_grad=True)
    for symmetric in (False, True):
        for labels in (torch.full((4, ), 3), torch.zeros(0, dtype=torch.long)):
            feats = regions[:len(labels)]
            losses = InfoNCELoss(aux_samples='foreground', symmetric=symmetric)(
                bank(feats), labels, num_classes=3)
            assert losses['loss_infonce'].item() == 0.0 and losses['loss_aux_ce'].item() == 0.0
            total = sum(losses.values())
            assert total.requires_grad and torch.isfinite(total)
            total.backward()
    # With aux over all samples, background-only batches still teach the background.
    losses = InfoNCELoss()(bank(regions), torch.full((4, ), 3), num_classes=3)
    assert losses['loss_infonce'].item() == 0.0 and losses['loss_aux_ce'].item() > 0


def test_aux_over_all_samples_needs_a_background_embedding():
    bank = TextEmbeddingBank(class_names=['a', 'b'], init='random', background=False)
    with pytest.raises(ValueError, match='text_bank.background=True'):
        InfoNCELoss(aux_samples='all')(bank(torch.randn(2, 512)), torch.tensor([0, 2]),
                                       num_classes=2)
    with pytest.raises(ValueError, match='aux_samples'):
        InfoNCELoss(aux_samples='some')
