"""An optimizer-wrapper constructor that makes a handful of parameter groups.

mmengine's ``DefaultOptimWrapperConstructor`` gives every parameter its own optimizer
group as soon as ``paramwise_cfg`` is set. PyTorch's multi-tensor (``foreach``) optimizer
steps then work on one tensor at a time, and a YOLOX / joint model with a few hundred
parameters pays for a few hundred small steps. This constructor applies the same
``paramwise_cfg`` rules, then merges the parameters whose options are equal into one
group, so the update is the same and the step stays multi-tensor.
"""
from typing import Dict, List, Optional

import torch.nn as nn
from mmengine.dist import get_world_size
from mmengine.optim import DefaultOptimWrapperConstructor, OptimWrapper

from mmdet.registry import OPTIM_WRAPPER_CONSTRUCTORS, OPTIM_WRAPPERS, OPTIMIZERS


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class GroupedOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """``paramwise_cfg`` exactly as mmengine reads it (``norm_decay_mult``,
    ``bias_decay_mult``, ``custom_keys``...), with the parameters of equal options in
    one group. Biases always get groups of their own, named ``'bias'`` (the others are
    named ``'weight'``), because YOLO's warm-up (:class:`YOLOLRScheduleHook`) treats
    them differently.

    Two extra ``paramwise_cfg`` keys scale the weight decay with the batch as
    Ultralytics does (``weight_decay * batch * accumulation / nominal``):

    * ``nominal_batch_size`` (int): the batch the weight decay is given for (64);
    * ``batch_size_per_gpu`` (int): the training batch per process (the total is it
      times the number of processes, times ``accumulative_counts``).

    Example::

        optim_wrapper = dict(
            constructor='GroupedOptimWrapperConstructor',
            optimizer=dict(type='SGD', lr=0.01, momentum=0.937, nesterov=True,
                           weight_decay=5e-4),
            paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0,
                               nominal_batch_size=64, batch_size_per_gpu=16))
    """

    def __init__(self, optim_wrapper_cfg: dict, paramwise_cfg: Optional[dict] = None):
        paramwise_cfg = dict(paramwise_cfg or {})
        self.nominal_batch_size = paramwise_cfg.pop('nominal_batch_size', None)
        self.batch_size_per_gpu = paramwise_cfg.pop('batch_size_per_gpu', None)
        if (self.nominal_batch_size is None) != (self.batch_size_per_gpu is None):
            raise ValueError('GroupedOptimWrapperConstructor: paramwise_cfg needs both '
                             'nominal_batch_size and batch_size_per_gpu (to scale the weight '
                             'decay with the batch), or neither')
        super().__init__(optim_wrapper_cfg, paramwise_cfg)

    def __call__(self, model: nn.Module) -> OptimWrapper:
        if hasattr(model, 'module'):
            model = model.module
        optimizer_cfg = self.optimizer_cfg.copy()
        if self.nominal_batch_size:
            batch = self.batch_size_per_gpu * get_world_size() * \
                self.optim_wrapper_cfg.get('accumulative_counts', 1)
            optimizer_cfg['weight_decay'] = self.base_wd = \
                optimizer_cfg.get('weight_decay', 0) * batch / self.nominal_batch_size
        params: List[dict] = []
        self.add_params(params, model)
        optimizer_cfg['params'] = params
        optimizer = OPTIMIZERS.build(optimizer_cfg)
        optim_wrapper_cfg = self.optim_wrapper_cfg.copy()
        optim_wrapper_cfg.setdefault('type', 'OptimWrapper')
        return OPTIM_WRAPPERS.build(optim_wrapper_cfg, default_args=dict(optimizer=optimizer))

    def add_params(self, params: List[dict], module: nn.Module, prefix: str = '',
                   is_dcn_module=None) -> None:
        if prefix:  # the default constructor's recursion into submodules
            return super().add_params(params, module, prefix, is_dcn_module)
        names = {id(p): name for name, p in module.named_parameters()}
        single: List[dict] = []
        super().add_params(single, module, prefix, is_dcn_module)
        merged: Dict[tuple, dict] = {}
        for group in single:
            (param, ) = group['params']
            kind = 'bias' if names.get(id(param), '').endswith('bias') else 'weight'
            options = {k: v for k, v in group.items() if k != 'params'}
            key = (kind, param.requires_grad, tuple(sorted(options.items())))
            merged.setdefault(key, dict(options, name=kind, params=[]))['params'].append(param)
        params.extend(merged.values())
