"""Adapting a run to the machine: CPU-only distributed runs, SyncBN, AMP.

mmengine assumes GPUs for distributed runs (NCCL, ``torch.cuda.set_device``)
and SyncBN; on CPU-only machines these run on ``gloo`` and plain BN.
"""
import datetime
import os

import torch
from mmengine.config import Config
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

from ..engine import RUN_HOOKS
from ..errors import UserInputError


def adapt_to_machine(cfg: Config) -> None:
    """Without CUDA: ``gloo`` for distributed runs and BN for SyncBN."""
    if torch.cuda.is_available():
        return
    env_cfg = cfg.setdefault('env_cfg', {})
    env_cfg.setdefault('dist_cfg', {})['backend'] = 'gloo'
    _sync_bn_to_bn(cfg.model)


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
    """The Runner MMDetection's tools build, on this machine, with the
    project's run hooks (``fasternet_mm.engine.RUN_HOOKS``) added and
    mmengine's ``CheckpointHook`` replaced by ``AtomicCheckpointHook``."""
    adapt_to_machine(cfg)
    checkpoint = (cfg.get('default_hooks') or {}).get('checkpoint')
    if checkpoint and checkpoint.get('type') in ('CheckpointHook',
                                                 'mmengine.CheckpointHook'):
        checkpoint['type'] = 'AtomicCheckpointHook'
    hooks = list(cfg.get('custom_hooks', []))
    for name in RUN_HOOKS:
        if not any(h.get('type') == name for h in hooks):
            hooks.append(dict(type=name))
    cfg.custom_hooks = hooks
    setup_cpu_distributed(cfg)
    if 'runner_type' in cfg:
        return RUNNERS.build(cfg)
    return Runner.from_cfg(cfg)


def set_local_rank(local_rank: int) -> None:
    """Older launchers pass ``--local-rank``; mmengine reads the variable."""
    os.environ.setdefault('LOCAL_RANK', str(local_rank))
