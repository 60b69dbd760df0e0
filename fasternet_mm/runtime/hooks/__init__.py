from .atomic_save_hook import AtomicSaveHook
from .checkpoint_fit_hook import CheckpointFitHook
from .finite_loss_hook import FiniteLossHook
from .setup_check_hook import SetupCheckHook

# The run hooks every config names, once, through
# configs/_base_/fasternet_runtime.py (``fasternet_hooks``).
FASTERNET_HOOKS = ('AtomicSaveHook', 'CheckpointFitHook', 'FiniteLossHook',
                   'SetupCheckHook')

__all__ = [
    'AtomicSaveHook', 'CheckpointFitHook', 'FASTERNET_HOOKS', 'FiniteLossHook',
    'SetupCheckHook'
]
