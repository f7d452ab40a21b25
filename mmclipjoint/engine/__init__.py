from .hooks import JointTrainingCheckHook, LossGuardHook, RandomStateHook
from .model_wrappers import CPUDistributedDataParallel

__all__ = [
    'CPUDistributedDataParallel', 'JointTrainingCheckHook', 'LossGuardHook', 'RandomStateHook'
]
