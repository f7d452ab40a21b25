"""The contrastive branch of one-stage heads: one embedding per grid cell."""
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from mmdet.registry import MODELS
from .contrastive_branch import ContrastiveBranch
from .score_fusion import fuse_sigmoid_scores


@MODELS.register_module()
class GridContrastiveBranch(ContrastiveBranch):
    """Projects a one-stage head's classification features to the text space.

    On every pyramid level a two-layer projection (1x1 convolutions) maps the feature
    that feeds the head's classifier, ``(B, in_channels, H, W)``, to ``(B, D, H, W)``;
    the bank scores every cell (L2-normalised there) against the class texts. The head
    hands over the per-cell targets of its own assignment, levels concatenated in its
    flattening order: labels (``num_classes`` for background) and weights (0 =
    ignored).

    In training only the cells the loss uses are projected (a 1x1 convolution is per
    cell, so this is exact): every positive, and background cells drawn at random, at
    most ``negative_ratio`` per positive and at least ``min_negatives`` per batch, as
    the RoI sampler does for RoIs. A level where no cell is drawn adds a zero with a
    graph to its projection, so every parameter has a gradient on every step (which
    data-parallel training waits for). The terms are normalised by the positives of
    all processes, as the one-stage heads' own terms are.

    Args:
        in_channels (int): channels of the classification features (set by the head).
        num_levels (int): pyramid levels, one projection each (set by the head).
        hidden_channels (int, optional): hidden width of the projection (default
            ``in_channels``).
        negative_ratio (float, optional): background cells drawn per positive for the
            auxiliary term; None uses every cell (10-15% more training time on
            YOLOX-tiny / RTMDet-tiny).
        min_negatives (int): background cells drawn per batch at least (so that batches
            without objects still train the background embedding).
        **kwargs: :class:`ContrastiveBranch`'s arguments.
    """

    reduce_avg_factor = True

    def __init__(self,
                 in_channels: int,
                 num_levels: int,
                 hidden_channels: Optional[int] = None,
                 negative_ratio: Optional[float] = 3.0,
                 min_negatives: int = 64,
                 **kwargs):
        super().__init__(**kwargs)
        hidden_channels = hidden_channels or in_channels
        self.projections = nn.ModuleList(
            nn.Sequential(
                nn.Conv2d(in_channels, hidden_channels, 1), nn.SiLU(inplace=True),
                nn.Conv2d(hidden_channels, self.text_bank.embed_dims, 1))
            for _ in range(num_levels))
        self.negative_ratio = negative_ratio
        self.min_negatives = min_negatives

    @property
    def num_inputs(self) -> int:
        return len(self.projections)

    def embed(self, features: Sequence[Tensor]) -> List[Tensor]:
        """(B, D, H, W) cell embeddings (not yet normalised) of each level."""
        return [proj(feat) for proj, feat in zip(self.projections, features)]

    def cell_logits(self, cell_embeds: Sequence[Tensor]) -> Tensor:
        """(B, sum H*W, C [+1]) bank logits, levels concatenated as the heads flatten them."""
        flat = torch.cat([e.flatten(2) for e in cell_embeds], 2).transpose(1, 2)
        return self.text_bank(flat.reshape(-1, flat.shape[-1])).view(*flat.shape[:2], -1)

    def fuse(self, cls_scores: Sequence[Tensor], features: List[Tensor]) -> List[Tensor]:
        """Per level (B, C, H, W): ``logit((1 - w) sigmoid(s) + w p_contrastive)``."""
        probs = self.cell_logits(self.embed(features)).softmax(-1)[..., :self.num_classes]
        fused, start = [], 0
        for score in cls_scores:
            b, c, h, w = score.shape
            level = probs[:, start:start + h * w].transpose(1, 2).reshape(b, c, h, w)
            start += h * w
            fused.append(fuse_sigmoid_scores(score, level, self.fusion_weight))
        return fused

    def sample_cells(self, labels: Tensor, weights: Tensor) -> Tensor:
        """Flat indices into (B * N) of the cells the loss uses: every positive, and
        background cells drawn at random (``negative_ratio`` per positive, at least
        ``min_negatives``); ignored cells (weight 0) never."""
        labels, weights = labels.flatten(), weights.flatten()
        usable = weights > 0
        positive = usable & (labels < self.num_classes)
        negative = (usable & ~positive).nonzero().squeeze(1)
        if self.negative_ratio is not None:
            wanted = max(int(self.negative_ratio * positive.sum()), self.min_negatives)
            if wanted < len(negative):
                pick = torch.randperm(len(negative), device=negative.device)[:wanted]
                negative = negative[pick]
        return torch.cat([positive.nonzero().squeeze(1), negative]).sort().values

    def _level_blocks(self, features: Sequence[Tensor], cells: Tensor):
        """Per level holding some of the flat (B * N) ``cells``: (projection, their
        (M_l, in_channels) features, their positions in ``cells``); and a zero with a
        graph to the projections of the levels holding none."""
        sizes = [f.shape[2] * f.shape[3] for f in features]
        total = sum(sizes)
        image, index = cells // total, cells % total
        blocks = []
        unused = features[0].new_zeros(())
        start = 0
        for proj, feat, size in zip(self.projections, features, sizes):
            chosen = ((index >= start) & (index < start + size)).nonzero().squeeze(1)
            if len(chosen):
                # (B * H * W, C) rows, then index_select: its backward is an index_add,
                # where indexing (B, C, H*W) directly needs an accumulating index_put.
                rows = feat.flatten(2).transpose(1, 2).reshape(-1, feat.shape[1])
                blocks.append((proj, rows.index_select(
                    0, image[chosen] * size + index[chosen] - start), chosen))
            else:
                unused = unused + sum(p.sum() for p in proj.parameters()) * 0.0
            start += size
        return blocks, unused

    def embed_cells(self, features: Sequence[Tensor],
                    cells: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        """Embeddings of the given flat (B * N) cells only, level by level.

        Returns:
            tuple: (M, D) embeddings, the (M,) cells they belong to (``cells`` grouped by
            level: each level's embeddings are one block, concatenated without a scatter
            into a buffer), and a zero with a graph to the projections of levels without
            any of the cells.
        """
        blocks, unused = self._level_blocks(features, cells)
        if not blocks:
            return features[0].new_zeros(0, self.text_bank.embed_dims), cells[:0], unused
        return (torch.cat([self.project_cells(proj, feats) for proj, feats, _ in blocks]),
                cells[torch.cat([chosen for _, _, chosen in blocks])], unused)

    @staticmethod
    def project_cells(projection: nn.Sequential, cells: Tensor) -> Tensor:
        """(M, in_channels) gathered cells through a level's projection: its 1x1
        convolutions as matrix products with the same weights (the same arithmetic;
        a convolution of M one-pixel images is several times slower on the CPU,
        forward and backward)."""
        for layer in projection:
            if isinstance(layer, nn.Conv2d):
                cells = F.linear(cells, layer.weight.flatten(1), layer.bias)
            else:
                cells = layer(cells)
        return cells

    def embed_for_loss(self, features: List[Tensor], labels: Tensor,
                       weights: Tensor) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
        num_cells = sum(f.shape[2] * f.shape[3] for f in features)
        if labels.shape != (features[0].shape[0], num_cells):
            raise RuntimeError(f'GridContrastiveBranch: targets of shape {tuple(labels.shape)} '
                               f'for {features[0].shape[0]} images of {num_cells} cells: the '
                               f'head and the branch flatten levels differently')
        embeds, cells, unused = self.embed_cells(features, self.sample_cells(labels, weights))
        return embeds, labels.flatten()[cells], weights.flatten()[cells], unused
