"""What every contrastive branch shares: the text bank, the loss, the record of one
training step, the inference modes and the logged metrics."""
import contextlib
import functools
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmengine.model import BaseModule
from torch import Tensor

from mmdet.registry import MODELS
from mmdet.utils import reduce_mean
from ...utils.upstream import current_train_iteration

INFERENCE_MODES = ('stock', 'fused')


class ScaleGradient(torch.autograd.Function):
    """Identity forward; the gradient multiplied by ``scale`` backward."""

    @staticmethod
    def forward(ctx, tensor: Tensor, scale: float) -> Tensor:
        ctx.scale = scale
        return tensor.view_as(tensor)

    @staticmethod
    def backward(ctx, grad: Tensor):
        return grad * ctx.scale, None


@dataclass
class StepRecord:
    """What one training forward leaves for the loss of the same step."""
    features: List[Tensor]
    targets: List[Tuple[Tensor, Tensor]] = field(default_factory=list)


class ContrastiveBranch(BaseModule):
    """Base of the contrastive branches: scores the features that feed a head's
    classifier against a :class:`TextEmbeddingBank` and computes ``loss_contrastive``.

    A subclass says how features become embeddings (:meth:`embed_for_loss`,
    :meth:`fuse`); everything else lives here. One training step, explicit and checked:

    1. The head's forward runs inside :meth:`capturing`; forward pre-hooks on the head's
       classifier layers (:meth:`attach`) take the features that enter them, and
       :meth:`after_forward` keeps them as the step's record (training) or mixes the
       branch's probabilities into the class scores (``inference='fused'``).
    2. The head hands over its own targets of that step (:meth:`hand_over_targets`):
       labels (``num_classes`` = background) and weights (0 = ignored).
    3. :meth:`loss` consumes the record: the features and their graph are released.

    A second training forward before the loss of the first, or a loss without its
    forward, is an error, never a silent mix of two steps. The hooks are bound methods
    of the branch, so a ``deepcopy`` of a model (EMA, teachers, export) records into
    the copy's own branch.

    Args:
        text_bank (dict): config of a :class:`TextEmbeddingBank`.
        loss_contrastive (dict): config of the loss (:class:`InfoNCELoss`, or a loss with
            its ``sample_weights`` and call signature).
        inference (str): ``'stock'`` (the branch is not computed at test time: the stock
            head's predictions, zero overhead) or ``'fused'`` (the head's class
            probabilities mixed with the branch's).
        fusion_weight (float): weight of the branch's probabilities when fused.
        feature_grad_scale (float): how much of the branch's gradient reaches the
            detector's features: 1 (default) is the paper's end-to-end training, 0
            trains the branch on detached features (the detector learns as if alone),
            values between scale the branch's pull on the shared features.
        loss_warmup_iters (int): the branch's loss weights rise linearly from
            1 / ``loss_warmup_iters`` to 1 over the first iterations of training (the
            iteration as mmengine's Runner reports it; 0, the default: no warm-up).
    """

    # Normalise the loss by the positives of all processes (mmdet's one-stage heads
    # do, for their own terms) or of this process only (its RoI heads do).
    reduce_avg_factor = False

    def __init__(self,
                 text_bank: dict,
                 loss_contrastive: dict = dict(
                     type='InfoNCELoss', loss_weight=1.0, aux_loss_weight=0.5,
                     aux_samples='all'),
                 inference: str = 'stock',
                 fusion_weight: float = 0.5,
                 feature_grad_scale: float = 1.0,
                 loss_warmup_iters: int = 0,
                 init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        if inference not in INFERENCE_MODES:
            raise ValueError(f'{type(self).__name__}.inference must be one of '
                             f"{INFERENCE_MODES}, got '{inference}'")
        self.text_bank = MODELS.build(text_bank)
        self.loss_contrastive = MODELS.build(loss_contrastive)
        if not 0.0 <= feature_grad_scale <= 1.0:
            raise ValueError(f'{type(self).__name__}.feature_grad_scale must be in [0, 1], '
                             f'got {feature_grad_scale}')
        self.inference = inference
        self.fusion_weight = fusion_weight
        self.feature_grad_scale = feature_grad_scale
        self.loss_warmup_iters = loss_warmup_iters
        self._captured: Optional[Dict[int, Tensor]] = None
        self._record: Optional[StepRecord] = None

    @property
    def num_classes(self) -> int:
        return self.text_bank.num_classes

    @property
    def num_inputs(self) -> int:
        """How many classifier layers feed the branch (one per pyramid level)."""
        raise NotImplementedError

    # ---- subclass hooks ------------------------------------------------------------

    def embed_for_loss(self, features: List[Tensor], labels: Tensor,
                       weights: Tensor) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
        """The embeddings the loss uses, with their labels and weights.

        Returns:
            tuple: (M, D) embeddings, (M,) labels, (M,) weights, and a zero scalar with
            a graph to every parameter that no embedding reached this step (added to the
            loss, so that data-parallel training sees a gradient for each of them).
        """
        raise NotImplementedError

    def fuse(self, cls_scores, features: List[Tensor]):
        """The head's class scores with the branch's probabilities mixed in."""
        raise NotImplementedError

    # ---- step record ---------------------------------------------------------------

    def attach(self, layers: Sequence[nn.Module]) -> None:
        """Take the input of each of ``layers`` (the head's classifiers) as a feature."""
        if len(layers) != self.num_inputs:
            raise ValueError(f'{type(self).__name__}: {len(layers)} classifier layers for '
                             f'{self.num_inputs} branch inputs')
        for index, layer in enumerate(layers):
            # A bound method (not a closure): deepcopy rebinds it to the copied branch.
            layer.register_forward_pre_hook(functools.partial(self._capture, index))

    def _capture(self, index: int, module: nn.Module, inputs: Tuple[Tensor]) -> None:
        if self._captured is not None:
            self._captured[index] = inputs[0]

    @contextlib.contextmanager
    def capturing(self):
        """The head's forward runs inside: yields {input index: feature}."""
        self._captured = {}
        try:
            yield self._captured
        finally:
            self._captured = None

    def after_forward(self, cls_scores, captured: Dict[int, Tensor]):
        """Called by the head with its stock class scores and the captured features.

        Returns:
            The class scores: unchanged, except at inference with ``'fused'``.
        """
        missing = [i for i in range(self.num_inputs) if i not in captured]
        if missing:
            raise RuntimeError(f'{type(self).__name__}: the head forward did not run the '
                               f'classifier layer(s) {missing} the branch is attached to')
        features = [captured[i] for i in range(self.num_inputs)]
        if self.training:
            if self._record is not None:
                raise RuntimeError(
                    f'{type(self).__name__}: a second training forward before the loss of '
                    f'the first; each training forward of a head needs its loss (call '
                    f'model.eval() before forwards that are not trained on)')
            self._record = StepRecord(features)
            return cls_scores
        if self.inference == 'fused':
            return self.fuse(cls_scores, features)
        return cls_scores

    def hand_over_targets(self, labels: Tensor, weights: Tensor) -> None:
        """The head's targets of this step, (N,) or (B, N) each; several calls (one per
        image) are concatenated along the first dimension."""
        if self._record is None:
            raise RuntimeError(
                f'{type(self).__name__}: targets (a loss) without a training forward of the '
                f'head first; run the head in training mode, then its loss')
        self._record.targets.append((labels, weights))

    def train(self, mode: bool = True):
        self._record = None  # a step cut short never leaks into the next one
        return super().train(mode)

    # ---- loss ----------------------------------------------------------------------

    def loss(self) -> Dict[str, Tensor]:
        """The contrastive loss of this step's record, which it consumes.

        Returns:
            dict: ``loss_infonce`` (and ``loss_aux_ce``), plus the logged metrics
            ``infonce_acc`` (top-1 accuracy of the branch on the foreground, %) and
            ``text_logit_scale`` (mean learned 1/temperature).
        """
        record, self._record = self._record, None
        if record is None:
            raise RuntimeError(f'{type(self).__name__}: a loss without a training forward '
                               f'of the head first')
        if not record.targets:
            raise RuntimeError(f'{type(self).__name__}: the head handed over no targets '
                               f'before its loss')
        labels = torch.cat([t[0] for t in record.targets])
        weights = torch.cat([t[1] for t in record.targets]).float()
        features = record.features
        if self.feature_grad_scale == 0.0:
            features = [f.detach() for f in features]
        elif self.feature_grad_scale != 1.0:
            features = [ScaleGradient.apply(f, self.feature_grad_scale) for f in features]
        embeds, labels, weights, unused = self.embed_for_loss(features, labels, weights)
        logits = self.text_bank(embeds)
        num_classes = self.num_classes
        fg_weight, aux_weight = self.loss_contrastive.sample_weights(labels, weights,
                                                                     num_classes)
        avg_factor, aux_avg_factor = fg_weight.sum(), aux_weight.sum()
        if self.reduce_avg_factor:
            avg_factor, aux_avg_factor = reduce_mean(avg_factor), reduce_mean(aux_avg_factor)
        losses = self.loss_contrastive(
            logits, labels, weights, avg_factor=avg_factor.clamp(min=1.0),
            num_classes=num_classes, aux_avg_factor=aux_avg_factor.clamp(min=1.0))
        losses['loss_infonce'] = losses['loss_infonce'] + unused
        factor = self.warmup_factor()
        if factor != 1.0:
            losses = {name: value * factor for name, value in losses.items()}
        losses.update(self.metrics(logits, labels))
        return losses

    def warmup_factor(self) -> float:
        """The multiplier of the branch's losses at the current training iteration."""
        if not self.loss_warmup_iters:
            return 1.0
        iteration = current_train_iteration()
        if iteration is None:  # outside a Runner: no schedule to follow
            return 1.0
        return min(1.0, (iteration + 1) / self.loss_warmup_iters)

    @torch.no_grad()
    def metrics(self, logits: Tensor, labels: Tensor) -> Dict[str, Tensor]:
        """Logged, not optimised (no 'loss' in their names)."""
        num_classes = self.num_classes
        foreground = (labels >= 0) & (labels < num_classes)
        accuracy = (logits[foreground, :num_classes].argmax(1) == labels[foreground]) \
            .float().mean() * 100 if foreground.any() else logits.new_tensor(0.0)
        return dict(infonce_acc=accuracy,
                    text_logit_scale=self.text_bank.logit_scale().mean())
