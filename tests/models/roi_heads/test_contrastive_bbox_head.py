"""ContrastiveBBoxHead: the stock bbox-head contract, fused inference, labels paired with
their regions' rows under the stock RoI head, Cascade and Mask R-CNN from their configs."""
import copy

import pytest
import torch

from joint_testing import JOINT_CONFIG, REPO, build_detector, capture, shapes_batch
from mmclipjoint.models.layers import fuse_softmax_scores
from mmdet.models.roi_heads.bbox_heads import Shared2FCBBoxHead
from mmdet.registry import MODELS
from mmdet.structures.bbox import bbox_overlaps

HEAD = dict(in_channels=16, fc_out_channels=32, roi_feat_size=7, num_classes=3,
            bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[0.] * 4,
                            target_stds=[0.1, 0.1, 0.2, 0.2]))
BANK = dict(type='TextEmbeddingBank', class_names=['a', 'b', 'c'], init='random', embed_dims=24)


def joint_head(**branch):
    return MODELS.build(dict(type='ContrastiveBBoxHead', **HEAD, contrastive_branch=dict(
        text_bank=BANK, hidden_channels=20, **branch)))


def test_output_contract_and_stock_values_equal_shared2fc():
    stock = Shared2FCBBoxHead(**HEAD)
    joint = joint_head()
    joint.load_state_dict(stock.state_dict(), strict=False)  # stock keys unchanged
    missing = set(joint.state_dict()) - set(stock.state_dict())
    assert missing and all(k.startswith('contrastive_branch.') for k in missing)
    rois = torch.randn(10, 16, 7, 7)
    for mode in ('train', 'eval'):
        getattr(stock, mode)()
        getattr(joint, mode)()
        ours, theirs = joint(rois), stock(rois)
        assert [t.shape for t in ours] == [t.shape for t in theirs] == \
            [torch.Size([10, 4]), torch.Size([10, 12])]
        for a, b in zip(ours, theirs):
            torch.testing.assert_close(a, b)
    # The training forward kept the classifier's input feature of every RoI.
    assert joint.contrastive_branch._record is None  # eval() dropped the pending one
    joint.train()
    joint(rois)
    assert joint.contrastive_branch._record.features[0].shape == (10, 32)


def test_fused_inference_mixes_probabilities():
    joint = joint_head(inference='fused', fusion_weight=0.3).eval()
    rois = torch.randn(6, 16, 7, 7)
    cls_score, _ = joint(rois)
    stock_joint = joint_head().eval()
    stock_joint.load_state_dict(joint.state_dict())
    stock_score, _ = stock_joint(rois)
    feature = stock_joint.shared_fcs[1](stock_joint.shared_fcs[0](rois.flatten(1)).relu()).relu()
    contrastive = joint.contrastive_branch.logits(feature).softmax(-1)
    expected = 0.7 * stock_score.softmax(-1) + 0.3 * contrastive
    torch.testing.assert_close(cls_score.softmax(-1), expected, atol=1e-5, rtol=1e-5)
    # Without a background embedding the stock background probability is kept.
    no_bg = fuse_softmax_scores(stock_score, torch.randn(6, 3), 0.3).softmax(-1)
    torch.testing.assert_close(no_bg[:, -1], stock_score.softmax(-1)[:, -1])


def test_bad_head_configs_are_named():
    with pytest.raises(ValueError, match=r'ContrastiveBBoxHead.num_classes is 4 but its '
                                         r'contrastive_branch.text_bank has 3 class names'):
        MODELS.build(dict(type='ContrastiveBBoxHead', **dict(HEAD, num_classes=4),
                          contrastive_branch=dict(text_bank=BANK)))
    with pytest.raises(ValueError, match='inference must be one of'):
        joint_head(inference='both')
    with pytest.raises(ValueError, match="inference='fused' needs a softmax loss_cls"):
        MODELS.build(dict(type='ContrastiveBBoxHead', **HEAD,
                          loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=True),
                          contrastive_branch=dict(text_bank=BANK, inference='fused')))


def test_labels_pair_with_the_rows_of_their_own_regions(tiny_shapes, monkeypatch):
    """Under the stock StandardRoIHead: row i of the region logits is RoI i's, and label i
    is RoI i's class (it overlaps a box of that class), as the assigner meant."""
    model = build_detector(JOINT_CONFIG)
    head = model.roi_head.bbox_head
    branch = head.contrastive_branch
    steps, bbox_losses, scored = [], [], []
    capture(monkeypatch, model.roi_head, 'loss', steps)
    capture(monkeypatch, head, 'loss', bbox_losses)
    capture(monkeypatch, branch.loss_contrastive, 'forward', scored)
    batch = shapes_batch(tiny_shapes[0], [0, 1])
    model(**model.data_preprocessor(copy.deepcopy(batch), training=True), mode='loss')
    (step_args, _, _), = steps
    x, data_samples = step_args[0], step_args[2]
    (loss_args, _, _), = bbox_losses
    rois, labels, label_weights = loss_args[2], loss_args[3], loss_args[4]
    (score_args, _, _), = scored
    logits, scored_labels, scored_weights = score_args[:3]
    torch.testing.assert_close(scored_labels, labels)
    torch.testing.assert_close(scored_weights, label_weights.float())
    # The logits recomputed, independently, from those RoIs in that order.
    with torch.no_grad():
        feature = model.roi_head.bbox_roi_extractor(
            x[:model.roi_head.bbox_roi_extractor.num_inputs], rois).flatten(1)
        for fc in head.shared_fcs:
            feature = fc(feature).relu()
        torch.testing.assert_close(logits, branch.logits(feature), atol=1e-5, rtol=1e-4)
    # And every foreground label is the class of a ground-truth box its RoI overlaps.
    foreground = labels < head.num_classes
    assert foreground.sum() > 0 and (~foreground).sum() > 0
    for i in foreground.nonzero().squeeze(1).tolist():
        gt = data_samples[int(rois[i, 0])].gt_instances
        overlaps = bbox_overlaps(rois[i:i + 1, 1:], gt.bboxes)[0]
        assert (overlaps[gt.labels == labels[i]] >= 0.5).any(), i


def test_cascade_rcnn_with_the_head_computes_every_stage(tiny_shapes):
    options = {'model.backbone.init_cfg': None}
    for stage in range(3):
        options[f'model.roi_head.bbox_head.{stage}.contrastive_branch.text_bank.init'] = 'random'
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
    assert all(h.contrastive_branch.text_bank.embeddings.grad is not None
               for h in model.roi_head.bbox_head)


def test_mask_rcnn_with_the_head_computes_bbox_mask_and_contrastive_losses():
    from mmdet.testing import demo_mm_inputs
    model = build_detector(f'{REPO}/configs/clip_joint/mask-rcnn_r50_fpn_clip-joint_1x_coco.py',
                           {'model.backbone.init_cfg': None,
                            'model.roi_head.bbox_head.contrastive_branch.text_bank.init': 'random'})
    assert type(model.roi_head).__name__ == 'StandardRoIHead'
    torch.manual_seed(0)
    batch = demo_mm_inputs(batch_size=1, image_shapes=[(3, 128, 128)], num_items=[3],
                           num_classes=80, with_mask=True)
    losses = model(**model.data_preprocessor(batch, training=True), mode='loss')
    for key in ('loss_cls', 'loss_bbox', 'loss_mask', 'loss_infonce', 'loss_aux_ce'):
        assert torch.isfinite(losses[key])
    model.parse_losses(losses)[0].backward()
    assert model.roi_head.bbox_head.contrastive_branch.text_bank.embeddings.grad is not None
