"""Make FasterNet buildable under every name configs use.

The model file registers FasterNet in mmengine's root ``MODELS``, which
every codebase's ``MODELS`` searches, so ``type='FasterNet'`` builds in any
scope. A scoped name (``type='mmdet.FasterNet'``, ``'mmseg.FasterNet'``)
looks in that codebase's registry alone, so importing this module also
adds FasterNet to MMDetection's and MMSegmentation's, where installed.
"""
import importlib

from .models import FasterNet

for _codebase in ('mmdet', 'mmseg'):
    try:
        _registry = importlib.import_module(f'{_codebase}.registry')
    except ModuleNotFoundError as e:
        if e.name != _codebase:  # installed but broken: say so
            raise
        continue
    _registry.MODELS.register_module(module=FasterNet)
