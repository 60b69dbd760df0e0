from .runner import (UserInputError, build_runner, check_data, enable_amp,
                     load_config, set_local_rank)

__all__ = [
    'UserInputError', 'build_runner', 'check_data', 'enable_amp',
    'load_config', 'set_local_rank'
]
