"""Safe checkpoint loading for every torch the project supports.

A PyTorch checkpoint is a pickle, and unpickling can run code. Every
checkpoint that mmengine loads (``load_from``, ``--resume``, ``init_cfg``,
``tools/test.py``, the inferencers, the converters), from any scheme, goes
through :func:`safe_load`, which builds only weights: tensors, containers,
numpy values and the few mmengine classes that training checkpoints hold
(:data:`SAFE_GLOBALS`). A file that needs anything else is refused with an
error naming the objects, unless the user trusts it:
``FASTERNET_MM_TRUSTED_CHECKPOINTS`` lists files or folders (``os.pathsep``
separated) that may be fully unpickled. Remote files are downloaded to
torch's hub cache and checked there; to trust one, trust its local copy.

How the restriction is enforced is chosen by feature detection:

* torch's own ``weights_only`` unpickler when it accepts extra globals in a
  scope (``torch.serialization.safe_globals`` with ``(object, name)``
  entries: torch >= 2.6 in practice);
* otherwise (torch 2.1 - 2.5) a :class:`RestrictedUnpickler`, which refuses
  every global outside torch's own ``weights_only`` allowlist and ours.

Before either builds anything, :func:`scan` reads the file's pickles with an
unpickler that builds nothing (every global becomes an inert placeholder)
and lists the globals they name and the tensor storages they claim; each
storage's size must match the bytes the file holds for it (the zip record,
or the legacy format's storage header and data). torch 2.1 builds a tensor
over a record shorter than its storage claims (reading past it: a crash,
or heap memory evaluated as weights); torch >= 2.6 refuses it. The check
gives the same refusal on every torch.

What it changes, all here and only when asked: :func:`install_safe_loaders`
(called by importing :mod:`fasternet_mm.runtime`, which the configs and
tools do) re-registers mmengine's checkpoint schemes (local files, http(s),
the model-zoo names, s3/petrel, pavi) in ``CheckpointLoader`` with the
loaders below. ``import fasternet_mm`` alone changes nothing; nothing in
torch is changed.
"""
import codecs
import contextlib
import functools
import io
import os
import os.path as osp
import pickle
import struct
import zipfile
from collections import namedtuple
from types import SimpleNamespace
from urllib.parse import urlparse

import _compat_pickle
import numpy as np
import torch
from mmengine.dist import get_dist_info
from mmengine.fileio import get_file_backend
from mmengine.logging import HistoryBuffer
from mmengine.runner import checkpoint as mmengine_checkpoint
from mmengine.runner.checkpoint import CheckpointLoader

from ..errors import CheckpointError

try:  # numpy >= 2
    from numpy._core import multiarray as _multiarray
except ImportError:  # numpy 1.x
    from numpy.core import multiarray as _multiarray

TRUST_ENV = 'FASTERNET_MM_TRUSTED_CHECKPOINTS'


def _history_buffer_getattr(obj, name):
    """``getattr`` as HistoryBuffer's pickle uses it, and only that.

    HistoryBuffer pickles its statistics methods as
    ``getattr(HistoryBuffer, 'mean')``; anything else is refused.
    """
    if obj is HistoryBuffer and (name in ('min', 'max', 'current', 'mean')
                                 or name in HistoryBuffer._statistics_methods):
        return getattr(obj, name)
    raise UnsafeGlobalError(f'builtins.getattr({obj!r}, {name!r})')


class UnsafeGlobalError(pickle.UnpicklingError):
    """A pickle reaches for a global outside :func:`allowed_globals`."""


def _named(obj, *modules):
    return [(obj, f'{m}.{obj.__name__}') for m in modules]


# What mmengine checkpoints hold besides tensors, under the names numpy 1
# (``numpy.core``) and numpy 2 (``numpy._core``) pickle them with.
_NP_CORE = ('numpy.core.multiarray', 'numpy._core.multiarray')
SAFE_GLOBALS = [
    (np.ndarray, 'numpy.ndarray'),
    (np.dtype, 'numpy.dtype'),
    *_named(_multiarray._reconstruct, *_NP_CORE),
    *_named(_multiarray.scalar, *_NP_CORE),
    (HistoryBuffer, 'mmengine.logging.history_buffer.HistoryBuffer'),
    (_history_buffer_getattr, 'builtins.getattr'),
    # Protocol 2 pickles bytes (numpy scalars) as _codecs.encode(str, enc).
    (codecs.encode, '_codecs.encode'),
]
# Unpickling a dtype builds an instance of its class (numpy.dtypes.*DType).
SAFE_GLOBALS += sorted(
    {(type(np.dtype(c)), 'numpy.dtypes.' + type(np.dtype(c)).__name__)
     for c in np.typecodes['All']},
    key=lambda g: g[1])


@functools.lru_cache(maxsize=None)
def allowed_globals() -> dict:
    """Every global a safe checkpoint may name: torch's ``weights_only``
    allowlist (tensors, storages, dtypes, rebuild functions), all torch
    dtypes, and :data:`SAFE_GLOBALS`."""
    from torch import _weights_only_unpickler
    allowed = dict(_weights_only_unpickler._get_allowed_globals())
    allowed.update((f'torch.{name}', value)
                   for name, value in vars(torch).items()
                   if isinstance(value, torch.dtype))
    allowed.update((name, obj) for obj, name in SAFE_GLOBALS)
    return allowed


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that builds only :func:`allowed_globals` objects.

    Every global a pickle can reach (callables, classes) goes through
    ``find_class``, so refusing unknown names there keeps a pickle from
    calling anything else (Python's ``pickle`` docs, "Restricting
    Globals").
    """

    def find_class(self, module, name):
        full = global_name(module, name)
        obj = allowed_globals().get(full)
        if obj is None:
            raise UnsafeGlobalError(full)
        return obj


def global_name(module: str, name: str) -> str:
    """``module.name`` with Python 2 names (protocol < 3) mapped."""
    if (module, name) in _compat_pickle.NAME_MAPPING:
        module, name = _compat_pickle.NAME_MAPPING[(module, name)]
    module = _compat_pickle.IMPORT_MAPPING.get(module, module)
    return f'{module}.{name}'


# ``torch.load(pickle_module=...)`` takes a module with Unpickler and load.
restricted_pickle = SimpleNamespace(
    __name__=__name__ + '.restricted_pickle',
    Unpickler=RestrictedUnpickler,
    load=lambda f, **kwargs: RestrictedUnpickler(f, **kwargs).load())


@functools.lru_cache(maxsize=None)
def torch_takes_safe_globals() -> bool:
    """Whether torch's ``weights_only`` loader accepts :data:`SAFE_GLOBALS`
    in a scope; checked once by loading a checkpoint that needs them."""
    if not hasattr(torch.serialization, 'safe_globals'):
        return False
    probe = io.BytesIO()
    buffer = HistoryBuffer()
    buffer.update(1.)
    torch.save({'buffer': buffer, 'np': np.float64(1)}, probe)
    try:
        with torch.serialization.safe_globals(SAFE_GLOBALS):
            torch.load(io.BytesIO(probe.getvalue()), weights_only=True)
    except Exception:
        return False
    return True


def safe_load(f, map_location=None, name=None):
    """``torch.load`` that builds weights only; see the module docstring.

    Args:
        f (str | file-like): A local path, or an open binary file.
        map_location: As for :func:`torch.load`.
        name (str, optional): How to call the file in errors.

    Raises:
        CheckpointError: The file is missing, not a PyTorch checkpoint, or
            needs objects that could run code (with the names and how to
            trust the file).
    """
    name = name or str(f)
    trusted = False
    if isinstance(f, str):
        f = osp.expanduser(f)
        if not osp.isfile(f):
            raise CheckpointError(
                f'checkpoint file {name!r} does not exist; check the path')
        trusted = is_trusted(f)
    try:
        found = scan(f)
    except StorageSizeError as e:
        raise _unreadable(name, f, e) from None
    except Exception as e:  # noqa: B902  (whatever a broken file raises)
        if not trusted:
            raise _unreadable(name, f, e) from None
    if trusted:
        return torch.load(f, map_location=map_location, weights_only=False)
    unsafe = unsafe_globals(found.globals)
    try:
        if unsafe:
            raise UnsafeGlobalError(', '.join(unsafe))
        if torch_takes_safe_globals():
            with torch.serialization.safe_globals(SAFE_GLOBALS):
                return torch.load(
                    f, map_location=map_location, weights_only=True)
        return torch.load(
            f,
            map_location=map_location,
            pickle_module=restricted_pickle,
            weights_only=False)
    except UnsafeGlobalError as e:
        local = f'export {TRUST_ENV}={osp.abspath(f)}' if isinstance(
            f, str) else (f'copy it to a local file and mark that: export '
                          f'{TRUST_ENV}=/path/to/file')
        raise CheckpointError(
            f'checkpoint {name!r} holds pickled objects that are not weights '
            f'({e}); loading them could run code from the file, so it was '
            f'refused. If you trust this file, {local} (files or folders, '
            f'separated by {os.pathsep!r}).') from None
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError,
            zipfile.BadZipFile, ValueError, KeyError, IndexError, TypeError,
            AttributeError) as e:
        raise _unreadable(name, f, e) from None


class StorageSizeError(ValueError):
    """A tensor storage claims other bytes than the file holds for it."""


class _Placeholder(dict):
    """What :class:`_ScanUnpickler` builds for every global: calling it,
    building or filling it does nothing."""

    def __new__(cls, *args, **kwargs):
        return dict.__new__(cls)

    def __init__(self, *args, **kwargs):
        pass

    def __setstate__(self, state):
        pass

    def append(self, value):
        pass

    def extend(self, values):
        pass

    __hash__ = object.__hash__
    __eq__ = object.__eq__


class _ScanUnpickler(pickle.Unpickler):
    """Reads a pickle without building any of its objects: every global is
    a :class:`_Placeholder` class named after it, and every persistent id
    (torch's tensor storages) is recorded."""

    def __init__(self, file, globals_seen: list, storages: list):
        super().__init__(file)
        self.globals_seen = globals_seen
        self.storages = storages
        self.classes = {}

    def find_class(self, module, name):
        full = global_name(str(module), str(name))
        self.globals_seen.append(full)
        if full not in self.classes:
            self.classes[full] = type('Placeholder', (_Placeholder, ),
                                      dict(global_name=full))
        return self.classes[full]

    def persistent_load(self, pid):
        self.storages.append(pid)
        return _Placeholder()


Scan = namedtuple('Scan', 'globals storages')


def scan(f) -> Scan:
    """The globals a checkpoint's pickles name, and the storages it claims
    checked against the data it holds (see the module docstring).

    Raises:
        CheckpointError: A storage claims more (or fewer) bytes than the file
            holds for it, or the file is not a PyTorch checkpoint.
    """
    with _opened(f) as fh:
        if zipfile.is_zipfile(fh):
            return _scan_zip(fh)
        return _scan_legacy(fh)


@contextlib.contextmanager
def _opened(f):
    """A path opened for reading, or a file-like object from its start."""
    if isinstance(f, str):
        with open(f, 'rb') as fh:
            yield fh
    else:
        f.seek(0)
        try:
            yield f
        finally:
            f.seek(0)


def _scan_zip(fh) -> Scan:
    """torch's zip format: ``ARCHIVE/data.pkl`` and one ``ARCHIVE/data/KEY``
    record per storage (ARCHIVE: the first record's folder, as torch's
    reader takes it)."""
    globals_seen, pids = [], []
    with zipfile.ZipFile(fh) as z:
        names = z.namelist()
        if len(set(names)) != len(names):
            raise ValueError('the zip archive holds a record name twice')
        archive = names[0].split('/', 1)[0] if names else ''
        _ScanUnpickler(
            io.BytesIO(z.read(f'{archive}/data.pkl')), globals_seen,
            pids).load()
        prefix = f'{archive}/data/'
        sizes = {
            i.filename[len(prefix):]: i.file_size
            for i in z.infolist() if i.filename.startswith(prefix)
        }
    storages = dict(_storage(pid, 5) for pid in pids)
    for key, (numel, nbytes) in storages.items():
        if sizes.get(key) != nbytes:
            raise StorageSizeError(
                f'tensor storage {key!r} claims {numel} elements ({nbytes} '
                f'bytes) but the file holds {sizes.get(key, 0)} bytes for it')
    return Scan(globals_seen, storages)


def _scan_legacy(fh) -> Scan:
    """torch's legacy (non-zip) format: five pickles (magic number, protocol,
    system info, the object, the storage keys), then each storage as its
    element count (int64) and its bytes. A file that does not start with
    the magic number is no torch checkpoint: nothing more is read."""
    globals_seen, pids = [], []
    size = fh.seek(0, io.SEEK_END)
    fh.seek(0)
    magic = _ScanUnpickler(fh, globals_seen, pids).load()
    if magic != torch.serialization.MAGIC_NUMBER:
        return Scan(globals_seen, {})
    for _ in range(3):  # protocol version, system info, the object
        _ScanUnpickler(fh, globals_seen, pids).load()
    keys = _ScanUnpickler(fh, globals_seen, []).load()
    storages = dict(
        _storage(pid, 6) for pid in pids if pid and pid[0] == 'storage')
    for key in keys if isinstance(keys, list) else ():
        if key not in storages:
            raise ValueError(f'tensor storage {key!r} is not described')
        numel, nbytes = storages[key]
        header = fh.read(8)
        stored = struct.unpack('<q', header)[0] if len(header) == 8 else -1
        left = size - fh.tell()
        if stored != numel or nbytes > left:
            raise StorageSizeError(
                f'tensor storage {key!r} claims {numel} elements ({nbytes} '
                f'bytes) but the file holds {max(stored, 0)} elements and '
                f'{max(left, 0)} bytes for it')
        fh.seek(nbytes, io.SEEK_CUR)
    return Scan(globals_seen, storages)


def _storage(pid, length: int) -> tuple:
    """``(key, (numel, nbytes))`` of a storage's persistent id: ``('storage',
    type, key, location, numel)``, plus the view of the legacy format."""
    if not (isinstance(pid, tuple) and len(pid) == length
            and pid[0] == 'storage' and isinstance(pid[1], type)
            and issubclass(pid[1], _Placeholder) and isinstance(pid[4], int)
            and pid[4] >= 0):
        raise ValueError(f'unexpected tensor storage record {pid!r}')
    storage_type = pid[1].global_name.rsplit('.', 1)[-1]
    dtype = torch.uint8 if storage_type == 'UntypedStorage' else \
        torch.serialization.StorageType(storage_type).dtype
    numel = pid[4]
    return str(pid[2]), (numel, numel * torch.empty(
        (), dtype=dtype).element_size())


def unsafe_globals(names) -> list:
    """The ``names`` (of :func:`scan`) outside the allowlist."""
    allowed = allowed_globals()
    return sorted({n for n in names if n not in allowed})


def _unreadable(name, f, error) -> CheckpointError:
    reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
    try:
        with _opened(f) as fh:
            zipped = zipfile.is_zipfile(fh)
            fh.seek(0)
            plain = not zipped and fh.read(1) == b'\x80'
            fh.seek(0)
            plain = plain and _ScanUnpickler(
                fh, [], []).load() != torch.serialization.MAGIC_NUMBER
    except Exception:  # noqa: B902  (not even a readable pickle)
        plain = False
    if plain:  # a pickle, but not one torch.save wrote
        return CheckpointError(
            f'checkpoint {name!r} is a plain pickle file, not a PyTorch '
            'checkpoint written by torch.save; save the state dict with '
            'torch.save, or point to the right file.')
    return CheckpointError(
        f'checkpoint {name!r} is not a readable PyTorch checkpoint '
        f'(truncated, corrupt or another format: {reason}). Re-download it '
        'or point to the right file.')


def is_trusted(filename: str) -> bool:
    """Whether ``filename`` lies in a path listed in ``$TRUST_ENV``."""
    path = osp.realpath(filename)
    for entry in filter(None, os.environ.get(TRUST_ENV, '').split(os.pathsep)):
        entry = osp.realpath(osp.expanduser(entry))
        if path == entry or path.startswith(entry.rstrip(os.sep) + os.sep):
            return True
    return False


# mmengine's schemes, each through safe_load. Names keep mmengine's
# ``load_from_`` prefix: CheckpointLoader logs the rest as the backend.
def load_from_local(filename, map_location=None):
    """A local file."""
    return safe_load(filename, map_location)


def load_from_http(filename,
                   map_location=None,
                   model_dir=None,
                   progress=False):
    """Download into torch's hub cache (rank 0 first), then load locally."""
    rank, world_size = get_dist_info()
    if rank == 0:
        path = download(filename, model_dir, progress)
    if world_size > 1:
        torch.distributed.barrier()
        if rank > 0:
            path = download(filename, model_dir, progress)
    return safe_load(path, map_location)


def download(url: str, model_dir=None, progress=False) -> str:
    """The local copy of ``url`` in the hub cache, downloaded if missing.

    Raises:
        CheckpointError: It cannot be downloaded (e.g. no internet); the
            message says where to put a copy.
    """
    model_dir = model_dir or osp.join(torch.hub.get_dir(), 'checkpoints')
    filename = osp.basename(urlparse(url).path)
    cached = osp.join(model_dir, filename)
    if not osp.isfile(cached):
        os.makedirs(model_dir, exist_ok=True)
        try:  # writes a temporary file and renames it: never a partial file
            torch.hub.download_url_to_file(url, cached, progress=progress)
        except Exception as e:  # noqa: B902  (URLError, HTTPError, OSError)
            raise CheckpointError(
                f'could not download checkpoint {url} ({type(e).__name__}: '
                f'{e}). Without internet access, download it elsewhere and '
                f'put it at {cached}, or pass the local file instead of the '
                'URL, e.g. --cfg-options model.backbone.init_cfg.checkpoint='
                f'/path/to/{filename} (or the checkpoint argument of '
                'tools/test.py).') from None
    return cached


def load_from_model_zoo(filename, map_location=None):
    """``torchvision://``, ``open-mmlab://``, ``mmcls://`` names, resolved
    with mmengine's tables to a URL or a file in mmengine's home."""
    scheme, model_name = filename.split('://', 1)
    mm = mmengine_checkpoint
    if scheme in ('torchvision', 'modelzoo'):
        table = mm.get_torchvision_models()
    elif scheme == 'mmcls':
        table = mm.get_mmcls_models()
    else:
        model_name = mm.get_deprecated_model_names().get(
            model_name, model_name)
        table = mm.get_external_models()
    if model_name not in table:
        raise CheckpointError(
            f'{filename}: mmengine knows no model named {model_name!r} for '
            f'{scheme}:// (it knows e.g. {sorted(table)[:5]}); check the '
            'name, or pass a local file or URL')
    location = table[model_name]
    if location.startswith(('http://', 'https://')):
        checkpoint = load_from_http(location, map_location)
    else:
        checkpoint = safe_load(
            osp.join(mm._get_mmengine_home(), location), map_location)
    if scheme == 'mmcls':
        checkpoint = mm._process_mmcls_checkpoint(checkpoint)
    return checkpoint


def load_from_ceph(filename, map_location=None, backend='petrel'):
    """s3 / petrel: read through mmengine's file backend, load from memory
    (a remote file is never trusted: copy it and trust the copy)."""
    data = get_file_backend(
        filename, backend_args={
            'backend': backend
        }).get(filename)
    return safe_load(io.BytesIO(data), map_location, name=filename)


def load_from_pavi(filename, map_location=None):
    raise CheckpointError(
        f'{filename}: pavi:// checkpoints are not supported by fasternet_mm '
        "'s safe loader; download the file and pass its local path")


# yapf: disable
SCHEMES = {
    '': load_from_local,
    ('http://', 'https://'): load_from_http,
    ('modelzoo://', 'torchvision://', 'open-mmlab://', 'openmmlab://',
     'mmcls://'): load_from_model_zoo,
    (r'(\S+\:)?s3://', r'(\S+\:)?petrel://'): load_from_ceph,
    'pavi://': load_from_pavi,
}
# yapf: enable


def install_safe_loaders() -> None:
    """Route mmengine's checkpoint schemes through :func:`safe_load`.

    ``CheckpointLoader`` is mmengine's public extension point for loading;
    this re-registers each of its schemes with the loaders above, for the
    whole process. Importing :mod:`fasternet_mm.runtime` calls it (the model
    layer, ``import fasternet_mm``, never does); calling it again is a no-op.
    """
    for prefixes, loader in SCHEMES.items():
        CheckpointLoader.register_scheme(prefixes, loader, force=True)
