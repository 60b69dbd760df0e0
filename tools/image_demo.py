"""Draw a detector's boxes and masks on an image.

    python tools/image_demo.py demo.jpg configs/mask_rcnn_fasternet_s.py \
        work_dirs/mask_rcnn_fasternet_s/epoch_12.pth --out-file result.jpg

MMDetection's ``DetInferencer`` behind a small CLI; the class names come from
the checkpoint (saved by tools/train.py), the colours from the config.
``--deploy`` / ``--fast`` run ``optimize_for_inference``
(exact / reduced precision) as ``tools/test.py`` does.
"""
import argparse
import os
import os.path as osp

import mmcv
import torch

from fasternet_mm.errors import UserInputError, run_tool
from fasternet_mm.runtime import load_config
from fasternet_mm.runtime.cli import check_output, existing_file
from fasternet_mm.runtime.deploy import (deployed_inferencer, is_deployed_dir,
                                         optimize_for_inference)

IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp')


def score(text: str) -> float:
    """A score threshold: a number in [0, 1]."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f'{text!r} is not a number')
    if not 0 <= value <= 1:  # NaN fails too
        raise argparse.ArgumentTypeError(f'{text} is not a score in [0, 1]')
    return value


def checkpoint_or_deployed(text: str) -> str:
    """A checkpoint file, a URL, or a folder of tools/deployment/deploy.py
    (checked when it is opened)."""
    return text if '://' in text or is_deployed_dir(text) else \
        existing_file(text)


def image_file(text: str) -> str:
    """A local image that OpenCV (mmcv's reader) can decode."""
    existing_file(text)
    try:
        ok = mmcv.imread(text) is not None
    except Exception:  # noqa: B902  (whatever the decoder raises)
        ok = False
    if not ok:
        raise argparse.ArgumentTypeError(
            f'{text!r} is not an image that OpenCV can read (e.g. .jpg, '
            '.png)')
    return text


def image_output(text: str) -> str:
    """A picture to write: its extension names the format."""
    if osp.splitext(text)[1].lower() not in IMAGE_EXTENSIONS:
        raise argparse.ArgumentTypeError(
            f'{text!r}: the file name must end in an image extension '
            f'({", ".join(IMAGE_EXTENSIONS)}), which selects the format')
    return text


def device(text: str) -> str:
    """A torch device that this machine has."""
    try:
        dev = torch.device(text)
    except RuntimeError:
        raise argparse.ArgumentTypeError(
            f'{text!r} is not a device (e.g. cpu, cuda, cuda:0)')
    if dev.type == 'cuda':
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if (dev.index or 0) >= count:
            raise argparse.ArgumentTypeError(
                f'{text}: this machine has {count} CUDA device(s); use '
                '--device cpu' + (f' or cuda:0..{count - 1}' if count else ''))
    return text


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Draw the boxes and masks a detector finds in an image')
    parser.add_argument('img', type=image_file, help='image file')
    parser.add_argument('config', type=existing_file, help='config file')
    parser.add_argument(
        'checkpoint',
        type=checkpoint_or_deployed,
        help='checkpoint file or URL, or a folder of '
        'tools/deployment/deploy.py')
    parser.add_argument(
        '--out-file',
        type=image_output,
        default='outputs/image_demo.jpg',
        help='where to write the picture (its extension names the format)')
    parser.add_argument(
        '--device', type=device, default='cpu', help='e.g. cpu, cuda:0')
    parser.add_argument(
        '--score-thr',
        type=score,
        default=0.3,
        help='lowest score drawn, in [0, 1]')
    parser.add_argument(
        '--deploy',
        action='store_true',
        help='fold norms into convs and use channels_last (exact)')
    parser.add_argument(
        '--fast',
        action='store_true',
        help='--deploy plus reduced precision where the hardware has it')
    parser.add_argument(
        '--print-result',
        action='store_true',
        help='also print the labels, scores and boxes')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if load_config(args.config).default_scope != 'mmdet':
        raise UserInputError(
            f'{args.config} is not a detection config (default_scope '
            "'mmdet'): this tool draws a detector's boxes and masks; paint a "
            "segmentor's predictions with tools/test.py --show-dir")
    check_output(args.out_file, args.img, args.config, args.checkpoint)
    deployed = is_deployed_dir(args.checkpoint)
    if deployed:
        inferencer = deployed_inferencer(
            load_config(args.config),
            args.checkpoint,
            args.device,
            deploy=args.deploy,
            fast=args.fast)
    else:
        from mmdet.apis import DetInferencer
        inferencer = DetInferencer(
            model=args.config,
            weights=args.checkpoint,
            device=args.device,
            show_progress=False)
    if args.deploy or args.fast:
        optimize_for_inference(inferencer.model,
                               'auto' if args.fast else 'fp32')
    result = inferencer(
        args.img,
        return_vis=True,
        no_save_vis=True,
        pred_score_thr=args.score_thr)
    pred = result['predictions'][0]
    if args.print_result:
        classes = inferencer.model.dataset_meta['classes']
        for label, score, box in zip(pred['labels'], pred['scores'],
                                     pred['bboxes']):
            if score >= args.score_thr:
                print(f'{classes[label]:>12s} {score:.3f} '
                      f'[{", ".join(f"{v:.1f}" for v in box)}]')
    os.makedirs(osp.dirname(osp.abspath(args.out_file)), exist_ok=True)
    mmcv.imwrite(mmcv.rgb2bgr(result['visualization'][0]), args.out_file)
    kept = sum(s >= args.score_thr for s in pred['scores'])
    print(f'{kept} object(s) with score >= {args.score_thr}; picture saved '
          f'to {args.out_file}')
    return args.out_file


if __name__ == '__main__':
    run_tool(main)
