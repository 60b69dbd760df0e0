"""The run-time layer: what runs around a FasterNet model, opt-in.

Importing it (``custom_imports=dict(imports=['fasternet_mm.runtime'])``, as
``configs/_base_/fasternet_runtime.py`` does, or ``import
fasternet_mm.runtime``) routes mmengine's checkpoint loading through the
safe loader (:mod:`.checkpoint`) and registers the run hooks (:mod:`.hooks`).
It also holds run set-up (config loading and checks, data checks, CPU
distributed runs) and fast inference. It builds on the model layer
(:mod:`fasternet_mm`); the model layer never imports it.
"""
from .checkpoint import install_safe_loaders, safe_load
from .config import check_input_padding, load_config
from .data_checks import check_data
from .hooks import FASTERNET_HOOKS
from .inference import (build_model_from_cfg, choose_precision,
                        cpu_bf16_feature, optimize_for_inference)
from .setup_env import build_runner

install_safe_loaders()

__all__ = [
    'FASTERNET_HOOKS', 'build_model_from_cfg', 'build_runner', 'check_data',
    'check_input_padding', 'choose_precision', 'cpu_bf16_feature',
    'install_safe_loaders', 'load_config', 'optimize_for_inference',
    'safe_load'
]
