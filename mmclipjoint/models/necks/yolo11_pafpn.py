"""YOLO11's path-aggregation neck as an MMDetection neck."""
from typing import Sequence, Tuple

import torch
import torch.nn as nn
from mmengine.model import BaseModule
from torch import Tensor

from mmdet.registry import MODELS
from ..layers.yolo11_blocks import C3k2, scaled_channels, scaled_depth, yolo11_scale, yolo_conv


@MODELS.register_module()
class YOLO11PAFPN(BaseModule):
    """YOLO11's PAFPN: top-down (upsample, concatenate with the lateral feature, C3k2)
    from P5 to P3, then bottom-up (stride-2 convolution, concatenate, C3k2) to P5; the
    moved tensor comes first in every concatenation. The last C3k2 uses C3k blocks
    (every C3k2 at m / l / x).

    Args:
        scale (str): the backbone's scale.
        in_channels (Sequence[int]): widths of P3, P4, P5 from the backbone.

    Returns (forward):
        tuple[Tensor]: P3, P4, P5 outputs, ``(B, out_channels[i], H_i, W_i)``.
    """

    def __init__(self, scale: str, in_channels: Sequence[int], init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        s = yolo11_scale(scale)

        def ch(c):
            return scaled_channels(c, s['width'], s['max_channels'])
        reps, c3k = scaled_depth(2, s['depth']), s['all_c3k']
        p3, p4, p5 = in_channels
        self.upsample = nn.Upsample(scale_factor=2, mode='nearest')
        self.top_down_p4 = C3k2(p5 + p4, ch(512), reps, c3k)
        self.top_down_p3 = C3k2(ch(512) + p3, ch(256), reps, c3k)
        self.downsample_p3 = yolo_conv(ch(256), ch(256), 3, 2)
        self.bottom_up_p4 = C3k2(ch(256) + ch(512), ch(512), reps, c3k)
        self.downsample_p4 = yolo_conv(ch(512), ch(512), 3, 2)
        self.bottom_up_p5 = C3k2(ch(512) + p5, ch(1024), reps, True)
        self.out_channels = [ch(256), ch(512), ch(1024)]

    def forward(self, inputs: Sequence[Tensor]) -> Tuple[Tensor, Tensor, Tensor]:
        p3, p4, p5 = inputs
        top_p4 = self.top_down_p4(torch.cat([self.upsample(p5), p4], 1))
        out_p3 = self.top_down_p3(torch.cat([self.upsample(top_p4), p3], 1))
        out_p4 = self.bottom_up_p4(torch.cat([self.downsample_p3(out_p3), top_p4], 1))
        out_p5 = self.bottom_up_p5(torch.cat([self.downsample_p4(out_p4), p5], 1))
        return out_p3, out_p4, out_p5
