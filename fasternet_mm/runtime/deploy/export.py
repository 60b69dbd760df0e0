"""Export a whole detector or segmentor to an mmdeploy folder.

mmdeploy 1.3.1 traces the model with its rewriters (box decoding, NMS,
RoIAlign and the mask head in the graph; MMDetection's and MMSegmentation's
heads), on the torch 2.1 stack; :mod:`.onnx_fixes` repairs what it gets
wrong there. OpenVINO reads the ONNX graph (``openvino.convert_model``) and
NNCF quantizes it for ``precision='int8'``; for ONNX Runtime int8, its own
static quantizer (QDQ) does. mmdeploy's ``export2SDK`` writes
deploy.json, pipeline.json and detail.json, so its SDK reads the folder, and
deploy_cfg.py is the mmdeploy deploy config its Python API and tools take;
deploy.json also holds our record (backend, precision, input range, the
model config's hash, the classes). The folder is written next to the target
and renamed into place when complete.
"""
import collections
import copy
import importlib
import os
import os.path as osp
import re
import shutil
import tempfile
from typing import Iterable, Optional, Tuple

import mmengine
import numpy as np
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.logging import print_log
from mmengine.registry import HOOKS, init_default_scope
from torch.torch_version import TorchVersion

from ...errors import CheckpointError, UserInputError
from ..checkpoint import safe_load
from ..config import build_model_from_cfg, load_config
from ..hooks import CheckpointFitHook  # noqa: F401  (in HOOKS)
from .backends import Runner, require, require_tensorrt
from .configs import (BACKENDS, DEPLOY_CFG, META_KEY, PRECISIONS,
                      deploy_config, input_range, model_hash)
from .folder import load_meta
from .inference import choose_precision
from .onnx_fixes import fix_graph

MMDEPLOY = 'mmdeploy==1.3.1'
STACK = ('the torch 2.1 stack (tools/setup_env.sh torch2.1, '
         'requirements/stack-torch2.1.txt)')


def require_mmdeploy():
    """mmdeploy 1.3.1 exports with torch's TorchScript exporter, which it
    calls without ``dynamo=False``: torch >= 2.2 is untested upstream and
    torch >= 2.9 exports through dynamo, which its rewriters do not
    survive."""
    if TorchVersion(torch.__version__) >= (2, 2):
        raise UserInputError(
            f'whole-model export runs through {MMDEPLOY}, which supports '
            f'torch <= 2.1 (this is torch {torch.__version__}); export on '
            f'{STACK}; the exported folder then runs on either stack')
    return require('mmdeploy', 'whole-model export')


def resolve_precision(backend: str, precision: str) -> Tuple[str, str]:
    """The precision to export for, and why (for the log)."""
    if precision not in PRECISIONS:
        raise UserInputError(f'--precision must be one of {PRECISIONS}, got '
                             f'{precision!r}')
    if backend == 'tensorrt':
        if precision in ('auto', 'fp16'):
            return 'fp16', 'fp16 (TensorRT on a CUDA GPU)'
        if precision == 'fp32':
            return 'fp32', 'fp32'
        raise UserInputError(
            f'--precision {precision} is not built for TensorRT here; use '
            'fp16 or fp32')
    if precision == 'int8':
        return 'int8', ('int8 (NNCF post-training quantization)'
                        if backend == 'openvino' else
                        'int8 (ONNX Runtime static quantization, QDQ)')
    if precision == 'fp16':
        raise UserInputError(
            '--precision fp16 is for GPUs (--backend tensorrt); on CPU use '
            'auto, fp32 or bf16')
    if backend == 'onnxruntime':
        if precision == 'bf16':
            raise UserInputError(
                'ONNX Runtime computes fp32 on CPU; for bf16 use --backend '
                'openvino')
        return 'fp32', 'fp32 (ONNX Runtime on CPU)'
    # OpenVINO: bf16 where the CPU computes it natively, as
    # optimize_for_inference's 'auto'.
    dtype, why = choose_precision('cpu',
                                  'fp32' if precision == 'fp32' else precision)
    return ('bf16' if dtype == torch.bfloat16 else 'fp32'), why


def _sample_image(cfg: Config) -> np.ndarray:
    """A random BGR image the size the test pipeline resizes to."""
    size = (480, 640)
    for t in cfg.get('test_pipeline') or cfg.test_dataloader.dataset.pipeline:
        scale = t.get('scale')
        if t.get('type') == 'Resize' and isinstance(scale, (list, tuple)):
            size = (scale[1], scale[0])
    rng = np.random.RandomState(0)
    return rng.randint(0, 256, (*size, 3), dtype=np.uint8)


def calibration_inputs(cfg: Config, num: int):
    """``num`` preprocessed images of the config's training set, through
    the test pipeline (no augmentation)."""
    scope = cfg.default_scope
    init_default_scope(scope)
    registry = importlib.import_module(f'{scope}.registry')
    dataset_cfg = cfg.train_dataloader.dataset.copy()
    while 'dataset' in dataset_cfg:  # RepeatDataset and friends
        dataset_cfg = dataset_cfg.dataset
    dataset_cfg.pipeline = cfg.test_dataloader.dataset.pipeline
    dataset = registry.DATASETS.build(dataset_cfg)
    preprocessor = registry.MODELS.build(cfg.model.data_preprocessor)
    for i in range(min(num, len(dataset))):
        batch = preprocessor(pseudo_collate([dataset[i]]), False)
        yield batch['inputs'].numpy()


def _in_network(op_name: str) -> bool:
    """Whether the graph op ``op_name`` is in the networks that int8
    quantizes (``/backbone/...``, ``/neck/...``, the heads), not in the RoI
    extractors or the box decoding, NMS and mask bookkeeping at the graph's
    top level. Quantizing the box arithmetic moved the demo Mask R-CNN's
    boxes enough to cost 0.10 segm AP (masks are pasted into the boxes);
    the networks' convolutions and linear layers are what int8 speeds
    up."""
    parts = op_name.split('/')
    return len(parts) > 2 and not parts[0] and 'roi_extractor' not in parts[1]


def _calibration(cfg: Config, calib_images: int,
                 calibration: Optional[Iterable[np.ndarray]]):
    """The int8 calibration inputs and where they come from."""
    source = 'given inputs'
    if calibration is None:
        calibration = calibration_inputs(cfg, calib_images)
        source = 'training images'
    data = list(calibration)
    if not data:
        raise UserInputError('--precision int8: the config\'s training '
                             'set has no images to calibrate with')
    return data, f'int8, calibrated on {len(data)} {source}'


def _to_openvino(work: str, precision: str, cfg: Config, data: list) -> None:
    ov = require('openvino', '--backend openvino')
    model = ov.convert_model(osp.join(work, 'end2end.onnx'))
    if precision == 'int8':
        nncf = require('nncf', '--precision int8')
        ignored = None
        if cfg.default_scope == 'mmdet':
            scopes = sorted({
                re.escape(op.get_friendly_name().split('/')[1])
                for op in model.get_ops()
                if _in_network(op.get_friendly_name())
            })
            ignored = nncf.IgnoredScope(
                patterns=[f'^(?!/({"|".join(scopes)})/).*'], validate=False)
        model = nncf.quantize(
            model,
            nncf.Dataset(data),
            subset_size=len(data),
            preset=nncf.QuantizationPreset.MIXED,
            ignored_scope=ignored)
    ov.save_model(model, osp.join(work, 'end2end.xml'), compress_to_fp16=False)


def _quantize_onnx(work: str, data: list) -> None:
    """ONNX Runtime's static int8 (QDQ; activations uint8 asymmetric,
    weights int8 per channel, as its docs recommend for CPU) of the
    networks' convolutions and linear layers, in place."""
    import onnx
    from onnxruntime.quantization import (CalibrationDataReader, QuantFormat,
                                          QuantType, quantize_static)
    path = osp.join(work, 'end2end.onnx')
    model = onnx.load(path)
    graph = model.graph
    # The exporter shares equal weights through Identity nodes; the
    # quantizer takes only initializers as biases (a conv whose bias is not
    # one stays float), so each Identity of an initializer becomes a copy.
    weights = {w.name: w for w in graph.initializer}
    for node in [n for n in graph.node if n.op_type == 'Identity']:
        if node.input[0] in weights:
            tensor = onnx.TensorProto()
            tensor.CopyFrom(weights[node.input[0]])
            tensor.name = node.output[0]
            graph.initializer.append(tensor)
            graph.node.remove(node)
    onnx.save(model, path)
    name = graph.input[0].name
    # The layers whose results the box decoding, NMS and mask pasting read
    # (scores, box deltas, mask logits: the graph's top level) stay float,
    # as NNCF leaves them; QDQ quantizes a conv's output for all its
    # readers, so the RoI extractors sample int8-rounded FPN levels.
    readers = collections.defaultdict(list)
    for node in graph.node:
        for tensor in node.input:
            readers[tensor].append(node.name)
    outputs = {o.name for o in graph.output}
    quantized = [
        node.name for node in graph.node if _in_network(node.name) and not any(
            tensor in outputs or any(
                len(reader.split('/')) < 3 for reader in readers[tensor])
            for tensor in node.output)
    ]

    class Reader(CalibrationDataReader):

        def __init__(self):
            self.batches = iter(data)

        def get_next(self):
            batch = next(self.batches, None)
            return None if batch is None else {name: batch}

    quantize_static(
        path,
        path,
        Reader(),
        quant_format=QuantFormat.QDQ,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
        per_channel=True,
        op_types_to_quantize=['Conv', 'ConvTranspose', 'Gemm', 'MatMul'],
        nodes_to_quantize=quantized)


def _write_meta(work: str, meta: dict) -> None:
    path = osp.join(work, 'deploy.json')
    info = mmengine.load(path)
    info[META_KEY] = meta
    mmengine.dump(info, path, sort_keys=False, indent=4)


def _dataset_meta(cfg: Config, checkpoint: dict, source: str) -> dict:
    """The classes (and palette) of the config's test set, as its dataset
    type and ``metainfo`` give them; a checkpoint that names other classes
    is refused."""
    dataset = cfg.test_dataloader.dataset
    while 'dataset' in dataset:  # wrappers
        dataset = dataset.dataset
    registry = importlib.import_module(f'{cfg.default_scope}.registry')
    meta = dict(registry.DATASETS.get(dataset.type).METAINFO)
    meta.update(dataset.get('metainfo') or {})
    meta = {
        k: [list(c) if isinstance(c, (list, tuple)) else c for c in meta[k]]
        for k in ('classes', 'palette') if k in meta
    }
    saved = ((checkpoint.get('meta') or {}).get('dataset_meta')
             or {}).get('classes')
    if saved is not None and list(saved) != meta['classes']:
        raise CheckpointError(
            f'checkpoint {source!r} was trained for the classes '
            f'{list(saved)[:10]}, the config names {meta["classes"][:10]}: '
            'export it with the config it was trained with (or set '
            'test_dataloader.dataset.metainfo.classes)')
    return meta


def check_target(work_dir: str, checkpoint: str, identity: str,
                 force: bool) -> None:
    """``work_dir`` may take the export: nothing there is a file or a
    symlink, it holds no checkpoint, and a folder with files holds an
    earlier export of the same model (or ``force``: the export then
    replaces only the files it writes)."""
    if osp.islink(work_dir) or osp.lexists(work_dir) and \
            not osp.isdir(work_dir):
        kind = 'symbolic link' if osp.islink(work_dir) else 'file'
        raise UserInputError(
            f'--work-dir {work_dir!r} is a {kind}; give the path of a new '
            'folder (or of an earlier export of this model)')
    real = osp.join(osp.realpath(work_dir), '')
    if osp.realpath(checkpoint).startswith(real):
        raise UserInputError(
            f'--work-dir {work_dir!r} holds the checkpoint {checkpoint!r}: an '
            'export never writes into the folder of its checkpoint; give '
            'another folder')
    if not osp.isdir(work_dir) or not os.listdir(work_dir):
        return
    try:
        same = load_meta(work_dir)['model_hash'] == identity
    except CheckpointError:
        same = False
    if not (same or force):
        raise UserInputError(
            f'--work-dir {work_dir!r} holds files that are not an export of '
            'this model: give another folder, or add --force to write the '
            'export there (it replaces only the files an export writes; the '
            'others stay)')


def _move_into(work: str, work_dir: str) -> None:
    """The finished export at ``work`` becomes ``work_dir``: renamed, or
    where ``work_dir`` exists, its files replaced one by one (deploy.json
    last), the others left."""
    if not osp.isdir(work_dir):
        os.rename(work, work_dir)
        return
    for name in sorted(os.listdir(work), key=lambda n: n == 'deploy.json'):
        os.replace(osp.join(work, name), osp.join(work_dir, name))
    os.rmdir(work)


def export_model(config: str,
                 checkpoint: str,
                 work_dir: str,
                 backend: str = 'onnxruntime',
                 precision: str = 'auto',
                 calib_images: int = 32,
                 cfg_options: Optional[dict] = None,
                 calibration: Optional[Iterable[np.ndarray]] = None,
                 force: bool = False) -> dict:
    """Write the exported model of ``config`` + ``checkpoint`` to
    ``work_dir`` (see :func:`check_target`); returns its record (what
    deploy.json holds). The checkpoint must fit the model as
    ``tools/test.py`` checks it (the config's ``CheckpointFitHook``).

    int8 calibrates on ``calib_images`` images of the config's training set
    through its test pipeline, or on ``calibration`` (preprocessed NCHW
    float32 batches) where given.
    """
    if backend not in BACKENDS:
        raise UserInputError(f'--backend must be one of {BACKENDS}')
    precision, why = resolve_precision(backend, precision)
    cfg = load_config(config, cfg_options)
    identity = model_hash(cfg)  # before mmdeploy edits the config
    check_target(work_dir, checkpoint, identity, force)
    loaded = safe_load(checkpoint, map_location='cpu')
    fit = next((h for h in cfg.get('custom_hooks') or ()
                if str(h.get('type')).endswith('CheckpointFitHook')),
               dict(type='CheckpointFitHook'))
    HOOKS.build(fit).check(build_model_from_cfg(cfg), loaded, checkpoint)
    dataset_meta = _dataset_meta(cfg, loaded, checkpoint)
    del loaded
    if backend == 'tensorrt':
        require_tensorrt()
    else:
        require(backend, f'--backend {backend}')
    require_mmdeploy()
    from mmdeploy.apis import torch2onnx
    from mmdeploy.backend.sdk.export_info import export2SDK

    from . import rewriters  # noqa: F401  (registers the fixes)
    deploy_cfg = deploy_config(cfg, backend, precision)
    # OpenVINO reads the standard-op graph: mmdeploy's OpenVINO rewrite of
    # the RoI extractor (ExperimentalDetectronROIFeatureExtractor) takes
    # batch 1 only.
    trace_cfg = deploy_config(
        cfg, 'onnxruntime' if backend == 'openvino' else backend, precision)
    print_log(
        f'exporting {cfg.model.type} for {backend}, precision {why}',
        logger='current')

    parent = osp.dirname(osp.abspath(work_dir))
    os.makedirs(parent, exist_ok=True)
    work = tempfile.mkdtemp(
        prefix=f'.{osp.basename(osp.abspath(work_dir))}.', dir=parent)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(work, 0o777 & ~umask)
    try:
        try:
            # a copy: mmdeploy edits the test pipeline of an array's config
            torch2onnx(
                _sample_image(cfg), work, 'end2end.onnx', trace_cfg,
                copy.deepcopy(cfg), checkpoint, 'cpu')
        except Exception as e:  # noqa: B902  (what mmdeploy cannot trace)
            raise UserInputError(
                f'{cfg.model.type} ({config}) cannot be exported: '
                f'{type(e).__name__}: {str(e).strip().splitlines()[-1]}'
            ) from e
        fixes = fix_graph(osp.join(work, 'end2end.onnx'))
        how, data = precision, None
        if precision == 'int8':
            data, how = _calibration(cfg, calib_images, calibration)
        if backend == 'openvino':
            _to_openvino(work, precision, cfg, data)
        elif data is not None:
            _quantize_onnx(work, data)
        export2SDK(
            deploy_cfg, copy.deepcopy(cfg), work, pth=checkpoint, device='cpu')
        # for mmdeploy's Python API and tools (inference_model, test.py)
        deploy_cfg.dump(osp.join(work, DEPLOY_CFG))
        divisor = cfg.model.get('data_preprocessor', {}).get(
            'pad_size_divisor', 1) if cfg.default_scope == 'mmdet' else 32
        meta = dict(
            backend=backend,
            precision=precision,
            chosen=how,
            why=why,
            config=config,
            model_hash=identity,
            scope=cfg.default_scope,
            output_names=list(deploy_cfg.onnx_config.output_names),
            input_range=input_range(backend, max(divisor, 1)),
            input='normalized float32 NCHW (the config\'s data '
            'preprocessor: mean/std, RGB order, padding)',
            dataset_meta=dataset_meta,
            onnx_fixes=fixes,
            torch=torch.__version__)
        _write_meta(work, meta)
        if backend != 'tensorrt':  # the network loads and runs
            Runner(work, meta).run(np.zeros((2, 3, 64, 96), np.float32))
        _move_into(work, work_dir)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print_log(
        f'exported to {work_dir}: {backend}, {how}; ONNX fixes {fixes}',
        logger='current')
    return meta
