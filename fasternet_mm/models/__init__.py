from .backbones import FasterNet, convert_fasternet_checkpoint

__all__ = ['FasterNet', 'convert_fasternet_checkpoint']

try:  # built from MMDetection's parts: with fasternet_mm[det] only
    from .necks import PConvPAFPN  # noqa: F401 (in __all__ below)
except ModuleNotFoundError as e:
    if e.name != 'mmdet':  # installed but broken: say so
        raise
else:
    __all__.append('PConvPAFPN')
