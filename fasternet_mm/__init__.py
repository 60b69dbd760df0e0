"""FasterNet for MMDetection 3.x and MMSegmentation 1.x: the model layer.

``import fasternet_mm`` registers the project's models (the FasterNet
backbone and, with MMDetection, the PConvPAFPN neck) in mmengine's root
``MODELS`` and in MMDetection's and MMSegmentation's, and does nothing
else. The run-time (safe checkpoint loading, the run hooks, run set-up,
fast inference) is the opt-in layer :mod:`fasternet_mm.runtime`, which the
configs and tools import.
"""
from . import registry  # noqa: F401
from .models import FasterNet, convert_fasternet_checkpoint
from .version import __version__

__all__ = ['FasterNet', 'convert_fasternet_checkpoint', '__version__']
