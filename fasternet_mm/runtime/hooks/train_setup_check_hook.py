"""Checks of a training run's setup that mmengine leaves to chance."""
import glob
import os.path as osp

from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmengine.registry import HOOKS
from mmengine.runner import BaseLoop, EpochBasedTrainLoop

from ...errors import ConfigValueError
from ..fileio import lock_work_dir, unlock_work_dir


@HOOKS.register_module()
class TrainSetupCheckHook(Hook):
    """Before training: a positive length and a work dir of its own.

    - ``max_epochs`` / ``max_iters`` of 0 or less is a
      :class:`ConfigValueError` (mmengine runs 0 iterations and exits 0);
    - a second training run on a work dir that another one is training in
      (the lock file ``.train.lock`` is held) is refused: both would write
      the same checkpoints and ``last_checkpoint``;
    - a run that does not resume, in a work dir that holds checkpoints of
      an earlier run, warns: it overwrites those of the same name and
      re-points ``last_checkpoint``.
    """

    priority = 'VERY_HIGH'

    def __init__(self):
        self._lock = None

    def before_run(self, runner) -> None:
        loop = runner._train_loop
        if not isinstance(loop, BaseLoop):  # not a training run
            return
        self._check_length(loop)
        if not is_main_process():
            return
        self._lock = lock_work_dir(runner.work_dir)
        if not runner._resume:
            self._warn_earlier_run(runner)

    @staticmethod
    def _check_length(loop) -> None:
        # An epoch-based loop's max_iters is 0 for an empty dataset too,
        # which the data checks report; its length is max_epochs.
        name = 'max_epochs' if isinstance(loop,
                                          EpochBasedTrainLoop) else 'max_iters'
        value = getattr(loop, name, None)
        if value is not None and value <= 0:
            raise ConfigValueError(
                f'train_cfg.{name} is {value}: training would run no '
                f'iteration; set train_cfg.{name} to a positive number')

    @staticmethod
    def _warn_earlier_run(runner) -> None:
        work_dir = runner.work_dir
        found = sorted(
            osp.basename(p) for p in glob.glob(osp.join(work_dir, '*.pth')))
        pointer = osp.join(work_dir, 'last_checkpoint')
        if not found and not osp.isfile(pointer):
            return
        shown = found[:5] + (['...'] if len(found) > 5 else [])
        runner.logger.warning(
            f'the work dir {work_dir} holds {len(found)} checkpoint(s) of an '
            f'earlier run ({", ".join(shown)}); this run does not resume and '
            'will overwrite those of the same name and re-point '
            'last_checkpoint. To continue that run, add --resume; to keep '
            'it, use another --work-dir.')

    def after_run(self, runner) -> None:
        if self._lock is not None:
            unlock_work_dir(self._lock)
            self._lock = None
