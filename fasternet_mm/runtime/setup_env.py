"""Building and running the Runner for our tools, on any machine: data
paths checked first, a dataset mmdet / mmseg cannot build reported as one
error, and without CUDA ``gloo`` and BN for mmengine's NCCL and SyncBN."""
import datetime
import os
import os.path as osp
import tempfile

import torch
from mmengine.config import Config
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

from ..errors import ConfigValueError, DataError, UserInputError
from .data_checks import DATA_HELP
from .fileio import DiskWriteError


def adapt_to_machine(cfg: Config) -> None:
    """Without CUDA: BN for SyncBN, and a ``gloo`` process group for a
    distributed run (started here, so the Runner skips mmengine's
    ``init_dist``; DDP gets no GPU ``device_ids``)."""
    if torch.cuda.is_available():
        return
    _sync_bn_to_bn(cfg.model)
    if cfg.launcher == 'none' or torch.distributed.is_initialized():
        return
    if cfg.launcher != 'pytorch':
        raise UserInputError(
            f'--launcher {cfg.launcher} needs GPUs here; on CPUs start the '
            'processes with torchrun (tools/dist_train.sh, --launcher '
            'pytorch)')
    dist_cfg = cfg.setdefault('env_cfg', {}).setdefault('dist_cfg', {})
    dist_cfg['backend'] = 'gloo'  # as the config the run logs says
    kwargs = {k: v for k, v in dist_cfg.items() if k != 'backend'}
    if 'timeout' in kwargs:
        kwargs['timeout'] = datetime.timedelta(seconds=kwargs['timeout'])
    torch.distributed.init_process_group(backend='gloo', **kwargs)
    wrapper = cfg.get('model_wrapper_cfg') or dict(
        type='MMDistributedDataParallel',
        broadcast_buffers=False,
        find_unused_parameters=cfg.get('find_unused_parameters', False))
    cfg.model_wrapper_cfg = dict(wrapper, device_ids=None)


def _sync_bn_to_bn(node) -> None:
    if isinstance(node, dict):
        if node.get('type') == 'SyncBN':
            node['type'] = 'BN'
        node = node.values()
    if isinstance(node, (list, tuple, type({}.values()))):
        for value in node:
            _sync_bn_to_bn(value)


def check_data_paths(cfg: Config, splits) -> None:
    """Each split's ``data_root``, ``data_prefix`` folders and annotation
    file exist, and the folders are not empty (an empty one would make an
    ``InfiniteSampler`` with workers spin forever)."""
    for split in splits:
        dataset = (cfg.get(f'{split}_dataloader') or {}).get('dataset')
        while isinstance(dataset, dict) and 'dataset' in dataset:
            dataset = dataset['dataset']  # RepeatDataset and friends
        for d in (dataset.get('datasets') or [dataset]) if isinstance(
                dataset, dict) else ():
            root = d.get('data_root') or ''
            paths = [('data_root', root)] if root else []
            paths += [(f'data_prefix.{k}', osp.join(root, v))
                      for k, v in (d.get('data_prefix') or {}).items()]
            if d.get('ann_file'):
                paths.append(('ann_file', osp.join(root, d['ann_file'])))
            for key, path in paths:
                if '://' in path:
                    continue
                what = 'annotation file' if key == 'ann_file' else \
                    'data root' if key == 'data_root' else f'{key[12:]} folder'
                exists = osp.isfile(path) if key == 'ann_file' else \
                    osp.isdir(path)
                if not exists or (key != 'ann_file'
                                  and next(os.scandir(path), None) is None):
                    raise DataError(
                        f'{split} {what} {path!r} '
                        f'{"is empty" if exists else "does not exist"} (from '
                        f'{split}_dataloader.dataset.{key}); {DATA_HELP}')


def build_runner(cfg: Config) -> Runner:
    """The Runner that MMDetection's tools build, on this machine."""
    adapt_to_machine(cfg)
    if 'runner_type' in cfg:
        return RUNNERS.build(cfg)
    return Runner.from_cfg(cfg)


def run(cfg: Config, mode: str):
    """``runner.train()`` or ``runner.test()`` of ``cfg`` (``mode``), its
    datasets built first through the Runner's public loop properties: one
    mmdet / mmseg cannot build is a :class:`DataError` naming the split,
    and an epoch without a batch is refused before mmengine's schedulers
    assert on it."""
    splits = ('train', 'val') if mode == 'train' else ('test', )
    check_data_paths(cfg, splits)
    try:  # before the Runner's log file: one line, not logging's traces
        os.makedirs(cfg.work_dir, exist_ok=True)
        with tempfile.TemporaryFile(dir=cfg.work_dir, buffering=0) as probe:
            probe.write(b'0')  # a full disk still creates empty files
            os.fsync(probe.fileno())
    except OSError as e:
        raise DiskWriteError(f'cannot write {cfg.work_dir}: {e.strerror}')
    runner = build_runner(cfg)
    for split in splits:
        if cfg.get(f'{split}_dataloader') is None:
            continue
        try:
            getattr(runner, f'{split}_loop')  # built once: train() reuses it
        except UserInputError:
            raise
        except Exception as e:  # noqa: B902  (what the dataset's parser hits)
            dataset = cfg[f'{split}_dataloader'].get('dataset', {})
            source = osp.join(
                dataset.get('data_root') or '',
                dataset.get('ann_file') or '')
            reason = f'{type(e).__name__}: {" ".join(str(e).split())}'
            if 'need at least one array to concatenate' in reason:
                reason = ('the dataset has no sample (mmengine: '
                          f'{reason}); check its files and its filter_cfg')
            raise DataError(
                f'{split}_dataloader.dataset ({dataset.get("type")}) cannot '
                f'be built from {source!r}: {reason}') from None
    if mode == 'train' and len(runner.train_dataloader) == 0:
        batches = runner.train_dataloader.batch_sampler  # before mmengine
        raise ConfigValueError(  # converts epochs to 0 iterations
            f'an epoch would train no iteration: {len(batches.sampler)} '
            f'samples per process in batches of {batches.batch_size} with '
            'drop_last=True leave none; lower train_dataloader.batch_size, '
            'or set drop_last=False')
    return runner.train() if mode == 'train' else runner.test()
