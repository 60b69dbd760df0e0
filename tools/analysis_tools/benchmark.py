"""Inference speed of FasterNet against ResNet, on CPU or CUDA, in one run.

Every case (model x mode x dtype x memory format) is timed in turn within
each round, so drifting clocks or background load hit all of them alike;
the reported latency is the median over all rounds. Modes:

* ``eager``: the training form in eval mode (BatchNorm kept);
* ``deploy``: BatchNorm folded into the convs (``FasterNet.switch_to_deploy``,
  ``mmcv.cnn.fuse_conv_bn`` for the other backbones);
* ``compile``: ``torch.compile`` of the deploy form (compiled in warm-up).

Detector cases time whole Mask R-CNN inference (``model.test_step``:
preprocessing, backbone, FPN, RPN, RoI heads and mask pasting) on the same
random image; ``--det-score-thr 0`` makes every model run its mask head on
``max_per_img`` boxes, as a trained model does on a busy image.

Example (the numbers of docs/benchmarks.md)::

    python tools/analysis_tools/benchmark.py --backbones t0 s resnet50 \\
        --modes eager deploy --shape 800 1216 --out work_dirs/bench.json \\
        --plot work_dirs/bench.png
"""
import argparse
import copy
import json
import os
import os.path as osp
import platform
import statistics
import time
from typing import Callable, List

import torch
import torch.nn as nn
from mmcv.cnn import fuse_conv_bn
from mmengine.analysis import FlopAnalyzer, parameter_count
from mmengine.config import Config
from mmengine.registry import init_default_scope

from fasternet_mm import FasterNet

RESNETS = {'resnet18': 18, 'resnet50': 50, 'resnet101': 101}
DTYPES = {'fp32': torch.float32, 'fp16': torch.float16}
FORMATS = {'nchw': torch.contiguous_format,
           'channels_last': torch.channels_last}
DET_CONFIGS = ['configs/mask_rcnn_fasternet_s.py',
               'mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py']


def build_backbone(name: str) -> nn.Module:
    """A FasterNet preset or one of MMDetection's ResNets, in eval mode."""
    if name in FasterNet.arch_settings:
        model = FasterNet(name)
    elif name in RESNETS:
        from mmdet.models.backbones import ResNet
        model = ResNet(RESNETS[name])
    else:
        raise ValueError(f'unknown backbone {name!r}; choose from '
                         f'{list(FasterNet.arch_settings) + list(RESNETS)}')
    model.eval()
    return model


def to_deploy(model: nn.Module) -> nn.Module:
    """Fold every BatchNorm that follows a conv into that conv."""
    if hasattr(model, 'switch_to_deploy'):
        return model.switch_to_deploy()
    return fuse_conv_bn(model)


def config_path(name: str) -> str:
    """Resolve ``mmdet::path`` to the config installed with MMDetection."""
    if '::' not in name:
        return name
    scope, rel = name.split('::')
    package = __import__(scope)
    return osp.join(osp.dirname(package.__file__), '.mim', 'configs', rel)


def build_detector(config: str, score_thr: float):
    """Build a config's model (random weights) in eval mode."""
    import fasternet_mm  # noqa: F401  (registers FasterNet)
    from mmdet.registry import MODELS
    cfg = Config.fromfile(config_path(config))
    cfg.model.backbone.pop('init_cfg', None)
    cfg.model.test_cfg.rcnn.score_thr = score_thr
    init_default_scope('mmdet')
    model = MODELS.build(cfg.model)
    model.eval()
    return model


def detector_batch(shape, device) -> dict:
    """One random uint8 image of ``shape`` as ``test_step`` takes it."""
    from mmdet.structures import DetDataSample
    h, w = shape
    gen = torch.Generator().manual_seed(0)
    img = torch.randint(0, 256, (3, h, w), dtype=torch.uint8, generator=gen)
    meta = dict(img_shape=(h, w), ori_shape=(h, w), scale_factor=(1., 1.))
    return dict(inputs=[img.to(device)],
                data_samples=[DetDataSample(metainfo=meta)])


def gflops(model: nn.Module, x: torch.Tensor) -> float:
    with torch.no_grad():
        analyzer = FlopAnalyzer(model, (x, ))
        analyzer.unsupported_ops_warnings(False)
        analyzer.uncalled_modules_warnings(False)
        return analyzer.total() / 1e9


class Case:
    """One timed configuration: a callable and what it measures."""

    def __init__(self, fn: Callable, batch: int, **info):
        self.fn, self.batch, self.info = fn, batch, info
        self.times: List[float] = []

    def run(self, iters: int, sync: Callable) -> None:
        with torch.no_grad():
            for _ in range(iters):
                sync()
                start = time.perf_counter()
                self.fn()
                sync()
                self.times.append(time.perf_counter() - start)

    def result(self) -> dict:
        latency = statistics.median(self.times) * 1e3
        return dict(
            **self.info,
            batch=self.batch,
            latency_ms=round(latency, 3),
            latency_ms_min=round(min(self.times) * 1e3, 3),
            throughput=round(self.batch * 1e3 / latency, 3),
            iters=len(self.times))


def backbone_cases(args, device) -> List[Case]:
    cases = []
    for name in args.backbones:
        base = build_backbone(name).to(device)
        x = torch.randn(args.batch, 3, *args.shape, device=device)
        flops = gflops(base, x[:1])
        params = parameter_count(base)[''] / 1e6
        deployed = to_deploy(copy.deepcopy(base))
        for mode in args.modes:
            for dtype in args.dtypes:
                for fmt in args.formats:
                    model = base if mode == 'eager' else deployed
                    model = copy.deepcopy(model).to(
                        device, DTYPES[dtype], memory_format=FORMATS[fmt])
                    if mode == 'compile':
                        model = torch.compile(model)
                    inp = x.to(DTYPES[dtype]).contiguous(
                        memory_format=FORMATS[fmt])
                    cases.append(Case(
                        lambda m=model, i=inp: m(i), args.batch,
                        kind='backbone', model=name, mode=mode, dtype=dtype,
                        memory_format=fmt, shape=list(args.shape),
                        gflops=round(flops, 3), params_m=round(params, 3)))
    return cases


def detector_cases(args, device) -> List[Case]:
    cases = []
    data = detector_batch(args.det_shape, device)
    for config in args.det_configs:
        for mode in args.det_modes:
            model = build_detector(config, args.det_score_thr).to(device)
            if mode == 'deploy':
                model.backbone = to_deploy(model.backbone)
            cases.append(Case(
                lambda m=model: m.test_step(data), 1, kind='detector',
                model=osp.splitext(osp.basename(config))[0], mode=mode,
                dtype='fp32', memory_format='nchw',
                shape=list(args.det_shape)))
    return cases


def environment(device: torch.device) -> dict:
    cpu = platform.processor()
    if osp.exists('/proc/cpuinfo'):
        with open('/proc/cpuinfo') as f:
            names = [ln.split(':', 1)[1].strip() for ln in f
                     if ln.startswith('model name')]
        cpu = names[0] if names else cpu
    env = dict(
        device=str(device), cpu=cpu, cpu_count=os.cpu_count(),
        torch=torch.__version__, threads=torch.get_num_threads(),
        python=platform.python_version())
    if device.type == 'cuda':
        env['gpu'] = torch.cuda.get_device_name(device)
    return env


def print_table(results: List[dict]) -> None:
    eager = {(r['kind'], r['model']): r['latency_ms'] for r in results
             if r['mode'] == 'eager' and r['dtype'] == 'fp32'
             and r['memory_format'] == 'nchw'}
    head = (f'{"kind":<9}{"model":<28}{"mode":<8}{"dtype":<6}{"format":<14}'
            f'{"input":>10}{"batch":>6}{"ms":>10}{"img/s":>9}{"GFLOPs":>8}'
            f'{"vs eager":>9}')
    print(head)
    print('-' * len(head))
    for r in results:
        ref = eager.get((r['kind'], r['model']))
        speedup = f'{ref / r["latency_ms"]:.2f}x' if ref else '-'
        print(f'{r["kind"]:<9}{r["model"]:<28}{r["mode"]:<8}{r["dtype"]:<6}'
              f'{r["memory_format"]:<14}{"x".join(map(str, r["shape"])):>10}'
              f'{r["batch"]:>6}{r["latency_ms"]:>10.1f}'
              f'{r["throughput"]:>9.2f}{r.get("gflops", "-"):>8}'
              f'{speedup:>9}')


def plot(results: List[dict], env: dict, out: str) -> None:
    """Throughput against FLOPs, one series per mode/dtype/format."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 5))
    series = {}
    for r in results:
        if r['kind'] == 'backbone':
            key = f'{r["mode"]} {r["dtype"]} {r["memory_format"]}'
            series.setdefault(key, []).append(r)
    for key, rows in series.items():
        rows.sort(key=lambda r: r['gflops'])
        ax.plot([r['gflops'] for r in rows], [r['throughput'] for r in rows],
                'o-', label=key)
        for r in rows:
            ax.annotate(r['model'], (r['gflops'], r['throughput']),
                        textcoords='offset points', xytext=(3, 3),
                        fontsize=7)
    shape = results[0]['shape'] if results else []
    ax.set_xlabel(f'GFLOPs at {"x".join(map(str, shape))} (unfused)')
    ax.set_ylabel('images / s')
    ax.set_title(f'{env.get("gpu", env["cpu"])}, torch {env["torch"]}, '
                 f'{env["threads"]} threads', fontsize=9)
    ax.grid(True, alpha=.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Interleaved inference benchmark of FasterNet vs ResNet')
    parser.add_argument(
        '--backbones', nargs='*', default=['t0', 't1', 't2', 's', 'resnet50'],
        help=f'of {list(FasterNet.arch_settings) + list(RESNETS)}')
    parser.add_argument(
        '--modes', nargs='+', default=['eager', 'deploy'],
        choices=['eager', 'deploy', 'compile'])
    parser.add_argument(
        '--dtypes', nargs='+', default=['fp32'], choices=list(DTYPES),
        help='fp16 runs on CUDA only (skipped on CPU)')
    parser.add_argument(
        '--formats', nargs='+', default=['nchw'], choices=list(FORMATS))
    parser.add_argument(
        '--shape', type=int, nargs=2, default=[800, 1216], metavar=('H', 'W'))
    parser.add_argument('--batch', type=int, default=1)
    parser.add_argument(
        '--det-configs', nargs='*', default=DET_CONFIGS,
        help='detector configs for whole-model latency (mmdet:: allowed); '
        'none to skip')
    parser.add_argument(
        '--det-modes', nargs='+', default=['eager', 'deploy'],
        choices=['eager', 'deploy'])
    parser.add_argument(
        '--det-shape', type=int, nargs=2, default=[800, 1216],
        metavar=('H', 'W'))
    parser.add_argument(
        '--det-score-thr', type=float, default=0.,
        help='RCNN score threshold (0: every model keeps max_per_img boxes)')
    parser.add_argument('--iters', type=int, default=5,
                        help='timed iterations per case and round')
    parser.add_argument('--warmup', type=int, default=2,
                        help='untimed iterations per case before round 1')
    parser.add_argument('--rounds', type=int, default=3,
                        help='interleaved rounds over all cases')
    parser.add_argument('--device', default='cuda' if
                        torch.cuda.is_available() else 'cpu')
    parser.add_argument('--threads', type=int,
                        help='torch CPU threads (default: torch\'s own)')
    parser.add_argument('--out', default='work_dirs/benchmark.json')
    parser.add_argument('--plot', help='PNG of throughput vs FLOPs')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    device = torch.device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    if device.type == 'cpu':
        torch.set_flush_denormal(True)
        args.dtypes = [d for d in args.dtypes if d != 'fp16']
    sync = torch.cuda.synchronize if device.type == 'cuda' else lambda: None
    torch.manual_seed(0)
    cases = backbone_cases(args, device) + (
        detector_cases(args, device) if args.det_configs else [])
    for case in cases:
        case.run(args.warmup, sync)
        case.times.clear()
    for _ in range(args.rounds):
        for case in cases:
            case.run(args.iters, sync)
    results = [case.result() for case in cases]
    env = environment(device)
    print_table(results)
    print(f'device {env["device"]}, {env.get("gpu", env["cpu"])}, torch '
          f'{env["torch"]}, {env["threads"]} threads; median of '
          f'{args.rounds} x {args.iters} iterations')
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    with open(args.out, 'w') as f:
        json.dump(dict(environment=env, settings=vars(args),
                       results=results), f, indent=2)
    print(f'wrote {args.out}')
    if args.plot:
        plot(results, env, args.plot)
        print(f'wrote {args.plot}')


if __name__ == '__main__':
    main()
