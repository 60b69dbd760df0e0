from .inference import (build_model_from_cfg, choose_precision,
                        cpu_bf16_feature, optimize_for_inference)

__all__ = [
    'build_model_from_cfg', 'choose_precision', 'cpu_bf16_feature',
    'optimize_for_inference'
]
