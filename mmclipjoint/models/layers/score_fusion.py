"""How a contrastive branch's class probabilities are mixed into a head's own scores.

One function per kind of classifier: softmax heads with a background column (the RoI
heads) and sigmoid heads (the one-stage heads). Each returns scores in the form the
head's stock ``predict_by_feat`` expects, so that its own activation recovers the fused
probabilities and nothing downstream changes.
"""
import torch
from torch import Tensor


def fuse_softmax_scores(cls_score: Tensor, contrastive_logits: Tensor, weight: float) -> Tensor:
    """Mix a softmax head's class probabilities with the contrastive branch's.

    Args:
        cls_score (Tensor): (N, C + 1) stock logits, background last.
        contrastive_logits (Tensor): (N, C + 1) bank logits with background, or (N, C)
            without, in which case the stock background probability is kept and the
            contrastive class probabilities share the rest.
        weight (float): weight of the contrastive probabilities.

    Returns:
        Tensor: (N, C + 1) log probabilities ``log((1 - w) p_stock + w p_contrastive)``, so
        that the stock ``softmax`` in ``predict_by_feat`` returns the fused probabilities.
    """
    stock = cls_score.float().softmax(-1)
    num_classes = stock.shape[1] - 1
    contrastive = contrastive_logits.float().softmax(-1)
    if contrastive.shape[1] == num_classes:
        background = stock[:, -1:]
        contrastive = torch.cat([contrastive * (1 - background), background], 1)
    fused = (1 - weight) * stock + weight * contrastive
    return fused.clamp_min(1e-12).log().to(cls_score.dtype)


def fuse_sigmoid_scores(cls_score: Tensor, contrastive_probs: Tensor, weight: float) -> Tensor:
    """Mix a sigmoid head's class scores with the contrastive class probabilities.

    Args:
        cls_score (Tensor): stock logits of any shape, e.g. (B, C, H, W).
        contrastive_probs (Tensor): the contrastive class probabilities (softmax over the
            classes and background, background column dropped), same shape.
        weight (float): weight of the contrastive probabilities.

    Returns:
        Tensor: ``logit((1 - w) sigmoid(s) + w p_contrastive)``, so that the head's stock
        ``sigmoid`` returns the fused probabilities.
    """
    mixed = (1 - weight) * cls_score.float().sigmoid() + weight * contrastive_probs.float()
    return torch.logit(mixed.clamp(1e-6, 1 - 1e-6)).to(cls_score.dtype)
