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

from ..errors import ConfigValueError, UserInputError
from .hooks import FASTERNET_HOOKS, wrap_pipelines


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


def check_run_hooks(cfg: Config) -> None:
    """Every run hook of :data:`~fasternet_mm.runtime.hooks.FASTERNET_HOOKS`
    must be in ``custom_hooks``: the config decides, the same under every
    tool (MMDetection's own ``train.py`` adds nothing)."""
    named = {
        str(h.get('type', '')).split('.')[-1]
        for h in cfg.get('custom_hooks') or []
    }
    missing = [h for h in FASTERNET_HOOKS if h not in named]
    if missing:
        raise ConfigValueError(
            f'custom_hooks lacks fasternet_mm\'s run hooks {missing}: add '
            "fasternet_mm's configs/_base_/fasternet_runtime.py to _base_ "
            'and set custom_hooks = [*_base_.custom_hooks, '
            '*_base_.fasternet_hooks] (or _base_.fasternet_hooks where the '
            'recipe has no custom_hooks)')


def build_runner(cfg: Config) -> Runner:
    """The Runner MMDetection's tools build, on this machine: the config's
    run hooks checked (:func:`check_run_hooks`), its pipelines' transforms
    wrapped so a failing sample names its file (``wrap_pipelines``), CPU
    distributed runs and SyncBN adapted (:func:`adapt_to_machine`)."""
    check_run_hooks(cfg)
    wrap_pipelines(cfg)
    adapt_to_machine(cfg)
    setup_cpu_distributed(cfg)
    if 'runner_type' in cfg:
        return RUNNERS.build(cfg)
    return Runner.from_cfg(cfg)


def set_local_rank(local_rank: int) -> None:
    """Older launchers pass ``--local-rank``; mmengine reads the variable."""
    os.environ.setdefault('LOCAL_RANK', str(local_rank))
