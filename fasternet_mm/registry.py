"""Make the project's models buildable under every name configs use.

The model files register them in mmengine's root ``MODELS``, which every
codebase's ``MODELS`` searches, so ``type='FasterNet'`` builds in any scope.
A scoped name (``type='mmdet.FasterNet'``, ``'mmseg.FasterNet'``) looks in
that codebase's registry alone, so importing this module also adds them to
MMDetection's and MMSegmentation's, where installed: the FasterNet backbone
to both, the PConvPAFPN neck (built from MMDetection's parts) to
MMDetection's.
"""
import importlib

from . import models

# codebase -> the names of the models its registry gets
CODEBASE_MODELS = {
    'mmdet': ('FasterNet', 'PConvPAFPN'),
    'mmseg': ('FasterNet', ),
}

for _codebase, _names in CODEBASE_MODELS.items():
    try:
        _registry = importlib.import_module(f'{_codebase}.registry')
    except ModuleNotFoundError as e:
        if e.name != _codebase:  # installed but broken: say so
            raise
        continue
    for _name in _names:
        _registry.MODELS.register_module(module=getattr(models, _name))
