"""Refuse a checkpoint that does not fit the model, instead of warning."""
from typing import Sequence

from mmengine.hooks import Hook
from mmengine.model import BaseTTAModel, is_model_wrapper
from mmengine.registry import HOOKS

from ...errors import CheckpointError
from ..checkpoint import check_fit, state_dict_of


@HOOKS.register_module()
class CheckpointFitHook(Hook):
    """Check ``load_from`` / ``--resume`` / ``tools/test.py`` checkpoints
    before they load (:func:`~fasternet_mm.runtime.checkpoint.check_fit`):
    mmengine would only warn and go on from random weights. A resumed
    checkpoint must be a training one of the same model.

    Args:
        min_fit (float): Fraction of each part's tensors that must match by
            name and shape. Defaults to 0.5.
        allow_missing (Sequence[str]): Parts (top-level modules, e.g.
            ``('neck', 'rpn_head', 'roi_head')``) that may keep their
            initialisation. Defaults to none.
    """

    priority = 'VERY_HIGH'
    resume_keys = ('meta', 'state_dict', 'optimizer', 'message_hub')

    def __init__(self,
                 min_fit: float = 0.5,
                 allow_missing: Sequence[str] = ()):
        self.min_fit = min_fit
        self.allow_missing = tuple(allow_missing)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        source = runner.cfg.get('load_from') or \
            f'the latest checkpoint in {runner.work_dir}'
        self.check(runner.model, checkpoint, source,
                   bool(runner.cfg.get('resume')))

    def check(self, model, checkpoint, source: str, resume: bool = False):
        """The check of a ``checkpoint`` (as loaded) for ``model`` (the
        weights go into the model under any DDP / TTA wrapper)."""
        state_dict = state_dict_of(checkpoint, source)
        missing = [k for k in self.resume_keys if k not in checkpoint]
        if resume and missing:
            raise CheckpointError(
                f'--resume {source!r}: not a training checkpoint of mmengine '
                f'(it lacks {missing}); to start from its weights use '
                f'load_from={source!r} (without --resume)')
        if is_model_wrapper(model) or isinstance(model, BaseTTAModel):
            model = model.module
        check_fit(model, state_dict, source, resume, self.min_fit,
                  self.allow_missing)
