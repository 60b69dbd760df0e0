from .hooks import (RUN_HOOKS, AtomicCheckpointHook, CheckpointFitHook,
                    DataLoadCheckHook, FasterNetDeployHook, FiniteLossHook,
                    TrainSetupCheckHook)

__all__ = [
    'AtomicCheckpointHook', 'CheckpointFitHook', 'DataLoadCheckHook',
    'FasterNetDeployHook', 'FiniteLossHook', 'RUN_HOOKS',
    'TrainSetupCheckHook'
]
