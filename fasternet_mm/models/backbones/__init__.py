from .ckpt_convert import convert_fasternet_checkpoint
from .fasternet import FasterNet

__all__ = ['FasterNet', 'convert_fasternet_checkpoint']
