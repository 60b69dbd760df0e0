"""Files that survive a kill or a full disk (:func:`atomic_write`, and
mmengine's local backend writing so: ``backend='atomic_local'``), and a
work dir of one training run (:func:`lock_work_dir`)."""
import contextlib
import errno
import os
import os.path as osp
import stat
import tempfile

from mmengine.fileio import LocalBackend, register_backend

from ..errors import UserInputError

try:
    import fcntl
except ImportError:  # Windows: no advisory locks, no concurrency check
    fcntl = None

LOCK_FILE = '.train.lock'
TMP_SUFFIX = '.tmp'


class DiskWriteError(UserInputError, OSError):
    """Writing a file failed (disk full, read-only, no permission)."""


def atomic_write(path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file beside it
    (exclusive, unpredictable name), fsynced and renamed over ``path``
    (replacing a planted symlink): readers see the old or the new content;
    a failure leaves nothing behind (:class:`DiskWriteError`)."""
    folder = osp.dirname(osp.abspath(path))
    tmp = None
    try:
        os.makedirs(folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(
            dir=folder, prefix=f'.{osp.basename(path)}.', suffix=TMP_SUFFIX)
        with os.fdopen(fd, 'wb') as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.remove(tmp)
        if not isinstance(e, OSError):
            raise
        room = (f'; it needs {len(data) / 2**20:.1f} MiB free next to the '
                'previous file, which is kept until the new one is complete'
                if e.errno == errno.ENOSPC else '')
        raise DiskWriteError(
            f'cannot write {path}: {e.strerror}{room}. Nothing of it was '
            'left behind and the previous file, if any, is intact: fix the '
            'cause and run again (a training run continues from its last '
            'complete checkpoint with --resume)') from e
    with contextlib.suppress(OSError):  # make the rename durable
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@register_backend('atomic_local')
class AtomicLocalBackend(LocalBackend):
    """mmengine's ``LocalBackend`` whose writes are :func:`atomic_write`."""

    def put(self, obj: bytes, filepath) -> None:
        atomic_write(str(filepath), obj)

    def put_text(self, obj: str, filepath, encoding: str = 'utf-8') -> None:
        atomic_write(str(filepath), obj.encode(encoding))


def lock_work_dir(work_dir: str):
    """Take ``work_dir``'s training lock (held while the returned file is
    open), or raise naming the holder. A symlinked or hard-linked lock file
    is refused, so a planted link cannot make the run write elsewhere."""
    if fcntl is None:
        return None
    path = osp.abspath(osp.join(work_dir, LOCK_FILE))
    try:
        os.makedirs(work_dir, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise UserInputError(
                f'the lock file {path} is a symbolic link; a run never '
                'writes through one: remove it (rm) and start again') from e
        raise DiskWriteError(f'cannot write {path}: {e.strerror}') from e
    info = os.fstat(fd)
    handle = os.fdopen(fd, 'r+')
    if not stat.S_ISREG(info.st_mode) or info.st_nlink > 1:
        handle.close()
        raise UserInputError(
            f'the lock file {path} is not a plain file of its own (a hard '
            'link or a special file); remove it and start again')
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        owner = handle.read().strip() or 'unknown'
        handle.close()
        raise UserInputError(
            f'another training run (pid {owner}) is using the work dir '
            f'{work_dir}: both would write the same checkpoints and '
            'last_checkpoint; give this run its own --work-dir') from None
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    return handle
