"""The tools' command-line arguments, checked where argparse reads them.

Every tool declares its arguments with these types and actions, so a bad
value is argparse's usage error naming the argument (``error: argument
--shape: ...``, exit status 2), not a traceback from torch or mmcv later;
``--cfg-options`` values are checked against the config they change
(:func:`check_cfg_options`, called by ``load_config``), and an output that
would overwrite an input is refused (:func:`check_output`).
"""
import argparse
import math
import os
import os.path as osp
from typing import Any, Iterable, Optional

import torch
from mmengine.config import DictAction

from ..errors import ConfigTypeError, ConfigValueError, UserInputError

MIN_SIDE, MAX_SIDE = 32, 8192  # FasterNet's stride; far beyond any dataset
IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp')


def image_side(text: str) -> int:
    """An input height or width: a multiple of 32 in [32, 8192]."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f'{text!r} is not an integer')
    if not MIN_SIDE <= value <= MAX_SIDE or value % MIN_SIDE:
        raise argparse.ArgumentTypeError(
            f'{value} is not a multiple of {MIN_SIDE} in [{MIN_SIDE}, '
            f'{MAX_SIDE}] (FasterNet reduces its input 32 times)')
    return value


def existing_file(text: str) -> str:
    """A local file that exists."""
    if not osp.isfile(text):
        raise argparse.ArgumentTypeError(f'{text!r}: no such file')
    return text


def positive_int(text: str) -> int:
    """A count: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f'{text!r} is not an integer')
    if value < 1:
        raise argparse.ArgumentTypeError(f'{value} is not a positive count')
    return value


def file_or_url(text: str) -> str:
    """A local file that exists, or a URL / model-zoo name (checked when it
    is loaded)."""
    return text if '://' in text else existing_file(text)


def is_deployed_dir(path: str) -> bool:
    """Whether ``path`` is a folder written by ``tools/deployment/deploy.py``
    (mmdeploy's layout, with its ``deploy.json``)."""
    return osp.isdir(path) and osp.isfile(osp.join(path, 'deploy.json'))


def checkpoint_or_deployed(text: str) -> str:
    """:func:`file_or_url`, or a folder written by
    ``tools/deployment/deploy.py``."""
    return text if is_deployed_dir(text) else file_or_url(text)


def image_file(text: str) -> str:
    """A local image that OpenCV (mmcv's reader) can decode."""
    import mmcv
    existing_file(text)
    try:
        ok = mmcv.imread(text) is not None
    except Exception:  # noqa: B902  (whatever the decoder raises)
        ok = False
    if not ok:
        raise argparse.ArgumentTypeError(
            f'{text!r} is not an image that OpenCV can read (e.g. .jpg, '
            '.png)')
    return text


def image_output(text: str) -> str:
    """A picture to write: its extension names the format."""
    if osp.splitext(text)[1].lower() not in IMAGE_EXTENSIONS:
        raise argparse.ArgumentTypeError(
            f'{text!r}: the file name must end in an image extension '
            f'({", ".join(IMAGE_EXTENSIONS)}), which selects the format')
    return text


def device(text: str) -> str:
    """A torch device that this machine has."""
    try:
        dev = torch.device(text)
    except RuntimeError:
        raise argparse.ArgumentTypeError(
            f'{text!r} is not a device (e.g. cpu, cuda, cuda:0)')
    if dev.type == 'cuda':
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if (dev.index or 0) >= count:
            raise argparse.ArgumentTypeError(
                f'{text}: this machine has {count} CUDA device(s); use '
                '--device cpu' + (f' or cuda:0..{count - 1}' if count else ''))
    return text


class CfgOptions(DictAction):
    """mmengine's ``DictAction`` (``KEY=VALUE ...``), with a usage error
    for an item that is not ``KEY=VALUE`` or a value it cannot parse."""

    def __call__(self, parser, namespace, values, option_string=None):
        for item in values:
            key, sep, _ = item.partition('=')
            if not sep or not key:
                parser.error(
                    f'argument {option_string}: {item!r} is not KEY=VALUE '
                    '(e.g. train_cfg.max_epochs=12)')
        try:
            super().__call__(parser, namespace, values, option_string)
        except (ValueError, IndexError, TypeError) as e:
            parser.error(f'argument {option_string}: {values} cannot be '
                         f'parsed ({e})')


def check_cfg_options(cfg, options: Optional[dict]) -> None:
    """``--cfg-options`` values must be finite numbers where numbers are
    expected: a value of another kind than the config's (``max_epochs=abc``)
    and NaN / inf (``lr=nan``) are refused before the config is changed."""
    for key, value in (options or {}).items():
        for v in _leaves(value):
            if isinstance(v, float) and not math.isfinite(v):
                raise ConfigValueError(
                    f'--cfg-options {key}={value}: {v} is not a usable '
                    'setting (not a finite number)')
        current = _lookup(cfg, key)
        if isinstance(current, bool) or not isinstance(current, (int, float)):
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) \
                or (isinstance(current, int) and isinstance(value, float)
                    and value % 1):
            kind = 'an integer' if isinstance(current, int) else 'a number'
            raise ConfigTypeError(
                f'--cfg-options {key}={value}: {key} is {kind} in the config '
                f'({current!r}), got {value!r}')


def _lookup(cfg, key: str) -> Any:
    node = cfg
    for part in key.split('.'):
        if isinstance(node, (list, tuple)):
            node = node[int(
                part)] if part.isdigit() and int(part) < len(node) else None
        elif hasattr(node, 'get'):  # a dict, ConfigDict or Config
            node = node.get(part)
        else:
            return None
    return node


def _leaves(value) -> Iterable:
    if isinstance(value, (list, tuple)):
        for v in value:
            yield from _leaves(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from _leaves(v)
    else:
        yield value


def check_output(out: str, *inputs: str) -> None:
    """``out`` must not be one of ``inputs`` (the same file, also through a
    symbolic or hard link): a converter writes a new file."""
    for path in inputs:
        if path and '://' not in path and osp.exists(path) and osp.exists(
                out) and (osp.realpath(out) == osp.realpath(path)
                          or osp.samefile(out, path)):
            raise UserInputError(
                f'the output {out!r} is the input {path!r}: writing it would '
                'destroy the input; give the output another file name')
    folder = osp.dirname(osp.abspath(out))
    if osp.exists(folder) and not os.access(folder, os.W_OK):
        raise UserInputError(f'cannot write {out}: the folder {folder} is '
                             'not writable')
