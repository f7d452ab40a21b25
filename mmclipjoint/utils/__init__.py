from .checkpoint import (CHECKPOINT_SAFE_GLOBALS, AtomicLocalBackend, CheckpointDamagedError,
                         CheckpointRefusedError, load_checkpoint_file, load_local_checkpoint,
                         trust_checkpoint)

__all__ = [
    'CHECKPOINT_SAFE_GLOBALS', 'AtomicLocalBackend', 'CheckpointDamagedError',
    'CheckpointRefusedError', 'load_checkpoint_file', 'load_local_checkpoint', 'trust_checkpoint'
]
