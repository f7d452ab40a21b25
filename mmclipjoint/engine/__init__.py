from .hooks import JointTrainingCheckHook, LossGuardHook, RandomStateHook
from .model_wrappers import CPUDistributedDataParallel
from .optimizers import GroupedOptimWrapperConstructor
from .schedule_hooks import YOLOLRScheduleHook

__all__ = [
    'CPUDistributedDataParallel', 'GroupedOptimWrapperConstructor', 'JointTrainingCheckHook',
    'LossGuardHook', 'RandomStateHook', 'YOLOLRScheduleHook'
]
