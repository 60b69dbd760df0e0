from .backbones import FasterNet, convert_fasternet_checkpoint

__all__ = ['FasterNet', 'convert_fasternet_checkpoint']
