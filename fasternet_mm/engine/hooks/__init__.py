from .fast_inference_hook import FastInferenceHook

__all__ = ['FastInferenceHook']
