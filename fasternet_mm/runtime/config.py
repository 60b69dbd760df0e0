"""Loading a config for the tools, the checks FasterNet asks of it, and
building its model."""
import importlib
import os.path as osp
from typing import Optional, Union

import torch.nn as nn
from mmengine.config import Config
from mmengine.hub import get_config
from mmengine.model import revert_sync_batchnorm
from mmengine.registry import init_default_scope

from ..errors import ConfigValueError, UserInputError
from .cli import check_cfg_options

SCOPES = ('mmdet', 'mmseg')


def load_config(path: str,
                cfg_options: Optional[dict] = None,
                work_dir: Optional[str] = None,
                launcher: str = 'none') -> Config:
    """Load ``path``, apply ``--cfg-options`` and fill in the run settings;
    a missing or broken config is a :class:`UserInputError` naming it."""
    try:
        if '::' in path:  # a config installed with mmdet / mmseg
            cfg = get_config(path)
        elif not osp.isfile(path):
            raise UserInputError(f'config file {path!r} does not exist')
        else:
            cfg = Config.fromfile(path)
    except UserInputError:
        raise
    except Exception as e:  # noqa: B902  (any failure of the user's file)
        reason = str(e).strip().splitlines()
        raise UserInputError(
            f'config {path!r} cannot be loaded: {type(e).__name__}: '
            f'{reason[-1] if reason else ""} (configs are .py, .json or '
            '.yaml files, or installed ones such as mmdet::rtmdet/'
            'rtmdet_s_8xb32-300e_coco.py; check the file and its _base_ '
            'paths)') from None
    if cfg_options:
        check_cfg_options(cfg, cfg_options)
        try:
            cfg.merge_from_dict(cfg_options)
        except (TypeError, KeyError, ValueError) as e:
            raise UserInputError(f'--cfg-options cannot be applied: {e}')
    check_scope(cfg, path)
    cfg.launcher = launcher
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(path))[0])
    return cfg


def check_scope(cfg: Config, name: str = 'the config') -> str:
    """The config's ``default_scope``, which must be mmdet's or mmseg's."""
    scope = cfg.get('default_scope')
    if scope not in SCOPES:
        raise UserInputError(
            f'{name}: default_scope is {scope!r}; this tool runs MMDetection '
            f"or MMSegmentation configs (default_scope 'mmdet' or 'mmseg'): "
            'inherit their default_runtime.py')
    return scope


def uses_fasternet(model_cfg) -> bool:
    """Whether a model config builds a FasterNet backbone anywhere."""
    if isinstance(model_cfg, dict):
        if str(model_cfg.get('type', '')).split('.')[-1] == 'FasterNet':
            return True
        return any(uses_fasternet(v) for v in model_cfg.values())
    if isinstance(model_cfg, (list, tuple)):
        return any(uses_fasternet(v) for v in model_cfg)
    return False


def check_input_padding(cfg: Config) -> None:
    """A FasterNet config pads inputs to a multiple of 32 (its stem and
    merging layers floor other sizes, misaligning the features)."""
    model = cfg.model
    while 'module' in model:  # test-time augmentation wraps the model
        model = model['module']
    if not uses_fasternet(model):
        return
    preprocessor = model.get('data_preprocessor') or {}
    if cfg.default_scope == 'mmdet':
        divisor = preprocessor.get('pad_size_divisor', 1)
        if divisor % 32:
            raise ConfigValueError(
                f'model.data_preprocessor.pad_size_divisor is {divisor}: '
                'images of a size not divisible by 32 would be floored by '
                'the FasterNet backbone and misalign its features; set '
                'pad_size_divisor=32')
    else:
        size = preprocessor.get('size')
        if size and any(s % 32 for s in size):
            raise ConfigValueError(
                f'model.data_preprocessor.size is {tuple(size)}: training '
                'crops must be divisible by 32 for FasterNet; use e.g. '
                '(512, 512)')
        test_cfg = preprocessor.get('test_cfg') or {}
        fixed = not any(s % 32 for s in test_cfg.get('size') or (1, ))
        if (test_cfg.get('size_divisor') or 1) % 32 and not fixed:
            raise ConfigValueError(
                f'model.data_preprocessor.test_cfg is {test_cfg or None}: '
                'test images of a size not divisible by 32 would be floored '
                'by the FasterNet backbone and misalign its features (another '
                'mIoU); set model.data_preprocessor.test_cfg=dict('
                'size_divisor=32)')


def build_model_from_cfg(config: Union[str, Config],
                         cfg_options: Optional[dict] = None) -> nn.Module:
    """The model of a config (path, ``mmdet::``/``mmseg::`` name or
    :class:`Config`) in eval mode, with PyTorch's initial weights (nothing
    is downloaded) and BN for SyncBN; ``model.cfg`` keeps the config."""
    cfg = load_config(config) if isinstance(config, str) else config.copy()
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    scope = check_scope(cfg)
    cfg.model.pop('pretrained', None)
    cfg.model.pop('init_cfg', None)
    cfg.model.get('backbone', {}).pop('init_cfg', None)
    init_default_scope(scope)
    registry = importlib.import_module(f'{scope}.registry')
    model = revert_sync_batchnorm(registry.MODELS.build(cfg.model))
    model.cfg = cfg
    return model.eval()
