from .checkpoint import load_local_training_checkpoint

__all__ = ['load_local_training_checkpoint']
