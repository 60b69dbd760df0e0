"""Checkpoints that survive a kill or a full disk, and an honest resume."""
import glob
import os
import os.path as osp
import shutil

from mmengine.dist import is_main_process
from mmengine.fileio import get_file_backend
from mmengine.hooks import CheckpointHook, Hook
from mmengine.registry import HOOKS

from ...errors import CheckpointError
from ..fileio import TMP_SUFFIX, atomic_write

KEPT_KEY = 'fasternet_mm_kept_ckpts'


@HOOKS.register_module()
class AtomicSaveHook(Hook):
    """Make the run's ``CheckpointHook`` crash-safe; check resume requests.

    mmengine 0.10's ``CheckpointHook`` removes the oldest checkpoint
    *before* it writes the new one, and writes it in place: a kill or a full
    disk leaves a truncated file under the final name, and with
    ``max_keep_ckpts=1`` no checkpoint at all. Through the hook's public
    settings (whatever its config: mmengine's plain ``CheckpointHook`` as
    mmdet's configs name it, under any tool), for checkpoints on local disk:

    1. its ``backend_args`` select ``'atomic_local'``
       (:class:`~fasternet_mm.runtime.fileio.AtomicLocalBackend`): each
       checkpoint is written to a temporary file and renamed, so it is
       complete or absent, and a failed write leaves the previous one;
    2. this hook takes over ``max_keep_ckpts``: after a save has completed
       and ``last_checkpoint`` names it, it rewrites ``last_checkpoint``
       atomically and only then removes the checkpoints beyond the limit
       (the ones this run saved, oldest first).

    An atomic save needs room for the new checkpoint beside the previous
    one. Other storage (``backend_args`` for S3, ...) is left as configured.

    Before the run it checks the resume request (mmengine would log "Auto
    resumed from the latest checkpoint None." and train from scratch, or
    fail later on a missing file):

    - ``--resume`` (auto) in a work dir without checkpoints warns that
      training starts from scratch (right for preemptible jobs that rerun
      one command);
    - ``last_checkpoint`` naming a missing file, checkpoints without a
      ``last_checkpoint``, or ``--resume PATH`` with no such file, is a
      :class:`CheckpointError` listing the checkpoints that are there.
    """

    priority = 'LOWEST'  # after CheckpointHook (VERY_LOW) has saved

    def __init__(self):
        self.max_keep_ckpts = {}  # CheckpointHook -> its max_keep_ckpts
        self._kept = []  # checkpoints this run saved, oldest first
        self._last = None

    def before_run(self, runner) -> None:
        for hook in runner.hooks:
            if isinstance(hook, CheckpointHook) and hook not in \
                    self.max_keep_ckpts:
                self._adopt(runner, hook)
        if runner._resume:
            self._check_resume(runner)

    def _adopt(self, runner, hook: CheckpointHook) -> None:
        out_dir = hook.out_dir or runner.work_dir
        backend = get_file_backend(out_dir, backend_args=hook.backend_args)
        if hook.file_client_args is not None or \
                type(backend).__name__ != 'LocalBackend':
            runner.logger.info(
                f'checkpoints go to {out_dir} through {type(backend).__name__}'
                ': saved as that backend writes them (not atomically)')
            return
        hook.backend_args = dict(
            hook.backend_args or {}, backend='atomic_local')
        self.max_keep_ckpts[hook] = hook.max_keep_ckpts
        hook.max_keep_ckpts = -1  # this hook removes, after the save

    def before_train(self, runner) -> None:
        # A resumed run goes on with the list the checkpoint recorded (the
        # checkpoint itself was saved before it could record its own name),
        # as far as it lies in this run's folders: a run resumed from
        # another work dir never removes that run's checkpoints.
        self._last = runner.message_hub.get_info('last_ckpt')
        recorded = list(runner.message_hub.get_info(KEPT_KEY, []))
        if self._last and self._last not in recorded:
            recorded.append(self._last)
        folders = {osp.abspath(h.out_dir) for h in self.max_keep_ckpts}
        self._kept = [
            p for p in recorded if osp.dirname(osp.abspath(p)) in folders
        ]
        # Temporary files of saves that a kill interrupted (the work dir
        # lock keeps other runs out).
        if is_main_process():
            for hook in self.max_keep_ckpts:
                for tmp in glob.glob(
                        osp.join(hook.out_dir, f'.*{TMP_SUFFIX}')):
                    os.remove(tmp)

    def after_train_iter(self,
                         runner,
                         batch_idx,
                         data_batch=None,
                         outputs=None) -> None:
        self._after_save(runner)

    def after_train_epoch(self, runner) -> None:
        self._after_save(runner)

    def after_val_epoch(self, runner, metrics=None) -> None:
        self._after_save(runner)

    def after_train(self, runner) -> None:
        self._after_save(runner)

    def _after_save(self, runner) -> None:
        last = runner.message_hub.get_info('last_ckpt')
        if last is None or last == self._last or not self.max_keep_ckpts:
            return
        self._last = last
        if last not in self._kept:
            self._kept.append(last)
        runner.message_hub.update_info(KEPT_KEY, list(self._kept))
        if not is_main_process() or not osp.isfile(last):
            return
        atomic_write(
            osp.join(runner.work_dir, 'last_checkpoint'), last.encode())
        limit = max(self.max_keep_ckpts.values())
        while limit > 0 and len(self._kept) > limit:
            old = self._kept.pop(0)
            if old == last:
                continue
            if osp.isfile(old):
                os.remove(old)
            elif osp.isdir(old):  # deepspeed saves folders
                shutil.rmtree(old)
        runner.message_hub.update_info(KEPT_KEY, list(self._kept))

    def _check_resume(self, runner) -> None:
        if runner._load_from is None:
            self._resolve_auto_resume(runner)
            return
        path = runner._load_from
        if '://' not in path and not osp.isfile(path):
            raise CheckpointError(f'--resume {path!r}: no such checkpoint '
                                  f'file. {_available(runner.work_dir)}')

    def _resolve_auto_resume(self, runner) -> None:
        pointer = osp.join(runner.work_dir, 'last_checkpoint')
        if not osp.isfile(pointer):
            if glob.glob(osp.join(runner.work_dir, '*.pth')):
                raise CheckpointError(
                    f'--resume: {runner.work_dir} holds checkpoints but no '
                    'last_checkpoint file naming the one to resume. '
                    f'{_available(runner.work_dir)}')
            runner.logger.warning(
                f'--resume: no checkpoint to resume in {runner.work_dir} (no '
                'last_checkpoint file there); training starts from scratch')
            runner._resume = False
            return
        with open(pointer) as f:
            path = f.read().strip()
        if not path or ('://' not in path and not osp.isfile(path)):
            raise CheckpointError(
                f'--resume: {pointer} names {path!r}, which does not exist '
                '(deleted, or written by another run or tool, or the run was '
                f'killed while writing it). {_available(runner.work_dir)}')
        runner.logger.info(f'Resuming from {path} (named by {pointer})')
        runner._load_from = path


def _available(work_dir: str) -> str:
    found = sorted(glob.glob(osp.join(work_dir, '*.pth')), key=osp.getmtime)
    if not found:
        return (f'{work_dir} holds no checkpoint: train without --resume to '
                'start from scratch')
    return ('Checkpoints in the work dir, oldest first: '
            f'{[osp.basename(p) for p in found]}; resume from one with '
            f'--resume {found[-1]}')
