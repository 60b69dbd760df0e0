from .hooks import (RUN_HOOKS, AtomicCheckpointHook, CheckpointFitHook,
                    DataLoadCheckHook, FastInferenceHook, FiniteLossHook,
                    TrainSetupCheckHook)

__all__ = [
    'AtomicCheckpointHook', 'CheckpointFitHook', 'DataLoadCheckHook',
    'FastInferenceHook', 'FiniteLossHook', 'RUN_HOOKS', 'TrainSetupCheckHook'
]
