"""The one-stage heads: ContrastiveYOLOHead (YOLOX) and ContrastiveRTMDetHead sharing
GridContrastiveBranch. Shapes, the assigner's positives, empty ground truth, gradients,
and the joint detectors built from the real configs."""
import copy

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.structures import InstanceData

from conftest import (RTMDET_BASELINE, RTMDET_JOINT, YOLOX_BASELINE, YOLOX_JOINT,
                      build_detector, shapes_batch)
from mmdet.models.dense_heads import RTMDetSepBNHead, YOLOXHead
from mmdet.registry import MODELS

BANK = dict(type='TextEmbeddingBank', class_names=['a', 'b', 'c'], init='random', embed_dims=24)
YOLOX = dict(type='ContrastiveYOLOHead', num_classes=3, in_channels=16, feat_channels=16,
             strides=(8, 16, 32), text_bank=BANK,
             train_cfg=dict(assigner=dict(type='SimOTAAssigner', center_radius=2.5)),
             test_cfg=dict(score_thr=0.01, nms=dict(type='nms', iou_threshold=0.65)))
RTMDET = dict(type='ContrastiveRTMDetHead', num_classes=3, in_channels=16, feat_channels=16,
              stacked_convs=1, text_bank=BANK,
              anchor_generator=dict(type='MlvlPointGenerator', offset=0, strides=[8, 16, 32]),
              bbox_coder=dict(type='DistancePointBBoxCoder'),
              loss_cls=dict(type='QualityFocalLoss', use_sigmoid=True, beta=2.0, loss_weight=1.0),
              loss_bbox=dict(type='GIoULoss', loss_weight=2.0),
              train_cfg=dict(assigner=dict(type='DynamicSoftLabelAssigner', topk=13),
                             allowed_border=-1, pos_weight=-1, debug=False),
              test_cfg=dict(nms_pre=100, min_bbox_size=0, score_thr=0.05,
                            nms=dict(type='nms', iou_threshold=0.6), max_per_img=10))
IMG = 64
FEATS = [(2, 16, IMG // s, IMG // s) for s in (8, 16, 32)]
METAS = [dict(img_shape=(IMG, IMG), pad_shape=(IMG, IMG), batch_input_shape=(IMG, IMG))] * 2


def gt(boxes, labels):
    return InstanceData(bboxes=torch.tensor(boxes, dtype=torch.float).view(-1, 4),
                        labels=torch.tensor(labels, dtype=torch.long))


def capture(monkeypatch, obj, name, store):
    original = getattr(obj, name)

    def wrapper(*args, **kwargs):
        out = original(*args, **kwargs)
        store.append((args, kwargs, out))
        return out
    monkeypatch.setattr(obj, name, wrapper)


@pytest.mark.parametrize('cfg', [YOLOX, RTMDET], ids=['yolox', 'rtmdet'])
def test_projection_shapes_per_level_and_stock_outputs(cfg):
    torch.manual_seed(0)
    head = MODELS.build(cfg)
    head.init_weights()
    feats = [torch.randn(s) for s in FEATS]
    outs = head(feats)
    branch = head.contrastive
    embeds = branch.embed(branch._train_features)
    for level, shape in enumerate(FEATS):
        assert outs[0][level].shape == (2, 3, shape[2], shape[3])
        assert embeds[level].shape == (2, 24, shape[2], shape[3])
    # The loss projects only the cells it uses, exactly as the full 1x1 projection would.
    cells = torch.tensor([0, 5, 63, 64, 83, 84, 2 * 84 - 1])  # levels 0, 1, 2 of both images
    flat = torch.cat([e.flatten(2) for e in embeds], 2).transpose(1, 2).reshape(-1, 24)
    torch.testing.assert_close(branch.embed_cells(branch._train_features, cells), flat[cells])
    # Eval with inference='stock': the projections are never run.
    calls = []
    for proj in branch.projections:
        proj.register_forward_hook(lambda *args: calls.append(1))
    head.eval()
    head(feats)
    assert calls == []


def test_cell_sampling_keeps_every_positive_and_bounds_negatives():
    branch = MODELS.build(YOLOX).contrastive
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


def test_yolox_positives_are_exactly_simota_positives(monkeypatch):
    torch.manual_seed(0)
    head = MODELS.build(YOLOX)
    head.init_weights()
    feats = [torch.randn(s) for s in FEATS]
    # Image 0: two objects of different classes far apart; image 1: no object.
    gts = [gt([[2, 2, 30, 30], [34, 34, 62, 62]], [2, 0]), gt([], [])]
    stock_targets, branch_inputs = [], []
    capture(monkeypatch, YOLOXHead, '_get_targets_single', stock_targets)
    capture(monkeypatch, head.contrastive, 'loss', branch_inputs)
    losses = head.loss_by_feat(*head(feats), gts, METAS)
    (args, _, _), = branch_inputs
    labels, weights = args
    assert labels.shape == weights.shape == (2, sum(h * w for _, _, h, w in FEATS))
    priors = torch.cat(head.prior_generator.grid_priors([f[2:] for f in FEATS], device='cpu',
                                                     with_stride=True))
    for image, (_, _, out) in enumerate(stock_targets):
        stock_foreground = out[0]
        assert torch.equal(labels[image] < 3, stock_foreground)  # same cells, no others
    positives = labels[0] < 3
    assert positives.sum() >= 2
    # Every positive carries the class of the object whose centre region it lies in.
    centres = priors[positives, :2] + priors[positives, 2:] * 0.5
    in_first = (centres[:, 0] < 32) & (centres[:, 1] < 32)
    assert (labels[0][positives][in_first] == 2).all()
    assert (labels[0][positives][~in_first] == 0).all()
    assert (labels[1] == 3).all() and (weights == 1).all()
    assert losses['loss_infonce'] > 0


def test_rtmdet_positives_are_its_own_targets(monkeypatch):
    torch.manual_seed(0)
    head = MODELS.build(RTMDET)
    head.init_weights()
    feats = [torch.randn(s) for s in FEATS]
    gts = [gt([[2, 2, 30, 30], [34, 34, 62, 62]], [2, 0]), gt([[10, 30, 40, 60]], [1])]
    stock_targets, branch_inputs = [], []
    capture(monkeypatch, RTMDetSepBNHead, 'get_targets', stock_targets)
    capture(monkeypatch, head.contrastive, 'loss', branch_inputs)
    head.loss_by_feat(*head(feats), gts, METAS)
    (_, _, targets), = stock_targets
    (args, _, _), = branch_inputs
    torch.testing.assert_close(args[0], torch.cat(targets[1], 1))
    torch.testing.assert_close(args[1], torch.cat(targets[2], 1).float())
    assert set(args[0][0][args[0][0] < 3].tolist()) == {0, 2}
    assert set(args[0][1][args[0][1] < 3].tolist()) == {1}


@pytest.mark.parametrize('cfg', [YOLOX, RTMDET], ids=['yolox', 'rtmdet'])
def test_empty_ground_truth_and_gradients_to_the_bank(cfg):
    torch.manual_seed(0)
    head = MODELS.build(cfg)
    head.init_weights()
    feats = [torch.randn(s, requires_grad=True) for s in FEATS]
    losses = head.loss_by_feat(*head(feats), [gt([], []), gt([], [])], METAS)
    assert losses['loss_infonce'].item() == 0.0
    assert torch.isfinite(losses['loss_aux_ce']) and losses['loss_aux_ce'] > 0
    total = sum(v.sum() if torch.is_tensor(v) else sum(v) for k, v in losses.items()
                if k.startswith('loss'))
    assert torch.isfinite(total)
    total.backward()

    losses = head.loss_by_feat(*head(feats), [gt([[2, 2, 30, 30]], [1]),
                                              gt([[20, 20, 50, 60]], [2])], METAS)
    head.zero_grad()
    (losses['loss_infonce'] + losses['loss_aux_ce']).backward()
    bank = head.contrastive.text_bank
    for param in (bank.embeddings, bank.log_logit_scale, bank.background_embedding):
        assert param.grad is not None and param.grad.abs().sum() > 0


def test_fused_inference_mixes_sigmoid_scores():
    torch.manual_seed(0)
    head = MODELS.build(dict(YOLOX, inference='fused', fusion_weight=0.25)).eval()
    head.init_weights()
    feats = [torch.randn(s) for s in FEATS]
    fused = head(feats)[0]
    stock = MODELS.build(YOLOX).eval()
    stock.load_state_dict(head.state_dict())
    plain = stock(feats)[0]
    features = [stock.multi_level_cls_convs[i](f) for i, f in enumerate(feats)]
    probs = head.contrastive.cell_logits(head.contrastive.embed(features)).softmax(-1)[..., :3]
    start = 0
    for level, score in enumerate(plain):
        b, c, h, w = score.shape
        expected = 0.75 * score.sigmoid() + 0.25 * \
            probs[:, start:start + h * w].transpose(1, 2).reshape(b, c, h, w)
        start += h * w
        torch.testing.assert_close(fused[level].sigmoid(), expected, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize('baseline_cfg, joint_cfg', [(YOLOX_BASELINE, YOLOX_JOINT),
                                                     (RTMDET_BASELINE, RTMDET_JOINT)],
                         ids=['yolox', 'rtmdet'])
def test_joint_detector_from_config_learns_and_skips_the_branch(tiny_shapes, baseline_cfg,
                                                                joint_cfg):
    root = tiny_shapes[0]
    torch.manual_seed(0)
    joint = build_detector(joint_cfg)
    optim = build_optim_wrapper(joint, Config.fromfile(joint_cfg).optim_wrapper)
    batch = shapes_batch(root, [0, 1, 2, 3], joint_cfg)
    history = []
    for _ in range(20):
        losses = joint(**joint.data_preprocessor(copy.deepcopy(batch), training=True),
                       mode='loss')
        assert {'loss_cls', 'loss_bbox', 'loss_infonce', 'loss_aux_ce'} <= set(losses)
        total, log = joint.parse_losses(losses)
        optim.update_params(total)
        history.append({k: float(v) for k, v in log.items()})
    first, last = history[0], history[-1]
    assert last['loss_infonce'] < 0.6 * first['loss_infonce']
    assert last['loss_aux_ce'] < first['loss_aux_ce']
    assert last['infonce_acc'] > first['infonce_acc'] + 30
    if 'yolox' in joint_cfg:
        assert last['loss'] < 0.8 * first['loss']
    else:
        # RTMDet's dynamic soft-label assigner finds almost no positives for random boxes,
        # so its stock terms start near zero and rise once positives appear; the total
        # then falls from that peak.
        assert last['loss'] < 0.6 * max(h['loss'] for h in history[:5])

    baseline = build_detector(baseline_cfg).eval()
    joint.eval()
    incompatible = joint.load_state_dict(baseline.state_dict(), strict=False)
    assert not incompatible.unexpected_keys
    assert all(k.startswith('bbox_head.contrastive.') for k in incompatible.missing_keys)
    val = shapes_batch(root, [0, 1], baseline_cfg, 'val')
    with torch.no_grad():
        ours = joint(**joint.data_preprocessor(copy.deepcopy(val)), mode='predict')
        theirs = baseline(**baseline.data_preprocessor(copy.deepcopy(val)), mode='predict')
    for a, b in zip(ours, theirs):
        for key in ('bboxes', 'scores', 'labels'):
            torch.testing.assert_close(a.pred_instances[key], b.pred_instances[key])
