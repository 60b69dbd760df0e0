from .atomic_checkpoint_hook import AtomicCheckpointHook
from .checkpoint_fit_hook import CheckpointFitHook
from .data_load_check_hook import DataLoadCheckHook
from .fast_inference_hook import FastInferenceHook
from .finite_loss_hook import FiniteLossHook
from .train_setup_check_hook import TrainSetupCheckHook

# Hooks that tools/train.py and tools/test.py add to every run.
RUN_HOOKS = ('CheckpointFitHook', 'DataLoadCheckHook', 'FiniteLossHook',
             'TrainSetupCheckHook')

__all__ = [
    'AtomicCheckpointHook', 'CheckpointFitHook', 'DataLoadCheckHook',
    'FastInferenceHook', 'FiniteLossHook', 'RUN_HOOKS', 'TrainSetupCheckHook'
]
