"""Train a detector or a segmentor (the config's default_scope decides).

Arguments follow MMDetection's ``tools/train.py``.
"""
import argparse
import os

from fasternet_mm.errors import UserInputError, run_tool
from fasternet_mm.runtime import (build_runner, check_data,
                                  check_input_padding, load_config)
from fasternet_mm.runtime.cli import CfgOptions
from fasternet_mm.runtime.fileio import lock_work_dir
from fasternet_mm.runtime.setup_env import enable_amp, set_local_rank


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
    set_local_rank(args.local_rank)
    return args


def main(argv=None):
    args = parse_args(argv)
    cfg = load_config(args.config, args.cfg_options, args.work_dir,
                      args.launcher)
    if args.amp:
        enable_amp(cfg)
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
    check_data(cfg, ['train', 'val'])
    # Before mmengine opens a log folder; by the one process that surely is
    # rank 0 (slurm/mpi ranks are known later: the hook locks there).
    if args.launcher == 'none' or (args.launcher == 'pytorch'
                                   and os.environ.get('RANK') == '0'):
        lock_work_dir(cfg.work_dir)
    build_runner(cfg).train()


if __name__ == '__main__':
    run_tool(main)
