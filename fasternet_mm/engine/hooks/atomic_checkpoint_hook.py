"""Checkpoints that survive a kill or a full disk, and an honest resume."""
import glob
import os
import os.path as osp

from mmengine.dist import is_main_process
from mmengine.fileio import LocalBackend
from mmengine.hooks import CheckpointHook
from mmengine.registry import HOOKS

from ...errors import CheckpointError

_TMP_SUFFIX = '.tmp'


def _fsync_dir(path: str) -> None:
    """Make a rename in ``path`` durable (no-op where folders can't sync)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write_text(path: str, text: str) -> None:
    """Write ``path`` so that readers see the old or the new text, whole."""
    tmp = f'{path}.{os.getpid()}{_TMP_SUFFIX}'
    try:
        with open(tmp, 'w') as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise
    _fsync_dir(osp.dirname(osp.abspath(path)))


@HOOKS.register_module()
class AtomicCheckpointHook(CheckpointHook):
    """mmengine's ``CheckpointHook`` with crash-safe saving and resuming.

    mmengine 0.10's hook removes the oldest checkpoint *before* it writes
    the new one, writes the new one in place (a kill or a full disk leaves
    a truncated file under the final name) and then points
    ``last_checkpoint`` at it. This hook, for checkpoints on local disk:

    1. writes the new checkpoint to a temporary file in the same folder,
       flushes and fsyncs it, then renames it to its name (``os.replace``):
       the file is complete or absent;
    2. then points ``last_checkpoint`` at it, again by an atomic rename;
    3. only then removes the checkpoints beyond ``max_keep_ckpts``.

    A failed save (an exception such as ``ENOSPC``) removes its temporary
    file and stops the run with the previous checkpoint intact and named by
    ``last_checkpoint``. Other backends (``backend_args`` for S3, ...) keep
    the reordering (2, 3 after the save) but not the atomic rename.

    Before the run it checks the resume request (mmengine would log "Auto
    resumed from the latest checkpoint None." and train from scratch, or
    fail later on a missing file):

    - ``--resume`` (auto) in a work dir without checkpoints warns that
      training starts from scratch (right for preemptible jobs that rerun
      one command);
    - ``last_checkpoint`` naming a missing file, checkpoints without a
      ``last_checkpoint``, or ``--resume PATH`` with no such file, is a
      :class:`CheckpointError` listing the checkpoints that are there.

    Use it as ``default_hooks.checkpoint.type``; our configs and tools do.
    """

    def before_run(self, runner) -> None:
        if not runner._resume:
            return
        if runner._load_from is None:
            self._resolve_auto_resume(runner)
        else:
            path = runner._load_from
            if '://' not in path and not osp.isfile(path):
                raise CheckpointError(
                    f'--resume {path!r}: no such checkpoint file. '
                    f'{self._available(runner.work_dir)}')

    def _resolve_auto_resume(self, runner) -> None:
        pointer = osp.join(runner.work_dir, 'last_checkpoint')
        if not osp.isfile(pointer):
            if glob.glob(osp.join(runner.work_dir, '*.pth')):
                raise CheckpointError(
                    f'--resume: {runner.work_dir} holds checkpoints but no '
                    'last_checkpoint file naming the one to resume. '
                    f'{self._available(runner.work_dir)}')
            runner.logger.warning(
                f'--resume: no checkpoint to resume in {runner.work_dir} (no '
                'last_checkpoint file there); training starts from scratch')
            runner._resume = False
            return
        with open(pointer) as f:
            path = f.read().strip()
        if '://' not in path and not osp.isfile(path):
            raise CheckpointError(
                f'--resume: {pointer} names {path!r}, which does not exist '
                '(deleted, or written by another run or tool). '
                f'{self._available(runner.work_dir)}')
        runner.logger.info(f'Resuming from {path} (named by {pointer})')
        runner._load_from = path

    def _available(self, work_dir: str) -> str:
        found = sorted(
            glob.glob(osp.join(work_dir, '*.pth')), key=osp.getmtime)
        if not found:
            return (f'{work_dir} holds no checkpoint: train without '
                    '--resume to start from scratch')
        return ('Checkpoints in the work dir, oldest first: '
                f'{[osp.basename(p) for p in found]}; resume from one with '
                f'--resume {found[-1]}')

    def before_train(self, runner) -> None:
        # The parent removes the oldest checkpoints when a resumed run keeps
        # fewer; that needs no change. Leftovers of killed saves go first.
        super().before_train(runner)
        if is_main_process() and self._is_local():
            pattern = osp.join(self.out_dir, f'*.pth.*{_TMP_SUFFIX}')
            for tmp in glob.glob(pattern):
                pid = tmp[:-len(_TMP_SUFFIX)].rsplit('.', 1)[-1]
                if not pid.isdigit() or not _alive(int(pid)):
                    os.remove(tmp)

    def _is_local(self) -> bool:
        return isinstance(self.file_backend, LocalBackend)

    def _save_checkpoint_with_step(self, runner, step, meta):
        previous = runner.message_hub.get_info('last_ckpt')
        removed = []
        if self.max_keep_ckpts > 0 and not (self.keep_ckpt_ids and
                                            self.keep_ckpt_ids[-1] == step):
            # The saved message hub records what is kept, as mmengine's
            # does; the files themselves go after the save.
            if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
                removed.append(self.keep_ckpt_ids.popleft())
            self.keep_ckpt_ids.append(step)
            runner.message_hub.update_info('keep_ckpt_ids',
                                           list(self.keep_ckpt_ids))

        ckpt_filename = self.filename_tmpl.format(step)
        self.last_ckpt = self.file_backend.join_path(self.out_dir,
                                                     ckpt_filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)

        local = self._is_local()
        save_name = (f'{ckpt_filename}.{os.getpid()}{_TMP_SUFFIX}'
                     if local else ckpt_filename)
        save_path = osp.join(self.out_dir, save_name)
        try:
            runner.save_checkpoint(
                self.out_dir,
                save_name,
                self.file_client_args,
                save_optimizer=self.save_optimizer,
                save_param_scheduler=self.save_param_scheduler,
                meta=meta,
                by_epoch=self.by_epoch,
                backend_args=self.backend_args,
                **self.args)
            if local and is_main_process():
                with open(save_path, 'rb+') as f:
                    os.fsync(f.fileno())
                os.replace(save_path, self.last_ckpt)
                _fsync_dir(self.out_dir)
        except BaseException as e:
            if local and is_main_process() and osp.exists(save_path):
                os.remove(save_path)
            if isinstance(e, OSError):  # a full disk, a lost mount...
                raise CheckpointError(
                    f'saving the checkpoint {self.last_ckpt} failed ({e}); '
                    'nothing of it was left behind and ' +
                    (f'{previous} is intact: free space and continue with '
                     '--resume' if previous else 'no earlier checkpoint '
                     'exists: free space and start again')) from e
            raise

        # Model parallel-like training should involve pulling sharded states
        # from all ranks, but skip the following procedure.
        if not is_main_process():
            return
        atomic_write_text(
            osp.join(runner.work_dir, 'last_checkpoint'), self.last_ckpt)
        for old in removed:
            path = self.file_backend.join_path(self.out_dir,
                                               self.filename_tmpl.format(old))
            if self.file_backend.isfile(path):
                self.file_backend.remove(path)
            elif self.file_backend.isdir(path):  # deepspeed saves folders
                self.file_backend.rmtree(path)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
