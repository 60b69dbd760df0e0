from .atomic_checkpoint_hook import AtomicCheckpointHook
from .checkpoint_fit_hook import CheckpointFitHook
from .deploy_hook import FasterNetDeployHook

# Hooks that tools/train.py and tools/test.py add to every run.
RUN_HOOKS = ('CheckpointFitHook', )

__all__ = [
    'AtomicCheckpointHook', 'CheckpointFitHook', 'FasterNetDeployHook',
    'RUN_HOOKS'
]
