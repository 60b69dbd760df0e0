"""The tools' shared argument types: a bad value is argparse's usage error
naming the argument, not a traceback later; ``--cfg-options`` values are
checked against the config they change, and an output that would write
over an input is refused."""
import argparse
import math
import os
import os.path as osp
from typing import Any, Optional

from mmengine.config import DictAction

from ..errors import ConfigTypeError, ConfigValueError, UserInputError

MIN_SIDE, MAX_SIDE = 32, 8192  # FasterNet's stride; far beyond any dataset


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
    """``--cfg-options`` values must keep the kind of what they replace: a
    number stays a finite number (``max_epochs=abc``, ``lr=nan`` are
    refused), a dict or list stays one or becomes None (``model=1`` is
    refused), before the config is changed."""
    for key, value in (options or {}).items():
        for v in _leaves(value):
            if isinstance(v, float) and not math.isfinite(v):
                raise ConfigValueError(
                    f'--cfg-options {key}={value}: {v} is not a usable '
                    'setting (not a finite number)')
        current = _lookup(cfg, key)
        if isinstance(current, (dict, list, tuple)):
            if value is not None and not isinstance(value,
                                                    (dict, list, tuple)):
                raise ConfigTypeError(
                    f'--cfg-options {key}={value}: {key} is a '
                    f'{"dict" if isinstance(current, dict) else "list"} in '
                    'the config; set the keys inside it (e.g. '
                    f'{key}.KEY=VALUE) instead')
            continue
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


def _leaves(value) -> list:
    """The scalars of a value ``DictAction`` parsed (lists and tuples)."""
    if isinstance(value, (list, tuple)):
        return [leaf for v in value for leaf in _leaves(v)]
    return [value]


def check_output(out: str, *inputs: str) -> None:
    """``out`` must not be one of ``inputs`` (the same file, also through a
    symbolic or hard link): a converter writes a new file."""
    for path in inputs:
        if path and osp.exists(path) and osp.exists(out) and \
                osp.samefile(out, path):
            raise UserInputError(
                f'the output {out!r} is the input {path!r}: writing it would '
                'destroy the input; give the output another file name')
    folder = osp.dirname(osp.abspath(out))
    if osp.exists(folder) and not os.access(folder, os.W_OK):
        raise UserInputError(f'cannot write {out}: the folder {folder} is '
                             'not writable')
