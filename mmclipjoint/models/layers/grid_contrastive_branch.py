"""The contrastive branch of one-stage heads, on grid features: one piece, many heads."""
import contextlib
from typing import List, Optional, Sequence

import torch
import torch.nn as nn
from mmengine.model import BaseModule
from torch import Tensor

from mmdet.registry import MODELS

from ..contrastive_scores import check_bank_matches_head

INFERENCE_MODES = ('stock', 'fused')


@contextlib.contextmanager
def recorded_assignments(assigner):
    """Record the ``AssignResult`` of every ``assigner.assign`` call inside the block.

    The head's own assignment of this very step is what the contrastive loss must use;
    recording it (rather than assigning again) guarantees the same positives.
    """
    results = []
    assign = assigner.assign
    patched_before = 'assign' in vars(assigner)

    def recording_assign(*args, **kwargs):
        result = assign(*args, **kwargs)
        results.append(result)
        return result

    assigner.assign = recording_assign
    try:
        yield results
    finally:
        if patched_before:
            assigner.assign = assign
        else:
            del assigner.assign  # back to the class's method


@MODELS.register_module()
class GridContrastiveBranch(BaseModule):
    """Projects a one-stage head's classification features to the text embedding space.

    On every pyramid level a two-layer projection (1x1 convolutions) maps the feature
    that feeds the head's classifier, ``(B, in_channels, H, W)``, to ``(B, D, H, W)``; the
    :class:`TextEmbeddingBank` scores every cell (L2-normalised there) against the class
    text embeddings. The head provides the per-cell targets of its own assignment
    (labels with ``num_classes`` for background, and weights) and the branch computes
    ``loss_contrastive`` over them.

    A head uses it in three places: ``attach`` to its per-level classifier layers (a
    forward pre-hook takes their input, so the head's forward is not re-implemented),
    ``after_forward`` on its class scores (keeps the features in training, fuses scores
    with ``inference='fused'``), and ``loss`` in its ``loss_by_feat``.

    In training only the cells the loss uses are projected (a 1x1 convolution is per
    cell, so this is exact): every positive, and background cells sampled at random, at
    most ``negative_ratio`` per positive and at least ``min_negatives`` per batch, as the
    two-stage head's RoI sampler does for RoIs. Projecting all cells (``negative_ratio=
    None``) costs 10-15% more training time on YOLOX-tiny / RTMDet-tiny.

    Args:
        in_channels (int): channels of the classification features.
        num_levels (int): number of pyramid levels (one projection each).
        text_bank (dict): config of a :class:`TextEmbeddingBank`.
        hidden_channels (int, optional): hidden width of the projection (default
            ``in_channels``).
        loss_contrastive (dict): config of the loss (:class:`InfoNCELoss`).
        inference (str): ``'stock'`` (branch not computed at test time) or ``'fused'``
            (sigmoid class scores mixed with the contrastive class probabilities).
        fusion_weight (float): weight of the contrastive probabilities when fused.
        negative_ratio (float, optional): background cells sampled per positive cell for
            the auxiliary term; None uses every cell.
        min_negatives (int): background cells sampled per batch at least (so that batches
            without objects still train the background embedding).
    """

    def __init__(self,
                 in_channels: int,
                 num_levels: int,
                 text_bank: dict,
                 hidden_channels: Optional[int] = None,
                 loss_contrastive: dict = dict(
                     type='InfoNCELoss', aux_loss_weight=0.5, aux_samples='all'),
                 inference: str = 'stock',
                 fusion_weight: float = 0.5,
                 negative_ratio: Optional[float] = 3.0,
                 min_negatives: int = 64,
                 init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        if inference not in INFERENCE_MODES:
            raise ValueError(f'inference must be one of {INFERENCE_MODES}, got {inference!r}')
        self.text_bank = MODELS.build(text_bank)
        hidden_channels = hidden_channels or in_channels
        self.projections = nn.ModuleList(
            nn.Sequential(
                nn.Conv2d(in_channels, hidden_channels, 1), nn.SiLU(inplace=True),
                nn.Conv2d(hidden_channels, self.text_bank.embed_dims, 1))
            for _ in range(num_levels))
        self.loss_contrastive = MODELS.build(loss_contrastive)
        self.inference = inference
        self.fusion_weight = fusion_weight
        self.negative_ratio = negative_ratio
        self.min_negatives = min_negatives
        self._features: List[Optional[Tensor]] = [None] * num_levels
        self._train_features: Optional[List[Tensor]] = None

    def attach(self, cls_layers: Sequence[nn.Module]) -> None:
        """Take the input of each level's classifier layer as that level's feature."""
        if len(cls_layers) != len(self.projections):
            raise ValueError(f'{len(cls_layers)} classifier layers for '
                             f'{len(self.projections)} projection levels')
        for level, layer in enumerate(cls_layers):
            layer.register_forward_pre_hook(self._make_hook(level))

    def _make_hook(self, level: int):
        def keep_feature(module, inputs):
            self._features[level] = inputs[0]
        return keep_feature

    def embed(self, features: Sequence[Tensor]) -> List[Tensor]:
        """(B, D, H, W) cell embeddings (not yet normalised) of each level."""
        return [proj(feat) for proj, feat in zip(self.projections, features)]

    def cell_logits(self, cell_embeds: Sequence[Tensor]) -> Tensor:
        """(B, sum H*W, C [+1]) bank logits, levels concatenated as the heads flatten them."""
        flat = torch.cat([e.flatten(2) for e in cell_embeds], 2).transpose(1, 2)
        return self.text_bank(flat.reshape(-1, flat.shape[-1])).view(*flat.shape[:2], -1)

    def after_forward(self, cls_scores: Sequence[Tensor]) -> List[Tensor]:
        """Called by the head after its stock forward, with its per-level class scores.

        Returns:
            list[Tensor]: the class scores, unchanged unless fused at inference, where
            each (B, C, H, W) level holds ``logit((1 - w) sigmoid(s) + w p_contrastive)``
            so that the head's stock ``sigmoid`` returns the fused probabilities.
        """
        features, self._features = self._features, [None] * len(self.projections)
        cls_scores = list(cls_scores)
        if self.training:
            self._train_features = features
        elif self.inference == 'fused':
            cls_scores = self._fuse(cls_scores, self.embed(features))
        return cls_scores

    def _fuse(self, cls_scores: List[Tensor], cell_embeds: List[Tensor]) -> List[Tensor]:
        num_classes = self.text_bank.num_classes
        probs = self.cell_logits(cell_embeds).softmax(-1)[..., :num_classes]  # (B, N, C)
        fused, start = [], 0
        for score in cls_scores:
            b, c, h, w = score.shape
            level = probs[:, start:start + h * w].transpose(1, 2).reshape(b, c, h, w)
            start += h * w
            mixed = (1 - self.fusion_weight) * score.float().sigmoid() + \
                self.fusion_weight * level
            fused.append(torch.logit(mixed.clamp(1e-6, 1 - 1e-6)).to(score.dtype))
        return fused

    def sample_cells(self, labels: Tensor, weights: Tensor) -> Tensor:
        """Flat indices into (B * N) of the cells the loss uses: every positive, and
        background cells drawn at random (``negative_ratio`` per positive, at least
        ``min_negatives``); ignored cells (weight 0) never."""
        labels, weights = labels.flatten(), weights.flatten()
        usable = weights > 0
        positive = usable & (labels < self.text_bank.num_classes)
        negative = (usable & ~positive).nonzero().squeeze(1)
        if self.negative_ratio is not None:
            wanted = max(int(self.negative_ratio * positive.sum()), self.min_negatives)
            if wanted < len(negative):
                pick = torch.randperm(len(negative), device=negative.device)[:wanted]
                negative = negative[pick]
        return torch.cat([positive.nonzero().squeeze(1), negative]).sort().values

    def embed_cells(self, features: Sequence[Tensor], cells: Tensor) -> Tensor:
        """(len(cells), D) embeddings of the given flat (B * N) cells only."""
        sizes = [f.shape[2] * f.shape[3] for f in features]
        total = sum(sizes)
        image, index = cells // total, cells % total
        embeds = features[0].new_zeros(len(cells), self.text_bank.embed_dims)
        start = 0
        for proj, feat, size in zip(self.projections, features, sizes):
            chosen = (index >= start) & (index < start + size)
            if chosen.any():
                cell_feats = feat.flatten(2)[image[chosen], :, index[chosen] - start]
                embeds[chosen] = proj(cell_feats[..., None, None]).flatten(1).to(embeds.dtype)
            start += size
        return embeds

    def loss(self, labels: Tensor, weights: Tensor) -> dict:
        """Contrastive loss of the cells of the last training forward.

        Args:
            labels (Tensor): (B, N) the head's assigned labels per cell, levels
                concatenated in the head's flattening order, ``num_classes`` for
                background (negatives).
            weights (Tensor): (B, N) per-cell weights, 0 for ignored cells.

        Returns:
            dict: ``loss_infonce`` (and ``loss_aux_ce``), ``infonce_acc`` and
            ``text_logit_scale`` (logged).
        """
        features, self._train_features = self._train_features, None
        if features is None:
            raise RuntimeError('GridContrastiveBranch.loss needs the training forward first')
        num_cells = sum(f.shape[2] * f.shape[3] for f in features)
        if labels.shape != (features[0].shape[0], num_cells):
            raise RuntimeError(f'{tuple(labels.shape)} targets for {num_cells} cells per image: '
                               f'the head and the branch flatten levels differently')
        cells = self.sample_cells(labels, weights)
        logits = self.text_bank(self.embed_cells(features, cells))
        losses = self.loss_contrastive(logits, labels.flatten()[cells],
                                       self.text_bank.num_classes,
                                       weights=weights.flatten()[cells])
        # Logged (not optimised): how sharp the learned temperatures have become.
        losses['text_logit_scale'] = self.text_bank.logit_scale().detach().mean()
        return losses

def build_grid_branch(head, in_channels: int, num_levels: int, text_bank: dict,
                      proj_hidden_dims: Optional[int], loss_contrastive: Optional[dict],
                      inference: str, fusion_weight: float, negative_ratio: Optional[float],
                      min_negatives: int,
                      cls_layers: Sequence[nn.Module]) -> GridContrastiveBranch:
    """Build the branch for a head, check its classes, and attach it to ``cls_layers``."""
    cfg = dict(type='GridContrastiveBranch', in_channels=in_channels, num_levels=num_levels,
               text_bank=text_bank, hidden_channels=proj_hidden_dims, inference=inference,
               fusion_weight=fusion_weight, negative_ratio=negative_ratio,
               min_negatives=min_negatives)
    if loss_contrastive is not None:
        cfg['loss_contrastive'] = loss_contrastive
    branch = MODELS.build(cfg)
    check_bank_matches_head(branch.text_bank, head.num_classes, 'bbox_head')
    branch.attach(cls_layers)
    return branch
