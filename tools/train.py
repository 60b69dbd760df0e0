"""Train a detector or a segmentor (the config's default_scope decides).

Arguments follow MMDetection's ``tools/train.py``.
"""
import argparse
import os

import torch

from fasternet_mm.errors import UserInputError, run_tool
from fasternet_mm.runtime import check_input_padding, load_config, run
from fasternet_mm.runtime.cli import CfgOptions


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Train a detector/segmentor')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--amp', action='store_true', help='mixed-precision training (GPU)')
    parser.add_argument(
        '--auto-scale-lr',
        action='store_true',
        help='scale the lr by the actual batch size / auto_scale_lr.'
        'base_batch_size')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume from this checkpoint, or without a path from the latest '
        'checkpoint in the work dir')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=CfgOptions,
        help='override config settings, e.g. train_cfg.max_iters=100')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    # older launchers pass --local-rank; mmengine reads the variable
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def main(argv=None):
    args = parse_args(argv)
    cfg = load_config(args.config, args.cfg_options, args.work_dir,
                      args.launcher)
    if args.amp:
        if not torch.cuda.is_available():
            raise UserInputError(
                "--amp needs a CUDA GPU (mmengine's AmpOptimWrapper); drop "
                '--amp to train in fp32 on this machine')
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
    if args.auto_scale_lr:
        base = (cfg.get('auto_scale_lr') or {}).get('base_batch_size')
        if isinstance(base, bool) or not isinstance(base, int) or base <= 0:
            raise UserInputError(
                '--auto-scale-lr needs auto_scale_lr=dict(base_batch_size=N) '
                f'with N > 0 in the config (it has {cfg.get("auto_scale_lr")})'
            )
        cfg.auto_scale_lr.enable = True
    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume
    check_input_padding(cfg)
    run(cfg, 'train')


if __name__ == '__main__':
    run_tool(main)
