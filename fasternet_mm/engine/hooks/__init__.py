from .deploy_hook import FasterNetDeployHook

__all__ = ['FasterNetDeployHook']
