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
    """At iteration ``at`` (1-based) on ``ranks``: NaN in the weights (before
    the forward, so the loss is NaN too) or only in the logged loss (the
    other ranks then see finite numbers only)."""

    priority = 'HIGHEST'

    def __init__(self, at: int, what: str = 'weights', ranks=(0, )):
        self.at, self.what, self.ranks = at, what, tuple(ranks)

    def _now(self, runner):
        return runner.iter + 1 == self.at and get_rank() in self.ranks

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        if self.what == 'weights' and self._now(runner):
            model = runner.model.module if is_model_wrapper(
                runner.model) else runner.model
            with torch.no_grad():
                next(model.backbone.parameters()).fill_(float('nan'))

    def after_train_iter(self,
                         runner,
                         batch_idx,
                         data_batch=None,
                         outputs=None):
        if self.what == 'loss' and self._now(runner):
            outputs['loss'] = torch.tensor(float('nan'))
