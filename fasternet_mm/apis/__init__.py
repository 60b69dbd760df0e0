from .inference import (build_model_from_cfg, choose_precision,
                        cpu_bf16_feature, optimize_for_inference)
from .runner import (build_runner, check_data, check_input_padding, enable_amp,
                     load_config, set_local_rank)

__all__ = [
    'build_model_from_cfg', 'build_runner', 'check_data',
    'check_input_padding', 'choose_precision', 'cpu_bf16_feature',
    'enable_amp', 'load_config', 'optimize_for_inference', 'set_local_rank'
]
