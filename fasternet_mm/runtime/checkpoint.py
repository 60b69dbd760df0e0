"""Reading checkpoints safely, and refusing those that do not fit a model.

Unpickling can run code, so every scheme of mmengine's ``CheckpointLoader``
goes through :func:`safe_load`, which builds weights only: on torch >= 2.6
with torch's ``weights_only`` loader and :data:`SAFE_GLOBALS` (what
mmengine's checkpoints hold besides tensors) in its allowlist; on older
torch with an unpickler restricted to the same, which also checks each
tensor record's size (torch 2.1 reads past a short one). torch's switch
``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1`` trusts every file of a run.
"""
import codecs
import functools
import io
import os
import os.path as osp
import pickle
import re
import zipfile
from collections import OrderedDict
from types import SimpleNamespace
from typing import Sequence
from urllib.parse import urlparse

import _compat_pickle
import numpy as np
import torch
from mmengine.dist import get_dist_info
from mmengine.fileio import get_file_backend
from mmengine.logging import HistoryBuffer
from mmengine.runner import checkpoint as mmengine_checkpoint
from mmengine.runner.checkpoint import CheckpointLoader
from torch.torch_version import TorchVersion

from ..errors import CheckpointError
from ..models import FasterNet
from ..models.backbones.ckpt_convert import check_state_dict

try:  # numpy >= 2
    from numpy._core import multiarray
except ImportError:  # numpy 1.x
    from numpy.core import multiarray

TRUST_ENV = 'TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD'
TORCH_WEIGHTS_ONLY = TorchVersion(torch.__version__) >= (2, 6)


def _history_buffer_getattr(obj, name):
    """``getattr`` as HistoryBuffer's pickle uses it, and only so."""
    if obj is HistoryBuffer and name in ('min', 'max', 'current', 'mean'):
        return getattr(obj, name)
    raise pickle.UnpicklingError(f'builtins.getattr({obj!r}, {name!r})')


# What mmengine's checkpoints hold besides tensors, under the names numpy
# 1 (numpy.core) and 2 (numpy._core) pickle them with.
SAFE_GLOBALS = [(np.ndarray, 'numpy.ndarray'), (np.dtype, 'numpy.dtype'),
                (HistoryBuffer,
                 'mmengine.logging.history_buffer.HistoryBuffer'),
                (_history_buffer_getattr, 'builtins.getattr'),
                (codecs.encode, '_codecs.encode')]  # bytes, pickle protocol 2
SAFE_GLOBALS += [(getattr(multiarray, name), f'{module}.multiarray.{name}')
                 for module in ('numpy.core', 'numpy._core')
                 for name in ('_reconstruct', 'scalar')]
SAFE_GLOBALS += [(type(np.dtype(c)),
                  f'numpy.dtypes.{type(np.dtype(c)).__name__}')
                 for c in np.typecodes['All']]


class UnsafeGlobalError(pickle.UnpicklingError):
    """A pickle names a global outside the allowlist."""


@functools.lru_cache(maxsize=None)
def _allowed_globals() -> dict:
    """torch's ``weights_only`` allowlist (a private table of torch < 2.6,
    pinned by test_checkpoint.py) and :data:`SAFE_GLOBALS`."""
    from torch._weights_only_unpickler import _get_allowed_globals
    return dict(_get_allowed_globals(), **{n: o for o, n in SAFE_GLOBALS})


class _RestrictedUnpickler(pickle.Unpickler):
    """Builds only :func:`_allowed_globals`; checks each tensor storage
    against its zip record's size before torch reads the record."""
    record_sizes = None

    def find_class(self, module, name):
        # protocol 2 (torch's default) pickles Python 2 names
        module, name = _compat_pickle.NAME_MAPPING.get((module, name),
                                                       (module, name))
        full = f'{_compat_pickle.IMPORT_MAPPING.get(module, module)}.{name}'
        if full not in _allowed_globals():
            raise UnsafeGlobalError(full)
        return _allowed_globals()[full]

    def load(self):
        read = getattr(self, 'persistent_load', None)  # set by torch
        if read is not None and self.record_sizes is not None:

            def checked(pid):  # ('storage', type, key, location, numel)
                dtype = getattr(pid[1], 'dtype', torch.uint8)
                nbytes = pid[4] * torch.empty((), dtype=dtype).element_size()
                held = self.record_sizes.get(str(pid[2]), 0)
                if held != nbytes:
                    raise ValueError(
                        f'tensor storage {pid[2]!r} claims {nbytes} bytes '
                        f'but the file holds {held} bytes for it')
                return read(pid)

            self.persistent_load = checked
        return super().load()


def _restricted_pickle(f):
    """The ``pickle_module`` of ``torch.load(f)``, knowing f's records."""
    sizes = None
    if zipfile.is_zipfile(f):
        with zipfile.ZipFile(f) as z:
            sizes = {
                i.filename.split('/data/', 1)[1]: i.file_size
                for i in z.infolist() if '/data/' in i.filename
            }
    if not isinstance(f, str):
        f.seek(0)
    unpickler = type('Unpickler', (_RestrictedUnpickler, ),
                     dict(record_sizes=sizes))
    return SimpleNamespace(
        __name__=__name__,
        Unpickler=unpickler,
        load=lambda file, **kw: unpickler(file, **kw).load())


def safe_load(f, map_location=None, name=None):
    """``torch.load`` of a path or binary file that builds weights only;
    anything else is a :class:`CheckpointError` (``name``: the file's name
    in it)."""
    name = name or str(f)
    if isinstance(f, str):
        f = osp.expanduser(f)
        if not osp.isfile(f):
            raise CheckpointError(
                f'checkpoint file {name!r} does not exist; check the path')
    try:
        if TORCH_WEIGHTS_ONLY or os.environ.get(TRUST_ENV) == '1':
            return torch.load(f, map_location=map_location)
        return torch.load(
            f, map_location=map_location, pickle_module=_restricted_pickle(f))
    except pickle.UnpicklingError as e:
        # torch >= 2.6 names the global in its message (its test pins it)
        unsafe = [str(e)] if isinstance(e, UnsafeGlobalError) else \
            re.findall(r'Unsupported global: GLOBAL (\S+)', str(e))
        if not unsafe:
            raise _unreadable(name, e) from None
        raise CheckpointError(
            f'checkpoint {name!r} holds pickled objects that are not weights '
            f'({", ".join(unsafe)}); loading them could run code from the '
            'file, so it was refused. If you trust this file, set '
            f"{TRUST_ENV}=1 for this run (torch's switch: it trusts every "
            'checkpoint the run loads), or load it once yourself and save '
            'its state_dict with torch.save') from None
    except (RuntimeError, EOFError, OSError, zipfile.BadZipFile, ValueError,
            KeyError, IndexError, TypeError, AttributeError) as e:
        raise _unreadable(name, e) from None


def _unreadable(name: str, error: Exception) -> CheckpointError:
    reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
    return CheckpointError(
        f'checkpoint {name!r} is not a readable PyTorch checkpoint '
        f'(truncated, corrupt or another format: {reason}). Re-download it '
        'or point to the right file.')


# mmengine's schemes, resolved as mmengine resolves them, read by safe_load
# (mmengine reads URLs with weights_only=False); CheckpointLoader logs what
# follows the load_from_ prefix as the backend.
def load_from_local(filename, map_location=None):
    return safe_load(filename, map_location)


def load_from_http(url, map_location=None, model_dir=None, progress=False):
    """Download into torch's hub cache (rank 0 first), then read it."""
    model_dir = model_dir or osp.join(torch.hub.get_dir(), 'checkpoints')
    cached = osp.join(model_dir, osp.basename(urlparse(url).path))
    rank, world_size = get_dist_info()
    for turn in (True, False) if world_size > 1 else (True, ):
        if (rank == 0) == turn and not osp.isfile(cached):
            os.makedirs(model_dir, exist_ok=True)
            try:  # a temporary file, renamed when complete
                torch.hub.download_url_to_file(url, cached, progress=progress)
            except Exception as e:  # noqa: B902  (URLError, HTTPError, ...)
                raise CheckpointError(
                    f'could not download checkpoint {url} ({type(e).__name__}'
                    f': {e}). Without internet access, download it elsewhere '
                    f'and put it at {cached}, or pass the local file instead '
                    'of the URL, e.g. --cfg-options model.backbone.init_cfg.'
                    f'checkpoint=/path/to/{osp.basename(cached)}') from None
        if world_size > 1:
            torch.distributed.barrier()
    return safe_load(cached, map_location)


def load_from_model_zoo(filename, map_location=None):
    """A model-zoo name: mmengine's tables give its URL."""
    scheme, model_name = filename.split('://', 1)
    mm = mmengine_checkpoint
    try:
        table = mm.get_torchvision_models() if scheme in (
            'torchvision', 'modelzoo') else mm.get_external_models()
    except ImportError as e:  # torchvision:// needs torchvision
        raise CheckpointError(f'{filename} needs {e.name}: pip install '
                              f'{e.name}, or pass the URL') from None
    model_name = mm.get_deprecated_model_names().get(model_name, model_name)
    url = table.get(model_name)
    if not str(url).startswith(('http://', 'https://')):
        raise CheckpointError(
            f'{filename}: mmengine knows no URL for {model_name!r} (e.g. '
            f'{sorted(table)[:5]}); check the name, or pass a local file')
    return load_from_http(url, map_location)


def load_from_ceph(filename, map_location=None, backend='petrel'):
    data = get_file_backend(
        filename, backend_args=dict(backend=backend)).get(filename)
    return safe_load(io.BytesIO(data), map_location, name=filename)


def load_from_unsupported(filename, map_location=None):
    raise CheckpointError(
        f'{filename}: pavi:// and mmcls:// (MMClassification 0.x) are not '
        'read safely here; pass a local file or a URL (for an mmcls model, '
        "init_cfg=dict(type='Pretrained', checkpoint=URL, prefix='backbone."
        "'))")


# yapf: disable
SCHEMES = {
    '': load_from_local,
    ('http://', 'https://'): load_from_http,
    ('modelzoo://', 'torchvision://', 'open-mmlab://', 'openmmlab://'):
    load_from_model_zoo,
    (r'(\S+\:)?s3://', r'(\S+\:)?petrel://'): load_from_ceph,
    ('pavi://', 'mmcls://'): load_from_unsupported,
}
# yapf: enable


def install_safe_loading() -> None:
    """Route mmengine's schemes through :func:`safe_load`, and allow
    :data:`SAFE_GLOBALS` in torch's own ``weights_only`` loader."""
    for prefixes, loader in SCHEMES.items():
        CheckpointLoader.register_scheme(prefixes, loader, force=True)
    if TORCH_WEIGHTS_ONLY:
        torch.serialization.add_safe_globals(SAFE_GLOBALS)


BACKBONE_ONLY_HELP = (
    'To start from backbone weights only (ImageNet, or the backbone of '
    "another model) use model.backbone.init_cfg=dict(type='Pretrained', "
    'checkpoint=...) instead; to keep some parts at their initialisation on '
    'purpose (new heads), list them in the hook: '
    "dict(type='CheckpointFitHook', allow_missing=('neck', ...))")


def state_dict_of(checkpoint, source: str) -> dict:
    """The state dict mmengine loads from ``checkpoint``, checked."""
    if not isinstance(checkpoint, dict):
        raise CheckpointError(
            f'checkpoint {source!r} holds a {type(checkpoint).__name__}, not '
            'a state dict or a dict with a state_dict')
    return check_state_dict(checkpoint.get('state_dict', checkpoint), source)


def check_fit(model: torch.nn.Module,
              state_dict: dict,
              source: str,
              exact: bool = False,
              min_fit: float = 0.5,
              allow_missing: Sequence[str] = ()) -> None:
    """Refuse a state dict that would leave a part of ``model`` (backbone,
    neck, a head) at its initialisation, or that holds NaN / inf.

    Each part not in ``allow_missing`` must find ``min_fit`` of its tensors
    by name and shape; a FasterNet part only keys of its own (its loader
    converts the released layouts and refuses any key that does not fit).
    With ``exact`` (a resumed run) every tensor must match.
    """
    state = {
        k[7:] if k.startswith('module.') else k: v
        for k, v in check_state_dict(state_dict, source).items()
    }
    model_state = model.state_dict()
    given = {k.split('.', 1)[0] for k in state}
    own = {n for n, m in model.named_children() if isinstance(m, FasterNet)}
    own = set() if exact else own & given  # checked as FasterNet loads
    parts = OrderedDict()  # part -> [fitting, all]
    mismatched, missing = [], []
    for key, value in model_state.items():
        part = parts.setdefault(key.split('.', 1)[0], [0, 0])
        found = state.get(key)
        ok = key.split('.', 1)[0] in own or (torch.is_tensor(found)
                                             and found.shape == value.shape)
        part[0], part[1] = part[0] + ok, part[1] + 1
        if not ok and found is None:
            missing.append(key)
        elif not ok:
            mismatched.append(
                f'{key}: checkpoint {tuple(found.shape)} vs model '
                f'{tuple(value.shape)}' if torch.is_tensor(found) else
                f'{key}: a {type(found).__name__} in the checkpoint')
    unexpected = [
        k for k in state
        if k not in model_state and k.split('.', 1)[0] not in own
    ]
    if exact and (mismatched or missing or unexpected):
        raise CheckpointError(
            f'checkpoint {source!r} does not match this model exactly: '
            f'{_some(mismatched, "with another shape or type")}'
            f'{_some(missing, "missing")}'
            f'{_some(unexpected, "the model does not have")}'.rstrip('; ') +
            '. Is it for another model or config (e.g. another num_classes)?'
            ' A resumed run continues the same model (the optimizer state '
            'follows each tensor): to start from these weights in a changed '
            f'model, use load_from={source!r} without --resume.')
    unfit = [
        f'{part} ({fit} of {total} tensors)'
        for part, (fit, total) in parts.items()
        if part not in allow_missing and fit < min_fit * total
    ]
    if unfit:
        holds = f'e.g. {unexpected[:3]}' + (
            f', and with other shapes {mismatched[:3]}' if mismatched else '')
        raise CheckpointError(
            f'checkpoint {source!r} does not fit this model: it would leave '
            f'{", ".join(unfit)} at their random initialisation (in '
            'brackets: the tensors that match by name and shape; the '
            f'checkpoint has {holds}). Is it for another model or config? ' +
            BACKBONE_ONLY_HELP)
    bad = [
        k for k, v in state.items()
        if torch.is_tensor(v) and v.is_floating_point() and (
            k in model_state or k.split('.', 1)[0] in own)
        and not torch.isfinite(v).all()
    ]
    if bad:
        raise CheckpointError(
            f'checkpoint {source!r}: {len(bad)} tensor(s) hold NaN or inf '
            f'values, e.g. {bad[:3]}; it was saved by a run that diverged. '
            'Use an earlier checkpoint of that run, or retrain with a lower '
            'learning rate.')


def _some(keys: list, what: str) -> str:
    if not keys:
        return ''
    more = f' ... ({len(keys)} in all)' if len(keys) > 3 else ''
    return f'{what}: {keys[:3]}{more}; '
