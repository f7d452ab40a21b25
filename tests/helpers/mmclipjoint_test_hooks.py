"""Hooks only the tests use, imported by test configs through custom_imports."""
import json
import os.path as osp

import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook

from mmclipjoint.engine.hooks import contrastive_heads
from mmdet.registry import HOOKS


@HOOKS.register_module()
class PoisonTextBankHook(Hook):
    """Make every text bank's temperatures NaN just before iteration ``at_iter``."""

    def __init__(self, at_iter: int):
        self.at_iter = at_iter

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        if runner.iter + 1 == self.at_iter:
            for head in contrastive_heads(runner.model).values():
                head.text_bank.log_logit_scale.data.fill_(float('nan'))


@HOOKS.register_module()
class RecordRankHook(Hook):
    """Each process writes its own (not reduced) losses and final bank parameters."""

    priority = 'HIGHEST'  # listed before LossGuardHook: sees the outputs before reduction

    def __init__(self):
        self.local_losses = []

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        self.local_losses.append({k: float(v) for k, v in outputs.items()})

    def after_run(self, runner):
        rank = get_rank()
        with open(osp.join(runner.work_dir, f'rank{rank}_losses.json'), 'w') as f:
            json.dump(self.local_losses, f)
        banks = {name: head.text_bank.state_dict()
                 for name, head in contrastive_heads(runner.model).items()}
        torch.save(banks, osp.join(runner.work_dir, f'rank{rank}_bank.pth'))
