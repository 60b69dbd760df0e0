"""What ``tools/train.py`` and ``tools/test.py`` share.

Both serve detection (``default_scope='mmdet'``) and segmentation
(``default_scope='mmseg'``) configs; the config's scope decides. The code
here loads and checks a config and its data, adapts it to the machine (no
GPU: ``gloo`` for distributed runs, BN for SyncBN, no AMP) and builds a
Runner that refuses checkpoints which do not fit the model.
"""
import datetime
import json
import os
import os.path as osp
import re
from typing import Optional, Sequence

import torch
from mmengine.config import Config
from mmengine.model import is_model_wrapper
from mmengine.registry import RUNNERS
from mmengine.runner import Runner
from mmengine.runner.checkpoint import (_load_checkpoint,
                                        _load_checkpoint_to_model)

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
        try:
            cfg.merge_from_dict(cfg_options)
        except (TypeError, KeyError, ValueError) as e:
            raise UserInputError(f'--cfg-options cannot be applied: {e}')
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
        # NCCL and SyncBN need GPUs; gloo runs PyTorch distributed on CPUs.
        env_cfg = cfg.setdefault('env_cfg', {})
        env_cfg.setdefault('dist_cfg', {})['backend'] = 'gloo'
        _sync_bn_to_bn(cfg.model)
    return cfg


def _sync_bn_to_bn(node) -> None:
    """Turn every ``SyncBN`` norm config under ``node`` into ``BN``."""
    if isinstance(node, dict):
        if node.get('type') == 'SyncBN':
            node['type'] = 'BN'
        for value in node.values():
            _sync_bn_to_bn(value)
    elif isinstance(node, (list, tuple)):
        for value in node:
            _sync_bn_to_bn(value)


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
    """Fail early, naming the path, when a dataset is missing or unusable."""
    for split in splits:
        loader = cfg.get(f'{split}_dataloader')
        if not loader:
            continue
        dataset = loader['dataset']
        while 'dataset' in dataset:  # RepeatDataset, ClassBalancedDataset...
            dataset = dataset['dataset']
        where = f'{split}_dataloader.dataset'
        data_root = dataset.get('data_root') or ''
        if data_root and not osp.isdir(data_root):
            raise UserInputError(
                f'{split} data root {data_root!r} does not exist (from '
                f'{where}.data_root); {DATA_HELP}')
        prefixes = dataset.get('data_prefix') or {}
        for key, sub in prefixes.items():
            path = osp.join(data_root, sub)
            if not osp.isdir(path):
                raise UserInputError(
                    f'{split} {key} folder {path!r} does not exist (from '
                    f'{where}.data_prefix.{key}); {DATA_HELP}')
        ann_file = dataset.get('ann_file')
        if ann_file:
            ann_path = osp.join(data_root, ann_file)
            if not osp.isfile(ann_path):
                raise UserInputError(
                    f'{split} annotation file {ann_path!r} does not exist '
                    f'(from {where}.ann_file); {DATA_HELP}')
            if ann_path.endswith('.json'):
                _check_coco_json(ann_path, split, dataset)
        elif 'img_path' in prefixes:  # segmentation: one image per file
            img_dir = osp.join(data_root, prefixes['img_path'])
            suffix = dataset.get('img_suffix', '.jpg')
            if not any(f.endswith(suffix) for f in os.listdir(img_dir)):
                raise UserInputError(
                    f'{split} dataset is empty: no *{suffix} image in '
                    f'{img_dir!r}; {DATA_HELP}')


# Files above this size (full COCO) are only checked to be a JSON object.
_FULL_CHECK_BYTES = 64 << 20


def _check_coco_json(path: str, split: str, dataset: dict) -> None:
    with open(path, 'rb') as f:
        head = f.read(4096).lstrip()
    if not head.startswith(b'{'):
        raise UserInputError(
            f'{split} annotation file {path!r} is not COCO JSON (it does not '
            "start with '{'); convert it to COCO format (images, "
            'annotations, categories)')
    if osp.getsize(path) > _FULL_CHECK_BYTES:
        return
    try:
        with open(path, encoding='utf-8') as f:
            coco = json.load(f)
    except (ValueError, UnicodeDecodeError) as e:
        raise UserInputError(
            f'{split} annotation file {path!r} is not valid JSON ({e})')
    missing = [
        k for k in ('images', 'annotations', 'categories')
        if not isinstance(coco.get(k), list)
    ]
    if missing:
        raise UserInputError(
            f'{split} annotation file {path!r} is not COCO JSON: it lacks '
            f'the list(s) {missing}; COCO files hold images, annotations and '
            'categories')
    if not coco['images']:
        raise UserInputError(
            f'{split} dataset is empty: {path!r} lists no images')
    filter_cfg = dataset.get('filter_cfg') or {}
    if filter_cfg.get('filter_empty_gt') and not coco['annotations'] and \
            not dataset.get('test_mode', False):
        raise UserInputError(
            f'{split} dataset is empty after filtering: {path!r} has no '
            'annotations and filter_cfg.filter_empty_gt=True drops every '
            'image')


def check_input_padding(cfg: Config) -> None:
    """FasterNet's stem and merging layers floor odd sizes: inputs must be
    padded to a multiple of 32 for the stride-32 features to stay aligned."""
    preprocessor = cfg.model.get('data_preprocessor') or {}
    if cfg.default_scope == 'mmdet':
        divisor = preprocessor.get('pad_size_divisor', 1)
        if divisor % 32:
            raise UserInputError(
                f'model.data_preprocessor.pad_size_divisor is {divisor}: '
                'images of a size not divisible by 32 would be floored by '
                'the backbone and misalign its features; set '
                'pad_size_divisor=32')
    else:
        size = preprocessor.get('size')
        if size and any(s % 32 for s in size):
            raise UserInputError(
                f'model.data_preprocessor.size is {tuple(size)}: training '
                'crops must be divisible by 32 for FasterNet; use e.g. '
                '(512, 512)')


class CheckedRunner(Runner):
    """mmengine's Runner that refuses checkpoints which do not fit.

    mmengine loads ``load_from`` non-strictly: a checkpoint of another model
    only logs warnings and training goes on from random weights. Here a
    checkpoint that fits less than half of the model's tensors is an error,
    and ``--resume`` needs a training checkpoint (meta, optimizer).
    """
    min_fit = 0.5
    resume_keys = ('meta', 'state_dict', 'optimizer', 'message_hub')

    def resume(self, filename, *args, **kwargs):
        self._resuming = filename
        try:
            return super().resume(filename, *args, **kwargs)
        finally:
            self._resuming = None

    def load_checkpoint(self,
                        filename,
                        map_location='cpu',
                        strict=False,
                        revise_keys=[(r'^module.', '')]):
        checkpoint = _load_checkpoint(filename, map_location=map_location)
        if not isinstance(checkpoint, dict):
            raise UserInputError(
                f'checkpoint {filename!r} holds a {type(checkpoint).__name__}'
                ', not a state dict')
        if getattr(self, '_resuming', None) == filename:
            missing = [k for k in self.resume_keys if k not in checkpoint]
            if missing:
                raise UserInputError(
                    f'--resume {filename!r}: not a training checkpoint of '
                    f'mmengine (it lacks {missing}); to start from its '
                    f'weights use load_from={filename!r} (without --resume)')
        model = self.model.module if is_model_wrapper(
            self.model) else self.model
        self._check_fit(filename, checkpoint, model.state_dict(), revise_keys)
        self.call_hook('after_load_checkpoint', checkpoint=checkpoint)
        checkpoint = _load_checkpoint_to_model(
            model, checkpoint, strict, revise_keys=revise_keys)
        self._has_loaded = True
        self.logger.info(f'Load checkpoint from {filename}')
        return checkpoint

    def _check_fit(self, filename, checkpoint, model_state, revise_keys):
        state = checkpoint.get('state_dict', checkpoint)
        keys = {}
        for key, value in state.items():
            for pattern, repl in revise_keys:
                key = re.sub(pattern, repl, key)
            keys[key] = value
        fit = [
            k for k, v in model_state.items()
            if k in keys and getattr(keys[k], 'shape', None) == v.shape
        ]
        if len(fit) < self.min_fit * len(model_state):
            unexpected = [k for k in keys if k not in model_state][:3]
            missing = [k for k in model_state if k not in keys][:3]
            raise UserInputError(
                f'checkpoint {filename!r} does not fit this model: only '
                f'{len(fit)} of its {len(model_state)} tensors match by name '
                f'and shape (checkpoint has e.g. {unexpected}, the model '
                f'needs e.g. {missing}). Is it for another model or config? '
                'Backbone-only weights (ImageNet) go in '
                "model.backbone.init_cfg=dict(type='Pretrained', "
                'checkpoint=...).')


def setup_cpu_distributed(cfg: Config) -> None:
    """Prepare a distributed run on machines without CUDA.

    mmengine's ``init_dist`` calls ``torch.cuda.set_device`` first, which a
    CPU build of torch lacks, so the ``gloo`` process group is started here
    (the Runner skips its own init when one exists); and DDP must not get
    GPU ``device_ids``.
    """
    if cfg.launcher == 'none' or torch.cuda.is_available() or \
            torch.distributed.is_initialized():
        return
    if cfg.launcher != 'pytorch':
        raise UserInputError(
            f'--launcher {cfg.launcher} needs GPUs here; on CPUs start the '
            'processes with torchrun (tools/dist_train.sh, --launcher '
            'pytorch)')
    kwargs = dict(cfg.env_cfg.get('dist_cfg', {}))
    kwargs.pop('backend', None)
    if 'timeout' in kwargs:
        kwargs['timeout'] = datetime.timedelta(seconds=kwargs['timeout'])
    torch.distributed.init_process_group(backend='gloo', **kwargs)
    wrapper = cfg.get('model_wrapper_cfg') or dict(
        type='MMDistributedDataParallel',
        broadcast_buffers=False,
        find_unused_parameters=cfg.get('find_unused_parameters', False))
    cfg.model_wrapper_cfg = dict(wrapper, device_ids=None)


def build_runner(cfg: Config) -> Runner:
    setup_cpu_distributed(cfg)
    if 'runner_type' in cfg:
        return RUNNERS.build(cfg)
    return CheckedRunner.from_cfg(cfg)


def set_local_rank(local_rank: int) -> None:
    """Older launchers pass ``--local-rank``; mmengine reads the variable."""
    os.environ.setdefault('LOCAL_RANK', str(local_rank))
