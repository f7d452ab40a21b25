"""GroupedOptimWrapperConstructor: mmengine's paramwise rules in a handful of groups,
with the same parameter updates; the weight decay scaled with the batch as Ultralytics
does; and YOLOLRScheduleHook's learning rates and momenta are Ultralytics' schedule."""
import copy
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from mmengine.optim import build_optim_wrapper

from joint_testing import (JOINT_CONFIG, RTMDET_JOINT, YOLO11_JOINT, YOLOX_JOINT, build_detector,
                           load_config, shapes_batch)


@pytest.mark.parametrize('config', [YOLOX_JOINT, RTMDET_JOINT, JOINT_CONFIG, YOLO11_JOINT],
                         ids=['yolox', 'rtmdet', 'faster-rcnn', 'yolo11'])
def test_grouped_constructor_updates_every_parameter_as_the_default_one(tiny_shapes, config):
    """Same rules (YOLOX's norm/bias decay, the text bank without decay), a few groups
    instead of one per parameter, and after 3 steps the same weights: on CPU bit for bit
    (both go through PyTorch's single-tensor path), so switching a config to it does not
    change a CPU result."""
    cfg = load_config(config).optim_wrapper
    cfg.paramwise_cfg.pop('nominal_batch_size', None)
    cfg.paramwise_cfg.pop('batch_size_per_gpu', None)
    cfg.pop('clip_grad', None)
    torch.manual_seed(0)
    grouped_model = build_detector(config)
    default_model = copy.deepcopy(grouped_model)
    initial = copy.deepcopy(grouped_model.state_dict())
    grouped = build_optim_wrapper(grouped_model,
                                  dict(cfg, constructor='GroupedOptimWrapperConstructor'))
    default = build_optim_wrapper(default_model,
                                  dict(cfg, constructor='DefaultOptimWrapperConstructor'))
    groups, singles = grouped.optimizer.param_groups, default.optimizer.param_groups
    assert len(groups) <= 6 < 90 < len(singles)
    (bank_module, ) = [m for n, m in grouped_model.named_modules() if n.endswith('text_bank')]
    bank = {id(p) for p in bank_module.parameters()}
    for group in groups:
        if any(id(p) in bank for p in group['params']):
            assert group['weight_decay'] == 0 and all(id(p) in bank for p in group['params'])
    assert {g['name'] for g in groups} == {'bias', 'weight'}
    assert any(g['weight_decay'] == cfg.optimizer.weight_decay for g in groups)
    batch = shapes_batch(tiny_shapes[0], [0, 1], config)
    for model, optim in ((grouped_model, grouped), (default_model, default)):
        for step in range(3):
            torch.manual_seed(step)  # the branch draws its background cells
            losses = model(**model.data_preprocessor(copy.deepcopy(batch), training=True),
                           mode='loss')
            optim.update_params(model.parse_losses(losses)[0])
    for (name, a), b in zip(grouped_model.state_dict().items(),
                            default_model.state_dict().values()):
        assert torch.equal(a, b), name
    moved = [k for k, v in grouped_model.state_dict().items() if not torch.equal(v, initial[k])]
    assert len(moved) > 100  # the steps did train: the comparison is not of untouched weights


def test_weight_decay_scales_with_the_batch_as_ultralytics():
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4))
    cfg = dict(constructor='GroupedOptimWrapperConstructor', accumulative_counts=2,
               optimizer=dict(type='SGD', lr=0.01, momentum=0.937, weight_decay=5e-4),
               paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0,
                                  nominal_batch_size=64, batch_size_per_gpu=16))
    optim = build_optim_wrapper(model, cfg)
    decays = sorted((g['name'], g['weight_decay'], len(g['params']))
                    for g in optim.optimizer.param_groups)
    # 16 per GPU x 1 process x 2 accumulated steps = 32 of the nominal 64.
    assert decays == [('bias', 0.0, 2), ('weight', 0.0, 1), ('weight', 2.5e-4, 1)]


def test_batch_scaling_needs_both_fields():
    with pytest.raises(ValueError, match='needs both nominal_batch_size and batch_size_per_gpu'):
        build_optim_wrapper(torch.nn.Linear(2, 2), dict(
            constructor='GroupedOptimWrapperConstructor', optimizer=dict(type='SGD', lr=0.1),
            paramwise_cfg=dict(nominal_batch_size=64)))


def test_yolo_schedule_follows_ultralytics():
    """Ultralytics' trainer: warm-up over max(3 epochs, 100) iterations, biases from 0.1
    and the rest from 0, momentum from 0.8, towards lr0 * lf(epoch) with lf(e) = (1 -
    e / E) (1 - 0.01) + 0.01; after warm-up lr0 * lf(epoch)."""
    from mmclipjoint.engine import YOLOLRScheduleHook
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4))
    optim = build_optim_wrapper(model, dict(
        constructor='GroupedOptimWrapperConstructor',
        optimizer=dict(type='SGD', lr=0.01, momentum=0.937, nesterov=True, weight_decay=5e-4),
        paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0)))
    epochs, per_epoch = 10, 50
    hook = YOLOLRScheduleHook()  # the decay spans the run's epochs
    runner = SimpleNamespace(optim_wrapper=optim, train_dataloader=[None] * per_epoch,
                             epoch=0, iter=0, max_epochs=epochs)
    hook.before_train(runner)
    warmup = 150  # 3 epochs of 50 > 100

    def lf(e):
        return (1 - e / epochs) * 0.99 + 0.01

    for it in (0, 40, 149, 150, 151, 260, 499):
        runner.iter, runner.epoch = it, it // per_epoch
        hook.before_train_iter(runner, it % per_epoch)
        target = 0.01 * lf(runner.epoch)
        for group in optim.optimizer.param_groups:
            start = 0.1 if group['name'] == 'bias' else 0.0
            if it <= warmup:
                lr = np.interp(it, [0, warmup], [start, target])
                momentum = np.interp(it, [0, warmup], [0.8, 0.937])
            else:
                lr, momentum = target, group['momentum']
            assert group['lr'] == pytest.approx(lr, abs=1e-12), (it, group['name'])
            assert group['momentum'] == pytest.approx(momentum, abs=1e-12)
    assert optim.optimizer.param_groups[0]['lr'] == pytest.approx(0.01 * lf(9))
