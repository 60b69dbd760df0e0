from .atomic_save_hook import AtomicSaveHook
from .checkpoint_fit_hook import CheckpointFitHook
from .data_load_check_hook import (CheckedTransform, DataLoadCheckHook,
                                   wrap_pipelines)
from .fast_inference_hook import FastInferenceHook
from .finite_loss_hook import FiniteLossHook
from .train_setup_check_hook import TrainSetupCheckHook

# The run hooks every config names, once, through
# configs/_base_/fasternet_runtime.py (``fasternet_hooks``); build_runner
# checks that a config has them.
FASTERNET_HOOKS = ('AtomicSaveHook', 'CheckpointFitHook', 'DataLoadCheckHook',
                   'FiniteLossHook', 'TrainSetupCheckHook')

__all__ = [
    'AtomicSaveHook', 'CheckedTransform', 'CheckpointFitHook',
    'DataLoadCheckHook', 'FASTERNET_HOOKS', 'FastInferenceHook',
    'FiniteLossHook', 'TrainSetupCheckHook', 'wrap_pipelines'
]
