from .hooks import FastInferenceHook

__all__ = ['FastInferenceHook']
