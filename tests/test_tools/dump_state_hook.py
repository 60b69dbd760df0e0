"""A hook for the tests of distributed and resumed training.

Imported by test configs through ``custom_imports``; it writes what each
rank holds when training starts (after any resume) and ends.
"""
import os.path as osp

import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS


@HOOKS.register_module()
class DumpStateHook(Hook):
    """Save ``{before,after}_train_rank{r}.pth`` in the work dir."""

    priority = 'VERY_LOW'

    def _dump(self, runner, when):
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        state = dict(
            iter=runner.iter,
            weights=model.state_dict(),
            optimizer=runner.optim_wrapper.state_dict(),
            schedulers=[s.state_dict() for s in runner.param_schedulers])
        torch.save(state,
                   osp.join(runner.work_dir, f'{when}_rank{get_rank()}.pth'))

    def before_train(self, runner):
        self._dump(runner, 'before_train')

    def after_train(self, runner):
        self._dump(runner, 'after_train')
