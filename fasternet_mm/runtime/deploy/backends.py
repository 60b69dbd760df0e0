"""Running an exported network: ONNX Runtime, OpenVINO (TensorRT: GPU).

Each backend is imported when used; a missing package is a
:class:`UserInputError` that names the pip command.
"""
import collections
import contextlib
import importlib
import json
import os.path as osp
import tempfile
from typing import Dict, List, Optional

import numpy as np
import torch

from ...errors import CheckpointError, UserInputError
from .folder import EXPORT_AGAIN, NETWORK_FILES, network_files
from .inference import cpu_bf16_feature

PIP = {
    'onnxruntime': 'pip install onnxruntime',
    'openvino': 'pip install openvino',
    'nncf': 'pip install nncf',
    'tensorrt': 'pip install tensorrt',
}


def require(module: str, why: str):
    """Import ``module`` or say which pip command installs it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise UserInputError(
            f'{why} needs the {module} package: {PIP.get(module, "pip")}'
            f'{"" if module in PIP else " install " + module}') from None


def require_tensorrt() -> None:
    """TensorRT needs its package and a CUDA device."""
    require('tensorrt', 'the tensorrt backend')
    if not torch.cuda.is_available():
        raise UserInputError(
            'the tensorrt backend needs a CUDA GPU (none is visible); on '
            'this machine use --backend openvino or onnxruntime')


def openvino_hint(precision: str) -> str:
    """OpenVINO's CPU inference precision for an export's precision.

    OpenVINO computes in bf16 by default on CPUs with native bf16: fp32
    must be asked for. int8 models run their other layers as 'auto' does.
    """
    if precision == 'int8':
        return 'bf16' if cpu_bf16_feature() else 'f32'
    return 'bf16' if precision == 'bf16' else 'f32'


class Runner:
    """One compiled network: ``runner.run(x)`` -> outputs in
    ``output_names``."""

    def __init__(self,
                 deploy_dir: str,
                 meta: dict,
                 threads: Optional[int] = None,
                 profile: bool = False):
        self.backend, self.deploy_dir = meta['backend'], deploy_dir
        self.output_names: List[str] = meta['output_names']
        if self.backend == 'tensorrt':
            raise UserInputError(
                f'{deploy_dir}: the tensorrt backend runs through mmdeploy\'s '
                'SDK or TensorRT on a GPU, not in this tool')
        paths = network_files(deploy_dir, meta)
        self.name = osp.join(deploy_dir, NETWORK_FILES[self.backend][0])
        threads = threads or torch.get_num_threads()
        backend = require(self.backend, f'a deployed {self.backend} model')
        with self._errors('load'):
            if self.backend == 'onnxruntime':
                options = backend.SessionOptions()
                options.intra_op_num_threads = threads
                options.inter_op_num_threads = 1
                if profile:
                    options.enable_profiling = True
                    options.profile_file_prefix = osp.join(
                        tempfile.mkdtemp(), 'ort')
                self.session = backend.InferenceSession(
                    paths[0], options, providers=['CPUExecutionProvider'])
                outputs = [o.name for o in self.session.get_outputs()]
            else:
                core = backend.Core()
                self.compiled = core.compile_model(
                    core.read_model(*paths), 'CPU', {
                        'INFERENCE_PRECISION_HINT':
                        openvino_hint(meta['precision']),
                        'PERFORMANCE_HINT':
                        'LATENCY',
                        'INFERENCE_NUM_THREADS':
                        threads,
                        'PERF_COUNT':
                        profile,
                    })
                self.request = self.compiled.create_infer_request()
                outputs = [o.any_name for o in self.compiled.outputs]
        if outputs != self.output_names:
            raise CheckpointError(
                f'cannot load {self.name}: its graph returns {outputs}, not '
                f'the output_names {self.output_names} of deploy.json; '
                f'{EXPORT_AGAIN}')

    @contextlib.contextmanager
    def _errors(self, verb: str):
        """A backend's exception as one error naming the network file."""
        try:
            yield
        except Exception as e:  # noqa: B902  (each backend has its own)
            reason = ' '.join(str(e).split())[:400] or type(e).__name__
            raise CheckpointError(
                f'cannot {verb} {self.name}: {reason}; {EXPORT_AGAIN}') \
                from None

    def profile(self, x: np.ndarray) -> Dict[str, Dict[str, float]]:
        """Milliseconds of a warm inference of ``x`` (the first one of a
        shape builds its kernels) from the backend's own per-layer counters
        (a runner made with ``profile=True``), summed ``by_module``
        (``backbone``, ``neck``, each head, from the ONNX scope names;
        ``other``: ops outside any module, such as NMS, and layers OpenVINO
        renamed when it fused them) and ``by_op`` (ONNX Runtime's op type;
        OpenVINO's layer type and the kernel it ran, ``Reorder`` being the
        layout changes it added)."""
        self.run(x)
        self.run(x)
        if self.backend == 'onnxruntime':
            with open(self.session.end_profiling()) as f:
                last = {  # each node's last (warm) run
                    e['name'].rsplit('_kernel_time', 1)[0]:
                    (e['args']['op_name'], e['dur'] / 1e3)
                    for e in json.load(f) if e.get('cat') == 'Node'
                    and e['name'].endswith('_kernel_time')
                }
            layers = [(name, *v) for name, v in last.items()]
        else:
            layers = [(layer.node_name,
                       f'{layer.node_type} {layer.exec_type}'.strip(),
                       layer.real_time.total_seconds() * 1e3)
                      for layer in self.request.profiling_info]
        times = dict(
            by_module=collections.defaultdict(float),
            by_op=collections.defaultdict(float))
        for name, op, ms in layers:
            parts = name.split('/')
            module = parts[1] if len(parts) > 2 and not parts[0] else 'other'
            times['by_module'][module] += ms
            times['by_op'][op] += ms
        return {
            k: {
                n: t
                for n, t in v.items() if t >= 0.05
            }
            for k, v in times.items()
        }

    def run(self, x: np.ndarray) -> List[np.ndarray]:
        x = np.ascontiguousarray(x, dtype=np.float32)
        with self._errors('run'):
            if self.backend == 'onnxruntime':
                return self.session.run(self.output_names, {'input': x})
            result = self.request.infer({'input': x})
            return [result[name] for name in self.output_names]
