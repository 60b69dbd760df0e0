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

from fasternet_mm.errors import UserInputError, run_tool
from fasternet_mm.runtime import load_config, optimize_for_inference
from fasternet_mm.runtime.cli import (checkpoint_or_deployed, device,
                                      existing_file, image_file, image_output)
from fasternet_mm.runtime.deploy import deployed_inferencer, is_deployed_dir


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
        '--score-thr', type=float, default=0.3, help='lowest score drawn')
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
    deployed = is_deployed_dir(args.checkpoint)
    if deployed:
        inferencer = deployed_inferencer(
            load_config(args.config), args.checkpoint, args.device)
    else:
        from mmdet.apis import DetInferencer
        inferencer = DetInferencer(
            model=args.config,
            weights=args.checkpoint,
            device=args.device,
            show_progress=False)
    if (args.deploy or args.fast) and not deployed:
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
