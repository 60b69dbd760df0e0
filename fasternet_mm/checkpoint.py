"""Safe checkpoint loading for mmengine on torch >= 2.6.

torch >= 2.6 loads with ``weights_only=True``, which rejects mmengine's own
checkpoints (their message hub pickles numpy arrays and ``HistoryBuffer``),
so ``--resume`` and ``load_from`` break. Importing this module fixes that in
one place, without unpickling arbitrary code:

* the few classes mmengine checkpoints hold are added to torch's allowlist
  (numpy arrays and scalars, ``HistoryBuffer`` and the lookup of its
  statistics methods, nothing else);
* mmengine's loader for local files is replaced by :func:`load_from_local` that
  loads with ``weights_only=True`` and turns a missing, truncated, foreign
  or code-carrying file into an error that says what is wrong and what to
  do.

A file whose pickle needs other classes is refused unless the user marks it
as trusted: ``FASTERNET_MM_TRUSTED_CHECKPOINTS`` lists files or folders
(``os.pathsep``-separated) whose checkpoints may be fully unpickled.
"""
import os
import os.path as osp
import pickle
import zipfile

import numpy as np
import torch
from mmengine.logging import HistoryBuffer
from mmengine.runner.checkpoint import CheckpointLoader

from .errors import UserInputError

TRUST_ENV = 'FASTERNET_MM_TRUSTED_CHECKPOINTS'


class CheckpointError(UserInputError):
    """A checkpoint file that cannot be loaded safely, and why."""


def _history_buffer_getattr(obj, name):
    """``getattr`` as HistoryBuffer's pickle uses it, and only that.

    HistoryBuffer pickles its statistics methods as
    ``getattr(HistoryBuffer, 'mean')``; anything else is refused.
    """
    if obj is HistoryBuffer and name in HistoryBuffer._statistics_methods:
        return getattr(obj, name)
    raise pickle.UnpicklingError(
        f'refusing getattr({obj!r}, {name!r}) while loading a checkpoint')


try:  # numpy >= 2
    from numpy._core import multiarray
except ImportError:  # numpy 1.x
    from numpy.core import multiarray

SAFE_GLOBALS = [
    np.ndarray,
    np.dtype,
    multiarray._reconstruct,
    multiarray.scalar,
    HistoryBuffer,
    (_history_buffer_getattr, 'builtins.getattr'),
]
# Unpickling a dtype builds an instance of its class (numpy.dtypes.*DType).
SAFE_GLOBALS += sorted({type(np.dtype(c))
                        for c in np.typecodes['All']},
                       key=str)
torch.serialization.add_safe_globals(SAFE_GLOBALS)
# HistoryBuffer registers its default statistics on first use.
HistoryBuffer()


def is_trusted(filename: str) -> bool:
    """Whether ``filename`` lies in a path listed in ``$TRUST_ENV``."""
    path = osp.realpath(filename)
    for entry in filter(None, os.environ.get(TRUST_ENV, '').split(os.pathsep)):
        entry = osp.realpath(osp.expanduser(entry))
        if path == entry or path.startswith(entry.rstrip(os.sep) + os.sep):
            return True
    return False


def load_from_local(filename: str, map_location=None):
    """Load a local checkpoint safely; errors name the file and the fix."""
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise CheckpointError(
            f'checkpoint file {filename!r} does not exist. Check the path '
            '(configs name the official FasterNet weights under '
            'checkpoints/; the README says where to download them).')
    if is_trusted(filename):
        return torch.load(
            filename, map_location=map_location, weights_only=False)
    try:
        return torch.load(
            filename, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        if 'Weights only load failed' not in str(e):
            raise _unreadable(filename, e) from None
        try:
            names = torch.serialization.get_unsafe_globals_in_checkpoint(
                filename)
        except Exception:  # not even a readable pickle
            names = []
        extra = [n for n in names if n not in _allowed_names()]
        if not extra:
            raise _unreadable(filename, 'no PyTorch pickle inside') from None
        raise CheckpointError(
            f'checkpoint {filename!r} holds pickled objects that are not '
            f'weights ({", ".join(extra)}); loading them could run code from '
            f'the file, so it was refused. If you trust this file, mark it: '
            f'export {TRUST_ENV}={osp.abspath(filename)} '
            f'(files or folders, separated by {os.pathsep!r}).') from None
    except (RuntimeError, EOFError, OSError, zipfile.BadZipFile,
            ValueError) as e:
        raise _unreadable(filename, e) from None


def _allowed_names():
    return {
        g[1] if isinstance(g, tuple) else f'{g.__module__}.{g.__qualname__}'
        for g in SAFE_GLOBALS
    }


def _unreadable(filename: str, error) -> CheckpointError:
    reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
    return CheckpointError(
        f'checkpoint {filename!r} is not a readable PyTorch checkpoint '
        f'(truncated, corrupt or another format: {reason}). Re-download it '
        'or point to the right file.')


CheckpointLoader.register_scheme(
    prefixes='', loader=load_from_local, force=True)
