"""What ``tools/train.py`` and ``tools/test.py`` share.

Both serve detection (``default_scope='mmdet'``) and segmentation
(``default_scope='mmseg'``) configs; the config's scope decides. The code
here loads and checks a config, adapts it to the machine (no GPU: ``gloo``
for distributed runs, no AMP) and builds mmengine's Runner.
"""
import os
import os.path as osp
from typing import Optional, Sequence

import torch
from mmengine.config import Config
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

from ..errors import UserInputError

SCOPES = ('mmdet', 'mmseg')
DATA_HELP = ("see the README section 'Datasets' for the expected layout, or "
             "run 'make demo' / 'make demo-seg' for the embedded demo sets")


def load_config(path: str,
                cfg_options: Optional[dict] = None,
                work_dir: Optional[str] = None,
                launcher: str = 'none') -> Config:
    """Load ``path``, apply ``--cfg-options`` and fill in the run settings."""
    if not osp.isfile(path):
        raise UserInputError(f'config file {path!r} does not exist')
    cfg = Config.fromfile(path)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    scope = cfg.get('default_scope')
    if scope not in SCOPES:
        raise UserInputError(
            f'{path}: default_scope is {scope!r}; this tool runs MMDetection '
            f"or MMSegmentation configs (default_scope 'mmdet' or 'mmseg'): "
            'inherit their default_runtime.py')
    cfg.launcher = launcher
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(path))[0])
    if not torch.cuda.is_available():
        # NCCL needs GPUs; gloo runs PyTorch distributed on CPUs.
        env_cfg = cfg.setdefault('env_cfg', {})
        env_cfg.setdefault('dist_cfg', {})['backend'] = 'gloo'
    return cfg


def enable_amp(cfg: Config) -> None:
    """Switch the optimizer wrapper to mixed precision (GPU only)."""
    if not torch.cuda.is_available():
        raise UserInputError(
            '--amp needs a CUDA GPU (mmengine\'s AmpOptimWrapper); drop --amp '
            'to train in fp32 on this machine')
    if cfg.optim_wrapper.get('type', 'OptimWrapper') != 'AmpOptimWrapper':
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.loss_scale = 'dynamic'


def check_data(cfg: Config, splits: Sequence[str]) -> None:
    """Fail early, naming the path, when a dataset's files are missing."""
    for split in splits:
        loader = cfg.get(f'{split}_dataloader')
        if not loader:
            continue
        dataset = loader['dataset']
        while 'dataset' in dataset:  # RepeatDataset, ClassBalancedDataset...
            dataset = dataset['dataset']
        data_root = dataset.get('data_root') or ''
        if data_root and not osp.isdir(data_root):
            raise UserInputError(
                f'{split} data root {data_root!r} does not exist (from '
                f'{split}_dataloader.dataset.data_root); {DATA_HELP}')
        ann_file = dataset.get('ann_file')
        if ann_file:
            ann_path = osp.join(data_root, ann_file)
            if not osp.isfile(ann_path):
                raise UserInputError(
                    f'{split} annotation file {ann_path!r} does not exist '
                    f'(from {split}_dataloader.dataset.ann_file); {DATA_HELP}')
        for key, sub in (dataset.get('data_prefix') or {}).items():
            path = osp.join(data_root, sub)
            if not osp.isdir(path):
                raise UserInputError(
                    f'{split} {key} folder {path!r} does not exist (from '
                    f'{split}_dataloader.dataset.data_prefix.{key}); '
                    f'{DATA_HELP}')


def build_runner(cfg: Config) -> Runner:
    if 'runner_type' in cfg:
        return RUNNERS.build(cfg)
    return Runner.from_cfg(cfg)


def set_local_rank(local_rank: int) -> None:
    """Older launchers pass ``--local-rank``; mmengine reads the variable."""
    os.environ.setdefault('LOCAL_RANK', str(local_rank))
