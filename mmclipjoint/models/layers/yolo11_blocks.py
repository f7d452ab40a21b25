"""The building blocks of YOLO11, written from the architecture for MMDetection.

Every convolution is mmcv's ``ConvModule`` (convolution without bias, BatchNorm with
YOLO's eps 1e-3 and momentum 0.03, SiLU), whose ``conv`` / ``bn`` names match the
architecture's, and the blocks keep the architecture's layer names (``cv1``, ``cv2``,
``m``, ``qkv``...), so that a checkpoint of the reference implementation converts by
position (``mmclipjoint.utils.ultralytics``). Shapes: every block maps
``(B, c1, H, W)`` to ``(B, c2, H, W)``; ``yolo_conv`` with ``stride=2`` halves H and W.
"""
import math
from typing import Sequence

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule
from torch import Tensor

YOLO_NORM = dict(type='BN', momentum=0.03, eps=0.001)
YOLO_ACT = dict(type='SiLU')


def yolo_conv(in_channels: int, out_channels: int, kernel_size: int = 1, stride: int = 1,
              groups: int = 1, act: bool = True) -> ConvModule:
    """Conv-BN-SiLU with 'same' padding (no activation with ``act=False``).

    The SiLU is not in place (ConvModule's default is): in training, autograd keeps a
    copy of an in-place SiLU's input for its backward, one more pass over every
    activation map (measured: the YOLO11n step 3% slower than Ultralytics', whose SiLU is
    not in place)."""
    return ConvModule(in_channels, out_channels, kernel_size, stride, padding=kernel_size // 2,
                      groups=groups, norm_cfg=YOLO_NORM, act_cfg=YOLO_ACT if act else None,
                      inplace=False)


def depthwise_conv(in_channels: int, out_channels: int, kernel_size: int) -> ConvModule:
    """Conv-BN-SiLU grouped by the channels' greatest common divisor."""
    return yolo_conv(in_channels, out_channels, kernel_size,
                     groups=math.gcd(in_channels, out_channels))


class Bottleneck(nn.Module):
    """Two convolutions (hidden width ``expansion * out_channels``), residual when the
    widths agree and ``shortcut``."""

    def __init__(self, in_channels: int, out_channels: int, shortcut: bool = True,
                 kernel_sizes: Sequence[int] = (3, 3), expansion: float = 0.5):
        super().__init__()
        hidden = int(out_channels * expansion)
        self.cv1 = yolo_conv(in_channels, hidden, kernel_sizes[0])
        self.cv2 = yolo_conv(hidden, out_channels, kernel_sizes[1])
        self.add = shortcut and in_channels == out_channels

    def forward(self, x: Tensor) -> Tensor:
        y = self.cv2(self.cv1(x))
        return x + y if self.add else y


class C3k(nn.Module):
    """CSP block with two paths: ``num_blocks`` bottlenecks of kernel ``kernel_size``
    on one, a 1x1 convolution on the other, fused by a 1x1 convolution."""

    def __init__(self, in_channels: int, out_channels: int, num_blocks: int = 2,
                 shortcut: bool = True, expansion: float = 0.5, kernel_size: int = 3):
        super().__init__()
        hidden = int(out_channels * expansion)
        self.cv1 = yolo_conv(in_channels, hidden)
        self.cv2 = yolo_conv(in_channels, hidden)
        self.cv3 = yolo_conv(2 * hidden, out_channels)
        self.m = nn.Sequential(*(Bottleneck(hidden, hidden, shortcut, (kernel_size, ) * 2, 1.0)
                                 for _ in range(num_blocks)))

    def forward(self, x: Tensor) -> Tensor:
        return self.cv3(torch.cat((self.m(self.cv1(x)), self.cv2(x)), 1))


class C3k2(nn.Module):
    """YOLO11's CSP block: a 1x1 convolution split in two halves, blocks chained on the
    second (a bottleneck, or a :class:`C3k` with ``c3k``), every intermediate
    concatenated and fused by a 1x1 convolution."""

    def __init__(self, in_channels: int, out_channels: int, num_blocks: int = 1,
                 c3k: bool = False, expansion: float = 0.5, shortcut: bool = True):
        super().__init__()
        self.c = int(out_channels * expansion)
        self.cv1 = yolo_conv(in_channels, 2 * self.c)
        self.cv2 = yolo_conv((2 + num_blocks) * self.c, out_channels)
        self.m = nn.ModuleList(
            C3k(self.c, self.c, 2, shortcut) if c3k else Bottleneck(self.c, self.c, shortcut)
            for _ in range(num_blocks))

    def forward(self, x: Tensor) -> Tensor:
        y = list(self.cv1(x).chunk(2, 1))
        for block in self.m:
            y.append(block(y[-1]))
        return self.cv2(torch.cat(y, 1))


class SPPF(nn.Module):
    """Spatial pyramid pooling, fast: a 1x1 Conv-BN-SiLU, then ``repeats`` chained
    max-poolings, all concatenated and fused. (Ultralytics' ``SPPF`` class builds its
    first convolution without activation, for YOLO26, but gives it the SiLU back when it
    parses a YOLO11 yaml row; YOLO11 has the activation.)"""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 5,
                 repeats: int = 3):
        super().__init__()
        hidden = in_channels // 2
        self.cv1 = yolo_conv(in_channels, hidden)
        self.cv2 = yolo_conv(hidden * (repeats + 1), out_channels)
        self.m = nn.MaxPool2d(kernel_size, stride=1, padding=kernel_size // 2)
        self.repeats = repeats

    def forward(self, x: Tensor) -> Tensor:
        y = [self.cv1(x)]
        for _ in range(self.repeats):
            y.append(self.m(y[-1]))
        return self.cv2(torch.cat(y, 1))


class Attention(nn.Module):
    """Multi-head self-attention over the H*W positions, with a depthwise 3x3 positional
    encoding of the values. ``qkv`` emits, per head, its query and key
    (``attn_ratio * head_dim`` channels each) and value (``head_dim``), interleaved."""

    def __init__(self, dim: int, num_heads: int = 8, attn_ratio: float = 0.5):
        super().__init__()
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.key_dim = int(self.head_dim * attn_ratio)
        self.scale = self.key_dim ** -0.5
        self.qkv = yolo_conv(dim, dim + 2 * self.key_dim * num_heads, act=False)
        self.proj = yolo_conv(dim, dim, act=False)
        self.pe = yolo_conv(dim, dim, 3, groups=dim, act=False)

    def forward(self, x: Tensor) -> Tensor:
        b, c, h, w = x.shape
        q, k, v = self.qkv(x).view(b, self.num_heads, 2 * self.key_dim + self.head_dim,
                                   h * w).split([self.key_dim, self.key_dim, self.head_dim], 2)
        attn = ((q * self.scale).transpose(-2, -1) @ k).softmax(dim=-1)
        out = (v @ attn.transpose(-2, -1)).view(b, c, h, w) + self.pe(v.reshape(b, c, h, w))
        return self.proj(out)


class PSABlock(nn.Module):
    """Attention then a two-layer 1x1 feed-forward, each residual."""

    def __init__(self, channels: int, attn_ratio: float = 0.5, num_heads: int = 4):
        super().__init__()
        self.attn = Attention(channels, num_heads, attn_ratio)
        self.ffn = nn.Sequential(yolo_conv(channels, 2 * channels),
                                 yolo_conv(2 * channels, channels, act=False))

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.attn(x)
        return x + self.ffn(x)


class C2PSA(nn.Module):
    """A 1x1 convolution split in two halves; :class:`PSABlock` s (one head per 64
    channels) on the second; both fused by a 1x1 convolution."""

    def __init__(self, in_channels: int, out_channels: int, num_blocks: int = 1,
                 expansion: float = 0.5):
        super().__init__()
        if in_channels != out_channels:
            raise ValueError(f'C2PSA keeps its width: in_channels {in_channels} != '
                             f'out_channels {out_channels}')
        self.c = int(in_channels * expansion)
        self.cv1 = yolo_conv(in_channels, 2 * self.c)
        self.cv2 = yolo_conv(2 * self.c, in_channels)
        self.m = nn.Sequential(*(PSABlock(self.c, 0.5, max(self.c // 64, 1))
                                 for _ in range(num_blocks)))

    def forward(self, x: Tensor) -> Tensor:
        a, b = self.cv1(x).split((self.c, self.c), 1)
        return self.cv2(torch.cat((a, self.m(b)), 1))


def scaled_channels(channels: int, width: float, max_channels: int,
                    divisor: int = 8) -> int:
    """A layer's width at a scale: capped, multiplied, rounded up to ``divisor``."""
    return int(math.ceil(min(channels, max_channels) * width / divisor) * divisor)


def scaled_depth(repeats: int, depth: float) -> int:
    """A block's repeats at a scale (a single block stays single)."""
    return max(round(repeats * depth), 1) if repeats > 1 else repeats


# depth multiple, width multiple, channel cap of YOLO11's scales.
YOLO11_SCALES = dict(n=(0.50, 0.25, 1024), s=(0.50, 0.50, 1024), m=(0.50, 1.00, 512),
                     l=(1.00, 1.00, 512), x=(1.00, 1.50, 512))


def yolo11_scale(scale: str) -> dict:
    """The scale's factors, and its rule that every C3k2 uses C3k blocks at m / l / x."""
    if scale not in YOLO11_SCALES:
        raise ValueError(f"YOLO11 scale must be one of {sorted(YOLO11_SCALES)}, got '{scale}'")
    depth, width, max_channels = YOLO11_SCALES[scale]
    return dict(depth=depth, width=width, max_channels=max_channels,
                all_c3k=scale in ('m', 'l', 'x'))
