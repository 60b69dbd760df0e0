"""Checks of a training run's setup that mmengine leaves to chance."""
import glob
import os
import os.path as osp

from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmengine.registry import HOOKS
from mmengine.runner import BaseLoop, EpochBasedTrainLoop

from ...errors import ConfigValueError, UserInputError

try:
    import fcntl
except ImportError:  # Windows: no advisory locks, no concurrency check
    fcntl = None

LOCK_FILE = '.train.lock'


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
        self._lock_work_dir(runner.work_dir)
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

    def _lock_work_dir(self, work_dir: str) -> None:
        self._lock = lock_work_dir(work_dir)

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
            _HELD.pop(self._lock.name, None)
            self._lock.close()  # releases the lock
            self._lock = None


_HELD = {}  # lock file path -> open handle, of this process


def lock_work_dir(work_dir: str):
    """Take ``work_dir``'s training lock, or raise naming the holder.

    Our tools call it before the Runner exists (so that a refused run does
    not even open its log folder, which mmengine names by the second);
    the hook calls it again under other tools. Returns the open lock file
    (the lock lasts until it is closed or the process ends), or None where
    the platform has no ``fcntl``.
    """
    if fcntl is None:
        return None
    os.makedirs(work_dir, exist_ok=True)
    path = osp.abspath(osp.join(work_dir, LOCK_FILE))
    if path in _HELD:
        return _HELD[path]
    handle = open(path, 'a+')
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.seek(0)
        owner = handle.read().strip() or 'unknown'
        handle.close()
        raise UserInputError(
            f'another training run (pid {owner}) is using the work dir '
            f'{work_dir}: both would write the same checkpoints and '
            'last_checkpoint; give this run its own --work-dir')
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    _HELD[path] = handle
    return handle
