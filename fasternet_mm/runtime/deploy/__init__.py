"""Running a trained model fast: in PyTorch (:func:`optimize_for_inference`,
``FastInferenceHook``), or exported whole (:func:`export_model`) and run
from its folder (:class:`DeployedModel`; :func:`test_deployed` for our
tools)."""
from .configs import BACKENDS, PRECISIONS, model_hash
from .export import export_model
from .folder import is_deployed_dir, load_meta
from .inference import (FastInferenceHook, choose_precision, cpu_bf16_feature,
                        optimize_for_inference)
from .model import DeployedModel
from .tools import deployed_inferencer, test_deployed

__all__ = [
    'BACKENDS', 'PRECISIONS', 'DeployedModel', 'FastInferenceHook',
    'choose_precision', 'cpu_bf16_feature', 'deployed_inferencer',
    'export_model', 'is_deployed_dir', 'load_meta', 'model_hash',
    'optimize_for_inference', 'test_deployed'
]
