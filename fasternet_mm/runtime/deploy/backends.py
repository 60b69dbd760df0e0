"""Running an exported network: ONNX Runtime, OpenVINO (TensorRT: GPU).

Each backend is imported when used; a missing package is a
:class:`UserInputError` that names the pip command.
"""
import collections
import importlib
import os.path as osp
from typing import Dict, List, Optional

import numpy as np
import torch

from ...errors import UserInputError
from ..inference import cpu_bf16_feature

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
        threads = threads or torch.get_num_threads()
        if self.backend == 'onnxruntime':
            ort = require('onnxruntime', 'a deployed onnxruntime model')
            options = ort.SessionOptions()
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
            self.session = ort.InferenceSession(
                osp.join(deploy_dir, 'end2end.onnx'),
                options,
                providers=['CPUExecutionProvider'])
        elif self.backend == 'openvino':
            ov = require('openvino', 'a deployed openvino model')
            core = ov.Core()
            model = core.read_model(osp.join(deploy_dir, 'end2end.xml'))
            self.compiled = core.compile_model(
                model, 'CPU', {
                    'INFERENCE_PRECISION_HINT': openvino_hint(
                        meta['precision']),
                    'PERFORMANCE_HINT': 'LATENCY',
                    'INFERENCE_NUM_THREADS': threads,
                    'PERF_COUNT': profile,
                })
            self.request = self.compiled.create_infer_request()
            self.ports = {
                name: self.compiled.output(name)
                for name in self.output_names
            }
        else:
            raise UserInputError(
                f'{deploy_dir}: the {self.backend} backend runs through '
                "mmdeploy's SDK or TensorRT on a GPU, not in this tool")

    def profile(self, x: np.ndarray) -> Dict[str, float]:
        """Milliseconds of one inference of ``x`` per top-level module of
        the exported model (``backbone``, ``neck``, each head, from the ONNX
        scope names; ``other``: ops outside any module, such as box decoding
        and NMS, and layers OpenVINO renamed when it fused them;
        ``reorders``: layout changes OpenVINO added), from OpenVINO's
        per-layer counters (``profile=True``)."""
        if self.backend != 'openvino':
            raise UserInputError('per-layer profiles are read from OpenVINO')
        self.run(x)
        times: Dict[str, float] = collections.defaultdict(float)
        for layer in self.request.profiling_info:
            parts = layer.node_name.split('/')
            group = parts[1] if len(parts) > 2 and not parts[0] else 'other'
            if layer.node_type == 'Reorder':  # layout changes OpenVINO adds
                group = 'reorders'
            times[group] += layer.real_time.total_seconds() * 1e3
        return {k: v for k, v in times.items() if v >= 0.05}

    def run(self, x: np.ndarray) -> List[np.ndarray]:
        x = np.ascontiguousarray(x, dtype=np.float32)
        if self.backend == 'onnxruntime':
            return self.session.run(self.output_names, {'input': x})
        result = self.request.infer({'input': x})
        return [result[self.ports[name]] for name in self.output_names]
