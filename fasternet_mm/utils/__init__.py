"""What ``tools/train.py`` and ``tools/test.py`` share around the Runner."""
from .config import check_input_padding, load_config, uses_fasternet
from .data_checks import check_data
from .setup_env import (adapt_to_machine, build_runner, enable_amp,
                        set_local_rank, setup_cpu_distributed)

__all__ = [
    'adapt_to_machine', 'build_runner', 'check_data', 'check_input_padding',
    'enable_amp', 'load_config', 'set_local_rank', 'setup_cpu_distributed',
    'uses_fasternet'
]
