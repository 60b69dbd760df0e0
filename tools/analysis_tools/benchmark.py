"""Inference speed of FasterNet against ResNet, on CPU or CUDA, in one run.

Every case (model x mode x dtype x memory format) is timed in turn within
each round, so drifting clocks or background load hit all of them alike;
the reported latency is the median over all rounds. Every model gets the
same treatment in a row (ResNet is folded too). Backbone modes:

* ``eager``: the training form in eval mode (BatchNorm kept);
* ``deploy``: BatchNorm folded into the convs (``FasterNet.switch_to_deploy``,
  ``mmcv.cnn.fuse_conv_bn`` for the other backbones);
* ``compile``: ``torch.compile`` of the deploy form (compiled in warm-up);
* ``fast``: :func:`fasternet_mm.runtime.optimize_for_inference` (folded,
  channels_last, reduced precision where the hardware has it; its own
  dtype and format, whatever ``--dtypes`` / ``--formats`` say).

Detector and segmentor cases time whole inference (``model.test_step``:
preprocessing, backbone, neck, heads, post-processing) on one random image,
``eager``, ``deploy`` (``optimize_for_inference(precision='fp32')``) or
``fast`` (``precision='auto'``), with the time of each stage (backbone,
neck, each head's network (a single-stage detector's ``bbox_head``
too), RoI extractors; the rest is pre- and post-processing: box decoding,
NMS, mask pasting, resizing).
``--det-score-thr 0`` makes every detector run its mask head on
``max_per_img`` boxes, as a trained model does on a busy image.

Deployed modes time the same model exported whole by
``tools/deployment/deploy.py`` (torch 2.1 stack) and run as
``tools/test.py CONFIG DIR`` runs it (:class:`DeployedModel`: the config's
preprocessing, the backend's network, boxes rescaled and masks pasted to
the image): ``onnxruntime`` (fp32), ``openvino`` (its ``auto`` precision:
bf16 on CPUs with native bf16), ``openvino-fp32``, ``openvino-int8`` (NNCF)
and ``onnxruntime-int8`` (static QDQ), calibrated on ``--calib-images``
random images (a speed measure; accuracy is measured on trained models,
docs/deployment.md). Their stages
are the backend's ``network`` and ``mask_paste``. ``--export-dir`` keeps
the exported folders and reuses them in later runs.

Examples (docs/benchmarks.md has the commands of each of its tables)::

    python tools/analysis_tools/benchmark.py \\
        --backbones t0 t2 s resnet18 resnet50 --det-configs --seg-configs \\
        --iters 1 --warmup 1 --rounds 3 --plot docs/benchmark_cpu.png

    # whole models, PyTorch against the deployed backends (torch 2.1 stack)
    python tools/analysis_tools/benchmark.py --backbones --seg-configs \\
        --model-modes eager fast onnxruntime openvino openvino-int8 \\
        --export-dir work_dirs/benchmark_exports --iters 1 --rounds 3
"""
import argparse
import collections
import copy
import functools
import json
import os
import os.path as osp
import platform
import resource
import statistics
import tempfile
import time
from typing import Callable, Dict, List, Optional

import torch
import torch.nn as nn

from fasternet_mm import FasterNet
from fasternet_mm.errors import UserInputError, run_tool
from fasternet_mm.runtime import build_model_from_cfg, load_config
from fasternet_mm.runtime.analysis import complexity, data_batch
from fasternet_mm.runtime.cli import positive_int
from fasternet_mm.runtime.deploy import (DeployedModel, choose_precision,
                                         export_model, load_meta,
                                         optimize_for_inference)
from fasternet_mm.runtime.deploy.backends import Runner
from fasternet_mm.runtime.deploy.inference import (cpu_bf16_feature, cpu_info,
                                                   fold_norms, onednn_isa_cap)

RESNETS = {'resnet18': 18, 'resnet50': 50, 'resnet101': 101}
DTYPES = {'fp32': torch.float32, 'fp16': torch.float16}
FORMATS = {
    'nchw': torch.contiguous_format,
    'channels_last': torch.channels_last
}
DET_CONFIGS = [
    'configs/mask_rcnn_fasternet_s.py',
    'mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py'
]
SEG_CONFIGS = [
    'configs/upernet_fasternet_s_ade20k.py',
    'mmseg::upernet/upernet_r50_4xb4-160k_ade20k-512x512.py'
]
# Stages timed inside whole-model inference (those the model has): label,
# then the submodule (its forward) or method timed.
STAGES = (('backbone', 'backbone'), ('neck', 'neck'), ('rpn_head', 'rpn_head'),
          ('bbox_roi_extractor',
           'roi_head.bbox_roi_extractor'), ('bbox_head', 'roi_head.bbox_head'),
          ('mask_roi_extractor',
           'roi_head.mask_roi_extractor'), ('mask_head', 'roi_head.mask_head'),
          ('mask_paste', 'roi_head.mask_head.predict_by_feat'),
          ('bbox_head', 'bbox_head'), ('decode_head', 'decode_head'),
          ('network', 'runner.run'), ('mask_paste', '_masks'))
# Deployed model modes: backend, precision.
DEPLOYED = {
    'onnxruntime': ('onnxruntime', 'fp32'),
    'onnxruntime-int8': ('onnxruntime', 'int8'),
    'openvino': ('openvino', 'auto'),
    'openvino-fp32': ('openvino', 'fp32'),
    'openvino-int8': ('openvino', 'int8'),
}
MODEL_MODES = ['eager', 'deploy', 'fast', *DEPLOYED]


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


def family(name: str) -> str:
    return 'ResNet' if 'resnet' in name or 'r50' in name else 'FasterNet'


def build_model(config: str, score_thr: float) -> nn.Module:
    """A config's detector or segmentor (random weights) in eval mode."""
    model = build_model_from_cfg(config)
    if model.cfg.default_scope == 'mmdet':
        # the box score threshold: the RoI head's (two-stage) or the dense
        # head's (single-stage)
        test_cfg = model.test_cfg.get('rcnn', model.test_cfg)
        test_cfg.score_thr = score_thr
    return model


class StageTimer:
    """Wall time of named submodules' forwards, per timed iteration.

    Wraps each stage's ``forward`` (or method) on the instance (mmseg's
    heads call ``self.forward`` directly, which module hooks would miss);
    the wrapper encloses what ``optimize_for_inference`` added (autocast,
    casts).
    """

    def __init__(self, model: nn.Module, sync: Callable):
        self.times: Dict[str, List[float]] = collections.defaultdict(list)
        self.current: Dict[str, float] = {}
        for label, path in STAGES:
            *parents, attr = path.split('.')
            owner = model
            for name in parents:
                owner = getattr(owner, name, None)
            target = getattr(owner, attr, None)
            if isinstance(target, nn.Module):
                owner, attr = target, 'forward'
            elif not callable(target):
                continue
            setattr(owner, attr, self._timed(label, getattr(owner, attr),
                                             sync))

    def _timed(self, name: str, forward: Callable, sync: Callable):

        def timed(*args, **kwargs):
            sync()
            start = time.perf_counter()
            out = forward(*args, **kwargs)
            sync()
            self.current[name] = self.current.get(name, 0.) + \
                time.perf_counter() - start
            return out

        return timed

    def commit(self, keep: bool) -> None:
        """End one iteration; keep its stage times if it was timed."""
        if keep:
            for name, t in self.current.items():
                self.times[name].append(t)
        self.current = {}


class Case:
    """One timed configuration: a callable and what it measures."""

    def __init__(self,
                 fn: Callable,
                 batch: int,
                 stages: Optional[StageTimer] = None,
                 profile: Optional[Callable] = None,
                 **info):
        self.fn, self.batch, self.stages, self.info = fn, batch, stages, info
        self.profile = profile  # -> ms per part of a deployed network
        self.times: List[float] = []
        self.network_ms: Optional[Dict[str, float]] = None

    def run(self, iters: int, sync: Callable, keep: bool = True) -> None:
        # PyTorch flushes denormals (random weights make them, and a CPU
        # slows down on them); a deployed network runs as tools/test.py runs
        # it (OpenVINO's CPU plugin fails in mmdeploy's RoI extractor with
        # AVX2 kernels and flushed denormals)
        torch.set_flush_denormal(self.info['mode'] not in DEPLOYED)
        with torch.no_grad():
            for _ in range(iters):
                sync()
                start = time.perf_counter()
                self.fn()
                sync()
                if keep:
                    self.times.append(time.perf_counter() - start)
                if self.stages is not None:
                    self.stages.commit(keep)

    def result(self) -> dict:
        latency = statistics.median(self.times) * 1e3
        result = dict(
            **self.info,
            batch=self.batch,
            latency_ms=round(latency, 3),
            latency_ms_min=round(min(self.times) * 1e3, 3),
            throughput=round(self.batch * 1e3 / latency, 3),
            iters=len(self.times))
        if self.stages is not None:
            stages = {
                name: statistics.median(t) * 1e3
                for name, t in self.stages.times.items()
            }
            stages['rest'] = latency - sum(stages.values())
            result['stages_ms'] = {k: round(v, 1) for k, v in stages.items()}
        if self.network_ms is not None:
            result['network_ms'] = {
                group: {
                    k: round(v, 1)
                    for k, v in times.items()
                }
                for group, times in self.network_ms.items()
            }
        return result


def precision_label(device: torch.device) -> str:
    dtype, _ = choose_precision(device, 'auto')
    return {None: 'fp32', torch.bfloat16: 'bf16', torch.float16: 'fp16'}[dtype]


def backbone_cases(args, device) -> List[Case]:
    cases = []
    for name in args.backbones:
        base = build_backbone(name).to(device)
        x = torch.randn(args.batch, 3, *args.shape, device=device)
        counted = complexity(base, (x[:1], ))
        flops, params = counted['flops'] / 1e9, counted['params'] / 1e6
        info = dict(
            kind='backbone',
            model=name,
            shape=list(args.shape),
            gflops=round(flops, 3),
            params_m=round(params, 3))
        deployed = copy.deepcopy(base)
        fold_norms(deployed)
        for mode in args.modes:
            if mode == 'fast':
                model = optimize_for_inference(copy.deepcopy(base))
                cases.append(
                    Case(
                        lambda m=model: m(x),
                        args.batch,
                        mode=mode,
                        dtype=precision_label(device),
                        memory_format='channels_last',
                        **info))
                continue
            for dtype in args.dtypes:
                for fmt in args.formats:
                    model = base if mode == 'eager' else deployed
                    model = copy.deepcopy(model).to(
                        device, DTYPES[dtype], memory_format=FORMATS[fmt])
                    if mode == 'compile':
                        model = torch.compile(model)
                    inp = x.to(
                        DTYPES[dtype]).contiguous(memory_format=FORMATS[fmt])
                    cases.append(
                        Case(
                            lambda m=model, i=inp: m(i),
                            args.batch,
                            mode=mode,
                            dtype=dtype,
                            memory_format=fmt,
                            **info))
    return cases


def score_options(cfg, score_thr: float) -> dict:
    """``--cfg-options`` that set a detector's box score threshold as
    :func:`build_model` does."""
    if cfg.default_scope != 'mmdet':
        return {}
    key = 'rcnn.score_thr' if 'rcnn' in cfg.model.test_cfg else 'score_thr'
    return {f'model.test_cfg.{key}': score_thr}


def export_folder(base: nn.Module, config: str, mode: str, shape, args,
                  export_root: str):
    """(the folder of ``base`` exported for ``mode``, the config as the
    export read it: its score threshold); a folder of the same model and
    mode in ``export_root`` is reused."""
    backend, precision = DEPLOYED[mode]
    name = osp.splitext(osp.basename(config.split('::')[-1]))[0]
    os.makedirs(export_root, exist_ok=True)
    folder = osp.join(export_root, f'{name}_{mode}')
    options = score_options(base.cfg, args.det_score_thr)
    cfg = load_config(config, options)  # as the export reads it
    try:
        meta = load_meta(folder, cfg)
        reuse = meta['backend'] == backend and (precision
                                                in ('auto', meta['precision']))
    except Exception:  # noqa: B902  (no folder, or another model's)
        reuse = False
    if reuse:
        print(f'reusing {folder}')
        return folder, cfg
    checkpoint = osp.join(export_root, f'{name}.pth')
    torch.save(dict(state_dict=base.state_dict()), checkpoint)
    calibration = [
        base.data_preprocessor(
            data_batch(base.cfg.default_scope, shape, seed=i),
            False)['inputs'].numpy() for i in range(args.calib_images)
    ]
    export_model(
        config,
        checkpoint,
        folder,
        backend,
        precision,
        cfg_options=options,
        calibration=calibration,
        force=True)
    return folder, cfg


def network_profile(model: DeployedModel, data: dict) -> Dict[str, dict]:
    """The backend's per-layer time of ``model``'s network on ``data``,
    summed per top-level module and per op (:meth:`Runner.profile`)."""
    runner = Runner(model.runner.deploy_dir, model.meta, profile=True)
    return runner.profile(
        model.data_preprocessor(data, False)['inputs'].numpy())


def model_cases(args, device, sync) -> List[Case]:
    """Whole detectors and segmentors: PyTorch ``eager`` / ``deploy`` /
    ``fast``, and the deployed backends (:data:`DEPLOYED`). Every export
    comes first, so no compiled network of an earlier case is in memory
    beside NNCF's calibration."""
    models = [(kind, config, shape, build_model(config, args.det_score_thr))
              for kind, configs, shape in (('detector', args.det_configs,
                                            args.det_shape),
                                           ('segmentor', args.seg_configs,
                                            args.seg_shape))
              for config in configs]
    folders = {
        (config, mode):
        export_folder(base, config, mode, shape, args, args.export_dir)
        for _, config, shape, base in models
        for mode in args.model_modes if mode in DEPLOYED
    }
    cases = []
    for kind, config, shape, base in models:
        check_memory(len(cases))
        base = base.to(device)
        data = data_batch(base.cfg.default_scope, shape, device)
        for mode in args.model_modes:
            dtype, fmt, profile = 'fp32', 'nchw', None
            if mode in DEPLOYED:
                folder, cfg = folders[config, mode]
                model = DeployedModel(folder, cfg.model.to_dict(),
                                      cfg.default_scope)
                dtype, fmt = model.meta['precision'], '-'
                profile = functools.partial(network_profile, model, data)
            else:
                model = copy.deepcopy(base)
            if mode in ('deploy', 'fast'):
                precision = 'fp32' if mode == 'deploy' else 'auto'
                optimize_for_inference(model, precision)
                fmt = 'channels_last'
                if mode == 'fast':
                    dtype = precision_label(device)
            name = osp.splitext(osp.basename(config.split('::')[-1]))[0]
            cases.append(
                Case(
                    lambda m=model, d=data: m.test_step(d),
                    1,
                    StageTimer(model, sync),
                    profile,
                    kind=kind,
                    model=name,
                    mode=mode,
                    dtype=dtype,
                    memory_format=fmt,
                    shape=list(shape)))
    return cases


def check_memory(built: int, reserve_gib: float = 3.) -> None:
    """Every case stays in memory for the interleaved rounds (a deployed
    Mask R-CNN at 800x1216 holds about 1 GiB); stop before the kernel kills
    the run."""
    import psutil
    left = psutil.virtual_memory().available / 2**30
    if left < reserve_gib:
        raise UserInputError(
            f'{left:.1f} GiB of memory left after {built} cases: time fewer '
            'configs or --model-modes per run (compare them in the same run '
            'only)')


def run_cases(cases: List[Case], args, sync: Callable) -> None:
    """Warm every case up, then time them in turn, round after round."""
    for case in cases:
        case.run(args.warmup, sync, keep=False)
    for _ in range(args.rounds):
        for case in cases:
            case.run(args.iters, sync)
    torch.set_flush_denormal(False)  # the profiles are of deployed cases
    for case in cases:  # after the timing, which counters would slow
        if case.profile is not None:
            case.network_ms = case.profile()


# What tells the CPU classes apart (Linux flag names): AVX2 + FMA only
# (e.g. AMD Zen 3), AVX-512 with VNNI / BF16 (Zen 4), AMX (Intel Xeon 4th gen
# and later).
CLASS_FLAGS = ('avx2', 'fma', 'avx512f', 'avx512_vnni', 'avx_vnni',
               'avx512_bf16', 'amx_bf16', 'amx_int8')


def busy_seconds():
    """(CPU seconds every process has run, those of this process and its
    children), to tell the load of other jobs during a measurement."""
    with open('/proc/stat') as f:
        ticks = [int(v) for v in f.readline().split()[1:9]]
    own = [
        resource.getrusage(w)
        for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
    ]
    return ((sum(ticks) - ticks[3] - ticks[4]) / os.sysconf('SC_CLK_TCK'),
            sum(u.ru_utime + u.ru_stime for u in own))


def environment(device: torch.device) -> dict:
    flags = cpu_info('flags') or ''
    env = dict(
        device=str(device),
        cpu=cpu_info('model name') or platform.processor(),
        cpu_flags=[f for f in CLASS_FLAGS if f in flags.split()],
        cpu_count=os.cpu_count(),
        cpu_bf16=cpu_bf16_feature(),
        # the kernels run, where ONEDNN_MAX_CPU_ISA / ATEN_CPU_CAPABILITY
        # cap them below the CPU's (ONNX Runtime ignores both)
        onednn_max_cpu_isa=onednn_isa_cap(),
        aten_cpu_capability=torch.backends.cpu.get_cpu_capability(),
        torch=torch.__version__,
        threads=torch.get_num_threads(),
        python=platform.python_version())
    if device.type == 'cuda':
        env['gpu'] = torch.cuda.get_device_name(device)
    return env


def _key(r: dict, **change) -> tuple:
    r = {**r, **change}
    return r['kind'], r['model'], r['mode'], r['dtype'], r['memory_format']


def print_table(results: List[dict], baseline: str) -> None:
    """Latencies, each as a ratio to the same model's eager fp32 NCHW and to
    the ``baseline`` backbone (models: the ResNet one of the same kind)
    measured the same way."""
    by_key = {_key(r): r['latency_ms'] for r in results}
    bases = {
        r['kind']: r['model']
        for r in results if r['model'] == baseline or (
            r['kind'] != 'backbone' and family(r['model']) == 'ResNet')
    }
    head = (f'{"kind":<10}{"model":<40}{"mode":<18}{"dtype":<6}{"format":<14}'
            f'{"input":>10}{"ms":>10}{"GFLOPs":>8}{"vs eager":>9}'
            f'{"vs " + baseline[:6]:>10}')
    print(head)
    print('-' * len(head))
    for r in results:
        eager = by_key.get(
            _key(r, mode='eager', dtype='fp32', memory_format='nchw'))
        base = by_key.get(_key(r, model=bases.get(r['kind'])))
        ratio = [
            f'{ref / r["latency_ms"]:.2f}x' if ref else '-'
            for ref in (eager, base)
        ]
        print(f'{r["kind"]:<10}{r["model"][:39]:<40}{r["mode"]:<18}'
              f'{r["dtype"]:<6}{r["memory_format"]:<14}'
              f'{"x".join(map(str, r["shape"])):>10}{r["latency_ms"]:>10.1f}'
              f'{r.get("gflops", "-"):>8}{ratio[0]:>9}{ratio[1]:>10}')
    staged = [r for r in results if 'stages_ms' in r]
    if staged:
        print('\nwhere the time goes (ms, median per stage; rest: pre- and '
              'post-processing such as box decoding, NMS, mask pasting)')
        for r in staged:
            parts = ', '.join(f'{k} {v:.0f}'
                              for k, v in r['stages_ms'].items())
            print(f'{r["model"][:39]:<40}{r["mode"]:<18}{parts}')
    profiled = [r for r in results if 'network_ms' in r]
    if profiled:
        print('\ninside the deployed network (ms, one inference with the '
              "backend's per-layer counters, which slow it a little; "
              'other: ops outside any module, e.g. NMS; the top ops)')
        for r in profiled:
            for group, top in (('by_module', 8), ('by_op', 8)):
                parts = ', '.join(f'{k} {v:.0f}'
                                  for k, v in sorted(
                                      r['network_ms'][group].items(),
                                      key=lambda kv: -kv[1])[:top])
                print(f'{r["model"][:39]:<40}{r["mode"]:<18}{parts}')


def plot(results: List[dict], env: dict, out: str) -> None:
    """Throughput against FLOPs: one line per backbone family and mode."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(8, 5.5))
    series = collections.defaultdict(list)
    for r in results:
        if r['kind'] == 'backbone':
            series[(family(r['model']), r['mode'], r['dtype'],
                    r['memory_format'])].append(r)
    colours = {}
    labelled = set()
    for (fam, *setting), rows in series.items():
        setting = ' '.join(setting)
        colour = colours.setdefault(setting, f'C{len(colours)}')
        rows.sort(key=lambda r: r['gflops'])
        ax.plot([r['gflops'] for r in rows], [r['throughput'] for r in rows],
                'o-' if fam == 'FasterNet' else 's--',
                color=colour,
                label=f'{fam} {setting}')
        for r in rows:  # name each model once, under its lowest point
            if r['model'] not in labelled:
                labelled.add(r['model'])
                low = min(
                    q['throughput'] for q in results
                    if q['kind'] == 'backbone' and q['model'] == r['model'])
                ax.annotate(
                    r['model'], (r['gflops'], low),
                    textcoords='offset points',
                    xytext=(0, -12),
                    ha='center',
                    fontsize=8)
    shape = next((r['shape'] for r in results if r['kind'] == 'backbone'), [])
    ax.set_xlabel(f'GFLOPs at {"x".join(map(str, shape))} (unfused)')
    ax.set_ylabel('images / s')
    ax.set_title(
        f'{env.get("gpu", env["cpu"])}, torch {env["torch"]}, '
        f'{env["threads"]} threads, batch 1',
        fontsize=9)
    ax.grid(True, alpha=.3)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Interleaved inference benchmark of FasterNet vs ResNet')
    parser.add_argument(
        '--backbones',
        nargs='*',
        default=['t0', 't1', 't2', 's', 'resnet50'],
        help=f'of {list(FasterNet.arch_settings) + list(RESNETS)}')
    parser.add_argument(
        '--modes',
        nargs='+',
        default=['eager', 'deploy', 'fast'],
        choices=['eager', 'deploy', 'compile', 'fast'])
    parser.add_argument(
        '--dtypes',
        nargs='+',
        default=['fp32'],
        choices=list(DTYPES),
        help='fp16 runs on CUDA only (skipped on CPU)')
    parser.add_argument(
        '--formats', nargs='+', default=['nchw'], choices=list(FORMATS))
    parser.add_argument(
        '--shape', type=int, nargs=2, default=[800, 1216], metavar=('H', 'W'))
    parser.add_argument('--batch', type=int, default=1)
    parser.add_argument(
        '--baseline',
        default='resnet50',
        help='backbone the other rows are compared with, in the same mode')
    parser.add_argument(
        '--det-configs',
        nargs='*',
        default=DET_CONFIGS,
        help='detector configs for whole-model latency (mmdet:: allowed); '
        'none to skip')
    parser.add_argument(
        '--seg-configs',
        nargs='*',
        default=SEG_CONFIGS,
        help='segmentor configs for whole-model latency (mmseg:: allowed); '
        'none to skip')
    parser.add_argument(
        '--model-modes',
        nargs='+',
        default=['eager', 'deploy', 'fast'],
        choices=MODEL_MODES,
        help='for detectors and segmentors; deploy and fast are '
        "optimize_for_inference(precision='fp32' / 'auto'); "
        f'{", ".join(DEPLOYED)}: the model exported whole (CPU, torch 2.1 '
        'stack)')
    parser.add_argument(
        '--export-dir',
        help='deployed modes: keep the exported folders here and reuse '
        'them in later runs (default: a temporary folder)')
    parser.add_argument(
        '--calib-images',
        type=positive_int,
        default=8,
        help='int8 modes: random calibration images')
    parser.add_argument(
        '--det-shape',
        type=int,
        nargs=2,
        default=[800, 1216],
        metavar=('H', 'W'))
    parser.add_argument(
        '--seg-shape',
        type=int,
        nargs=2,
        default=[512, 512],
        metavar=('H', 'W'))
    parser.add_argument(
        '--det-score-thr',
        type=float,
        default=0.,
        help='detectors\' box score threshold: the RoI head\'s, or a '
        'single-stage head\'s (0: every model keeps max_per_img boxes)')
    parser.add_argument(
        '--iters',
        type=int,
        default=5,
        help='timed iterations per case and round')
    parser.add_argument(
        '--warmup',
        type=int,
        default=2,
        help='untimed iterations per case before round 1')
    parser.add_argument(
        '--rounds',
        type=int,
        default=3,
        help='interleaved rounds over all cases')
    parser.add_argument(
        '--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument(
        '--threads',
        type=int,
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
        args.dtypes = [d for d in args.dtypes if d != 'fp16']
    sync = torch.cuda.synchronize if device.type == 'cuda' else lambda: None
    torch.manual_seed(0)
    deployed = [m for m in args.model_modes if m in DEPLOYED]
    if deployed and device.type != 'cpu':
        raise UserInputError(
            f'--model-modes {" ".join(deployed)} run on the CPU: add '
            '--device cpu, or time TensorRT on the GPU')
    load_before = os.getloadavg()[0] / os.cpu_count()
    with tempfile.TemporaryDirectory() as tmp:
        args.export_dir = args.export_dir or tmp
        cases = backbone_cases(args, device) + model_cases(args, device, sync)
        start, (busy0, own0) = time.perf_counter(), busy_seconds()
        run_cases(cases, args, sync)
        busy1, own1 = busy_seconds()
    results = [case.result() for case in cases]
    env = environment(device)
    # per core: the 1-minute load average before anything ran, and the CPU
    # time other processes took while the cases were timed
    env['load_per_core'] = dict(
        before=round(load_before, 2),
        others_during=round(
            max(0., (busy1 - busy0) - (own1 - own0)) /
            (time.perf_counter() - start) / os.cpu_count(), 2))
    print_table(results, args.baseline)
    print(f'device {env["device"]}, {env.get("gpu", env["cpu"])} '
          f'({" ".join(env["cpu_flags"])}; native bf16: {env["cpu_bf16"]}; '
          f'oneDNN ISA {env["onednn_max_cpu_isa"]}, ATen '
          f'{env["aten_cpu_capability"]}), '
          f'torch {env["torch"]}, {env["threads"]} threads; median of '
          f'{args.rounds} x {args.iters} iterations; load per core '
          f'{env["load_per_core"]}')
    if max(env['load_per_core'].values()) > 0.5:
        print('WARNING: other jobs loaded this machine (more than 0.5 per '
              'core): these timings are distorted, even as ratios; rerun '
              'them with nothing else running')
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    with open(args.out, 'w') as f:
        json.dump(
            dict(environment=env, settings=vars(args), results=results),
            f,
            indent=2)
    print(f'wrote {args.out}')
    if args.plot:
        plot(results, env, args.plot)
        print(f'wrote {args.plot}')


if __name__ == '__main__':
    run_tool(main)
