"""Refuse checkpoints that do not fit the model, instead of warning."""
import re

from mmengine.hooks import Hook
from mmengine.model import BaseTTAModel, is_model_wrapper
from mmengine.registry import HOOKS

from ...errors import CheckpointError
from ...models import FasterNet


@HOOKS.register_module()
class CheckpointFitHook(Hook):
    """Check ``load_from`` / ``--resume`` checkpoints before they load.

    mmengine loads them non-strictly: a checkpoint of another model only
    logs warnings and the run goes on from random weights. With this hook a
    checkpoint that fits less than ``min_fit`` of the model's tensors (after
    FasterNet's official / timm layouts are converted) is an error, and a
    resumed checkpoint must be a training one (meta, optimizer, ...). It acts
    in ``after_load_checkpoint``, so any Runner that calls hooks gets it:
    ``custom_hooks = [dict(type='CheckpointFitHook')]``; our tools add it.

    Args:
        min_fit (float): Fraction of the model's tensors that must match by
            name and shape. Defaults to 0.5.
    """

    priority = 'VERY_HIGH'
    resume_keys = ('meta', 'state_dict', 'optimizer', 'message_hub')

    def __init__(self, min_fit: float = 0.5):
        self.min_fit = min_fit

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        source = runner._load_from or \
            f'the latest checkpoint in {runner.work_dir}'
        if not isinstance(checkpoint, dict):
            raise CheckpointError(
                f'checkpoint {source!r} holds a {type(checkpoint).__name__}'
                ', not a state dict')
        if runner._resume:
            missing = [k for k in self.resume_keys if k not in checkpoint]
            if missing:
                raise CheckpointError(
                    f'--resume {source!r}: not a training checkpoint of '
                    f'mmengine (it lacks {missing}); to start from its '
                    f'weights use load_from={source!r} (without --resume)')
        model = runner.model
        # As Runner.load_checkpoint: weights go into the wrapped model.
        if is_model_wrapper(model) or isinstance(model, BaseTTAModel):
            model = model.module
        self.check_fit(model, checkpoint.get('state_dict', checkpoint), source)

    def check_fit(self, model, state_dict: dict, source: str) -> None:
        state = {re.sub(r'^module\.', '', k): v for k, v in state_dict.items()}
        for name, module in model.named_modules():
            if isinstance(module, FasterNet):
                module.convert_state_dict(state, f'{name}.' if name else '')
        model_state = model.state_dict()
        fit = [
            k for k, v in model_state.items()
            if getattr(state.get(k), 'shape', None) == v.shape
        ]
        if len(fit) < self.min_fit * len(model_state):
            unexpected = [k for k in state if k not in model_state][:3]
            missing = [k for k in model_state if k not in state][:3]
            raise CheckpointError(
                f'checkpoint {source!r} does not fit this model: only '
                f'{len(fit)} of its {len(model_state)} tensors match by name '
                f'and shape (checkpoint has e.g. {unexpected}, the model '
                f'needs e.g. {missing}). Is it for another model or config? '
                'Backbone-only weights (ImageNet) go in '
                "model.backbone.init_cfg=dict(type='Pretrained', "
                'checkpoint=...).')
