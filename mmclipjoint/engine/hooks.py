"""Runner hooks that make joint training safe to run for days: checks before the first
iteration, reduced and guarded losses, and random state that survives resume."""
import math
import random
from typing import Dict, Optional

import numpy as np
import torch
from mmengine.dist import all_gather_object, all_reduce, get_rank, get_world_size
from mmengine.hooks import CheckpointHook, Hook
from mmengine.runner.checkpoint import CheckpointLoader

from mmdet.registry import HOOKS
from ..utils.branches import contrastive_branches, text_banks, unwrap
from ..utils.upstream import runner_load_from, runner_resumes


def dataset_classes(dataloader) -> Optional[tuple]:
    dataset = getattr(dataloader, 'dataset', None)
    classes = getattr(dataset, 'metainfo', {}).get('classes')
    return tuple(classes) if classes is not None else None


@HOOKS.register_module()
class JointTrainingCheckHook(Hook):
    """Checks that cost days when they fail late, done before the first iteration.

    * Every text bank's ``class_names`` must equal the training dataset's
      ``metainfo['classes']`` in content **and order**: label ``i`` of the dataset is
      scored against text embedding ``i``, so a different order trains the wrong
      pairing silently.
    * After ``load_from`` (not resume), one line says what was loaded: every shared
      weight is expected in the checkpoint; the joint model's own parameters (bank,
      projection) are reported as new, keeping their CLIP/file/initialised values.
    """

    priority = 'VERY_HIGH'

    def before_train(self, runner) -> None:
        self._check_class_names(runner)
        if runner_load_from(runner) and not runner_resumes(runner):
            self._report_load_from(runner, runner_load_from(runner))

    def _check_class_names(self, runner) -> None:
        classes = dataset_classes(runner.train_dataloader)
        if classes is None:
            return
        for name, bank in text_banks(runner.model).items():
            bank_classes = tuple(bank.class_names)
            if bank_classes == classes:
                continue
            if sorted(bank_classes) == sorted(classes):
                first = next(i for i, (a, b) in enumerate(zip(bank_classes, classes)) if a != b)
                problem = (f'the same names in another order (label {first} is '
                           f"'{classes[first]}' in the dataset but '{bank_classes[first]}' in "
                           f'the bank)')
            else:
                problem = (f'different names (only in the bank: '
                           f'{sorted(set(bank_classes) - set(classes))}, only in the dataset: '
                           f'{sorted(set(classes) - set(bank_classes))})')
            raise ValueError(
                f'model.{name}.class_names and train_dataloader.dataset.metainfo'
                f"['classes'] in {runner.cfg.filename} have {problem}; fix: give text_bank."
                f"class_names the dataset's classes in label order, e.g. "
                f"class_names={{{{_base_.metainfo.classes}}}} or the list {list(classes)}")

    def _report_load_from(self, runner, filename: str) -> None:
        checkpoint = CheckpointLoader.load_checkpoint(filename, map_location='cpu')
        stored = set(checkpoint.get('state_dict', checkpoint))
        model = unwrap(runner.model)
        missing = [k for k in model.state_dict() if k not in stored]
        # A stock checkpoint cannot hold the branches: their tensors are new.
        branches = tuple(f'{name}.' for name in contrastive_branches(model))
        new = [k for k in missing if k.startswith(branches)]
        shared_missing = [k for k in missing if k not in new]
        # Grouped by the branch's own modules: '...contrastive_branch.text_bank'.
        groups = sorted({prefix + key[len(prefix):].split('.')[0] for key in new
                         for prefix in branches if key.startswith(prefix)})
        total = len(model.state_dict())
        line = (f'load_from {filename}: loaded {total - len(missing)} of the model\'s {total} '
                f'tensors; {len(new)} are new in the joint model and keep their '
                f'initialisation (text bank: CLIP / file; projection: random): '
                f'{", ".join(groups) or "none"}')
        if shared_missing:
            line += (f'; WARNING: {len(shared_missing)} weights of the detector itself are '
                     f'missing too, e.g. {shared_missing[:3]}')
        runner.logger.info(line)


@HOOKS.register_module()
class LossGuardHook(Hook):
    """Reduce the logged losses over processes, and stop at the first non-finite one.

    * mmengine logs each process's own losses; on a multi-process run this averages
      every logged value over the processes first, so the log shows the losses of the
      whole batch.
    * A non-finite loss term stops training on every process (they all see the same
      reduced values, so none is left waiting in a collective), with a message naming
      the term and the iteration. It runs before ``CheckpointHook``, so no checkpoint of
      that step is written: the checkpoints already saved stay the last good ones.
    """

    priority = 'HIGHEST'  # before RuntimeInfoHook / LoggerHook read the outputs

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs: Optional[dict] = None) -> None:
        if not outputs:
            return
        if get_world_size() > 1:
            keys = sorted(outputs)
            values = torch.stack([torch.as_tensor(outputs[k], dtype=torch.float64).detach()
                                  .cpu().reshape(()) for k in keys])
            all_reduce(values, op='mean')  # in place
            for key, value in zip(keys, values):
                outputs[key] = value.to(torch.float32)
        bad = [key for key, value in outputs.items()
               if key.startswith('loss') and not math.isfinite(float(value))]
        bad = [key for key in bad if key != 'loss'] or bad  # name the terms, not their sum
        if bad:
            last = runner.message_hub.get_info('last_ckpt')
            raise FloatingPointError(
                f'non-finite loss at iteration {runner.iter + 1} (epoch {runner.epoch + 1}): '
                f'{", ".join(f"{k}={float(outputs[k])}" for k in bad)}; training stopped '
                f'before this step could be checkpointed. Last good checkpoint: '
                f'{last or "none saved yet"}; fix: lower the learning rate or the weight of '
                f'{bad[0]}, or clip gradients (optim_wrapper.clip_grad), then resume with '
                f'--resume {last or "<checkpoint>"}')


@HOOKS.register_module()
class RandomStateHook(Hook):
    """Save every process's random number generators in checkpoints; restore them on
    resume.

    mmengine re-seeds on resume, so a resumed run draws different augmentations and
    RoI samples than a run that never stopped. With this hook (and
    ``randomness=dict(seed=..., deterministic=True)``, data loading in the main process),
    the losses after a resume are those of the uninterrupted run, on every process.

    Only rank 0 writes checkpoints (``Runner.save_checkpoint`` is master-only), so when a
    checkpoint is due the ranks' states are gathered to it first, at the end of the
    epoch (or iteration) that ``CheckpointHook`` saves, and stored under
    ``meta.rng_state[rank]``; on resume each rank restores its own. A checkpoint written
    elsewhere (``save_best``) holds rank 0's state only. Nothing is restored on
    ``load_from``, only on resume.
    """

    priority = 'NORMAL'  # before CheckpointHook ('VERY_LOW') in the same stage

    def __init__(self):
        self._gathered: Optional[tuple] = None  # (iteration, {rank: state})

    @staticmethod
    def _state() -> dict:
        state = dict(python=random.getstate(), numpy=np.random.get_state(),
                     torch=torch.get_rng_state())
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            state['cuda'] = torch.cuda.get_rng_state_all()
        return state

    @staticmethod
    def _checkpoint_hook(runner):
        return next((hook for hook in runner.hooks if isinstance(hook, CheckpointHook)), None)

    def _gather(self, runner) -> None:
        if get_world_size() > 1:
            states = all_gather_object(self._state())
            self._gathered = (runner.iter, dict(enumerate(states)))

    def after_train_epoch(self, runner) -> None:
        hook = self._checkpoint_hook(runner)
        if hook is not None and hook.by_epoch and (
                self.every_n_epochs(runner, hook.interval, hook.save_begin)
                or (hook.save_last and self.is_last_train_epoch(runner))):
            self._gather(runner)

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs: Optional[dict] = None) -> None:
        hook = self._checkpoint_hook(runner)
        if hook is not None and not hook.by_epoch and (
                self.every_n_train_iters(runner, hook.interval, hook.save_begin)
                or (hook.save_last and self.is_last_train_iter(runner))):
            self._gather(runner)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        if self._gathered is not None and self._gathered[0] == runner.iter:
            states = self._gathered[1]
        else:
            states = {get_rank(): self._state()}
        checkpoint.setdefault('meta', {})['rng_state'] = states

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        if not runner_resumes(runner):
            return
        states: Dict[int, dict] = checkpoint.get('meta', {}).get('rng_state', {})
        state = states.get(get_rank())
        if state is None:
            if states:
                runner.logger.warning(
                    f'RandomStateHook: the checkpoint holds the random state of rank(s) '
                    f'{sorted(states)}, not of rank {get_rank()}; this rank draws anew '
                    f'after the resume')
            return
        random.setstate(state['python'])
        np.random.set_state(state['numpy'])
        torch.set_rng_state(state['torch'])
        if 'cuda' in state and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state['cuda'])


@HOOKS.register_module()
class ChannelsLastHook(Hook):
    """Hold the model's 4-D weights in channels-last (NHWC) memory format, so that its
    convolutions produce, and the layers after them read, channels-last maps.

    The computation is the same (up to float rounding); its speed is not: on a CPU,
    oneDNN's convolutions and PyTorch's max-pooling and activations run faster on
    channels-last maps (YOLO11n, 2-core CPU: a training step 0.94 of the same step in
    NCHW, a 640-px prediction 0.85; an SPPF max-pooling 10x faster), and on a GPU
    channels-last is what tensor-core convolutions under AMP prefer. It acts before the
    run's other hooks (``VERY_HIGH``), so that copies they make of the model (EMA) are
    channels-last as well; checkpoints hold the same values and load into a model in
    either format."""

    priority = 'VERY_HIGH'

    def before_run(self, runner) -> None:
        unwrap(runner.model).to(memory_format=torch.channels_last)


def apply_channels_last(model, cfg) -> bool:
    """What :class:`ChannelsLastHook` does at the start of a run, for tools that build a
    config's model without a Runner (benchmarks): channels-last when ``cfg.custom_hooks``
    lists the hook. Returns whether it did."""
    if not any(hook.get('type') in ('ChannelsLastHook', ChannelsLastHook)
               for hook in cfg.get('custom_hooks', None) or []):
        return False
    unwrap(model).to(memory_format=torch.channels_last)
    return True
