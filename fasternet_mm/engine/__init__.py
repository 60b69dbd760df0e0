from .hooks import RUN_HOOKS, CheckpointFitHook, FasterNetDeployHook

__all__ = ['CheckpointFitHook', 'FasterNetDeployHook', 'RUN_HOOKS']
