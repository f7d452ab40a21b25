"""YOLO11 in MMDetection: parameter counts of every scale equal Ultralytics', and with
Ultralytics' YOLO11n weights (random, random BatchNorm statistics) converted, the raw
outputs and the decoded boxes and scores equal Ultralytics' own on a 320x320 batch."""
import pytest
import torch
import torch.nn as nn

from mmclipjoint.models import YOLO11PAFPN, YOLO11Backbone, YOLO11Head
from mmclipjoint.utils.ultralytics import convert_yolo11_state_dict

# Ultralytics 8.4.190, DetectionModel('yolo11{scale}.yaml', nc=80), all parameters.
ULTRALYTICS_PARAMETERS = dict(n=2_624_080, s=9_458_752, m=20_114_688, l=25_372_160,
                              x=56_966_176)


def yolo11(scale, num_classes=80):
    model = nn.Module()
    model.backbone = YOLO11Backbone(scale)
    model.neck = YOLO11PAFPN(scale, model.backbone.out_channels)
    model.bbox_head = YOLO11Head(num_classes, model.neck.out_channels)
    return model


@pytest.mark.parametrize('scale', list(ULTRALYTICS_PARAMETERS))
def test_parameter_count_of_every_scale_equals_ultralytics(scale):
    with torch.device('meta'):  # shapes only: the x scale's 57M parameters stay unallocated
        model = yolo11(scale)
    assert sum(p.numel() for p in model.parameters()) == ULTRALYTICS_PARAMETERS[scale]


def test_bad_scale_is_named():
    with pytest.raises(ValueError, match=r"YOLO11 scale must be one of \['l', 'm', 'n', 's', "
                                         r"'x'\], got 'q'"):
        YOLO11Backbone('q')


def calibrate_batchnorm(model, generator):
    """Random BatchNorm affine parameters, and running statistics measured on a batch
    (as training would leave them), so that every layer's eval-mode output has unit
    scale: with PyTorch's default initialisation and untouched statistics the signal
    fades to ~1e-8 by the backbone's end, and a difference there (an activation, say)
    would not reach the outputs that a test compares."""
    norms = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    for module in norms:
        shape = module.num_features
        module.weight.data = 1 + 0.2 * torch.randn(shape, generator=generator)
        module.bias.data = 0.2 * torch.randn(shape, generator=generator)
        module.reset_running_stats()
        module.momentum = None  # cumulative average over the calibration batch
    model.train()
    with torch.no_grad():
        model(torch.rand(4, 3, 320, 320, generator=generator))
    for module in norms:
        module.momentum = 0.03
    return model.eval()


@pytest.fixture(scope='module')
def ultralytics_yolo11n(tmp_path_factory):
    """Ultralytics' own YOLO11n, built offline from its yaml, random weights, calibrated
    BatchNorm statistics and random class biases, in eval mode."""
    import os
    os.environ['YOLO_OFFLINE'] = 'true'
    os.environ['YOLO_CONFIG_DIR'] = str(tmp_path_factory.mktemp('ultralytics'))
    from ultralytics.nn.tasks import DetectionModel
    torch.manual_seed(0)
    model = DetectionModel('yolo11n.yaml', nc=80, verbose=False)
    generator = torch.Generator().manual_seed(1)
    # The class prior bias puts every score near 1e-5: spread them over (0, 1) so that
    # comparing scores means something.
    for branch in model.model[-1].cv3:
        branch[-1].bias.data = torch.randn(80, generator=generator)
    return calibrate_batchnorm(model, generator)


def test_yolo11n_equals_ultralytics_after_conversion(ultralytics_yolo11n):
    ours = yolo11('n').eval()
    converted = convert_yolo11_state_dict(ultralytics_yolo11n.state_dict())
    incompatible = ours.load_state_dict(converted, strict=True)
    assert not incompatible.missing_keys and not incompatible.unexpected_keys
    images = torch.randn(2, 3, 320, 320, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        decoded, raw = ultralytics_yolo11n(images)
        cls_scores, bbox_dists = ours.bbox_head(ours.neck(ours.backbone(images)))
        ours_decoded = ours.bbox_head.decode(cls_scores, bbox_dists)
    assert decoded.shape == ours_decoded.shape == (2, 84, 40 * 40 + 20 * 20 + 10 * 10)
    torch.testing.assert_close(torch.cat([s.flatten(2) for s in cls_scores], 2), raw['scores'],
                               atol=1e-4, rtol=0)
    torch.testing.assert_close(torch.cat([d.flatten(2) for d in bbox_dists], 2), raw['boxes'],
                               atol=1e-4, rtol=0)
    # Class scores within 1e-4. Boxes are in pixels (up to ~500 here): the 1e-5 float32
    # noise of a ~100-layer network's outputs becomes ~1e-3 px after the stride, so
    # boxes are compared relative to their size, and the decoding alone exactly.
    assert (ours_decoded[:, 4:] - decoded[:, 4:]).abs().max() < 1e-4
    box_error = (ours_decoded[:, :4] - decoded[:, :4]).abs().max()
    assert box_error < 1e-5 * decoded[:, :4].abs().max()
    theirs = [raw['scores'], raw['boxes']]
    sizes = [s.shape[2] * s.shape[3] for s in cls_scores]
    split = [[t[..., sum(sizes[:i]):sum(sizes[:i + 1])].reshape(2, -1, *c.shape[2:])
              for i, c in enumerate(cls_scores)] for t in theirs]
    with torch.no_grad():
        assert torch.equal(ours.bbox_head.decode(*split), decoded)
    assert decoded[:, 4:].std() > 0.01  # random weights, varied scores: a real comparison


def test_head_bias_initialisation_follows_the_reference():
    head = yolo11('n').bbox_head
    head.init_weights()
    for level, stride in enumerate((8, 16, 32)):
        assert torch.allclose(head.box_branches[level][-1].bias, torch.tensor(2.0))
        expected = torch.log(torch.tensor(5 / 80 / (640 / stride) ** 2))
        assert torch.allclose(head.cls_branches[level][-1].bias, expected)


def test_converter_refuses_another_architecture():
    with pytest.raises(ValueError, match="layer 24 of a YOLO11 detector has no weights"):
        convert_yolo11_state_dict({'model.24.conv.weight': torch.zeros(1)})
    with pytest.raises(ValueError, match="not a YOLO11 detection checkpoint key"):
        convert_yolo11_state_dict({'backbone.conv.weight': torch.zeros(1)})


def ground_truth(image_size, counts, generator):
    """Random boxes per image (some under 16 px, one image possibly empty), as mmdet
    InstanceData in pixels and as Ultralytics' batch (normalised centre-size)."""
    from mmengine.structures import InstanceData
    instances, idx, cls, xywh = [], [], [], []
    for i, n in enumerate(counts):
        centre = torch.rand(n, 2, generator=generator) * image_size
        size = torch.rand(n, 2, generator=generator) * image_size / 2 + 4
        boxes = torch.cat((centre - size / 2, centre + size / 2), 1).clamp(0, image_size)
        labels = torch.randint(0, 80, (n, ), generator=generator)
        instances.append(InstanceData(bboxes=boxes, labels=labels))
        idx.append(torch.full((n, ), float(i)))
        cls.append(labels.float())
        xywh.append(torch.cat(((boxes[:, :2] + boxes[:, 2:]) / 2, boxes[:, 2:] - boxes[:, :2]),
                              1) / image_size)
    batch = dict(batch_idx=torch.cat(idx), cls=torch.cat(cls)[:, None], bboxes=torch.cat(xywh))
    return instances, batch


def test_losses_and_their_gradients_equal_ultralytics_v8_detection_loss(ultralytics_yolo11n):
    """Same predictions, same ground truth: box, class and DFL terms (the reference
    multiplies them by the batch size, and so does the head) and the gradients."""
    from types import SimpleNamespace

    from ultralytics.utils.loss import v8DetectionLoss
    ultralytics_yolo11n.args = SimpleNamespace(box=7.5, cls=0.5, dfl=1.5)
    criterion = v8DetectionLoss(ultralytics_yolo11n)
    head = yolo11('n').bbox_head
    generator = torch.Generator().manual_seed(3)
    size, shapes = 320, [(40, 40), (20, 20), (10, 10)]
    instances, batch = ground_truth(size, [5, 0, 17, 1], generator)
    scores = [torch.randn(4, 80, h, w, generator=generator) - 2 for h, w in shapes]
    dists = [2 * torch.randn(4, 64, h, w, generator=generator) for h, w in shapes]
    for t in scores + dists:
        t.requires_grad_(True)
    preds = dict(scores=torch.cat([s.flatten(2) for s in scores], 2),
                 boxes=torch.cat([d.flatten(2) for d in dists], 2),
                 feats=[torch.zeros(4, 1, h, w) for h, w in shapes])
    theirs, _ = criterion(preds, batch)
    metas = [dict(img_shape=(size, size), pad_shape=(size, size))] * 4
    ours = head.loss_by_feat(scores, dists, instances, metas)
    torch.testing.assert_close(
        torch.stack([ours['loss_bbox'], ours['loss_cls'], ours['loss_dfl']]), theirs,
        rtol=1e-5, atol=0)
    assert (theirs > 0.1).all()  # a real comparison: every term is far from zero
    their_grads = torch.autograd.grad(theirs.sum(), scores + dists)
    our_grads = torch.autograd.grad(sum(ours.values()), scores + dists)
    for a, b in zip(our_grads, their_grads):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-7)


def test_batched_assignment_equals_ultralytics_task_aligned_assigner():
    """Positives, their boxes and their soft targets, including boxes under 16 px that
    the reference widens for the centre test, several images and padding."""
    from ultralytics.utils.tal import TaskAlignedAssigner

    from mmclipjoint.models import BatchTaskAlignedAssigner
    generator = torch.Generator().manual_seed(4)
    head = yolo11('n').bbox_head
    size, shapes = 256, [(32, 32), (16, 16), (8, 8)]
    instances, _ = ground_truth(size, [3, 12, 0], generator)
    instances[0].bboxes[0] = torch.tensor([100., 100., 108., 110.])  # under 16 px
    scores = [torch.randn(3, 80, h, w, generator=generator) for h, w in shapes]
    dists = [2 * torch.randn(3, 64, h, w, generator=generator) for h, w in shapes]
    centres, strides = head.cell_centres(scores)
    flat = torch.cat([d.flatten(2) for d in dists], 2)
    from mmdet.structures.bbox import distance2bbox
    boxes = distance2bbox(centres, head.dfl(flat).transpose(1, 2)) * strides
    probs = torch.cat([s.flatten(2) for s in scores], 2).transpose(1, 2).sigmoid()
    labels, gt_boxes, mask = head.padded_gt(instances, probs)
    ours = BatchTaskAlignedAssigner(80)(probs, boxes, centres * strides, labels, gt_boxes, mask)
    reference = TaskAlignedAssigner(topk=10, num_classes=80, alpha=0.5, beta=6.0,
                                    stride=[8, 16, 32])
    _, t_boxes, t_scores, t_fg, t_idx = reference(probs, boxes, centres * strides,
                                                  labels[..., None].float(), gt_boxes,
                                                  mask[..., None].float())
    assert torch.equal(ours['fg_mask'], t_fg) and ours['fg_mask'].sum() > 30
    assert torch.equal(ours['gt_inds'][t_fg], t_idx[t_fg])
    assert torch.equal(ours['bboxes'][t_fg], t_boxes[t_fg])
    torch.testing.assert_close(ours['scores'], t_scores.float(), rtol=1e-6, atol=1e-7)
    assert (ours['labels'][~t_fg] == 80).all()
    assert ours['fg_mask'][0].sum() > 0 and not ours['fg_mask'][2].any()


def test_single_label_prediction_equals_ultralytics_nms(ultralytics_yolo11n):
    """test_cfg.multi_label=False: each prior's best class only, as Ultralytics' predict
    keeps them; on the same head outputs (decoded as the reference decodes them, see
    above) the detections equal its non_max_suppression's."""
    from mmengine.config import ConfigDict
    from ultralytics.utils.nms import non_max_suppression
    head = YOLO11Head(80, (64, 128, 256)).eval()
    generator = torch.Generator().manual_seed(4)
    sizes = (40, 20, 10)  # a 320-px image
    cls_scores = [torch.randn(2, 80, s, s, generator=generator) - 2.5 for s in sizes]
    bbox_dists = [torch.randn(2, 64, s, s, generator=generator) * 2 for s in sizes]
    cfg = ConfigDict(nms_pre=30000, score_thr=0.25, nms=dict(type='nms', iou_threshold=0.7),
                     max_per_img=300, multi_label=False)
    metas = [dict(img_shape=(320, 320), ori_shape=(320, 320), scale_factor=(1.0, 1.0))] * 2
    with torch.no_grad():
        results = head.predict_by_feat(cls_scores, bbox_dists, batch_img_metas=metas, cfg=cfg)
        multi = head.predict_by_feat(cls_scores, bbox_dists, batch_img_metas=metas,
                                     cfg=ConfigDict(cfg, multi_label=True))
        reference = non_max_suppression(head.decode(cls_scores, bbox_dists), 0.25, 0.7,
                                        multi_label=False, max_det=300, max_time_img=1e6)
    for mine, expected, every in zip(results, reference, multi):
        assert len(mine) == len(expected) > 50
        order = mine.scores.argsort(descending=True)
        torch.testing.assert_close(mine.scores[order], expected[:, 4], atol=1e-6, rtol=0)
        assert torch.equal(mine.labels[order], expected[:, 5].long())
        # Both clip the boxes after NMS.
        torch.testing.assert_close(mine.bboxes[order], expected[:, :4].clamp(0, 320),
                                   atol=1e-3, rtol=0)
        assert every.scores.min() > mine.scores.min()  # multi-label: more candidates


def test_plain_nms_runs_torchvision_and_keeps_what_mmcv_keeps():
    """YOLO11Head's post-processing runs plain NMS with torchvision's batched_nms (faster
    on a CPU): on candidates that do not depend on rounding it keeps the same boxes, in
    the same order, as MMDetection's mmcv path; soft NMS still goes to mmcv."""
    from mmcv.ops import batched_nms
    from mmengine.config import ConfigDict
    from mmengine.structures import InstanceData
    generator = torch.Generator().manual_seed(0)
    head = YOLO11Head(num_classes=5, in_channels=[64, 128, 256])
    n = 1200  # 4,800 coordinates, above 4,000: torchvision's per-class path
    corners = torch.rand(n, 2, generator=generator) * 500
    boxes = torch.cat((corners, corners + 20 + torch.rand(n, 2, generator=generator) * 80), 1)
    scores = torch.randperm(n, generator=generator).float() / n + 0.01  # no ties
    labels = torch.randint(0, 5, (n, ), generator=generator)
    cfg = ConfigDict(nms=dict(type='nms', iou_threshold=0.5), max_per_img=100)
    ours = head._bbox_post_process(InstanceData(bboxes=boxes, scores=scores, labels=labels),
                                   cfg)
    dets, keep = batched_nms(boxes, scores, labels, cfg.nms)
    assert len(ours) == 100 and torch.equal(ours.bboxes, boxes[keep[:100]])
    assert torch.equal(ours.scores, dets[:100, -1])
    assert torch.equal(ours.labels, labels[keep[:100]])
    soft = ConfigDict(nms=dict(type='soft_nms', iou_threshold=0.5), max_per_img=100)
    rescored = head._bbox_post_process(
        InstanceData(bboxes=boxes, scores=scores, labels=labels), soft)
    dets, _ = batched_nms(boxes, scores, labels, soft.nms)
    assert torch.equal(rescored.scores, dets[:100, -1])  # soft NMS lowers scores
