from .hooks import FasterNetDeployHook

__all__ = ['FasterNetDeployHook']
