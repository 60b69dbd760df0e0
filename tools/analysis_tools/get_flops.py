"""Count the parameters and FLOPs of a FasterNet preset or of a config.

FLOPs are multiply-adds as fvcore counts them, through mmengine's
``FlopAnalyzer`` (what ``get_model_complexity_info`` uses), the
convention of the FasterNet paper. Two numbers are given for models with a
FasterNet backbone: *unfused* counts every BatchNorm as it runs in training
form; *fused* is the deploy form (``FasterNet.switch_to_deploy()``), where
each BatchNorm that follows a conv is folded into that conv.

Examples::

    # the paper's table: classification model (trunk + head) at 224x224
    python tools/analysis_tools/get_flops.py t0 t1 t2 s m l --with-cls-head
    # the dense-prediction backbone (with its output norms) at 800x1280
    python tools/analysis_tools/get_flops.py s --shape 800 1280
    # a whole detector, as MMDetection's get_flops counts it
    python tools/analysis_tools/get_flops.py configs/mask_rcnn_fasternet_s.py
"""
import argparse
import os.path as osp
from functools import partial
from typing import Optional, Sequence

import torch
import torch.nn as nn
from mmcv.cnn import build_activation_layer

from fasternet_mm import FasterNet
from fasternet_mm.errors import ConfigValueError, run_tool
from fasternet_mm.runtime import build_model_from_cfg
from fasternet_mm.runtime.analysis import complexity, data_batch
from fasternet_mm.runtime.cli import CfgOptions, image_side

PRESETS = tuple(FasterNet.arch_settings)


class FasterNetClassifier(nn.Module):
    """The paper's classification model, built only to count it.

    The FasterNet trunk (without the dense-prediction output norms), then
    global average pool -> Conv1x1(8C -> 1280) -> act -> Linear(1280 -> 1000).
    """

    def __init__(self,
                 arch: str,
                 num_classes: int = 1000,
                 head_dim: int = 1280):
        super().__init__()
        self.backbone = FasterNet(arch, out_indices=(3, ))
        del self.backbone.norm3  # the paper's head reads the raw trunk
        self.avgpool_pre_head = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Conv2d(self.backbone.embed_dims[-1], head_dim, 1, bias=False),
            build_activation_layer(self.backbone.arch['act_cfg']))
        self.head = nn.Linear(head_dim, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.backbone.patch_embed(x)
        for stage in self.backbone.stages:
            x = stage(x)
        return self.head(self.avgpool_pre_head(x).flatten(1))


def _fasternet_of(model: nn.Module) -> Optional[FasterNet]:
    if isinstance(model, FasterNet):
        return model
    backbone = getattr(model, 'backbone', None)
    return backbone if isinstance(backbone, FasterNet) else None


def get_flops(model_name: str,
              shape: Optional[Sequence[int]] = None,
              with_cls_head: bool = False,
              cfg_options: Optional[dict] = None) -> dict:
    """Params and FLOPs (unfused and, for FasterNet, fused) of a model.

    Args:
        model_name (str): A FasterNet preset (``'t0'`` ... ``'l'``) or the
            path of an MMDetection / MMSegmentation config (or
            ``mmdet::`` / ``mmseg::`` and the path of an installed one).
        shape (Sequence[int], optional): Input ``(H, W)``; 224x224 for a
            preset, 800x1280 (the paper's "1280x800") for a config.
        with_cls_head (bool): For a preset, count the paper's classification
            model (trunk + head, no output norms) instead of the backbone.
        cfg_options (dict, optional): Overrides merged into the config.

    Returns:
        dict: ``params``, ``flops`` (unfused), ``flops_fused`` (FasterNet
        only) and ``shape``.
    """
    if model_name.lower() in PRESETS:
        shape = tuple(shape or (224, 224))
        model = FasterNetClassifier(model_name) if with_cls_head else \
            FasterNet(model_name)
        model.eval()
        inputs = (torch.randn(1, 3, *shape), )
    elif osp.isfile(model_name) or '::' in model_name:
        if with_cls_head:
            raise ConfigValueError(
                '--with-cls-head applies to a FasterNet preset')
        shape = tuple(shape or (800, 1280))
        model = build_model_from_cfg(model_name, cfg_options)
        scope = model.cfg.default_scope
        data = model.data_preprocessor(
            data_batch(scope, shape, random=False), False)
        model.forward = partial(
            model.forward, data_samples=data['data_samples'], mode='tensor')
        inputs = (data['inputs'], )
    else:
        raise ConfigValueError(
            f'{model_name!r} is neither a FasterNet preset {list(PRESETS)} '
            'nor a config file (a path, or an installed config such as '
            'mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py)')
    result = dict(shape=shape, **complexity(model, inputs))
    fasternet = _fasternet_of(model)
    if fasternet is not None:
        fasternet.switch_to_deploy()
        result['flops_fused'] = complexity(model, inputs)['flops']
    return result


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Params and FLOPs of FasterNet presets or configs')
    parser.add_argument(
        'models',
        nargs='+',
        help=f'FasterNet presets {list(PRESETS)} and/or config files')
    parser.add_argument(
        '--shape',
        type=image_side,
        nargs=2,
        metavar=('H', 'W'),
        help='input height and width (default: 224 224 for presets, '
        '800 1280 for configs)')
    parser.add_argument(
        '--with-cls-head',
        action='store_true',
        help="count a preset as the paper's classification model "
        '(trunk + 1280-d head, no output norms), as in its FLOPs table')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=CfgOptions,
        help='override settings of the config, as in tools/train.py')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    print(f'{"model":<40} {"input":>10} {"params":>10} '
          f'{"FLOPs fused":>12} {"FLOPs unfused":>14}')
    for name in args.models:
        r = get_flops(name, args.shape, args.with_cls_head, args.cfg_options)
        fused = f'{r["flops_fused"] / 1e9:.3f}G' if 'flops_fused' in r \
            else '-'
        print(f'{name:<40} {"x".join(map(str, r["shape"])):>10} '
              f'{r["params"] / 1e6:>9.3f}M {fused:>12} '
              f'{r["flops"] / 1e9:>13.3f}G')
    print('FLOPs are multiply-adds (fvcore convention). "fused": BatchNorm '
          'folded into the preceding conv (FasterNet deploy mode).')


if __name__ == '__main__':
    run_tool(main)
