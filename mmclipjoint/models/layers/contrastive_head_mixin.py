"""What a detection head needs to carry a contrastive branch, written once.

A head becomes a joint head by listing a mixin before its stock class and stating two
things: which layers feed the branch, and where it hands over its own targets::

    @MODELS.register_module()
    class ContrastiveFooHead(ContrastiveDenseHeadMixin, FooHead):
        default_branch_type = 'GridContrastiveBranch'

        def contrastive_branch_inputs(self):
            return self.conv_cls_per_level, dict(in_channels=self.feat_channels,
                                                 num_levels=len(self.strides))

        def get_targets(self, *args, **kwargs):
            targets = super().get_targets(*args, **kwargs)
            self.contrastive_branch.hand_over_targets(labels, weights)  # from targets
            return targets

The mixin builds ``contrastive_branch`` from the head's config with
``MODELS.build(cfg, default_args=...)``, checks its classes, wraps the head's forward
(capture, fusion at inference), merges the branch's losses and metrics into the head's,
and loads checkpoints written before the branch had its own config field.
"""
from typing import Dict, Sequence, Tuple

import torch.nn as nn

from mmdet.registry import MODELS

# Head arguments of mmclipjoint < 0.2 that now live in ``contrastive_branch``.
MOVED_FIELDS = ('text_bank', 'loss_contrastive', 'inference', 'fusion_weight',
                'proj_hidden_dims', 'negative_ratio', 'min_negatives')


class ContrastiveHeadMixin:
    """Gives a head a ``contrastive_branch`` (a :class:`ContrastiveBranch`).

    Args:
        contrastive_branch (dict): the branch config, e.g. ``dict(type=
            'GridContrastiveBranch', text_bank=dict(...), loss_contrastive=dict(...),
            inference='stock')``; ``type`` defaults to the head's
            ``default_branch_type``, and the input sizes come from the head.
        *args, **kwargs: the stock head's arguments.
    """

    default_branch_type: str = ''
    # Checkpoint key prefixes of older releases -> where those tensors live now.
    legacy_state_dict_prefixes: Dict[str, str] = {}

    def __init__(self, *args, contrastive_branch: dict = None, **kwargs):
        name = type(self).__name__
        moved = [key for key in MOVED_FIELDS if key in kwargs]
        if moved:
            raise TypeError(
                f'{name}: {moved} are no longer head arguments; fix: move them into the '
                f"head's contrastive_branch=dict(...), e.g. contrastive_branch=dict("
                f"text_bank=..., loss_contrastive=..., inference=...) (proj_hidden_dims "
                f'is now contrastive_branch.hidden_channels)')
        if contrastive_branch is None:
            raise TypeError(f"{name} needs contrastive_branch=dict(text_bank=..., ...); "
                            f'without a branch use the stock head')
        super().__init__(*args, **kwargs)
        layers, default_args = self.contrastive_branch_inputs()
        default_args.setdefault('type', self.default_branch_type)
        self.contrastive_branch = MODELS.build(contrastive_branch, default_args=default_args)
        bank = self.contrastive_branch.text_bank
        if bank.num_classes != self.num_classes:
            raise ValueError(
                f'{name}.num_classes is {self.num_classes} but its contrastive_branch.'
                f'text_bank has {bank.num_classes} class names ({bank.class_names[:4]}...); '
                f"fix: give text_bank.class_names the dataset's {self.num_classes} classes "
                f'in label order, or correct num_classes')
        self.contrastive_branch.attach(layers)

    def contrastive_branch_inputs(self) -> Tuple[Sequence[nn.Module], dict]:
        """The layers whose inputs feed the branch (one per level), and the branch
        arguments the head determines (``in_channels``, ``num_levels``...)."""
        raise NotImplementedError

    def forward(self, x):
        """The stock forward; in training the branch keeps the classifier features, at
        inference with ``'fused'`` the class scores (first output) are fused."""
        branch = self.contrastive_branch
        with branch.capturing() as captured:
            outs = super().forward(x)
        return (branch.after_forward(outs[0], captured), *outs[1:])

    def add_contrastive_losses(self, losses: dict) -> dict:
        """The head's own losses plus the branch's losses and metrics of this step."""
        losses.update(self.contrastive_branch.loss())
        return losses

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        for old, new in self.legacy_state_dict_prefixes.items():
            for key in [k for k in state_dict if k.startswith(prefix + old)]:
                state_dict[prefix + new + key[len(prefix + old):]] = state_dict.pop(key)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)


class ContrastiveDenseHeadMixin(ContrastiveHeadMixin):
    """:class:`ContrastiveHeadMixin` for dense (one-stage) heads, whose losses come from
    ``loss_by_feat``."""

    default_branch_type = 'GridContrastiveBranch'

    def loss_by_feat(self, *args, **kwargs) -> dict:
        return self.add_contrastive_losses(super().loss_by_feat(*args, **kwargs))
