"""YOLO11's backbone as an MMDetection backbone."""
from typing import Sequence, Tuple

import torch.nn as nn
from mmengine.model import BaseModule
from torch import Tensor

from mmdet.registry import MODELS
from ..layers.yolo11_blocks import (C2PSA, SPPF, C3k2, scaled_channels, scaled_depth, yolo11_scale,
                                    yolo_conv)


@MODELS.register_module()
class YOLO11Backbone(BaseModule):
    """The YOLO11 backbone at one of its scales (n / s / m / l / x).

    Eleven layers, as the architecture numbers them: two stride-2 convolutions, then
    three stages of (stride-2 convolution, C3k2), a last stride-2 convolution and C3k2,
    SPPF and C2PSA. The C3k2 of P2/P3 use expansion 0.25, those of P4/P5 C3k blocks
    (every C3k2 at m / l / x).

    Args:
        scale (str): ``'n'``, ``'s'``, ``'m'``, ``'l'`` or ``'x'``.
        in_channels (int): image channels.
        out_indices (Sequence[int]): layers whose outputs are returned; default the
            P3 / P4 / P5 features (layers 4, 6, 10; strides 8, 16, 32).

    Returns (forward):
        tuple[Tensor]: ``(B, C_i, H / s_i, W / s_i)`` per index.
    """

    def __init__(self, scale: str = 'n', in_channels: int = 3,
                 out_indices: Sequence[int] = (4, 6, 10), init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        s = yolo11_scale(scale)

        def ch(c):
            return scaled_channels(c, s['width'], s['max_channels'])
        reps = scaled_depth(2, s['depth'])
        widths = [ch(c) for c in (64, 128, 256, 256, 512, 512, 512, 1024, 1024, 1024, 1024)]
        self.layers = nn.ModuleList([
            yolo_conv(in_channels, widths[0], 3, 2),
            yolo_conv(widths[0], widths[1], 3, 2),
            C3k2(widths[1], widths[2], reps, s['all_c3k'], 0.25),
            yolo_conv(widths[2], widths[3], 3, 2),
            C3k2(widths[3], widths[4], reps, s['all_c3k'], 0.25),
            yolo_conv(widths[4], widths[5], 3, 2),
            C3k2(widths[5], widths[6], reps, True),
            yolo_conv(widths[6], widths[7], 3, 2),
            C3k2(widths[7], widths[8], reps, True),
            SPPF(widths[8], widths[9], 5),
            C2PSA(widths[9], widths[10], reps),
        ])
        self.out_indices = tuple(out_indices)
        self.out_channels = [widths[i] for i in self.out_indices]

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        outs = []
        for index, layer in enumerate(self.layers):
            x = layer(x)
            if index in self.out_indices:
                outs.append(x)
        return tuple(outs)
