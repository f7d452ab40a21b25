"""mmdeploy rewriters that make the ONNX Runtime graph predict what MMDetection predicts.

mmdeploy's default rewriters post-process differently from mmdet 3.3.0 in two places that
change the top detections, not only the low-score tail (measured on trained models of the
built-in families, see docs/deployment.md):

- ``RPNHead``: mmdet suppresses proposals level by level (``batched_nms`` with the level
  as the group) and drops boxes of zero width or height (``min_bbox_size=0``); mmdeploy
  suppresses across levels and keeps them, so a Faster R-CNN gets other proposals.
- ``BBoxHead`` (the R-CNN stage): mmdet scores each class with its own regressed box;
  mmdeploy gives every class of a RoI the box of the RoI's best class. It also classifies
  the all-zero rows that pad the proposals, which mmdet never has.
- ``YOLOXHead``: mmdet gives each box one label, its best class; mmdeploy scores every
  class of every box, so the same box comes back under several labels.
- Dense heads (``BaseDenseHead``, ``RTMDetHead``): mmdet drops boxes of zero width or
  height (``min_bbox_size=0``) — boxes squeezed flat against the image border — and
  RTMDet's decoding clips to the image; mmdeploy does neither, and such boxes can
  suppress real ones.

They are registered for the ``onnxruntime`` backend, which mmdeploy prefers over its
default rewriters; they reuse mmdeploy's decoding (``with_nms=False``) and change only
what reaches its ``multiclass_nms``. Importing this module registers them.
"""
import contextlib
import copy
import inspect

import torch
import torch.nn.functional as F
from mmdeploy.codebase.mmdet.deploy import get_post_processing_params
from mmdeploy.codebase.mmdet.models.dense_heads.base_dense_head import \
    base_dense_head__predict_by_feat
from mmdeploy.codebase.mmdet.models.dense_heads.rtmdet_head import rtmdet_head__predict_by_feat
from mmdeploy.codebase.mmdet.models.dense_heads.yolox_head import yolox_head__predict_by_feat
from mmdeploy.core import FUNCTION_REWRITER
from mmdeploy.core.rewriters.rewriter_utils import get_func_qualname
from mmdeploy.mmcv.ops import multiclass_nms

BACKEND = 'onnxruntime'


@contextlib.contextmanager
def lent_context(ctx, rewriter):
    """Let mmdeploy's ``rewriter`` run inside ours with our context ``ctx`` (the deploy
    config): mmdeploy finds a rewriter's context by the calling function, and only the
    rewriter mmdeploy patched in (ours) has one."""
    ctx = copy.copy(ctx)
    ctx.func = rewriter
    contexts = FUNCTION_REWRITER._func_contexts[get_func_qualname(rewriter)]
    contexts.append(ctx)
    try:
        yield
    finally:
        contexts.remove(ctx)


@FUNCTION_REWRITER.register_rewriter(
    'mmdet.models.dense_heads.rpn_head.RPNHead.predict_by_feat', backend=BACKEND)
def rpn_head__predict_by_feat__per_level(self, cls_scores, bbox_preds, score_factors=None,
                                         batch_img_metas=None, cfg=None, rescale=False,
                                         with_nms=True, **kwargs):
    """Proposals as mmdet's ``RPNHead._bbox_post_process`` makes them: per-level NMS,
    zero-size boxes dropped, the best ``max_per_img`` over all levels."""
    cfg = self.test_cfg if cfg is None else cfg
    pre_topk = cfg.get('nms_pre', -1)
    featmap_sizes = [score.shape[-2:] for score in cls_scores]
    anchors = self.anchor_generator.grid_anchors(featmap_sizes, device=cls_scores[0].device)
    batch = cls_scores[0].shape[0]
    levels_boxes, levels_scores, levels_anchors, levels_ids = [], [], [], []
    # mmdeploy's RPN decoding (rpn_head__predict_by_feat), keeping each candidate's level.
    for level, (score, delta, prior) in enumerate(zip(cls_scores, bbox_preds, anchors)):
        score = score.permute(0, 2, 3, 1)
        if self.use_sigmoid_cls:
            score = score.reshape(batch, -1).sigmoid()
        else:
            score = score.reshape(batch, -1, 2).softmax(-1)[..., 0]
        delta = delta.permute(0, 2, 3, 1).reshape(batch, -1, self.bbox_coder.encode_size)
        prior = prior.unsqueeze(0).expand(batch, -1, -1)
        if pre_topk > 0:  # mmdeploy's topk rewriter clamps k to the level's size
            score, index = score.topk(pre_topk)
            delta = delta.gather(1, index[..., None].expand(-1, -1, delta.shape[-1]))
            prior = prior.gather(1, index[..., None].expand(-1, -1, 4))
        levels_scores.append(score)
        levels_boxes.append(delta)
        levels_anchors.append(prior)
        levels_ids.append(torch.full_like(score, level))
    scores = torch.cat(levels_scores, 1)
    bboxes = self.bbox_coder.decode(torch.cat(levels_anchors, 1), torch.cat(levels_boxes, 1),
                                    max_shape=batch_img_metas[0]['img_shape'])
    if not with_nms:
        return bboxes, scores[..., None]
    level = torch.cat(levels_ids, 1)
    num_levels = len(cls_scores)
    one_hot = (level[..., None] == torch.arange(num_levels, device=level.device)).to(
        scores.dtype)
    per_level = scores[..., None] * one_hot  # (B, N, levels): each level its own "class"
    min_size = cfg.get('min_bbox_size', -1)
    if min_size >= 0:
        wh = bboxes[..., 2:4] - bboxes[..., 0:2]
        keep = ((wh[..., 0] > min_size) & (wh[..., 1] > min_size)).to(scores.dtype)
        per_level = per_level * keep[..., None]
    keep_top_k = cfg.get('max_per_img')
    dets, _ = multiclass_nms(bboxes, per_level, max_output_boxes_per_class=keep_top_k,
                             iou_threshold=cfg.nms.iou_threshold, score_threshold=0.0,
                             pre_top_k=-1, keep_top_k=keep_top_k)
    return dets, torch.zeros_like(dets[..., 4], dtype=torch.long)


@FUNCTION_REWRITER.register_rewriter(
    'mmdet.models.roi_heads.bbox_heads.bbox_head.BBoxHead.predict_by_feat', backend=BACKEND)
def bbox_head__predict_by_feat__per_class_boxes(self, rois, cls_scores, bbox_preds,
                                                batch_img_metas, rcnn_test_cfg=None,
                                                rescale=False):
    """Detections as mmdet's ``BBoxHead._predict_by_feat_single`` + ``multiclass_nms``
    make them: every class with its own box, padding proposals never detected."""
    if rois.ndim != 3:
        raise ValueError('ONNX export of a two-stage detector needs batched RoIs (B, N, 5)')
    img_shape = batch_img_metas[0]['img_shape']
    if self.custom_cls_channels:
        scores = self.loss_cls.get_activation(cls_scores)
    else:
        scores = F.softmax(cls_scores, dim=-1)
    scores = scores[..., :self.num_classes]
    boxes = rois[..., 1:]
    # The RPN never proposes a box of zero width or height: such rows are its padding.
    real = ((boxes[..., 2] > boxes[..., 0]) & (boxes[..., 3] > boxes[..., 1])).to(scores.dtype)
    scores = scores * real[..., None]
    boxes = self.bbox_coder.decode(boxes, bbox_preds, max_shape=img_shape)
    batch, num = scores.shape[:2]
    classes = self.num_classes
    if not self.reg_class_agnostic:
        # Every (RoI, class) pair is a candidate with its own box, scored for its class
        # only: ONNX NonMaxSuppression shares boxes across classes.
        boxes = boxes.reshape(batch, num * classes, 4)
        own = torch.eye(classes, dtype=scores.dtype, device=scores.device)
        scores = (scores[..., None] * own).reshape(batch, num * classes, classes)
    post = get_post_processing_params(FUNCTION_REWRITER.get_context().cfg)
    keep_top_k = rcnn_test_cfg.get('max_per_img', post.keep_top_k)
    return multiclass_nms(boxes, scores, max_output_boxes_per_class=keep_top_k,
                          iou_threshold=rcnn_test_cfg.nms.iou_threshold,
                          score_threshold=rcnn_test_cfg.get('score_thr', post.score_threshold),
                          pre_top_k=-1, keep_top_k=keep_top_k)


def dense_nms(self, ctx, bboxes, scores, img_shape, cfg=None, single_label=False,
              clip=False):
    """mmdet's ``BaseDenseHead._bbox_post_process`` on decoded boxes (B, N, 4) and class
    scores (B, N, C): boxes of zero width or height dropped where the ``test_cfg`` sets
    ``min_bbox_size``, score threshold, class-wise NMS, the best ``max_per_img``; with
    ``clip`` the boxes are first clipped to the input, with ``single_label`` only each
    box's best class competes."""
    cfg = self.test_cfg if cfg is None else cfg
    if single_label:
        best = scores.argmax(-1, keepdim=True)
        classes = torch.arange(scores.shape[-1], device=scores.device)
        scores = scores * (classes == best).to(scores.dtype)
    if clip:
        if torch.is_tensor(img_shape):  # (H, W) of the traced input: dynamic
            limit = img_shape.flip(0).repeat(2).to(bboxes.dtype)
        else:
            limit = bboxes.new_tensor([img_shape[1], img_shape[0]] * 2)
        bboxes = torch.min(bboxes.clamp(min=0), limit)
    min_size = cfg.get('min_bbox_size', -1)
    if min_size >= 0:
        wh = bboxes[..., 2:4] - bboxes[..., 0:2]
        keep = ((wh[..., 0] > min_size) & (wh[..., 1] > min_size)).to(scores.dtype)
        scores = scores * keep[..., None]
    post = get_post_processing_params(ctx.cfg)
    keep_top_k = cfg.get('max_per_img', post.keep_top_k)
    return multiclass_nms(bboxes, scores, max_output_boxes_per_class=keep_top_k,
                          iou_threshold=cfg.nms.iou_threshold,
                          score_threshold=cfg.get('score_thr', post.score_threshold),
                          pre_top_k=-1, keep_top_k=keep_top_k)


def _dense_rewriter(path, mmdeploy_rewriter, single_label=False, clip=False):
    """A rewriter of ``path`` that decodes with ``mmdeploy_rewriter`` and post-processes
    as mmdet (the heads' signatures differ: arguments are bound by name)."""
    signature = inspect.signature(mmdeploy_rewriter)

    def rewriter(*args, **kwargs):
        ctx = FUNCTION_REWRITER.get_context(path)  # by path: closures share one code object
        call = signature.bind(*args, **kwargs)
        call.apply_defaults()
        with_nms = call.arguments['with_nms']
        call.arguments['with_nms'] = False
        with lent_context(ctx, mmdeploy_rewriter):
            bboxes, scores = mmdeploy_rewriter(*call.args, **call.kwargs)
        if not with_nms:
            return bboxes, scores
        metas = call.arguments['batch_img_metas']
        return dense_nms(call.arguments['self'], ctx, bboxes, scores, metas[0]['img_shape'],
                         call.arguments['cfg'], single_label, clip)

    rewriter.__name__ = rewriter.__qualname__ = f'{mmdeploy_rewriter.__name__}__as_mmdet'
    return rewriter


# YOLOX: one label per box, boxes not clipped (as mmdet). RTMDet: mmdet's decoding clips
# to the image, mmdeploy's does not. Every other dense head (YOLO11's included) decodes
# with its bbox coder's clipping in both: the size filter and mmdet's NMS settings.
for _path, _rewriter, _single, _clip in (
        ('mmdet.models.dense_heads.yolox_head.YOLOXHead.predict_by_feat',
         yolox_head__predict_by_feat, True, False),
        ('mmdet.models.dense_heads.rtmdet_head.RTMDetHead.predict_by_feat',
         rtmdet_head__predict_by_feat, False, True),
        ('mmdet.models.dense_heads.base_dense_head.BaseDenseHead.predict_by_feat',
         base_dense_head__predict_by_feat, False, False)):
    FUNCTION_REWRITER.register_rewriter(_path, backend=BACKEND)(
        _dense_rewriter(_path, _rewriter, _single, _clip))
