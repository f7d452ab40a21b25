"""Hooks only the tests use, imported by test configs through custom_imports."""
import json
import os.path as osp

import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook

from mmclipjoint.engine.hooks import text_banks
from mmdet.registry import HOOKS


@HOOKS.register_module()
class PoisonTextBankHook(Hook):
    """Make every text bank's temperatures NaN just before iteration ``at_iter``."""

    def __init__(self, at_iter: int):
        self.at_iter = at_iter

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        if runner.iter + 1 == self.at_iter:
            for bank in text_banks(runner.model).values():
                bank.log_logit_scale.data.fill_(float('nan'))


@HOOKS.register_module()
class RecordRankHook(Hook):
    """Each process writes its own (not reduced) losses and its final parameters
    (not the BatchNorm statistics, which each process updates from its own images)."""

    priority = 'HIGHEST'  # listed before LossGuardHook: sees the outputs before reduction

    def __init__(self):
        self.local_losses = []

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        self.local_losses.append({k: float(v) for k, v in outputs.items()})

    def after_run(self, runner):
        rank = get_rank()
        with open(osp.join(runner.work_dir, f'rank{rank}_losses.json'), 'w') as f:
            json.dump(self.local_losses, f)
        model = runner.model.module if hasattr(runner.model, 'module') else runner.model
        parameters = {name: p.detach() for name, p in model.named_parameters()}
        torch.save(parameters, osp.join(runner.work_dir, f'rank{rank}_parameters.pth'))
