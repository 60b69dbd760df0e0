"""Checkpoints that survive a kill or a full disk."""
import glob
import os
import os.path as osp
import shutil

from mmengine.dist import is_main_process
from mmengine.fileio import get_file_backend
from mmengine.hooks import CheckpointHook, Hook
from mmengine.registry import HOOKS

from ..fileio import TMP_SUFFIX, atomic_write

KEPT_KEY = 'fasternet_mm_kept_ckpts'


@HOOKS.register_module()
class AtomicSaveHook(Hook):
    """Make the run's ``CheckpointHook`` crash-safe, whatever its config.

    mmengine 0.10's ``CheckpointHook`` removes the oldest checkpoint before
    it writes the new one, in place: a kill or a full disk leaves a
    truncated file, and with ``max_keep_ckpts=1`` none. On local disk, its
    ``backend_args`` select ``'atomic_local'`` (a temporary file renamed
    when complete), and this hook takes over ``max_keep_ckpts``: after a
    save it rewrites ``last_checkpoint`` atomically, then removes the
    checkpoints beyond the limit that this run saved, oldest first.
    """

    priority = 'LOWEST'  # after CheckpointHook (VERY_LOW) has saved

    def __init__(self):
        self.max_keep_ckpts = {}  # CheckpointHook -> its max_keep_ckpts
        self._kept = []  # checkpoints this run saved, oldest first
        self._last = None

    def before_run(self, runner) -> None:
        for hook in runner.hooks:
            if not isinstance(hook, CheckpointHook) or \
                    hook in self.max_keep_ckpts:
                continue
            backend = get_file_backend(
                hook.out_dir or runner.work_dir,
                backend_args=hook.backend_args)
            if hook.file_client_args is not None or \
                    type(backend).__name__ != 'LocalBackend':
                continue  # saved as that backend writes them
            hook.backend_args = dict(
                hook.backend_args or {}, backend='atomic_local')
            self.max_keep_ckpts[hook] = hook.max_keep_ckpts
            hook.max_keep_ckpts = -1  # this hook removes, after the save

    def before_train(self, runner) -> None:
        # a resumed run goes on with the list its checkpoint recorded, in
        # this run's folders only (never another work dir's checkpoints)
        self._last = runner.message_hub.get_info('last_ckpt')
        recorded = list(runner.message_hub.get_info(KEPT_KEY, []))
        if self._last and self._last not in recorded:
            recorded.append(self._last)
        folders = {osp.abspath(h.out_dir) for h in self.max_keep_ckpts}
        self._kept = [
            p for p in recorded if osp.dirname(osp.abspath(p)) in folders
        ]
        if is_main_process():  # saves a kill interrupted (the lock keeps
            for folder in folders:  # other runs out of the work dir)
                for tmp in glob.glob(osp.join(folder, f'.*{TMP_SUFFIX}')):
                    os.remove(tmp)

    def _after_save(self, runner, *args, **kwargs) -> None:
        """After each moment CheckpointHook may have saved at."""
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
            if osp.isfile(old):
                os.remove(old)
            elif osp.isdir(old):  # deepspeed saves folders
                shutil.rmtree(old)
        runner.message_hub.update_info(KEPT_KEY, list(self._kept))

    after_train_iter = after_train_epoch = after_val_epoch = after_train = \
        _after_save
