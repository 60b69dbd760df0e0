"""Making a built model infer fast in PyTorch (``tools/test.py --deploy``,
``--fast``), and what the CPU computes natively.

:func:`optimize_for_inference` changes a built MMDetection / MMSegmentation
model in place: norms folded into convs (FasterNet's deploy form,
``mmcv.cnn.fuse_conv_bn`` elsewhere), channels_last weights, and reduced
precision where the hardware computes it natively (bfloat16 on CPUs with
AMX or AVX-512 BF16, float16 on CUDA). Reduced precision is confined to the
networks (backbone, neck and each head's ``forward``); every network hands
float32 on, so box decoding, NMS, RoIAlign, mask pasting and the metrics run
in float32 as before. Any mmcv op inside a network is fed float32 too.
"""
import os
import os.path as osp
from typing import List, Optional, Tuple, Union

import torch
import torch.nn as nn
from mmcv.cnn import fuse_conv_bn
from mmengine.hooks import EMAHook, Hook
from mmengine.logging import print_log
from mmengine.model import BaseTTAModel, is_model_wrapper
from mmengine.registry import HOOKS
from torch.nn.modules.batchnorm import _BatchNorm

from ...errors import UserInputError

PRECISIONS = ('auto', 'fp32', 'bf16', 'fp16')
# CPU features with native bfloat16 matmuls, best first (Linux flag names),
# each with the oneDNN ISA levels (ONEDNN_MAX_CPU_ISA) below which oneDNN,
# in PyTorch and OpenVINO alike, does not use it.
CPU_BF16_FLAGS = ('amx_bf16', 'avx512_bf16')
ONEDNN_ISAS_WITHOUT = dict(
    avx512_bf16=('SSE41', 'AVX', 'AVX2', 'AVX2_VNNI', 'AVX2_VNNI_2',
                 'AVX512_CORE', 'AVX512_CORE_VNNI'))
ONEDNN_ISAS_WITHOUT['amx_bf16'] = ONEDNN_ISAS_WITHOUT['avx512_bf16'] + (
    'AVX512_CORE_BF16', 'AVX512_CORE_FP16', 'AVX10_1_512')
_DONE = '_fasternet_mm_inference'
_PRECISION_CLASSES: dict = {}  # (class, device type, dtype) -> subclass


def cpu_info(field: str, cpuinfo: str = '/proc/cpuinfo') -> Optional[str]:
    """A field of the first CPU as Linux reports it; None where unknown.

    The one place the project reads the CPU's capabilities.
    """
    if not osp.isfile(cpuinfo):
        return None
    with open(cpuinfo) as f:
        for line in f:
            if line.split(':', 1)[0].strip() == field:
                return line.split(':', 1)[1].strip()
    return None


def cpu_flags(cpuinfo: str = '/proc/cpuinfo') -> List[str]:
    """The CPU's feature flags as Linux reports them; [] where unknown."""
    return (cpu_info('flags', cpuinfo) or '').split()


def onednn_isa_cap() -> str:
    """The instruction set oneDNN is capped at (``ONEDNN_MAX_CPU_ISA``, or
    its older name ``DNNL_MAX_CPU_ISA``), upper-case; 'ALL' where none is
    set."""
    return (os.environ.get('ONEDNN_MAX_CPU_ISA')
            or os.environ.get('DNNL_MAX_CPU_ISA') or 'ALL').upper()


def cpu_bf16_feature(flags: Optional[List[str]] = None) -> Optional[str]:
    """The CPU feature that computes bfloat16 natively, or None.

    AMX (Intel Xeon 4th gen+) or AVX-512 BF16 (AMD Zen 4+, Intel Cooper
    Lake+), unless ``ONEDNN_MAX_CPU_ISA`` keeps oneDNN below it. Elsewhere
    oneDNN emulates bfloat16, which is slower than fp32.
    """
    flags = cpu_flags() if flags is None else flags
    if not torch.backends.mkldnn.is_available():
        return None
    cap = onednn_isa_cap()
    return next((f for f in CPU_BF16_FLAGS
                 if f in flags and cap not in ONEDNN_ISAS_WITHOUT[f]), None)


def choose_precision(
        device: Union[str, torch.device],
        precision: str = 'auto',
        flags: Optional[List[str]] = None
) -> Tuple[Optional[torch.dtype], str]:
    """The autocast dtype (None: fp32) for ``precision`` on ``device``.

    Returns the dtype and a description for the log. ``flags`` (the CPU's
    feature flags) are read from the machine when not given.
    """
    if precision not in PRECISIONS:
        raise UserInputError(
            f'precision must be one of {list(PRECISIONS)}, got {precision!r}')
    device = torch.device(device)
    if precision == 'fp32':
        return None, 'fp32'
    if device.type == 'cuda':
        if precision == 'bf16':
            return torch.bfloat16, 'bf16 autocast (cuda)'
        return torch.float16, 'fp16 autocast (cuda)'
    if device.type != 'cpu':
        if precision == 'auto':
            return None, f'fp32 (no reduced precision on {device.type})'
        raise UserInputError(
            f'precision={precision!r} is supported on cpu and cuda, not on '
            f"{device.type}; use precision='auto' or 'fp32'")
    if precision == 'fp16':
        raise UserInputError(
            "precision='fp16' needs a CUDA device; on CPU use 'auto' "
            "(bfloat16 where the CPU supports it) or 'fp32'")
    feature = cpu_bf16_feature(flags)
    if feature is None:
        if precision == 'bf16':
            raise UserInputError(
                'this CPU has no native bfloat16 (neither of the flags '
                f'{list(CPU_BF16_FLAGS)}), so bf16 would be slower than fp32;'
                " use precision='auto' or 'fp32'")
        return None, 'fp32 (CPU without native bfloat16)'
    return torch.bfloat16, f'bf16 autocast ({feature})'


def _inner(model: nn.Module) -> nn.Module:
    """The model under DDP-style and test-time-augmentation wrappers."""
    while is_model_wrapper(model) or isinstance(model, BaseTTAModel):
        model = model.module
    return model


def _device_of(model: nn.Module) -> torch.device:
    param = next(model.parameters(), None)
    return param.device if param is not None else torch.device('cpu')


def fold_norms(model: nn.Module) -> int:
    """Fold every BatchNorm that follows a conv into it; returns how many.

    A backbone with ``switch_to_deploy()`` (FasterNet) switches to its deploy
    form; the rest goes through ``mmcv.cnn.fuse_conv_bn``.
    """
    before = sum(isinstance(m, _BatchNorm) for m in model.modules())
    with torch.no_grad():
        for m in list(model.modules()):
            if hasattr(m, 'switch_to_deploy'):
                m.switch_to_deploy()
                print_log(
                    f'{type(m).__name__} switched to deploy mode',
                    logger='current')
        fuse_conv_bn(model)
    return before - sum(isinstance(m, _BatchNorm) for m in model.modules())


def precision_regions(model: nn.Module) -> List[nn.Module]:
    """The networks that may run in reduced precision.

    In a detector or segmentor: the backbone, the neck and every head's
    ``forward`` (the modules with a ``predict_by_feat``, whose forward is
    the network and whose ``predict_by_feat`` the float32 post-processing).
    Any other module is one network as a whole (e.g. a bare backbone).
    """
    if not hasattr(model, 'backbone'):
        return [model]
    regions = [model.backbone]
    if getattr(model, 'neck', None) is not None:
        regions.append(model.neck)
    regions += [
        m for m in model.modules() if hasattr(type(m), 'predict_by_feat')
    ]
    return regions


def _to_float(out, dtype: torch.dtype):
    """``out`` with its ``dtype`` tensors cast to float32, same structure."""
    if isinstance(out, torch.Tensor):
        return out.float() if out.dtype == dtype else out
    if isinstance(out, (list, tuple)) and not hasattr(out, '_fields'):
        return type(out)(_to_float(o, dtype) for o in out)
    if isinstance(out, dict):
        return type(out)((k, _to_float(v, dtype)) for k, v in out.items())
    return out


def _cast_inputs(args, kwargs):
    """Floating tensors as float32 in the default (NCHW) memory format."""

    def cast(a):
        if isinstance(a, torch.Tensor) and a.is_floating_point():
            return a.float().contiguous()
        return a

    return [cast(a) for a in args], {k: cast(v) for k, v in kwargs.items()}


def run_in_precision(module: nn.Module, device_type: str,
                     dtype: Optional[torch.dtype]) -> None:
    """Make ``module.forward`` run under autocast to ``dtype``, in place.

    Outputs in ``dtype`` come back as float32. ``dtype=None`` runs it with
    autocast off and float32 NCHW-contiguous inputs. The module gets a
    subclass of its class whose ``forward`` wraps the original, so calls
    through ``module(...)`` and ``module.forward(...)`` (as mmseg's heads
    make) both see it, and the state dict, ``isinstance`` and deep copies
    stay as they were.
    """
    cls = type(module)
    key = (cls, device_type, dtype)
    if key not in _PRECISION_CLASSES:

        def forward(self, *args, **kwargs):
            if dtype is None:
                args, kwargs = _cast_inputs(args, kwargs)
                with torch.autocast(device_type, enabled=False):
                    return cls.forward(self, *args, **kwargs)
            with torch.autocast(device_type, dtype=dtype):
                return _to_float(cls.forward(self, *args, **kwargs), dtype)

        _PRECISION_CLASSES[key] = type(
            cls.__name__, (cls, ), {
                'forward': forward,
                '__module__': cls.__module__,
                '__qualname__': cls.__qualname__,
                '__doc__': cls.__doc__
            })
    module.__class__ = _PRECISION_CLASSES[key]


def _is_mmcv_op(module: nn.Module) -> bool:
    return type(module).__module__.startswith('mmcv.ops')


def protect_mmcv_ops(model: nn.Module, device_type: str) -> int:
    """Feed every mmcv op module float32, NCHW-contiguous inputs.

    mmcv's CPU kernels take float32 only, and index their inputs as
    contiguous NCHW: RoIAlign on channels_last features gives wrong values.
    Returns the number of ops.
    """
    ops = [m for m in model.modules() if _is_mmcv_op(m)]
    for m in ops:
        run_in_precision(m, device_type, None)
    return len(ops)


def reduce_precision(model: nn.Module, dtype: torch.dtype,
                     device_type: str) -> int:
    """Autocast the networks to ``dtype``; returns how many."""
    regions = precision_regions(model)
    for region in regions:
        run_in_precision(region, device_type, dtype)
    return len(regions)


def _compile(model: nn.Module, options: dict) -> str:
    """``torch.compile`` the backbone and the neck (or the whole module)."""
    parts = [model] if not hasattr(model, 'backbone') else [
        m for m in (model.backbone, getattr(model, 'neck', None))
        if m is not None
    ]
    for m in parts:
        m.forward = torch.compile(m.forward, **options)
    return f'torch.compile ({len(parts)} part(s))'


def optimize_for_inference(model: nn.Module,
                           precision: str = 'auto',
                           compile: Union[bool, dict] = False) -> nn.Module:
    """Make a built model infer fast, in place; returns it.

    ``model.test_step`` / ``predict`` keep their inputs and outputs (float32
    results, the same data structures). Steps:

    * norms folded into the convs before them (exact);
    * channels_last weights (exact; faster convs on CPU);
    * with ``precision='auto'`` (default): bfloat16 autocast on CPUs with AMX
      or AVX-512 BF16, float16 autocast on CUDA, float32 elsewhere; only
      the networks run in it (see :func:`precision_regions`), the rest of
      the pipeline (box decoding, NMS, RoIAlign, mask pasting) stays fp32;
    * ``precision='fp32'``: the exact steps only (outputs equal within
      float32 round-off); ``'bf16'`` / ``'fp16'`` force a dtype;
    * ``compile=True`` (or ``torch.compile`` options): compiles the backbone
      and neck, for GPUs (compiling on CPU takes minutes).

    Works through model wrappers and test-time augmentation wrappers
    (``DetTTAModel``, ``SegTTAModel``). Logs what it applied.
    """
    inner = _inner(model)
    if getattr(inner, _DONE, None):
        print_log(
            f'already optimized for inference: {getattr(inner, _DONE)}',
            logger='current')
        return model
    device = _device_of(inner)
    dtype, applied = choose_precision(device, precision)
    model.eval()
    folded = fold_norms(inner)
    inner.to(memory_format=torch.channels_last)
    steps = [applied, 'channels_last', f'{folded} norms folded']
    ops = protect_mmcv_ops(inner, device.type)
    if ops:
        steps.append(f'{ops} mmcv ops fed fp32 NCHW')
    if dtype is not None:
        n = reduce_precision(inner, dtype, device.type)
        steps[0] += f' in {n} networks'
    if compile:
        steps.append(
            _compile(inner, compile if isinstance(compile, dict) else {}))
    summary = ', '.join(steps)
    setattr(inner, _DONE, summary)
    print_log(f'optimized for inference: {summary}', logger='current')
    return model


@HOOKS.register_module()
class FastInferenceHook(Hook):
    """Run :func:`optimize_for_inference` before testing, after the
    checkpoint is loaded, on each process and through test-time
    augmentation wrappers. ``precision='fp32'`` (``tools/test.py
    --deploy``) folds norms and uses channels_last (same results within
    float32 round-off); ``'auto'`` (``--fast``) adds reduced precision where
    the hardware has it. An ``EMAHook``'s averaged model (RTMDet) is folded
    alike: the EMA hook swaps the two models' parameters one by one around
    testing, so they must keep the same layout. Test runs only.

    Args:
        precision (str): ``'auto'``, ``'fp32'``, ``'bf16'`` or ``'fp16'``.
    """

    priority = 'VERY_LOW'

    def __init__(self, precision: str = 'auto'):
        self.precision = precision

    def before_test(self, runner) -> None:
        optimize_for_inference(runner.model, self.precision)
        for hook in runner.hooks:
            if isinstance(hook, EMAHook) and hasattr(hook, 'ema_model'):
                optimize_for_inference(hook.ema_model.module, self.precision)
