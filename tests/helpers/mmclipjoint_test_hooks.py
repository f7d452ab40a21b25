"""Hooks only the tests use, imported by test configs through custom_imports."""
import json
import os
import os.path as osp
import signal

import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook

from mmclipjoint.utils.branches import text_banks
from mmclipjoint.utils.checkpoint import AtomicLocalBackend
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


@HOOKS.register_module()
class KillHook(Hook):
    """SIGKILL this process at a chosen point of training, as a lost node or an
    out-of-memory killer would.

    * ``where='forward'``: inside iteration ``at_iter``, during the backbone's forward
      pass (the batch is loaded, the step half done).
    * ``where='checkpoint'``: while the checkpoint of epoch ``at_epoch`` is being
      written, once half of its bytes have reached the disk.
    """

    priority = 'LOWEST'

    def __init__(self, where: str, at_iter: int = 0, at_epoch: int = 0):
        assert where in ('forward', 'checkpoint')
        self.where, self.at_iter, self.at_epoch = where, at_iter, at_epoch

    @staticmethod
    def _die(*_):
        os.kill(os.getpid(), signal.SIGKILL)

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        if self.where == 'forward' and runner.iter + 1 == self.at_iter:
            model = runner.model.module if hasattr(runner.model, 'module') else runner.model
            model.backbone.register_forward_hook(self._die)

    def before_save_checkpoint(self, runner, checkpoint):
        if self.where != 'checkpoint' or checkpoint['meta']['epoch'] != self.at_epoch:
            return

        def write_half_then_die(f, data):
            f.write(data[:len(data) // 2])
            f.flush()
            os.fsync(f.fileno())
            self._die()
        AtomicLocalBackend._write = staticmethod(write_half_then_die)
