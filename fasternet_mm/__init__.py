"""FasterNet backbones for MMDetection 3.x and MMSegmentation 1.x.

Importing the package registers FasterNet (``registry.py``) and the
project's hooks, and routes mmengine's checkpoint loading through the safe
loader (``checkpoint.py``, the one place that patches anything).
"""
from . import checkpoint, engine, registry  # noqa: F401
from .models import FasterNet, convert_fasternet_checkpoint
from .version import __version__

__all__ = ['FasterNet', 'convert_fasternet_checkpoint', '__version__']
