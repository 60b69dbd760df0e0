"""Export a FasterNet backbone to ONNX and check it with onnxruntime.

The exported graph takes ``input`` (N x 3 x H x W, dynamic N, H and W; H and
W multiples of 32) and returns ``feat0`` ... ``feat3`` (strides 4 to 32).
By default the backbone is exported in deploy form (BatchNorm folded into
the convs); PConv is traced as Split -> Conv -> Concat.

Examples::

    python tools/deployment/pytorch2onnx.py s --out fasternet_s.onnx
    python tools/deployment/pytorch2onnx.py configs/mask_rcnn_fasternet_s.py \\
        --checkpoint work_dirs/mask_rcnn_fasternet_s/epoch_12.pth \\
        --out fasternet_s_det.onnx --verify-shape 800 1216
"""
import argparse
import inspect
import io
import os.path as osp
import warnings
from typing import Optional, Sequence

import numpy as np
import torch

from fasternet_mm import FasterNet
from fasternet_mm.errors import ConfigValueError, run_tool
from fasternet_mm.runtime import load_config
from fasternet_mm.runtime.cli import check_output, file_or_url, image_side
from fasternet_mm.runtime.fileio import atomic_write

# torch >= 2.5 has a dynamo exporter; this tool uses the TorchScript one,
# which every supported torch has.
EXPORT_KWARGS = dict(dynamo=False) if 'dynamo' in inspect.signature(
    torch.onnx.export).parameters else {}


def build_backbone(model: str,
                   checkpoint: Optional[str] = None,
                   deploy: bool = True) -> FasterNet:
    """A FasterNet from a preset name or a config's ``model.backbone``."""
    if osp.isfile(model):
        cfg = load_config(model).model.backbone.to_dict()
        if cfg.pop('type').split('.')[-1] != 'FasterNet':
            raise ConfigValueError(f'{model} has no FasterNet backbone')
        cfg.pop('init_cfg', None)
        backbone = FasterNet(**cfg)
    else:
        backbone = FasterNet(model)
        backbone.init_weights()
    if checkpoint:
        backbone.load_pretrained(checkpoint)
    backbone.eval()
    return backbone.switch_to_deploy() if deploy else backbone


def export(backbone: FasterNet,
           out: str,
           shape: Sequence[int] = (224, 224),
           opset: int = 17) -> None:
    """Trace ``backbone`` at ``1 x 3 x H x W`` into ``out``, H/W dynamic
    (written atomically: a failed export leaves no partial file)."""
    names = [f'feat{i}' for i in backbone.out_indices]
    dynamic = {'input': {0: 'batch', 2: 'height', 3: 'width'}}
    dynamic.update({n: {0: 'batch', 2: f'{n}_h', 3: f'{n}_w'} for n in names})
    graph = io.BytesIO()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter('ignore')  # the legacy exporter's deprecation
        try:
            torch.onnx.export(
                backbone, (torch.randn(1, 3, *shape), ),
                graph,
                input_names=['input'],
                output_names=names,
                dynamic_axes=dynamic,
                opset_version=opset,
                **EXPORT_KWARGS)
        except (ValueError, RuntimeError) as e:
            # The exporter's own range of opsets (it differs between torch
            # versions): 'Unsupported ONNX opset version: 3'.
            if 'opset' not in str(e).lower():
                raise
            raise ConfigValueError(
                f'--opset {opset}: {str(e).splitlines()[0]} (by torch '
                f'{torch.__version__}\'s exporter); the default is 17'
            ) from None
    atomic_write(out, graph.getvalue())


def verify(backbone: FasterNet,
           onnx_file: str,
           shape: Sequence[int] = (256, 320),
           batch: int = 1) -> float:
    """Largest absolute difference of onnxruntime from PyTorch at ``shape``."""
    import onnxruntime as ort
    x = torch.randn(batch, 3, *shape)
    session = ort.InferenceSession(
        onnx_file, providers=['CPUExecutionProvider'])
    ort_outs = session.run(None, {'input': x.numpy()})
    with torch.no_grad():
        outs = backbone(x)
    if [o.shape for o in ort_outs] != [tuple(o.shape) for o in outs]:
        raise AssertionError(
            f'onnxruntime shapes {[o.shape for o in ort_outs]} differ from '
            f'PyTorch {[tuple(o.shape) for o in outs]}')
    return max(
        float(np.abs(o - t.numpy()).max()) for o, t in zip(ort_outs, outs))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Export a FasterNet backbone to ONNX')
    parser.add_argument(
        'model',
        help=f'a preset {list(FasterNet.arch_settings)} or a config file '
        'whose model.backbone is a FasterNet')
    parser.add_argument(
        '--checkpoint',
        type=file_or_url,
        help='official, timm or whole-detector checkpoint (default: random '
        'init)')
    parser.add_argument('--out', default='fasternet.onnx', help='ONNX file')
    parser.add_argument(
        '--shape',
        type=image_side,
        nargs=2,
        default=[224, 224],
        metavar=('H', 'W'),
        help='input size to trace at, multiples of 32 (H and W stay dynamic)')
    parser.add_argument(
        '--verify-shape',
        type=image_side,
        nargs=2,
        default=[256, 320],
        metavar=('H', 'W'),
        help='input size to compare onnxruntime at, multiples of 32')
    parser.add_argument('--opset', type=int, default=17)
    parser.add_argument(
        '--no-deploy',
        action='store_true',
        help='export the training form (BatchNorm kept) instead of deploy')
    parser.add_argument(
        '--atol',
        type=float,
        default=1e-4,
        help='largest absolute difference that passes verification')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    check_output(args.out, args.checkpoint, args.model)
    backbone = build_backbone(args.model, args.checkpoint, not args.no_deploy)
    export(backbone, args.out, args.shape, args.opset)
    print(f'exported {args.out} (traced at {args.shape[0]}x{args.shape[1]})')
    diff = verify(backbone, args.out, args.verify_shape)
    status = 'OK' if diff <= args.atol else 'FAILED'
    print(f'onnxruntime vs PyTorch at {args.verify_shape[0]}x'
          f'{args.verify_shape[1]}: max abs diff {diff:.2e} ({status}, atol '
          f'{args.atol})')
    if diff > args.atol:
        raise SystemExit(1)


if __name__ == '__main__':
    run_tool(main)
