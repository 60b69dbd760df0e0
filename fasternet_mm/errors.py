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
import traceback


class UserInputError(Exception):
    """Base class of the errors that the user's input causes."""

    def __str__(self):
        # KeyError would print the repr of the message.
        return str(self.args[0]) if self.args else ''


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


def sample_failure(error: BaseException):
    """What ``error`` says, naming the sample, if it was raised while a
    dataset loaded one: in this process (the frame of mmengine's
    ``BaseDataset.prepare_data`` knows the sample) or in a DataLoader
    worker (torch re-raises it with the worker's traceback as text, whose
    last line is mmcv's message: it names the file). None otherwise."""
    text = str(error)
    if text.startswith('Caught ') and ' in DataLoader worker process ' in text:
        worker = text.split(' in ', 1)[1].split('.', 1)[0]
        return f'a sample failed to load ({worker}): ' + \
            text.strip().splitlines()[-1]
    for frame, _ in traceback.walk_tb(error.__traceback__):
        dataset, idx = frame.f_locals.get('self'), frame.f_locals.get('idx')
        if frame.f_code.co_name == 'prepare_data' and hasattr(
                dataset, 'get_data_info'):
            info = dataset.get_data_info(idx)
            files = ' / '.join(
                repr(info[k]) for k in ('img_path', 'seg_map_path')
                if info.get(k))
            return (f'loading {files or f"sample {idx}"} failed: '
                    f'{type(error).__name__}: {" ".join(text.split())}')
    return None


def run_tool(main, argv=None) -> None:
    """Run a tool's ``main(argv)``: a user error, a file system error the
    user can fix, or a sample that fails to load prints ``error: ...`` and
    exits 1, without a traceback."""
    try:
        main(argv)
    except UserInputError as e:
        sys.exit(f'error: {e}')
    except Exception as e:  # noqa: B902  (the data's or the disk's fault?)
        message = sample_failure(e) or (file_system_message(e) if isinstance(
            e, OSError) else None)
        if message is None:
            raise
        fix = '; replace or remove the file (or its entry in the annotation' \
            ' file)' if message.startswith(('a sample', 'loading')) else ''
        sys.exit(f'error: {message}{fix}')
