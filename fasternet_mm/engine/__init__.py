from .hooks import (RUN_HOOKS, AtomicCheckpointHook, CheckpointFitHook,
                    FasterNetDeployHook)

__all__ = [
    'AtomicCheckpointHook', 'CheckpointFitHook', 'FasterNetDeployHook',
    'RUN_HOOKS'
]
