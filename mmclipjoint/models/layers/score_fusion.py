"""Pieces shared by every head that carries a contrastive branch."""
import torch
from torch import Tensor


def check_bank_matches_head(bank, num_classes: int, where: str) -> None:
    """Refuse a head whose ``num_classes`` differs from its text bank's class count."""
    if bank.num_classes != num_classes:
        raise ValueError(
            f'{where}.num_classes is {num_classes} but its text_bank has {bank.num_classes} '
            f'class names ({bank.class_names[:4]}...); fix: give text_bank.class_names the '
            f"dataset's {num_classes} classes in label order, or correct num_classes")


def fuse_class_scores(cls_score: Tensor, contrastive_logits: Tensor, weight: float) -> Tensor:
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
