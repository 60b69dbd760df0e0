"""Stop a run whose loss is no longer a finite number."""
import math

import torch
from mmengine.dist import all_reduce, get_world_size
from mmengine.hooks import Hook
from mmengine.optim import AmpOptimWrapper
from mmengine.registry import HOOKS

from ...errors import TrainingDivergedError


@HOOKS.register_module()
class FiniteLossHook(Hook):
    """Raise :class:`TrainingDivergedError` on a NaN or infinite loss (or
    weights).

    mmengine trains on when the loss is NaN: the run saves checkpoints of
    NaN weights (over the good ones) and exits 0; mmdet's
    ``CheckInvalidLossHook`` asserts, every 50 iterations, in detection
    only. This hook checks the total loss after every iteration, before
    the checkpoint hook saves, and in a distributed run all ranks agree
    (one all-reduced flag), so every rank stops at the same iteration and
    none is left waiting in a collective.

    Args:
        interval (int): Check every ``interval`` iterations (and always at
            the end of an epoch). Defaults to 1.
    """

    priority = 'ABOVE_NORMAL'  # before CheckpointHook (NORMAL)

    def __init__(self, interval: int = 1):
        self.interval = interval

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch=None,
                         outputs=None) -> None:
        if not (self.every_n_train_iters(runner, self.interval)
                or self.end_of_epoch(runner.train_dataloader, batch_idx)):
            return
        bad = {} if self._amp(runner) else {
            k: float(v)
            for k, v in (outputs or {}).items()
            if 'loss' in k and not math.isfinite(float(v))
        }
        if not self._weights_finite(runner.model):
            bad['weights'] = 'nan/inf'
        if get_world_size() > 1:
            flag = torch.tensor([float(bool(bad))])
            all_reduce(flag)  # SUM: how many ranks saw a bad loss
            ranks_bad = int(flag.item())
        else:
            ranks_bad = int(bool(bad))
        if not ranks_bad:
            return
        where = (f'epoch {runner.epoch + 1}, '
                 if runner.train_loop.__class__.__name__.startswith('Epoch')
                 else '')
        last = runner.message_hub.get_info('last_ckpt')
        detail = ', '.join(f'{k}={v}' for k, v in bad.items()) if bad else \
            'on another rank'
        what = 'the weights are' if list(bad) == ['weights'] else \
            'the loss is'
        raise TrainingDivergedError(
            f'{what} not finite ({detail}) at {where}iteration '
            f'{runner.iter + 1} ({ranks_bad} of {get_world_size()} '
            'rank(s)); training stopped before saving NaN weights. '
            'Typical causes: a learning rate too high for the batch size '
            '(see --auto-scale-lr), drop_path_rate or other regularisation '
            'out of range, broken annotations (empty or degenerate boxes). ' +
            (f'The last checkpoint, {last}, was saved before this '
             'iteration.' if last else 'No checkpoint was saved.'))

    @staticmethod
    def _amp(runner) -> bool:
        # With loss scaling an inf loss in fp16 is expected now and then:
        # the scaler skips that step. The weights are checked still.
        return isinstance(runner.optim_wrapper, AmpOptimWrapper)

    @staticmethod
    def _weights_finite(model) -> bool:
        # A finite loss with an inf gradient still leaves NaN weights after
        # the step; they would be saved before the next loss shows it.
        params = [p for p in model.parameters() if p.is_floating_point()]
        if not params:
            return True
        return bool(torch.stack([p.isfinite().all() for p in params]).all())
