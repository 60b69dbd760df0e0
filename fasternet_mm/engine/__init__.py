from .hooks import (RUN_HOOKS, AtomicCheckpointHook, CheckpointFitHook,
                    FasterNetDeployHook, FiniteLossHook, TrainSetupCheckHook)

__all__ = [
    'AtomicCheckpointHook', 'CheckpointFitHook', 'FasterNetDeployHook',
    'FiniteLossHook', 'RUN_HOOKS', 'TrainSetupCheckHook'
]
