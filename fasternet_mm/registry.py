"""Register this package's modules with whichever OpenMMLab codebases exist.

``import fasternet_mm`` (or ``custom_imports=dict(imports=['fasternet_mm'])``
in a config) makes ``type='FasterNet'`` buildable from MMDetection's and
MMSegmentation's ``MODELS`` registries; either may be absent.
"""
import importlib

from .models import FasterNet

CODEBASES = ('mmdet', 'mmseg')


def _installed_registries():
    for codebase in CODEBASES:
        try:
            yield importlib.import_module(f'{codebase}.registry')
        except ModuleNotFoundError as e:
            if e.name != codebase:  # installed but broken: say so
                raise


def register_all_modules():
    """Add FasterNet to the ``MODELS`` registry of every installed codebase."""
    registered = []
    for registry in _installed_registries():
        if 'FasterNet' not in registry.MODELS.module_dict:
            registry.MODELS.register_module(module=FasterNet)
        registered.append(registry.__name__.split('.')[0])
    return registered


REGISTERED_IN = register_all_modules()
