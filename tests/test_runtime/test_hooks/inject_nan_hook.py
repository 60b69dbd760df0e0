"""Make a run go NaN at a chosen iteration, for the tests of FiniteLossHook.

Imported by test configs through ``custom_imports``.
"""
import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS


@HOOKS.register_module()
class InjectNaNHook(Hook):
    """At iteration ``at`` (1-based) on ``ranks``, after its step: NaN in the
    weights (the iteration's loss was finite), or in the logged loss only
    (the other ranks then see finite numbers only)."""

    priority = 'HIGHEST'

    def __init__(self, at: int, what: str = 'weights', ranks=(0, )):
        self.at, self.what, self.ranks = at, what, tuple(ranks)

    def _now(self, runner):
        return runner.iter + 1 == self.at and get_rank() in self.ranks

    def after_train_iter(self,
                         runner,
                         batch_idx,
                         data_batch=None,
                         outputs=None):
        if not self._now(runner):
            return
        if self.what == 'loss':
            outputs['loss'] = torch.tensor(float('nan'))
            return
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        with torch.no_grad():
            next(model.backbone.parameters()).fill_(float('nan'))
