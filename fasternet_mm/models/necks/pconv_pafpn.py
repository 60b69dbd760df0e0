"""RTMDet's neck with FasterNet blocks: the MMDetection "C2f-Faster".

MMDetection's ``CSPNeXtPAFPN`` (the RTMDet neck) mixes features in four
CSP layers (two top-down, two bottom-up). Each is mmdet's ``CSPLayer``: a
1x1 conv into a main and a short branch, inner blocks on the main branch,
concat, a 1x1 conv out. :class:`PConvPAFPN` keeps all of it and replaces
only the inner blocks, ``CSPNeXtBlock`` (3x3 conv, 5x5 depthwise-separable
conv), by the backbone's FasterNet block (PConv over a quarter of the
channels, then the two pointwise convs, plus a residual), as the community's
C2f-Faster does inside YOLOv8's C2f layers.
"""
import torch.nn as nn
from mmdet.models.layers import CSPLayer
from mmdet.models.necks import CSPNeXtPAFPN
from mmengine.registry import MODELS

from ..backbones.fasternet import FasterNetBlock


@MODELS.register_module()
class PConvPAFPN(CSPNeXtPAFPN):
    """``CSPNeXtPAFPN`` whose CSP layers hold FasterNet blocks.

    Takes ``CSPNeXtPAFPN``'s arguments (``num_csp_blocks`` is the number of
    FasterNet blocks per CSP layer) and the block's own. The blocks use the
    neck's ``norm_cfg`` and ``act_cfg``; ``use_depthwise`` still applies to
    the neck's downsampling and output convs.

    Args:
        n_div (int): PConv convolves ``1 / n_div`` of each block's channels.
            Defaults to 4, as FasterNet.
        mlp_ratio (float): Width of the hidden pointwise layer, in block
            widths. Defaults to 2, as FasterNet.
        *args, **kwargs: ``CSPNeXtPAFPN``'s arguments.
    """

    def __init__(self,
                 *args,
                 n_div: int = 4,
                 mlp_ratio: float = 2.,
                 norm_cfg: dict = dict(type='BN', momentum=0.03, eps=0.001),
                 act_cfg: dict = dict(type='Swish'),
                 **kwargs):
        super().__init__(*args, norm_cfg=norm_cfg, act_cfg=act_cfg, **kwargs)
        for layer in self.csp_layers():
            # CSPLayer.forward runs blocks(main_conv(x)): same width in, out.
            width = layer.main_conv.out_channels
            layer.blocks = nn.Sequential(*[
                FasterNetBlock(
                    width,
                    n_div=n_div,
                    mlp_ratio=mlp_ratio,
                    act_cfg=act_cfg,
                    norm_cfg=norm_cfg) for _ in layer.blocks
            ])

    def csp_layers(self):
        """The four CSP layers, top-down then bottom-up.

        Raises:
            RuntimeError: MMDetection no longer builds its CSP layers where
                this class replaces their blocks.
        """
        layers = [
            *getattr(self, 'top_down_blocks', ()),
            *getattr(self, 'bottom_up_blocks', ())
        ]
        if not layers or not all(
                isinstance(m, CSPLayer)
                and isinstance(getattr(m, 'blocks', None), nn.Sequential)
                for m in layers):
            raise RuntimeError(
                'PConvPAFPN expects CSPNeXtPAFPN to hold mmdet CSPLayers '
                '(with a .blocks Sequential) in top_down_blocks and '
                'bottom_up_blocks, as MMDetection 3.3 does; this MMDetection '
                'builds it differently')
        return layers
