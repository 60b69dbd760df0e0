"""The errors a user's input causes (config, data, checkpoint, arguments).

Each message names the problem and the fix. Every tool runs its ``main``
through :func:`run_tool`, which prints them as ``error: ...`` with exit
status 1 and no traceback; the subclasses are also the built-in exception a
Python user expects (``KeyError`` for an unknown name, ...). A file system
error (a full disk, a read-only or missing folder, no permission) is the
user's to fix as well: :func:`run_tool` prints it as one line naming the
path.
"""
import errno
import sys


class UserInputError(Exception):
    """Base class of the errors that the user's input causes."""

    def __str__(self):
        # KeyError would print the repr of the message.
        message = str(self.args[0]) if self.args else ''
        return _unwrap_worker_error(message, type(self).__name__)


class ConfigKeyError(UserInputError, KeyError):
    """An unknown name: arch, config key."""


class ConfigValueError(UserInputError, ValueError):
    """A config value out of range."""


class ConfigTypeError(UserInputError, TypeError):
    """An unexpected argument."""


class CheckpointError(UserInputError, ValueError):
    """A checkpoint that is missing, unreadable, unsafe or does not fit."""


class DataError(UserInputError, ValueError):
    """A dataset that is missing or does not match its config."""


class TrainingDivergedError(UserInputError, FloatingPointError):
    """A loss or weights that are no longer finite (NaN, inf)."""


def _unwrap_worker_error(message: str, name: str) -> str:
    """The message of an error re-raised from a DataLoader worker.

    torch re-raises it as ``type(e)("Caught X in DataLoader worker process
    N.\nOriginal Traceback ...\n<module>.X: message")``; the user should
    see the message only.
    """
    if not (message.startswith('Caught ') and 'Original Traceback' in message):
        return message
    for marker in (f'fasternet_mm.errors.{name}: ', f'{name}: '):
        at = message.rfind(marker)
        if at >= 0:
            return message[at + len(marker):].strip()
    return message


# What the file system says that the user can act on.
_WRITE_ERRNOS = {
    errno.ENOSPC, errno.EROFS, errno.EFBIG,
    getattr(errno, 'EDQUOT', errno.ENOSPC)
}
_FS_ERRNOS = _WRITE_ERRNOS | {
    errno.EACCES, errno.EPERM, errno.ENOENT, errno.ENOTDIR, errno.EISDIR,
    errno.ELOOP, errno.ENAMETOOLONG, errno.EEXIST
}


def file_system_message(error: OSError):
    """``cannot write PATH: reason`` for a file system error the user can
    fix, or None for other ``OSError`` (a bug, a network error)."""
    if error.errno not in _FS_ERRNOS:
        return None
    verb = 'write' if error.errno in _WRITE_ERRNOS else 'access'
    where = f' {error.filename}' if error.filename else ''
    reason = error.strerror or str(error)
    hint = {
        errno.ENOSPC: '; free some space (a checkpoint save needs room for '
        'the new file next to the previous one) or use another --work-dir',
        errno.EROFS: '; use a writable --work-dir',
        errno.EACCES: '; check its permissions, or use another path',
        errno.EPERM: '; check its permissions, or use another path',
    }.get(error.errno, '')
    return f'cannot {verb}{where}: {reason}{hint}'


def run_tool(main, argv=None) -> None:
    """Run a tool's ``main(argv)``: a user error, or a file system error
    the user can fix, prints ``error: ...`` and exits 1, without a
    traceback."""
    try:
        main(argv)
    except UserInputError as e:
        sys.exit(f'error: {e}')
    except OSError as e:
        message = file_system_message(e)
        if message is None:
            raise
        sys.exit(f'error: {message}')
