from .hooks import ChannelsLastHook, JointTrainingCheckHook, LossGuardHook, RandomStateHook
from .model_wrappers import CPUDistributedDataParallel
from .optimizers import GroupedOptimWrapperConstructor
from .schedule_hooks import YOLOLRScheduleHook

__all__ = [
    'ChannelsLastHook', 'CPUDistributedDataParallel', 'GroupedOptimWrapperConstructor',
    'JointTrainingCheckHook', 'LossGuardHook', 'RandomStateHook', 'YOLOLRScheduleHook'
]
