"""YOLO's learning-rate and momentum schedule, as Ultralytics trains."""
from typing import Optional

import numpy as np
from mmengine.hooks import Hook

from mmdet.registry import HOOKS


@HOOKS.register_module()
class YOLOLRScheduleHook(Hook):
    """Ultralytics' schedule: warm-up, then a linear decay per epoch.

    * After warm-up, in epoch ``e`` every group's learning rate is its initial one times
      ``(1 - e / max_epochs) * (1 - final_lr_ratio) + final_lr_ratio``.
    * During the first ``max(warmup_epochs * iters_per_epoch, min_warmup_iters)``
      iterations the learning rate rises linearly to that value from 0, except in the
      bias groups (named ``'bias'`` by :class:`GroupedOptimWrapperConstructor`), where it
      falls from ``warmup_bias_lr``; the momentum rises from ``warmup_momentum`` to the
      optimizer's.

    mmengine's parameter schedulers scale every group by one factor, which cannot start
    the biases at a higher rate, hence this hook; use it with ``param_scheduler = []``.
    The state it needs is the iteration and the groups' ``initial_lr``, which
    checkpoints carry, so a resumed run continues the same schedule.

    Args:
        max_epochs (int, optional): epochs the decay spans (default: the run's
            ``train_cfg.max_epochs``, so that a shortened run still decays to the end).
        final_lr_ratio (float): the last epoch's learning rate over the initial one.
        warmup_epochs (float): warm-up length in epochs...
        min_warmup_iters (int): ...and at least this many iterations.
        warmup_bias_lr (float): the bias groups' starting learning rate.
        warmup_momentum (float): the starting momentum.
    """

    priority = 'HIGH'  # before the optimizer step of the iteration

    def __init__(self, max_epochs: Optional[int] = None, final_lr_ratio: float = 0.01,
                 warmup_epochs: float = 3.0, min_warmup_iters: int = 100,
                 warmup_bias_lr: float = 0.1, warmup_momentum: float = 0.8):
        self.max_epochs = max_epochs
        self.final_lr_ratio = final_lr_ratio
        self.warmup_epochs = warmup_epochs
        self.min_warmup_iters = min_warmup_iters
        self.warmup_bias_lr = warmup_bias_lr
        self.warmup_momentum = warmup_momentum

    def before_train(self, runner) -> None:
        if self.max_epochs is None:
            self.max_epochs = runner.max_epochs
        for group in runner.optim_wrapper.optimizer.param_groups:
            group.setdefault('initial_lr', group['lr'])
            group.setdefault('initial_momentum', group.get('momentum', 0.0))

    def lr_factor(self, epoch: int) -> float:
        return max(1 - epoch / self.max_epochs, 0) * (1 - self.final_lr_ratio) + \
            self.final_lr_ratio

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        factor = self.lr_factor(runner.epoch)
        warmup_iters = max(round(self.warmup_epochs * len(runner.train_dataloader)),
                           self.min_warmup_iters)
        step = runner.iter
        for group in runner.optim_wrapper.optimizer.param_groups:
            lr = group['initial_lr'] * factor
            if step <= warmup_iters:
                start = self.warmup_bias_lr if group.get('name') == 'bias' else 0.0
                lr = float(np.interp(step, [0, warmup_iters], [start, lr]))
                if 'momentum' in group:
                    group['momentum'] = float(np.interp(
                        step, [0, warmup_iters],
                        [self.warmup_momentum, group['initial_momentum']]))
            group['lr'] = lr
