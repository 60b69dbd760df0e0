"""Whole-model deployment: export (:func:`export_model`), the exported
folder as a model (:class:`DeployedModel`), and our tools' use of it
(:func:`test_deployed`)."""
from ..cli import is_deployed_dir
from .configs import BACKENDS, PRECISIONS, model_hash
from .export import export_model
from .model import DeployedModel, load_meta
from .tools import deployed_inferencer, test_deployed

__all__ = [
    'BACKENDS', 'PRECISIONS', 'DeployedModel', 'deployed_inferencer',
    'export_model', 'is_deployed_dir', 'load_meta', 'model_hash',
    'test_deployed'
]
