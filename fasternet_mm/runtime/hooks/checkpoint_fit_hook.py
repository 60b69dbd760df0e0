"""Refuse checkpoints that do not fit the model, instead of warning."""
import re
from collections import OrderedDict
from typing import Sequence

import torch
from mmengine.hooks import Hook
from mmengine.model import BaseTTAModel, is_model_wrapper
from mmengine.registry import HOOKS

from ...errors import CheckpointError
from ...models import FasterNet
from ...models.backbones.ckpt_convert import check_state_dict

BACKBONE_ONLY_HELP = (
    'To start from backbone weights only (ImageNet, or the backbone of '
    "another model) use model.backbone.init_cfg=dict(type='Pretrained', "
    'checkpoint=...) instead; to keep some parts at their initialisation on '
    'purpose (new heads), list them in the hook: '
    "dict(type='CheckpointFitHook', allow_missing=('neck', ...))")


def state_dict_of(checkpoint, source: str) -> dict:
    """The state dict that mmengine loads from ``checkpoint`` (its
    ``state_dict`` entry, or the whole dict), checked to be one."""
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
    """Refuse a state dict that would leave part of ``model`` at its
    initialisation, or load weights that are not finite.

    The model is compared part by part (its top-level children: backbone,
    neck, rpn_head, roi_head, decode_head, ...), after FasterNet's official
    and timm layouts are converted: each part must find at least
    ``min_fit`` of its tensors by name and shape, unless it is in
    ``allow_missing``. With ``exact`` (a resumed run, a converter) every
    tensor must match.

    Raises:
        CheckpointError: Naming the parts (or tensors) that do not fit, or
            the tensors that hold NaN or inf.
    """
    state = OrderedDict(
        (re.sub(r'^module\.', '', k), v)
        for k, v in check_state_dict(state_dict, source).items())
    for name, module in model.named_modules():
        if isinstance(module, FasterNet):
            module.convert_state_dict(state, f'{name}.' if name else '')
    model_state = model.state_dict()
    parts = OrderedDict()  # part -> ([fitting keys], [other keys])
    mismatched = []
    for key, value in model_state.items():
        fit, other = parts.setdefault(key.split('.', 1)[0], ([], []))
        found = state.get(key)
        if torch.is_tensor(found) and found.shape == value.shape:
            fit.append(key)
            continue
        other.append(key)
        if found is not None:
            mismatched.append(
                f'{key}: checkpoint {tuple(found.shape)} vs model '
                f'{tuple(value.shape)}' if torch.is_tensor(found) else
                f'{key}: a {type(found).__name__} in the checkpoint')
    unexpected = [k for k in state if k not in model_state]
    if exact and (mismatched or unexpected
                  or any(other for _, other in parts.values())):
        missing = [
            k for _, other in parts.values() for k in other if k not in state
        ]
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
        f'{part} ({len(fit)} of {len(fit) + len(other)} tensors)'
        for part, (fit, other) in parts.items()
        if part not in allow_missing and len(fit) < min_fit *
        (len(fit) + len(other))
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
    check_finite(state, model_state, source)


def check_finite(state: dict, model_state: dict, source: str) -> None:
    """The tensors that will load must hold no NaN or inf."""
    bad = [
        k for k, v in state.items() if k in model_state and torch.is_tensor(v)
        and v.is_floating_point() and not torch.isfinite(v).all()
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


@HOOKS.register_module()
class CheckpointFitHook(Hook):
    """Check ``load_from`` / ``--resume`` checkpoints before they load.

    mmengine loads them non-strictly: a checkpoint of another model only
    logs warnings and the run goes on from random weights. With this hook
    (:func:`check_fit`), a checkpoint that leaves a part of the model (the
    neck, a head) at its initialisation, or holds NaN / inf weights, is an
    error; a resumed checkpoint must be a training one (meta, optimizer,
    ...) of the same model, tensor for tensor. It acts in
    ``after_load_checkpoint``, before anything is loaded, so any Runner
    that calls hooks gets it: ``custom_hooks =
    [dict(type='CheckpointFitHook')]``; our configs name it.

    Args:
        min_fit (float): Fraction of each part's tensors that must match by
            name and shape. Defaults to 0.5.
        allow_missing (Sequence[str]): Parts (top-level modules, e.g.
            ``('neck', 'rpn_head', 'roi_head')``) that may keep their
            initialisation: a backbone-only checkpoint through
            ``load_from`` on purpose. Defaults to none.
    """

    priority = 'VERY_HIGH'
    resume_keys = ('meta', 'state_dict', 'optimizer', 'message_hub')

    def __init__(self,
                 min_fit: float = 0.5,
                 allow_missing: Sequence[str] = ()):
        self.min_fit = min_fit
        self.allow_missing = tuple(allow_missing)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        source = runner._load_from or \
            f'the latest checkpoint in {runner.work_dir}'
        state_dict = state_dict_of(checkpoint, source)
        if runner._resume:
            missing = [k for k in self.resume_keys if k not in checkpoint]
            if missing:
                raise CheckpointError(
                    f'--resume {source!r}: not a training checkpoint of '
                    f'mmengine (it lacks {missing}); to start from its '
                    f'weights use load_from={source!r} (without --resume)')
        model = runner.model
        # As Runner.load_checkpoint: weights go into the wrapped model.
        if is_model_wrapper(model) or isinstance(model, BaseTTAModel):
            model = model.module
        check_fit(
            model,
            state_dict,
            source,
            exact=runner._resume,
            min_fit=self.min_fit,
            allow_missing=self.allow_missing)
