"""InfoNCE between region embeddings and class text embeddings, plus an auxiliary CE."""
from typing import Dict, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from mmdet.models.losses.utils import weight_reduce_loss
from mmdet.registry import MODELS


@MODELS.register_module()
class InfoNCELoss(nn.Module):
    """The contrastive loss of CLIP-Joint-Detect, on logits from a ``TextEmbeddingBank``.

    With ``logits[i, c] = s_c * cos(v_i, t_c)`` (class-specific temperatures already
    applied by the bank) and labels in MMDetection's convention (``0..C-1`` classes,
    ``C`` background):

    * ``loss_infonce``: region-to-text InfoNCE over the foreground samples, all C class
      texts being the candidates: ``-log softmax_c(logits[i, :C])[y_i]``, weighted and
      divided by ``avg_factor`` (default: the foreground weight sum). With
      ``symmetric=True`` the text-to-region direction is added, as in CLIP: for each
      class present, a softmax over the foreground samples of the batch (those of weight
      > 0), its own samples being the positives, weighted by their weights; the two
      directions are averaged.
    * ``loss_aux_ce``: cross-entropy over the classes plus the background embedding's
      column (when the bank has one), over ``aux_samples``: ``'all'`` samples (needs
      the background embedding; teaches the branch to reject background, which fused
      inference relies on) or ``'foreground'`` only; weighted and divided by
      ``aux_avg_factor`` (default: the weight sum of those samples).

    Both are finite and zero, with a graph that reaches every input, on a batch
    without foreground. The arguments follow MMDetection's losses (``weight``,
    ``avg_factor``, ``reduction_override``); as the two terms have different samples,
    the auxiliary one has its own ``aux_avg_factor``.

    Args:
        reduction (str): ``'mean'`` (divide by the average factors), ``'sum'`` or
            ``'none'`` (per-sample losses, (N,) each; not with ``symmetric``).
        loss_weight (float): weight of ``loss_infonce``.
        aux_loss_weight (float): weight of ``loss_aux_ce`` (0 disables it).
        aux_samples (str): ``'all'`` or ``'foreground'``.
        symmetric (bool): add the text-to-region direction to the InfoNCE term.
    """

    def __init__(self, reduction: str = 'mean', loss_weight: float = 1.0,
                 aux_loss_weight: float = 0.5, aux_samples: str = 'all',
                 symmetric: bool = False):
        super().__init__()
        if aux_samples not in ('all', 'foreground'):
            raise ValueError(f"InfoNCELoss.aux_samples must be 'all' or 'foreground', "
                             f"got '{aux_samples}'")
        self.reduction = reduction
        self.loss_weight = loss_weight
        self.aux_loss_weight = aux_loss_weight
        self.aux_samples = aux_samples
        self.symmetric = symmetric

    def sample_weights(self, labels: Tensor, weight: Optional[Tensor],
                       num_classes: int) -> Tuple[Tensor, Tensor]:
        """(N,) weights of the samples of each term: InfoNCE (foreground only) and the
        auxiliary CE (``aux_samples``). Their sums are the default average factors;
        a head that normalises over processes reduces those sums itself."""
        weight = labels.new_ones(labels.shape, dtype=torch.float) if weight is None \
            else weight.float()
        foreground = weight * ((labels >= 0) & (labels < num_classes)).float()
        return foreground, weight if self.aux_samples == 'all' else foreground

    def forward(self,
                logits: Tensor,
                labels: Tensor,
                weight: Optional[Tensor] = None,
                avg_factor: Optional[float] = None,
                reduction_override: Optional[str] = None,
                *,
                num_classes: int,
                aux_avg_factor: Optional[float] = None) -> Dict[str, Tensor]:
        """Compute the loss terms.

        Args:
            logits (Tensor): (N, C) or (N, C + 1) bank logits (background column last).
            labels (Tensor): (N,) int labels, ``num_classes`` meaning background.
            weight (Tensor, optional): (N,) per-sample weights (e.g. the RoI head's
                ``label_weights``; 0 excludes a sample).
            avg_factor (float, optional): normaliser of ``loss_infonce``.
            reduction_override (str, optional): overrides ``reduction``.
            num_classes (int): C.
            aux_avg_factor (float, optional): normaliser of ``loss_aux_ce``.

        Returns:
            dict: ``loss_infonce`` and, when ``aux_loss_weight > 0``, ``loss_aux_ce``.
        """
        reduction = reduction_override or self.reduction
        if reduction not in ('none', 'mean', 'sum'):
            raise ValueError(f"InfoNCELoss: reduction must be 'none', 'mean' or 'sum', "
                             f"got '{reduction}'")
        if reduction == 'none' and self.symmetric:
            raise ValueError("InfoNCELoss: reduction='none' gives per-sample losses, but the "
                             'symmetric (text-to-region) term is per class')
        logits = logits.float()
        with_background = logits.shape[1] == num_classes + 1
        fg_weight, aux_weight = self.sample_weights(labels, weight, num_classes)
        if reduction == 'mean':
            avg_factor = fg_weight.sum().clamp(min=1.0) if avg_factor is None else avg_factor
            aux_avg_factor = aux_weight.sum().clamp(min=1.0) if aux_avg_factor is None \
                else aux_avg_factor
        else:  # mmdet's weight_reduce_loss allows no average factor with 'sum'
            avg_factor = aux_avg_factor = None

        class_logits = logits[:, :num_classes]
        # Background rows get a dummy class and weight 0: one vectorised cross-entropy,
        # and a graph to every input even when there is no foreground.
        region_to_text = F.cross_entropy(class_logits, labels.clamp(0, num_classes - 1),
                                         reduction='none')
        infonce = weight_reduce_loss(region_to_text, fg_weight, reduction, avg_factor)
        if self.symmetric:
            infonce = 0.5 * (infonce + self._text_to_region(class_logits, labels, fg_weight,
                                                            reduction))
        losses = dict(loss_infonce=self.loss_weight * infonce)

        if self.aux_loss_weight > 0:
            if self.aux_samples == 'all' and not with_background:
                raise ValueError(
                    "InfoNCELoss: aux_samples='all' needs the bank's background embedding; "
                    "fix: set text_bank.background=True or loss_contrastive.aux_samples="
                    "'foreground'")
            # Over the background column too when there is one: a foreground sample
            # must also score above the background embedding.
            aux = F.cross_entropy(logits, labels.clamp(0, logits.shape[1] - 1),
                                  reduction='none')
            losses['loss_aux_ce'] = self.aux_loss_weight * weight_reduce_loss(
                aux, aux_weight, reduction, aux_avg_factor)
        return losses

    @staticmethod
    def _text_to_region(class_logits: Tensor, labels: Tensor, fg_weight: Tensor,
                        reduction: str) -> Tensor:
        """Over the classes present: each class's weighted mean of -log softmax over the
        foreground samples (weight > 0) of its own samples; averaged (or summed)."""
        used = fg_weight > 0
        log_prob = class_logits[used].t().log_softmax(dim=1)  # (C, N_used)
        positives = F.one_hot(labels[used], class_logits.shape[1]).t() * fg_weight[used]
        mass = positives.sum(1)
        present = mass > 0
        if not present.any():
            return class_logits.sum() * 0.0
        per_class = -(log_prob * positives).sum(1)[present] / mass[present]
        return per_class.mean() if reduction == 'mean' else per_class.sum()
