"""InfoNCE between region embeddings and class text embeddings, plus an auxiliary CE."""
from typing import Dict, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

from mmdet.registry import MODELS


@MODELS.register_module()
class InfoNCELoss(nn.Module):
    """The contrastive loss of CLIP-Joint-Detect, on logits from a ``TextEmbeddingBank``.

    With ``logits[i, c] = s_c * cos(v_i, t_c)`` (class-specific temperatures already
    applied by the bank) and labels in MMDetection's convention (``0..C-1`` classes,
    ``C`` background):

    * ``loss_infonce``: region-to-text InfoNCE over the foreground regions, all C
      class texts being the candidates: ``-log softmax_c(logits[i, :C])[y_i]``, averaged
      over the foreground. With ``symmetric=True`` the text-to-region direction is
      added, as in CLIP: for each class present, a softmax over the foreground regions
      of the batch, its own regions being the positives; the two directions are averaged.
    * ``loss_aux_ce``: cross-entropy over the classes plus the background embedding's
      column, over ``aux_samples``: ``'all'`` sampled regions (needs the bank's
      background embedding; teaches the branch to reject background, which fused
      inference relies on) or ``'foreground'`` only.

    Both are finite and zero, with a graph that reaches every input, on a batch
    without foreground.

    Args:
        loss_weight (float): weight of ``loss_infonce``.
        aux_loss_weight (float): weight of ``loss_aux_ce`` (0 disables it).
        aux_samples (str): ``'all'`` or ``'foreground'``.
        symmetric (bool): add the text-to-region direction to the InfoNCE term.
    """

    def __init__(self, loss_weight: float = 1.0, aux_loss_weight: float = 0.5,
                 aux_samples: str = 'all', symmetric: bool = False):
        super().__init__()
        if aux_samples not in ('all', 'foreground'):
            raise ValueError(f"InfoNCELoss.aux_samples must be 'all' or 'foreground', "
                             f"got '{aux_samples}'")
        self.loss_weight = loss_weight
        self.aux_loss_weight = aux_loss_weight
        self.aux_samples = aux_samples
        self.symmetric = symmetric

    def forward(self, logits: torch.Tensor, labels: torch.Tensor, num_classes: int,
                weights: Optional[torch.Tensor] = None,
                avg_factor: Optional[float] = None) -> Dict[str, torch.Tensor]:
        """Compute the loss terms.

        Args:
            logits (Tensor): (N, C) or (N, C + 1) bank logits (background column last).
            labels (Tensor): (N,) int labels, ``num_classes`` meaning background.
            num_classes (int): C.
            weights (Tensor, optional): (N,) per-sample weights (e.g. the RoI head's
                ``label_weights``; 0 excludes a sample).
            avg_factor (float, optional): normaliser of the InfoNCE term; default the
                number (weight sum) of foreground samples.

        Returns:
            dict: ``loss_infonce`` and, when ``aux_loss_weight > 0``, ``loss_aux_ce``;
            also ``infonce_acc``, the top-1 accuracy (%) of the contrastive branch on the
            foreground (logged, not optimised, like the stock heads' ``acc``).
        """
        logits = logits.float()
        with_background = logits.shape[1] == num_classes + 1
        if weights is None:
            weights = logits.new_ones(len(labels))
        weights = weights.float()
        foreground = (labels >= 0) & (labels < num_classes)
        # Zero with a graph: keeps DDP's gradient hooks and optimisers happy.
        zero = logits.sum() * 0.0

        losses = {}
        fg_logits, fg_labels, fg_weights = logits[foreground, :num_classes], \
            labels[foreground], weights[foreground]
        if fg_labels.numel() and fg_weights.sum() > 0:
            normaliser = fg_weights.sum() if avg_factor is None else avg_factor
            region_to_text = F.cross_entropy(fg_logits, fg_labels, reduction='none')
            infonce = (region_to_text * fg_weights).sum() / max(float(normaliser), 1.0)
            if self.symmetric:
                infonce = 0.5 * (infonce + self._text_to_region(fg_logits, fg_labels))
        else:
            infonce = zero
        losses['loss_infonce'] = self.loss_weight * infonce
        with torch.no_grad():
            losses['infonce_acc'] = (fg_logits.argmax(1) == fg_labels).float().mean() * 100 \
                if fg_labels.numel() else logits.new_tensor(0.0)

        if self.aux_loss_weight > 0:
            if self.aux_samples == 'all':
                if not with_background:
                    raise ValueError(
                        "InfoNCELoss: aux_samples='all' needs the bank's background embedding; "
                        "fix: set text_bank.background=True or aux_samples='foreground'")
                aux_logits, aux_labels, aux_weights = logits, labels, weights
            else:
                aux_logits, aux_labels, aux_weights = fg_logits, fg_labels, fg_weights
            if aux_labels.numel() and aux_weights.sum() > 0:
                aux = F.cross_entropy(aux_logits, aux_labels, reduction='none')
                aux = (aux * aux_weights).sum() / aux_weights.sum().clamp(min=1.0)
            else:
                aux = zero
            losses['loss_aux_ce'] = self.aux_loss_weight * aux
        return losses

    @staticmethod
    def _text_to_region(fg_logits: torch.Tensor, fg_labels: torch.Tensor) -> torch.Tensor:
        """Mean over present classes of -mean log softmax over regions of their positives."""
        log_prob = fg_logits.t().log_softmax(dim=1)  # (C, N_fg): each class over regions
        positives = F.one_hot(fg_labels, fg_logits.shape[1]).t().float()  # (C, N_fg)
        present = positives.sum(1) > 0
        per_class = -(log_prob * positives).sum(1)[present] / positives.sum(1)[present]
        return per_class.mean()
