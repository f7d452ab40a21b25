"""YOLO11's detection head layers: decoupled box and class branches per level."""
import math
from typing import List, Sequence, Tuple

import torch
import torch.nn as nn
from mmengine.model import BaseModule
from torch import Tensor

from mmdet.registry import MODELS
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
class YOLO11HeadModule(BaseModule):
    """The layers of YOLO11's head, per level:

    * box branch: two 3x3 Conv-BN-SiLU of width ``max(16, C_0 / 4, 4 * reg_max)``, then
      a 1x1 convolution to ``4 * reg_max`` distance-bin logits (left, top, right,
      bottom);
    * class branch: (depthwise 3x3, 1x1) twice, of width ``max(C_0, min(classes, 100))``,
      then a 1x1 convolution to the class logits.

    Args:
        num_classes (int): classes.
        in_channels (Sequence[int]): widths of the neck's levels.
        strides (Sequence[int]): their strides (for the bias initialisation and decoding).
        reg_max (int): distance bins per side.

    Returns (forward):
        tuple[list[Tensor], list[Tensor]]: per level ``(B, num_classes, H, W)`` class
        logits and ``(B, 4 * reg_max, H, W)`` distance-bin logits.
    """

    def __init__(self, num_classes: int, in_channels: Sequence[int],
                 strides: Sequence[int] = (8, 16, 32), reg_max: int = 16, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        self.num_classes = num_classes
        self.strides = tuple(strides)
        self.reg_max = reg_max
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

    def init_weights(self) -> None:
        """Box bins start at 2.0; a class starts at a prior of 5 objects per 640 px
        image at each level's cell density (the reference model's initialisation)."""
        super().init_weights()
        for box, cls, stride in zip(self.box_branches, self.cls_branches, self.strides):
            nn.init.constant_(box[-1].bias, 2.0)
            nn.init.constant_(cls[-1].bias,
                              math.log(5 / self.num_classes / (640 / stride) ** 2))

    def forward(self, feats: Sequence[Tensor]) -> Tuple[List[Tensor], List[Tensor]]:
        cls_scores = [branch(x) for branch, x in zip(self.cls_branches, feats)]
        bbox_dists = [branch(x) for branch, x in zip(self.box_branches, feats)]
        return cls_scores, bbox_dists

    def decode(self, cls_scores: Sequence[Tensor], bbox_dists: Sequence[Tensor],
               xywh: bool = True) -> Tensor:
        """(B, 4 + num_classes, sum H*W): boxes in pixels (centre, size with ``xywh``,
        else corners) from the expected distances to each cell centre, and sigmoid class
        scores; cells row-major, levels in order."""
        b = cls_scores[0].shape[0]
        centres, strides = [], []
        for score, stride in zip(cls_scores, self.strides):
            h, w = score.shape[2:]
            ys, xs = torch.meshgrid(torch.arange(h, device=score.device) + 0.5,
                                    torch.arange(w, device=score.device) + 0.5, indexing='ij')
            centres.append(torch.stack((xs, ys), 0).view(2, -1).to(score.dtype))
            strides.append(score.new_full((1, h * w), stride))
        centres, strides = torch.cat(centres, 1)[None], torch.cat(strides, 1)[None]
        dists = self.dfl(torch.cat([d.view(b, 4 * self.reg_max, -1) for d in bbox_dists], 2))
        top_left, bottom_right = centres - dists[:, :2], centres + dists[:, 2:]
        boxes = torch.cat(((top_left + bottom_right) / 2, bottom_right - top_left), 1) if xywh \
            else torch.cat((top_left, bottom_right), 1)
        scores = torch.cat([s.view(b, self.num_classes, -1) for s in cls_scores], 2)
        return torch.cat((boxes * strides, scores.sigmoid()), 1)
