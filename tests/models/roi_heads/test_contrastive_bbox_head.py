"""ContrastiveBBoxHead: the stock bbox-head contract, the joint detectors built from the
real configs (Faster R-CNN, Cascade R-CNN), learning, and zero-overhead inference."""
import copy

import pytest
import torch
from mmengine.optim import build_optim_wrapper
from mmengine.config import Config

from conftest import BASELINE_CONFIG, JOINT_CONFIG, REPO, build_detector, shapes_batch
from mmclipjoint.models.contrastive_scores import fuse_class_scores
from mmdet.models.roi_heads.bbox_heads import Shared2FCBBoxHead
from mmdet.registry import MODELS

HEAD = dict(in_channels=16, fc_out_channels=32, roi_feat_size=7, num_classes=3,
            bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[0.] * 4,
                            target_stds=[0.1, 0.1, 0.2, 0.2]))
BANK = dict(type='TextEmbeddingBank', class_names=['a', 'b', 'c'], init='random', embed_dims=24)


def joint_head(**kwargs):
    return MODELS.build(dict(type='ContrastiveBBoxHead', text_bank=BANK, proj_hidden_dims=20,
                             **HEAD, **kwargs))


def test_output_contract_and_stock_values_equal_shared2fc():
    stock = Shared2FCBBoxHead(**HEAD)
    joint = joint_head()
    joint.load_state_dict(stock.state_dict(), strict=False)  # stock keys unchanged
    missing = set(joint.state_dict()) - set(stock.state_dict())
    assert all(k.startswith(('text_bank.', 'projection.')) for k in missing)
    rois = torch.randn(10, 16, 7, 7)
    for mode in ('train', 'eval'):
        getattr(stock, mode)()
        getattr(joint, mode)()
        ours, theirs = joint(rois), stock(rois)
        assert [t.shape for t in ours] == [t.shape for t in theirs] == \
            [torch.Size([10, 4]), torch.Size([10, 12])]
        for a, b in zip(ours, theirs):
            torch.testing.assert_close(a, b)
    # Training forward keeps one contrastive logit row per RoI (3 classes + background).
    joint.train()
    joint(rois)
    assert joint._region_logits.shape == (10, 4)


def test_fused_inference_mixes_probabilities():
    joint = joint_head(inference='fused', fusion_weight=0.3).eval()
    rois = torch.randn(6, 16, 7, 7)
    cls_score, _ = joint(rois)
    stock_joint = joint_head().eval()
    stock_joint.load_state_dict(joint.state_dict())
    stock_score, _ = stock_joint(rois)
    feature = stock_joint.shared_fcs[1](stock_joint.shared_fcs[0](rois.flatten(1)).relu()).relu()
    contrastive = joint.contrastive_logits(feature).softmax(-1)
    expected = 0.7 * stock_score.softmax(-1) + 0.3 * contrastive
    torch.testing.assert_close(cls_score.softmax(-1), expected, atol=1e-5, rtol=1e-5)
    # Without a background embedding the stock background probability is kept.
    no_bg = fuse_class_scores(stock_score, torch.randn(6, 3), 0.3).softmax(-1)
    torch.testing.assert_close(no_bg[:, -1], stock_score.softmax(-1)[:, -1])


def test_bad_head_configs_are_named():
    with pytest.raises(ValueError, match=r'roi_head.bbox_head.num_classes is 4 but its text_bank '
                                         r'has 3 class names'):
        MODELS.build(dict(type='ContrastiveBBoxHead', text_bank=BANK, **dict(HEAD, num_classes=4)))
    with pytest.raises(ValueError, match='inference must be one of'):
        joint_head(inference='both')


def test_joint_faster_rcnn_from_config_runs_loss_and_predict(tiny_shapes):
    root = tiny_shapes[0]
    model = build_detector(JOINT_CONFIG)
    assert type(model.roi_head).__name__ == 'StandardRoIHead'  # the stock RoI head
    data = model.data_preprocessor(shapes_batch(root, [0, 1]), training=True)
    losses = model(**data, mode='loss')
    for key in ('loss_rpn_cls', 'loss_rpn_bbox', 'loss_cls', 'loss_bbox', 'loss_infonce',
                'loss_aux_ce'):
        assert key in losses
    assert torch.isfinite(losses['loss_infonce']) and losses['loss_infonce'] > 0
    model.eval()
    with torch.no_grad():
        data = model.data_preprocessor(shapes_batch(root, [0, 1], JOINT_CONFIG, 'val'))
        results = model(**data, mode='predict')
    assert len(results) == 2
    assert results[0].pred_instances.bboxes.shape[1] == 4


def test_joint_loss_falls_on_the_builtin_dataset(tiny_shapes):
    torch.manual_seed(0)
    model = build_detector(JOINT_CONFIG)
    cfg = Config.fromfile(JOINT_CONFIG)
    optim = build_optim_wrapper(model, cfg.optim_wrapper)
    batch = shapes_batch(tiny_shapes[0], [0, 1, 2, 3])
    history = []
    for _ in range(12):
        data = model.data_preprocessor(copy.deepcopy(batch), training=True)
        losses = model(**data, mode='loss')
        total, log = model.parse_losses(losses)
        optim.update_params(total)
        history.append({k: v.item() for k, v in log.items()})
    first, last = history[0], history[-1]
    assert last['loss'] < 0.7 * first['loss']
    assert last['loss_infonce'] < first['loss_infonce']
    assert last['loss_aux_ce'] < first['loss_aux_ce']


def test_cascade_rcnn_with_the_head_computes_its_loss(tiny_shapes):
    options = {'model.backbone.init_cfg': None}
    for stage in range(3):
        options[f'model.roi_head.bbox_head.{stage}.text_bank.init'] = 'random'
    model = build_detector(f'{REPO}/configs/clip_joint/cascade-rcnn_r50_fpn_clip-joint_1x_coco.py',
                           options)
    assert [type(h).__name__ for h in model.roi_head.bbox_head] == ['ContrastiveBBoxHead'] * 3
    batch = shapes_batch(tiny_shapes[0], [0])
    data = model.data_preprocessor(batch, training=True)
    losses = model(**data, mode='loss')
    for stage in range(3):
        for key in ('loss_cls', 'loss_bbox', 'loss_infonce', 'loss_aux_ce'):
            assert torch.isfinite(losses[f's{stage}.{key}']).all()
    model.parse_losses(losses)[0].backward()
    assert all(h.text_bank.embeddings.grad is not None for h in model.roi_head.bbox_head)


def test_branch_skipped_predictions_equal_the_baseline(tiny_shapes):
    torch.manual_seed(0)
    baseline = build_detector(BASELINE_CONFIG).eval()
    joint = build_detector(JOINT_CONFIG).eval()
    incompatible = joint.load_state_dict(baseline.state_dict(), strict=False)
    assert not incompatible.unexpected_keys
    assert all('.text_bank.' in k or '.projection.' in k for k in incompatible.missing_keys)
    batch = shapes_batch(tiny_shapes[0], [0, 1, 2], BASELINE_CONFIG, 'val')
    with torch.no_grad():
        ours = joint(**joint.data_preprocessor(copy.deepcopy(batch)), mode='predict')
        theirs = baseline(**baseline.data_preprocessor(copy.deepcopy(batch)), mode='predict')
    for a, b in zip(ours, theirs):
        assert len(a.pred_instances) == len(b.pred_instances) > 0
        for key in ('bboxes', 'scores', 'labels'):
            torch.testing.assert_close(a.pred_instances[key], b.pred_instances[key])


def test_mask_rcnn_with_the_head_computes_bbox_mask_and_contrastive_losses():
    from mmdet.testing import demo_mm_inputs
    model = build_detector(f'{REPO}/configs/clip_joint/mask-rcnn_r50_fpn_clip-joint_1x_coco.py',
                           {'model.backbone.init_cfg': None,
                            'model.roi_head.bbox_head.text_bank.init': 'random'})
    assert type(model.roi_head).__name__ == 'StandardRoIHead'
    torch.manual_seed(0)
    batch = demo_mm_inputs(batch_size=1, image_shapes=[(3, 128, 128)], num_items=[3],
                           num_classes=80, with_mask=True)
    losses = model(**model.data_preprocessor(batch, training=True), mode='loss')
    for key in ('loss_cls', 'loss_bbox', 'loss_mask', 'loss_infonce', 'loss_aux_ce'):
        assert torch.isfinite(losses[key])
    model.parse_losses(losses)[0].backward()
    assert model.roi_head.bbox_head.text_bank.embeddings.grad is not None
