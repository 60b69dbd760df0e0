"""Files that survive a kill or a full disk, and a work dir of one run.

- :func:`atomic_write`: readers see the old or the new content, whole. The
  data goes to a temporary file in the same folder, created exclusively
  (``O_EXCL``) under an unpredictable name, fsynced and renamed over the
  target; a failure removes it. The rename replaces a planted symlink
  instead of writing through it.
- :class:`AtomicLocalBackend`: mmengine's local file backend with atomic
  ``put`` / ``put_text``, registered as ``backend='atomic_local'``
  (``mmengine.fileio.register_backend``, the public extension point); the
  run hooks point mmengine's ``CheckpointHook`` at it. An atomic save needs
  room for the new checkpoint next to the previous one.
- :func:`lock_work_dir`: one training run per work dir.
"""
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


def atomic_write(path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically; see the module docstring.

    Raises:
        DiskWriteError: The write failed; nothing was left behind and the
            previous content of ``path`` is intact.
    """
    folder = osp.dirname(osp.abspath(path))
    try:
        os.makedirs(folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(
            dir=folder, prefix=f'.{osp.basename(path)}.', suffix=TMP_SUFFIX)
    except OSError as e:
        raise DiskWriteError(f'cannot write {path}: {e.strerror}') from e
    try:
        with os.fdopen(fd, 'wb') as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
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
    _fsync_dir(folder)


@register_backend('atomic_local')
class AtomicLocalBackend(LocalBackend):
    """mmengine's ``LocalBackend`` whose writes are :func:`atomic_write`."""

    def put(self, obj: bytes, filepath) -> None:
        atomic_write(str(filepath), obj)

    def put_text(self, obj: str, filepath, encoding: str = 'utf-8') -> None:
        atomic_write(str(filepath), obj.encode(encoding))


_HELD = {}  # lock file path -> open handle, of this process


def lock_work_dir(work_dir: str):
    """Take ``work_dir``'s training lock, or raise naming the holder.

    Our tools call it before the Runner exists (so that a refused run does
    not even open its log folder, which mmengine names by the second);
    ``TrainSetupCheckHook`` calls it again under other tools. The lock file
    is opened without following a symlink and must be a regular file of
    its own (no hard link), so a planted link cannot make the run write
    elsewhere. Returns the open lock file (the lock lasts until it is
    closed or the process ends), or None where the platform has no
    ``fcntl``.
    """
    if fcntl is None:
        return None
    path = osp.abspath(osp.join(work_dir, LOCK_FILE))
    if path in _HELD:
        return _HELD[path]
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
    if not stat.S_ISREG(info.st_mode) or info.st_nlink > 1:
        os.close(fd)
        raise UserInputError(
            f'the lock file {path} is not a plain file of its own (a hard '
            'link or a special file); remove it and start again')
    handle = os.fdopen(fd, 'r+')
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        owner = handle.read().strip() or 'unknown'
        handle.close()
        raise UserInputError(
            f'another training run (pid {owner}) is using the work dir '
            f'{work_dir}: both would write the same checkpoints and '
            'last_checkpoint; give this run its own --work-dir')
    try:
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
    except OSError as e:
        handle.close()
        raise DiskWriteError(f'cannot write {path}: {e.strerror}') from e
    _HELD[path] = handle
    return handle


def unlock_work_dir(handle) -> None:
    """Release a lock taken by :func:`lock_work_dir`."""
    for path, held in list(_HELD.items()):
        if held is handle:
            del _HELD[path]
    handle.close()
