"""Convert FasterNet checkpoints of any released layout to this backbone's.

Layouts understood:

* official release (``JierunChen/FasterNet``): stages numbered 0-6 with the
  merging layers at odd indices (``stages.1.reduction``), output norms
  ``norm0/2/4/6``, classification head ``avgpool_pre_head.*``, ``head.*``;
* timm / Hugging Face hub: ``stages.{1,2,3}.downsample.*``, head
  ``conv_head.*``, ``classifier.*`` (the same layout as this backbone);
* whole checkpoints: ``state_dict`` / ``model`` wrappers, ``module.``
  (DataParallel / DDP) and ``backbone.`` (detector, segmentor) prefixes.
"""
import re
from collections import OrderedDict
from typing import Dict, List, Optional, Tuple

import torch

from ...errors import CheckpointError

HEAD_PREFIXES = ('avgpool_pre_head.', 'head.', 'conv_head.', 'classifier.')
_OFFICIAL_MERGE = re.compile(r'^stages\.(\d+)\.(reduction|norm)\.')


def check_state_dict(state_dict, source: str = 'checkpoint') -> Dict:
    """``state_dict`` if it is one: a dict whose keys are tensor names.

    Raises:
        CheckpointError: It is another object (a list, ...), or it has keys
            that are not strings.
    """
    if not isinstance(state_dict, dict):
        raise CheckpointError(
            f'{source}: expected a state dict (tensor names to tensors) or a '
            f'checkpoint dict holding one, got a {type(state_dict).__name__}')
    bad = [k for k in state_dict if not isinstance(k, str)]
    if bad:
        raise CheckpointError(
            f'{source}: {len(bad)} key(s) of its state dict are not tensor '
            f'names (strings), e.g. {bad[:3]}; it was not saved from a '
            'model\'s state_dict()')
    return state_dict


def _unwrap(ckpt, source: str) -> Dict[str, torch.Tensor]:
    check_state_dict(ckpt, source)
    for key in ('state_dict', 'model'):
        if key in ckpt and isinstance(ckpt[key], dict):
            return check_state_dict(ckpt[key], source)
    return ckpt


def _strip_prefixes(state_dict: Dict,
                    prefix: Optional[str]) -> Tuple[Dict, int]:
    """Drop ``module.`` and select the backbone of a whole model.

    Returns the backbone's tensors and how many other tensors (neck, heads)
    were left out.
    """
    state_dict = OrderedDict(
        (k[len('module.'):] if k.startswith('module.') else k, v)
        for k, v in state_dict.items())
    if prefix is None and any(k.startswith('backbone.') for k in state_dict):
        prefix = 'backbone.'
    if not prefix:
        return state_dict, 0
    if not prefix.endswith('.'):
        prefix += '.'
    selected = OrderedDict((k[len(prefix):], v) for k, v in state_dict.items()
                           if k.startswith(prefix))
    if not selected:
        raise CheckpointError(
            f'no key in the checkpoint starts with {prefix!r}')
    return selected, len(state_dict) - len(selected)


def _official_to_native(key: str) -> str:
    """``stages.{2i}.blocks`` -> ``stages.{i}.blocks``; merging layer at
    ``stages.{2i-1}`` -> ``stages.{i}.downsample``; ``norm{2i}`` ->
    ``norm{i}``."""
    m = _OFFICIAL_MERGE.match(key)
    if m:
        idx = int(m.group(1))
        return f'stages.{(idx + 1) // 2}.downsample.' + key[
            len(f'stages.{idx}.'):]
    m = re.match(r'^stages\.(\d+)\.blocks\.', key)
    if m:
        idx = int(m.group(1))
        return f'stages.{idx // 2}.' + key[len(f'stages.{idx}.'):]
    m = re.match(r'^norm(\d+)\.', key)
    if m:
        return f'norm{int(m.group(1)) // 2}.' + key[len(m.group(0)):]
    return key


def detect_layout(state_dict: Dict) -> str:
    """``'official'`` if merging layers sit at their own stage index, else
    ``'native'`` (this backbone's and timm's layout)."""
    if any(_OFFICIAL_MERGE.match(k) for k in state_dict):
        return 'official'
    return 'native'


def _summarise(keys: List[str], limit: int = 6) -> str:
    shown = ', '.join(keys[:limit])
    return shown + (f', ... ({len(keys)} in all)' if len(keys) > limit else '')


def convert_fasternet_checkpoint(
        ckpt,
        model_state: Dict[str, torch.Tensor],
        prefix: Optional[str] = None,
        source: str = 'checkpoint') -> Tuple[Dict[str, torch.Tensor], str]:
    """Map a checkpoint onto a FasterNet backbone's state dict.

    Args:
        ckpt: A loaded checkpoint (any layout above).
        model_state: ``backbone.state_dict()``, to check names and shapes.
        prefix: Take only keys under this prefix; ``backbone.`` is picked
            automatically when present.
        source: Where the checkpoint came from, for messages.

    Returns:
        The converted state dict and a human-readable loading report.

    Raises:
        ValueError: A key fits no parameter of the model, a shape differs,
            or a trunk parameter (anything but the output norms) is missing.
    """
    state_dict, n_other = _strip_prefixes(_unwrap(ckpt, source), prefix)
    layout = detect_layout(state_dict)
    dropped = [k for k in state_dict if k.startswith(HEAD_PREFIXES)]
    converted = OrderedDict()
    for key, value in state_dict.items():
        if key.startswith(HEAD_PREFIXES):
            continue
        native = _official_to_native(key) if layout == 'official' else key
        converted[native] = value

    # Output norms of stages this model does not output are not an error.
    unused_norms = [
        k for k in converted
        if k not in model_state and re.match(r'^norm\d+\.', k)
    ]
    for k in unused_norms:
        del converted[k]
    unexpected = [k for k in converted if k not in model_state]
    if unexpected:
        raise CheckpointError(
            f'{source}: {len(unexpected)} key(s) fit no FasterNet parameter: '
            f'{_summarise(unexpected)}. Is it a FasterNet checkpoint, and of '
            f'the arch you built?')
    not_tensors = [k for k, v in converted.items() if not torch.is_tensor(v)]
    if not_tensors:
        raise CheckpointError(
            f'{source}: {len(not_tensors)} value(s) are not tensors: '
            f'{_summarise(not_tensors)} (e.g. a '
            f'{type(converted[not_tensors[0]]).__name__}); it is not a '
            'state dict of FasterNet weights.')
    mismatched = [
        f'{k}: checkpoint {tuple(v.shape)} vs model '
        f'{tuple(model_state[k].shape)}' for k, v in converted.items()
        if v.shape != model_state[k].shape
    ]
    if mismatched:
        raise CheckpointError(
            f'{source}: shape mismatch for {len(mismatched)} key(s): '
            f'{_summarise(mismatched, 3)}. The checkpoint is for another '
            f'FasterNet arch: set `arch` to the one it was trained with.')
    missing = [k for k in model_state if k not in converted]
    new = [k for k in missing if re.match(r'^norm\d+\.', k)]
    missing_trunk = [k for k in missing if k not in new]
    if missing_trunk:
        raise CheckpointError(
            f'{source}: the checkpoint lacks {len(missing_trunk)} FasterNet '
            f'parameter(s): {_summarise(missing_trunk)}. It holds a different '
            f'arch (depths) or a truncated model.')

    lines = [
        f'FasterNet: loaded {len(converted)} tensors from {source} '
        f'({"timm / native" if layout == "native" else layout} layout).'
    ]
    if n_other:
        lines.append(f'  ignored {n_other} tensors outside the backbone '
                     '(neck / heads of a whole model).')
    if dropped:
        lines.append(f'  dropped on purpose (classification head): '
                     f'{_summarise(dropped)}')
    if unused_norms:
        norms = sorted({k.split('.')[0] for k in unused_norms})
        lines.append(f'  dropped output norms of stages not in out_indices: '
                     f'{", ".join(norms)}')
    if new:
        norms = sorted({k.split('.')[0] for k in new})
        lines.append(f'  new, kept at their init (output norms of dense '
                     f'prediction): {", ".join(norms)}')
    return converted, '\n'.join(lines)
