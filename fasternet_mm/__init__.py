"""FasterNet backbones for MMDetection 3.x and MMSegmentation 1.x."""
from . import checkpoint  # noqa: F401  (safe torch.load for mmengine)
from . import engine  # noqa: F401  (FastInferenceHook)
from .models import FasterNet, convert_fasternet_checkpoint
from .registry import REGISTERED_IN
from .version import __version__

__all__ = [
    'FasterNet', 'convert_fasternet_checkpoint', 'REGISTERED_IN', '__version__'
]
