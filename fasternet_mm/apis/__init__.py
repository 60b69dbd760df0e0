from .runner import (build_runner, check_data, check_input_padding, enable_amp,
                     load_config, set_local_rank)

__all__ = [
    'build_runner', 'check_data', 'check_input_padding', 'enable_amp',
    'load_config', 'set_local_rank'
]
