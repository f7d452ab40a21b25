"""YOLO11's detection head in MMDetection: its layers, its decoding, and its training
(batched task-aligned assignment; BCE, CIoU and DFL normalised by the target-score sum)."""
import math
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torchvision
from mmengine.config import ConfigDict
from mmengine.structures import InstanceData
from torch import Tensor

from mmdet.models.dense_heads.base_dense_head import BaseDenseHead
from mmdet.registry import MODELS, TASK_UTILS
from mmdet.structures.bbox import distance2bbox
from mmdet.utils import InstanceList, OptInstanceList
from ..layers.yolo11_blocks import depthwise_conv, yolo_conv


class DistributionIntegral(nn.Module):
    """The expectation of a distance's ``bins`` discrete distribution: a frozen 1x1
    convolution with weights 0..bins-1 over its softmax (a parameter, as the reference
    model counts it, that never trains)."""

    def __init__(self, bins: int = 16):
        super().__init__()
        self.bins = bins
        self.conv = nn.Conv2d(bins, 1, 1, bias=False).requires_grad_(False)
        with torch.no_grad():
            self.conv.weight.copy_(torch.arange(bins, dtype=torch.float).view(1, bins, 1, 1))

    def forward(self, logits: Tensor) -> Tensor:
        """(B, 4 * bins, N) logits -> (B, 4, N) distances in stride units."""
        b, _, n = logits.shape
        return self.conv(logits.view(b, 4, self.bins, n).transpose(2, 1).softmax(1)).view(b, 4, n)


@MODELS.register_module()
class YOLO11Head(BaseDenseHead):
    """YOLO11's decoupled head, per level:

    * box branch: two 3x3 Conv-BN-SiLU of width ``max(16, C_0 / 4, 4 * reg_max)``, then
      a 1x1 convolution to ``4 * reg_max`` distance-bin logits (left, top, right,
      bottom);
    * class branch: (depthwise 3x3, 1x1) twice, of width ``max(C_0, min(classes, 100))``,
      then a 1x1 convolution to the class logits.

    Training (:meth:`loss_by_feat`) is the reference detector's: a
    :class:`BatchTaskAlignedAssigner` over the whole batch, then a sigmoid BCE class
    loss on the soft targets, a CIoU box loss and a DFL, the last two on positives
    weighted by their target score, all three divided by the batch's target-score sum
    and, as the reference does so that its learning rates carry over, multiplied by the
    number of images. Prediction decodes every prior and class (multi-label) and runs
    MMDetection's post-processing (``test_cfg``: ``score_thr``, ``nms_pre``, ``nms``,
    ``max_per_img``); ``multi_label=False`` keeps each prior's best class only.

    Args:
        num_classes (int): classes.
        in_channels (Sequence[int]): widths of the neck's levels.
        strides (Sequence[int]): their strides.
        reg_max (int): distance bins per side.
        prior_generator (dict): cell centres (``MlvlPointGenerator``, offset 0.5).
        bbox_coder (dict): distances to boxes (``DistancePointBBoxCoder``).
        loss_cls, loss_bbox, loss_dfl (dict): the three terms with their gains
            (YOLO11: 0.5, 7.5, 1.5).
        train_cfg (dict): ``assigner`` (default :class:`BatchTaskAlignedAssigner`).
        test_cfg (dict): post-processing.
    """

    def __init__(self,
                 num_classes: int,
                 in_channels: Sequence[int],
                 strides: Sequence[int] = (8, 16, 32),
                 reg_max: int = 16,
                 prior_generator: dict = dict(type='MlvlPointGenerator', offset=0.5),
                 bbox_coder: dict = dict(type='DistancePointBBoxCoder'),
                 loss_cls: dict = dict(type='CrossEntropyLoss', use_sigmoid=True,
                                       loss_weight=0.5),
                 loss_bbox: dict = dict(type='YOLOCIoULoss', loss_weight=7.5),
                 loss_dfl: dict = dict(type='DistributionFocalLoss', loss_weight=1.5),
                 train_cfg: Optional[dict] = None,
                 test_cfg: Optional[dict] = None,
                 init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        self.num_classes = self.cls_out_channels = num_classes
        self.use_sigmoid_cls = True
        self.strides = tuple(strides)
        self.reg_max = reg_max
        self.train_cfg = train_cfg
        self.test_cfg = test_cfg
        box_width = max(16, in_channels[0] // 4, 4 * reg_max)
        cls_width = max(in_channels[0], min(num_classes, 100))
        self.box_branches = nn.ModuleList(
            nn.Sequential(yolo_conv(c, box_width, 3), yolo_conv(box_width, box_width, 3),
                          nn.Conv2d(box_width, 4 * reg_max, 1)) for c in in_channels)
        self.cls_branches = nn.ModuleList(
            nn.Sequential(nn.Sequential(depthwise_conv(c, c, 3), yolo_conv(c, cls_width)),
                          nn.Sequential(depthwise_conv(cls_width, cls_width, 3),
                                        yolo_conv(cls_width, cls_width)),
                          nn.Conv2d(cls_width, num_classes, 1)) for c in in_channels)
        self.dfl = DistributionIntegral(reg_max)
        self.prior_generator = TASK_UTILS.build(
            dict(prior_generator, strides=[(s, s) for s in self.strides]))
        self.bbox_coder = TASK_UTILS.build(bbox_coder)
        self.loss_cls = MODELS.build(loss_cls)
        self.loss_bbox = MODELS.build(loss_bbox)
        self.loss_dfl = MODELS.build(loss_dfl)
        assigner = dict((train_cfg or {}).get('assigner', {}))
        assigner.setdefault('type', 'BatchTaskAlignedAssigner')
        assigner.setdefault('num_classes', num_classes)
        self.assigner = TASK_UTILS.build(assigner)

    def init_weights(self) -> None:
        """Box bins start at 2.0; a class starts at a prior of 5 objects per 640 px
        image at each level's cell density (the reference model's initialisation)."""
        super().init_weights()
        for box, cls, stride in zip(self.box_branches, self.cls_branches, self.strides):
            nn.init.constant_(box[-1].bias, 2.0)
            nn.init.constant_(cls[-1].bias,
                              math.log(5 / self.num_classes / (640 / stride) ** 2))

    def forward(self, feats: Sequence[Tensor]) -> Tuple[List[Tensor], List[Tensor]]:
        """Per level ``(B, num_classes, H, W)`` class logits and ``(B, 4 * reg_max, H,
        W)`` distance-bin logits."""
        cls_scores = [branch(x) for branch, x in zip(self.cls_branches, feats)]
        bbox_dists = [branch(x) for branch, x in zip(self.box_branches, feats)]
        return cls_scores, bbox_dists

    def decode(self, cls_scores: Sequence[Tensor], bbox_dists: Sequence[Tensor],
               xywh: bool = True) -> Tensor:
        """(B, 4 + num_classes, sum H*W), the reference model's eval output: boxes in
        pixels (centre, size with ``xywh``, else corners) and sigmoid class scores;
        cells row-major, levels in order."""
        b = cls_scores[0].shape[0]
        centres, strides = self.cell_centres(cls_scores)
        dists = self.dfl(torch.cat([d.view(b, 4 * self.reg_max, -1) for d in bbox_dists], 2))
        top_left, bottom_right = centres.T[None] - dists[:, :2], centres.T[None] + dists[:, 2:]
        boxes = torch.cat(((top_left + bottom_right) / 2, bottom_right - top_left), 1) if xywh \
            else torch.cat((top_left, bottom_right), 1)
        scores = torch.cat([s.view(b, self.num_classes, -1) for s in cls_scores], 2)
        return torch.cat((boxes * strides.T[None], scores.sigmoid()), 1)

    def cell_centres(self, cls_scores: Sequence[Tensor]) -> Tuple[Tensor, Tensor]:
        """(N, 2) cell centres in stride units and (N, 1) strides, levels in order."""
        priors = self.prior_generator.grid_priors(
            [s.shape[2:] for s in cls_scores], dtype=cls_scores[0].dtype,
            device=cls_scores[0].device, with_stride=True)
        priors = torch.cat(priors)
        return priors[:, :2] / priors[:, 2:3], priors[:, 2:3]

    # ---- inference -----------------------------------------------------------------

    def predict_by_feat(self, cls_scores: List[Tensor], bbox_dists: List[Tensor],
                        batch_img_metas: Optional[List[dict]] = None,
                        cfg: Optional[ConfigDict] = None, rescale: bool = False,
                        with_nms: bool = True) -> InstanceList:
        """MMDetection's post-processing on the expected distances (in pixels)."""
        bbox_preds = []
        for dist, stride in zip(bbox_dists, self.strides):
            b, _, h, w = dist.shape
            bbox_preds.append(self.dfl(dist.view(b, -1, h * w)).view(b, 4, h, w) * stride)
        return super().predict_by_feat(cls_scores, bbox_preds, None, batch_img_metas, cfg,
                                       rescale, with_nms)

    def _predict_by_feat_single(self, cls_score_list, bbox_pred_list, score_factor_list,
                                mlvl_priors, img_meta, cfg, rescale=False, with_nms=True):
        """MMDetection's per-image post-processing (every class of every prior a
        candidate, the reference's evaluation setting), or with ``test_cfg.multi_label
        = False`` each prior's best class only (the reference's ``predict``): its score
        above ``score_thr``, the ``nms_pre`` best of all levels, the same NMS on the
        unclipped boxes, then the boxes clipped to the image, as the reference does."""
        cfg = self.test_cfg if cfg is None else cfg
        if cfg.get('multi_label', True):
            return super()._predict_by_feat_single(cls_score_list, bbox_pred_list,
                                                   score_factor_list, mlvl_priors, img_meta,
                                                   cfg, rescale, with_nms)
        scores, labels = torch.cat([s.flatten(1) for s in cls_score_list], 1).max(0)
        scores = scores.sigmoid()
        bbox_preds = torch.cat([b.flatten(1) for b in bbox_pred_list], 1).t()
        priors = torch.cat(mlvl_priors)
        keep = (scores > cfg.get('score_thr', 0)).nonzero().squeeze(1)
        nms_pre = cfg.get('nms_pre', -1)
        if 0 < nms_pre < len(keep):
            keep = keep[scores[keep].topk(nms_pre).indices]
        results = InstanceData(bboxes=self.bbox_coder.decode(priors[keep], bbox_preds[keep]),
                               scores=scores[keep], labels=labels[keep])
        results = self._bbox_post_process(results=results, cfg=cfg, rescale=rescale,
                                          with_nms=with_nms, img_meta=img_meta)
        # As the reference: NMS on the unclipped boxes, then clipped to the image.
        height, width = img_meta['ori_shape'] if rescale else img_meta['img_shape']
        results.bboxes[:, 0::2] = results.bboxes[:, 0::2].clamp(0, width)
        results.bboxes[:, 1::2] = results.bboxes[:, 1::2].clamp(0, height)
        return results

    def _bbox_post_process(self, results: InstanceData, cfg: ConfigDict,
                           rescale: bool = False, with_nms: bool = True,
                           img_meta: Optional[dict] = None) -> InstanceData:
        """MMDetection's post-processing, with plain NMS (``nms=dict(type='nms',
        iou_threshold=...)``) run by torchvision's ``batched_nms`` (each class on its
        own above 4,000 candidates on a CPU, as Ultralytics' NMS runs too): on the 8,400
        candidates of a 640-px image mmcv's ``batched_nms`` took 49 ms against
        torchvision's 27 (2 CPU threads), the largest part of YOLO11's post-processing.
        Any other NMS (soft NMS, or options beyond the IoU) is mmcv's, as before."""
        nms = cfg.get('nms') if with_nms else None
        if not nms or nms.get('type', 'nms') != 'nms' or set(nms) - {'type', 'iou_threshold'}:
            return super()._bbox_post_process(results, cfg, rescale, with_nms, img_meta)
        results = super()._bbox_post_process(results, cfg, rescale, False, img_meta)
        if results.bboxes.numel() > 0:
            keep = torchvision.ops.batched_nms(results.bboxes, results.scores,
                                               results.labels, nms['iou_threshold'])
            results = results[keep[:cfg.max_per_img]]
        return results

    # ---- training ------------------------------------------------------------------

    def loss_by_feat(self, cls_scores: List[Tensor], bbox_dists: List[Tensor],
                     batch_gt_instances: InstanceList, batch_img_metas: List[dict],
                     batch_gt_instances_ignore: OptInstanceList = None) -> Dict[str, Tensor]:
        """``loss_cls``, ``loss_bbox`` and ``loss_dfl`` of YOLO11 (ignored boxes are not
        used: the reference has none)."""
        num_imgs = len(batch_img_metas)
        centres, strides = self.cell_centres(cls_scores)
        flat_scores = torch.cat([s.flatten(2) for s in cls_scores], 2).transpose(1, 2)
        flat_dists = torch.cat([d.flatten(2) for d in bbox_dists], 2)
        pred_bboxes = distance2bbox(centres, self.dfl(flat_dists).transpose(1, 2))  # strides
        flat_dists = flat_dists.transpose(1, 2)

        gt_labels, gt_bboxes, gt_mask = self.padded_gt(batch_gt_instances, flat_scores)
        assigned = self.assigner(flat_scores.detach().sigmoid(),
                                 (pred_bboxes.detach() * strides).to(gt_bboxes.dtype),
                                 centres * strides, gt_labels, gt_bboxes, gt_mask)
        self.hand_over_assignment(assigned)
        target_scores = assigned['scores']
        avg_factor = target_scores.sum().clamp(min=1)

        loss_cls = self.loss_cls(flat_scores.reshape(-1, self.num_classes),
                                 target_scores.reshape(-1, self.num_classes).to(flat_scores),
                                 avg_factor=avg_factor)
        fg = assigned['fg_mask']
        weight = target_scores[fg].sum(-1)
        fg_centres = centres.expand(num_imgs, -1, -1)[fg]
        target_bboxes = assigned['bboxes'][fg] / strides.expand(num_imgs, -1, -1)[fg]
        loss_bbox = self.loss_bbox(pred_bboxes[fg], target_bboxes, weight=weight,
                                   avg_factor=avg_factor)
        target_dists = torch.cat((fg_centres - target_bboxes[:, :2],
                                  target_bboxes[:, 2:] - fg_centres), 1)
        target_dists = target_dists.clamp(0, self.reg_max - 1 - 0.01)
        loss_dfl = self.loss_dfl(flat_dists[fg].reshape(-1, self.reg_max), target_dists.flatten(),
                                 weight=weight[:, None].expand(-1, 4).flatten(),
                                 avg_factor=4 * avg_factor)
        if not fg.any():  # keep the box branches in the graph (data-parallel waits on them)
            loss_bbox = loss_bbox + flat_dists.sum() * 0
            loss_dfl = loss_dfl + flat_dists.sum() * 0
        return dict(loss_cls=loss_cls * num_imgs, loss_bbox=loss_bbox * num_imgs,
                    loss_dfl=loss_dfl * num_imgs)

    def hand_over_assignment(self, assigned: Dict[str, Tensor]) -> None:
        """Called with this step's assignment (see :class:`BatchTaskAlignedAssigner`);
        a joint head passes it to its contrastive branch."""

    @staticmethod
    def padded_gt(batch_gt_instances: Sequence[InstanceData],
                  like: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        """(B, G) labels, (B, G, 4) boxes and (B, G) validity of the ground truth, padded
        to the most boxes of an image."""
        num_gts = max([len(gt) for gt in batch_gt_instances] + [0])
        batch = len(batch_gt_instances)
        labels = torch.zeros(batch, num_gts, dtype=torch.long, device=like.device)
        bboxes = like.new_zeros(batch, num_gts, 4, dtype=torch.float)
        mask = torch.zeros(batch, num_gts, dtype=torch.bool, device=like.device)
        for i, gt in enumerate(batch_gt_instances):
            n = len(gt)
            labels[i, :n] = gt.labels
            bboxes[i, :n] = gt.bboxes if isinstance(gt.bboxes, Tensor) else gt.bboxes.tensor
            mask[i, :n] = True
        return labels, bboxes, mask
