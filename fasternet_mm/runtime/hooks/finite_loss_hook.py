"""Stop a run whose loss, or weights, are no longer finite."""
import math

import torch
from mmengine.dist import all_reduce, get_world_size
from mmengine.hooks import Hook
from mmengine.optim import AmpOptimWrapper
from mmengine.registry import HOOKS

from ...errors import TrainingDivergedError


@HOOKS.register_module()
class FiniteLossHook(Hook):
    """Raise :class:`TrainingDivergedError` on a NaN or infinite loss or
    weights, before ``CheckpointHook`` saves them.

    mmengine trains on and saves NaN weights; mmdet's
    ``CheckInvalidLossHook`` asserts every 50 iterations, in detection only.
    The ranks agree through one all-reduced flag, so all stop at the same
    iteration. With ``AmpOptimWrapper`` only the weights are checked (loss
    scaling skips the fp16 steps that overflow).

    Args:
        interval (int): Check every ``interval`` iterations (and at the end
            of an epoch). Defaults to 1.
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
        amp = isinstance(runner.optim_wrapper, AmpOptimWrapper)
        losses = {
            k: float(v.detach() if torch.is_tensor(v) else v)
            for k, v in (outputs or {}).items() if 'loss' in k and not amp
        }
        bad = {k: v for k, v in losses.items() if not math.isfinite(v)}
        # a finite loss with an inf gradient leaves NaN weights after the
        # step: the next save would keep them
        params = [
            p for p in runner.model.parameters() if p.is_floating_point()
        ]
        if params and not torch.stack([p.isfinite().all()
                                       for p in params]).all():
            bad['weights'] = 'nan/inf'
        ranks_bad = int(bool(bad))
        if get_world_size() > 1:
            flag = torch.tensor([float(ranks_bad)])
            all_reduce(flag)  # SUM: how many ranks saw a bad value
            ranks_bad = int(flag.item())
        if not ranks_bad:
            return
        where = f'epoch {runner.epoch + 1}, ' if type(
            runner.train_loop).__name__.startswith('Epoch') else ''
        last = runner.message_hub.get_info('last_ckpt')
        detail = ', '.join(f'{k}={v}' for k, v in bad.items()) or \
            'on another rank'
        what = 'the weights are' if list(bad) == ['weights'] else 'the loss is'
        raise TrainingDivergedError(
            f'{what} not finite ({detail}) at {where}iteration '
            f'{runner.iter + 1} ({ranks_bad} of {get_world_size()} rank(s)); '
            'training stopped before saving NaN weights. Typical causes: a '
            'learning rate too high for the batch size (see --auto-scale-lr),'
            ' regularisation out of range, broken annotations (empty or '
            'degenerate boxes). ' +
            (f'The last checkpoint, {last}, was saved before this iteration.'
             if last else 'No checkpoint was saved.'))
