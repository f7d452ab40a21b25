"""The branch contract every joint head shares: built from the head's config field,
explicit step state (forward -> targets -> loss), a gradient for every parameter on
every step, copy-safe hooks, and clear errors for misuse."""
import copy
import gc
import weakref

import pytest
import torch
from mmengine.optim import build_optim_wrapper

from joint_testing import (GRID_FEATS, JOINT_CONFIG, RTMDET_JOINT, TEST_BANK, YOLO11_JOINT,
                           YOLOX_HEAD, YOLOX_JOINT, build_detector, build_head, load_config,
                           shapes_batch)
from mmclipjoint.models import GridContrastiveBranch, RegionContrastiveBranch
from mmdet.registry import MODELS

CELLS = [h * w for _, _, h, w in GRID_FEATS]


def yolox_head(**branch):
    return build_head(YOLOX_HEAD, **branch)


def test_the_head_builds_its_branch_with_its_own_sizes_and_default_type():
    head = yolox_head(hidden_channels=8)
    branch = head.contrastive_branch
    assert type(branch) is GridContrastiveBranch  # type defaults to the head's
    assert len(branch.projections) == 3
    assert branch.projections[0][0].in_channels == 16 and branch.projections[0][0].out_channels == 8
    bbox_head = MODELS.build(dict(type='ContrastiveBBoxHead', in_channels=4, fc_out_channels=32,
                                  roi_feat_size=3, num_classes=3,
                                  contrastive_branch=dict(text_bank=TEST_BANK)))
    assert type(bbox_head.contrastive_branch) is RegionContrastiveBranch
    assert bbox_head.contrastive_branch.projection[0].in_features == 32


@pytest.mark.parametrize('old_field', ['text_bank', 'proj_hidden_dims', 'inference'])
def test_branch_arguments_on_the_head_itself_are_refused_with_the_fix(old_field):
    cfg = dict(YOLOX_HEAD, **{old_field: TEST_BANK if old_field == 'text_bank' else 8})
    with pytest.raises(TypeError, match=rf"ContrastiveYOLOXHead: \['{old_field}'\] are no longer "
                                        r"head arguments; fix: move them into the head's "
                                        r'contrastive_branch=dict\(\.\.\.\)'):
        MODELS.build(cfg)
    with pytest.raises(TypeError, match='ContrastiveYOLOXHead needs contrastive_branch'):
        MODELS.build({k: v for k, v in YOLOX_HEAD.items() if k != 'contrastive_branch'})


def test_class_count_mismatch_names_the_head_and_the_bank():
    with pytest.raises(ValueError, match=r'ContrastiveYOLOXHead.num_classes is 4 but its '
                                         r'contrastive_branch.text_bank has 3 class names'):
        MODELS.build(dict(YOLOX_HEAD, num_classes=4))


def branch_step(head, labels, weights):
    """One training step of the branch alone, through the head's real forward."""
    head.train()
    feats = [torch.randn(s, requires_grad=True) for s in GRID_FEATS]
    head(feats)
    head.contrastive_branch.hand_over_targets(labels, weights)
    return head.contrastive_branch.loss()


@pytest.mark.parametrize('case', ['level_without_cells', 'no_cells_at_all'])
def test_every_branch_parameter_gets_a_gradient_on_every_step(case):
    # Only the cells the loss uses are projected: with no background sampled, a level
    # without positives has no cell, yet its projection must still get a gradient
    # (data-parallel training waits for every parameter).
    head = yolox_head(negative_ratio=0.0, min_negatives=0)
    labels = torch.full((2, sum(CELLS)), 3)
    if case == 'level_without_cells':
        labels[0, [5, 17]] = torch.tensor([0, 2])  # positives on level 0 only
    losses = branch_step(head, labels, torch.ones(2, sum(CELLS)))
    total = sum(v for k, v in losses.items() if k.startswith('loss'))
    assert torch.isfinite(total)
    total.backward()
    params = dict(head.contrastive_branch.named_parameters())
    assert params and all(p.grad is not None for p in params.values()), \
        [n for n, p in params.items() if p.grad is None]
    for level in (1, 2):  # empty levels: a zero gradient, present
        assert all(p.grad.abs().sum() == 0 for p in head.contrastive_branch.projections[level]
                   .parameters())
    if case == 'level_without_cells':
        assert head.contrastive_branch.projections[0][0].weight.grad.abs().sum() > 0
        assert losses['loss_infonce'] > 0


def test_a_second_training_forward_before_the_loss_is_an_error():
    head = yolox_head().train()
    feats = [torch.randn(s) for s in GRID_FEATS]
    head(feats)
    with pytest.raises(RuntimeError, match='a second training forward before the loss of the '
                                           'first'):
        head(feats)
    head.eval()  # a step cut short is dropped, not carried into the next one
    head.train()
    head(feats)


def test_a_loss_without_its_forward_is_an_error():
    head = yolox_head().train()
    with pytest.raises(RuntimeError, match=r'targets \(a loss\) without a training forward'):
        head.contrastive_branch.hand_over_targets(torch.full((2, sum(CELLS)), 3),
                                                  torch.ones(2, sum(CELLS)))
    with pytest.raises(RuntimeError, match='a loss without a training forward of the head'):
        head.contrastive_branch.loss()
    head(([torch.randn(s) for s in GRID_FEATS]))
    with pytest.raises(RuntimeError, match='the head handed over no targets'):
        head.contrastive_branch.loss()


def test_nothing_keeps_the_graph_after_the_loss_consumed_it():
    head = yolox_head().train()
    feats = [torch.randn(s, requires_grad=True) for s in GRID_FEATS]
    captured = []
    head.multi_level_conv_cls[0].register_forward_pre_hook(
        lambda module, inputs: captured.append(weakref.ref(inputs[0])))
    outs = head(feats)
    labels = torch.full((2, sum(CELLS)), 3)
    labels[0, 3] = 1
    head.contrastive_branch.hand_over_targets(labels, torch.ones(2, sum(CELLS)))
    losses = head.contrastive_branch.loss()
    sum(v for k, v in losses.items() if k.startswith('loss')).backward()
    del outs, losses
    gc.collect()
    assert head.contrastive_branch._record is None
    assert captured[0]() is None  # the classifier feature (and its graph) is gone


@pytest.mark.parametrize('config', [JOINT_CONFIG, YOLOX_JOINT, RTMDET_JOINT, YOLO11_JOINT],
                         ids=['faster-rcnn', 'yolox', 'rtmdet', 'yolo11'])
def test_a_deep_copy_records_into_the_copy_trains_and_predicts_fused(tiny_shapes, config):
    original = build_detector(config)
    before = {k: v.clone() for k, v in original.state_dict().items()}
    clone = copy.deepcopy(original)  # what EMA, teachers and export copies do
    branch = next(m for m in clone.modules() if hasattr(m, 'hand_over_targets'))
    original_branch = next(m for m in original.modules() if hasattr(m, 'hand_over_targets'))
    optim = build_optim_wrapper(clone, load_config(config).optim_wrapper)
    batch = shapes_batch(tiny_shapes[0], [0, 1], config)
    clone.train()
    for _ in range(2):
        losses = clone(**clone.data_preprocessor(copy.deepcopy(batch), training=True),
                       mode='loss')
        optim.update_params(clone.parse_losses(losses)[0])
    assert branch._record is None and original_branch._record is None
    for key, value in clone.state_dict().items():
        torch.testing.assert_close(original.state_dict()[key], before[key])
    assert any(not torch.equal(value, before[key]) for key, value in clone.state_dict().items())
    branch.inference = 'fused'
    clone.eval()
    scored = []  # the fused path scores the copy's own features with the copy's bank
    branch.text_bank.register_forward_hook(lambda module, args, out: scored.append(out.shape))
    val = shapes_batch(tiny_shapes[0], [0, 1], config, 'val')
    with torch.no_grad():
        results = clone(**clone.data_preprocessor(copy.deepcopy(val)), mode='predict')
    assert len(results) == 2 and scored
    assert original_branch._captured is None and original_branch._record is None


def branch_only_gradients(head):
    """The gradient that the branch's loss alone sends into the classifier features."""
    head.train()
    feats = [torch.randn(s, generator=torch.Generator().manual_seed(1), requires_grad=True)
             for s in GRID_FEATS]
    head(feats)
    labels = torch.full((2, sum(CELLS)), 3)
    labels[0, [5, 17, 100]] = torch.tensor([0, 2, 1])
    head.contrastive_branch.hand_over_targets(labels, torch.ones(2, sum(CELLS)))
    torch.manual_seed(0)  # the same background cells drawn
    losses = head.contrastive_branch.loss()
    total = losses['loss_infonce'] + losses['loss_aux_ce']
    total.backward()
    return losses, [f.grad for f in feats]


def test_feature_grad_scale_scales_the_branch_pull_on_the_detector_features():
    full_losses, full = branch_only_gradients(yolox_head())
    half_losses, half = branch_only_gradients(yolox_head(feature_grad_scale=0.5))
    detached_losses, detached = branch_only_gradients(yolox_head(feature_grad_scale=0.0))
    for key in ('loss_infonce', 'loss_aux_ce'):  # the loss itself is unchanged
        torch.testing.assert_close(half_losses[key], full_losses[key])
        torch.testing.assert_close(detached_losses[key], full_losses[key])
    assert full[0].abs().sum() > 0
    for a, b in zip(half, full):
        torch.testing.assert_close(a, 0.5 * b)
    assert all(g is None for g in detached)  # the branch learns on detached features
    with pytest.raises(ValueError, match=r'feature_grad_scale must be in \[0, 1\]'):
        yolox_head(feature_grad_scale=2.0)


def test_loss_warmup_follows_the_runners_iteration():
    from mmengine.logging import MessageHub
    hub = MessageHub.get_current_instance()
    plain, _ = branch_only_gradients(yolox_head())
    try:
        hub.update_info('iter', 9)  # the 10th iteration of 40
        warm, _ = branch_only_gradients(yolox_head(loss_warmup_iters=40))
        hub.update_info('iter', 400)
        done, _ = branch_only_gradients(yolox_head(loss_warmup_iters=40))
    finally:
        hub.runtime_info.pop('iter', None)
    for key in ('loss_infonce', 'loss_aux_ce'):
        torch.testing.assert_close(warm[key], plain[key] * 0.25)
        torch.testing.assert_close(done[key], plain[key])
    assert warm['infonce_acc'] == plain['infonce_acc']  # metrics are not weighted


def test_roi_feature_branch_has_its_own_mlp_and_leaves_the_shared_layers_alone():
    def step(contrastive_feature):
        torch.manual_seed(0)
        head = MODELS.build(dict(type='ContrastiveBBoxHead', in_channels=4, fc_out_channels=32,
                                 roi_feat_size=3, num_classes=3,
                                 contrastive_feature=contrastive_feature,
                                 contrastive_branch=dict(text_bank=TEST_BANK,
                                                         hidden_channels=16))).train()
        head(torch.randn(6, 4, 3, 3))
        head.contrastive_branch.hand_over_targets(torch.tensor([0, 1, 2, 3, 3, 1]),
                                                  torch.ones(6))
        losses = head.contrastive_branch.loss()
        (losses['loss_infonce'] + losses['loss_aux_ce']).backward()
        return head
    roi = step('roi')
    assert roi.contrastive_branch.projection[0].in_features == 4 * 3 * 3
    assert all(p.grad is None for p in roi.shared_fcs.parameters())
    assert roi.contrastive_branch.projection[0].weight.grad.abs().sum() > 0
    classifier = step('classifier')
    assert classifier.contrastive_branch.projection[0].in_features == 32
    assert all(p.grad is not None for p in classifier.shared_fcs.parameters())
    # Fused inference reads the same RoI feature.
    roi.eval()
    roi.contrastive_branch.inference = 'fused'
    scores, _ = roi(torch.randn(5, 4, 3, 3))
    assert scores.shape == (5, 4)
