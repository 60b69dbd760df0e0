"""The run-time layer, opt-in: importing it (the configs do) routes
mmengine's checkpoint loading through :mod:`.checkpoint` and registers the
run hooks (:mod:`.hooks`) and the ``atomic_local`` file backend; it also
holds what our tools share. The model layer never imports it."""
from .checkpoint import check_fit, install_safe_loading, safe_load
from .config import build_model_from_cfg, check_input_padding, load_config
from .hooks import FASTERNET_HOOKS
from .setup_env import build_runner, run

install_safe_loading()

__all__ = [
    'FASTERNET_HOOKS', 'build_model_from_cfg', 'build_runner', 'check_fit',
    'check_input_padding', 'install_safe_loading', 'load_config', 'run',
    'safe_load'
]
