"""Test (and evaluate) a detector or a segmentor from a checkpoint.

Arguments follow MMDetection's ``tools/test.py``; the config's default_scope
decides between detection and segmentation.
"""
import argparse
import os

from mmengine.config import ConfigDict

from fasternet_mm.errors import UserInputError, run_tool
from fasternet_mm.runtime import check_input_padding, load_config, run
from fasternet_mm.runtime.cli import CfgOptions
from fasternet_mm.runtime.deploy import is_deployed_dir, test_deployed


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Test (and evaluate) a detector/segmentor')
    parser.add_argument('config', help='test config file path')
    parser.add_argument(
        'checkpoint',
        help='checkpoint file, or a folder of tools/deployment/deploy.py '
        '(tests the exported model on its backend)')
    parser.add_argument(
        '--work-dir', help='the dir to save the evaluation metrics')
    parser.add_argument(
        '--out',
        help='detection: dump predictions to this .pkl file; segmentation: '
        'save predicted label maps in this directory')
    parser.add_argument(
        '--show', action='store_true', help='show prediction results')
    parser.add_argument(
        '--show-dir',
        help='save painted predictions in this directory (detection: '
        'relative to work_dir/timestamp; segmentation: under '
        'DIR/vis_data/vis_image)')
    parser.add_argument(
        '--wait-time', type=float, default=2, help='the interval of show (s)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=CfgOptions,
        help='override config settings, e.g. test_dataloader.batch_size=2')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    parser.add_argument(
        '--tta', action='store_true', help='test-time augmentation (flip)')
    parser.add_argument(
        '--deploy',
        action='store_true',
        help='fold the norms into the convs (FasterNet deploy mode; mmcv '
        'for other backbones and the heads) and use channels_last after '
        'loading the checkpoint: same results within float32 round-off')
    parser.add_argument(
        '--fast',
        action='store_true',
        help='--deploy plus reduced precision where the hardware has it '
        '(bfloat16 on CPUs with AMX / AVX-512 BF16, float16 on CUDA)')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    # older launchers pass --local-rank; mmengine reads the variable
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def enable_visualization(cfg, args):
    hook = cfg.default_hooks.get('visualization')
    if hook is None:
        raise UserInputError(
            "--show/--show-dir need default_hooks.visualization="
            "dict(type='...VisualizationHook') in the config")
    hook['draw'] = True
    if args.show:
        hook['show'] = True
        hook['wait_time'] = args.wait_time
    if args.show_dir:
        if cfg.default_scope == 'mmdet':
            hook['test_out_dir'] = args.show_dir
        else:
            cfg.visualizer['save_dir'] = args.show_dir


def predicts_masks(model_cfg) -> bool:
    """Whether a detector config predicts instance masks."""
    if isinstance(model_cfg, dict):
        kind = str(model_cfg.get('type', ''))
        return 'mask_head' in model_cfg or 'Mask' in kind or 'Ins' in kind \
            or any(predicts_masks(v) for v in model_cfg.values())
    if isinstance(model_cfg, (list, tuple)):
        return any(predicts_masks(v) for v in model_cfg)
    return False


def enable_tta(cfg):
    """Wrap the model in the config's ``tta_model`` and test with its
    ``tta_pipeline``, as MMDetection's and MMSegmentation's test.py do."""
    if cfg.default_scope == 'mmdet' and predicts_masks(cfg.model):
        raise UserInputError(
            "--tta: MMDetection's DetTTAModel merges boxes only (TTA of "
            'instance segmentation is not supported upstream); test this '
            'config without --tta, or use --tta with a box detector such '
            'as configs/retinanet_fasternet_s.py')
    if 'tta_model' not in cfg or 'tta_pipeline' not in cfg:
        bases = ("MMSegmentation's datasets/*.py bases" if cfg.default_scope
                 == 'mmseg' else 'e.g. mmdet::retinanet/retinanet_tta.py, '
                 'which configs/retinanet_fasternet_s.py inherits')
        raise UserInputError(
            f'--tta needs tta_model and tta_pipeline in the config ({bases} '
            'define them)')
    cfg.model = ConfigDict(**cfg.tta_model, module=cfg.model)
    cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline


def main(argv=None):
    args = parse_args(argv)
    cfg = load_config(args.config, args.cfg_options, args.work_dir,
                      args.launcher)
    cfg.load_from = args.checkpoint
    check_input_padding(cfg)
    if is_deployed_dir(args.checkpoint):  # another config's: refused here
        test_deployed(
            cfg,
            args.checkpoint,
            tta=args.tta,
            deploy=args.deploy,
            fast=args.fast)
    if args.show or args.show_dir:
        enable_visualization(cfg, args)
    if args.tta:
        enable_tta(cfg)
    if args.deploy or args.fast:
        precision = 'auto' if args.fast else 'fp32'
        cfg.custom_hooks = list(cfg.get('custom_hooks', [])) + [
            dict(type='FastInferenceHook', precision=precision)
        ]
    if args.out is not None and cfg.default_scope == 'mmseg':
        cfg.test_evaluator['output_dir'] = args.out
        cfg.test_evaluator['keep_results'] = True
    elif args.out is not None:
        if not args.out.endswith(('.pkl', '.pickle')):
            raise UserInputError(f'--out {args.out!r} must be a .pkl file')
        evaluators = cfg.test_evaluator
        cfg.test_evaluator = [
            *(evaluators if isinstance(evaluators, list) else [evaluators]),
            dict(type='DumpDetResults', out_file_path=args.out)
        ]
    return run(cfg, 'test')


if __name__ == '__main__':
    run_tool(main)
