"""Generate a demo set of synthetic shape scenes, in COCO or ADE20K layout.

    python tools/misc/make_demo_data.py coco data/coco_demo
    python tools/misc/make_demo_data.py ade20k data/ade20k_demo --num-train 300

``coco``: annotations/instances_{train,val}2017.json, train2017/, val2017/
(instance polygons). ``ade20k``: images/{training,validation}/*.jpg,
annotations/{training,validation}/*.png (label maps, 0 = unlabeled). Equal
seeds give equal files; an existing set is kept unless ``--overwrite``.
"""
import argparse
import time

from fasternet_mm.demo import (ade20k_demo_exists, coco_demo_exists,
                               make_ade20k_demo, make_coco_demo)
from fasternet_mm.errors import run_tool

# Per layout: generator, existence check and the demo configs' defaults.
LAYOUTS = {
    'coco':
    dict(
        make=make_coco_demo,
        exists=coco_demo_exists,
        out_dir='data/coco_demo',
        num_train=200,
        img_size=160),
    'ade20k':
    dict(
        make=make_ade20k_demo,
        exists=ade20k_demo_exists,
        out_dir='data/ade20k_demo',
        num_train=300,
        img_size=128),
}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Generate a small synthetic demo set')
    parser.add_argument('layout', choices=list(LAYOUTS))
    parser.add_argument(
        'out_dir', nargs='?', help='output root (default: data/<layout>_demo)')
    parser.add_argument(
        '--num-train', type=int, help='default: 200 (coco), 300 (ade20k)')
    parser.add_argument('--num-val', type=int, default=50)
    parser.add_argument(
        '--img-size',
        type=int,
        help='image side in pixels; default: 160 (coco), 128 (ade20k)')
    parser.add_argument('--max-objects', type=int, default=4)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--overwrite', action='store_true', help='regenerate an existing set')
    parser.add_argument(
        '--no-progress', action='store_true', help='hide the progress bar')
    args = parser.parse_args(argv)
    for key in ('out_dir', 'num_train', 'img_size'):
        if getattr(args, key) is None:
            setattr(args, key, LAYOUTS[args.layout][key])
    return args


def main(argv=None):
    args = parse_args(argv)
    layout = LAYOUTS[args.layout]
    if layout['exists'](args.out_dir) and not args.overwrite:
        print(f'{args.out_dir}: demo set exists, keeping it '
              '(--overwrite regenerates it)')
        return
    start = time.time()
    paths = layout['make'](
        args.out_dir,
        num_train=args.num_train,
        num_val=args.num_val,
        img_size=args.img_size,
        seed=args.seed,
        max_objects=args.max_objects,
        progress=not args.no_progress)
    print(f'wrote {args.num_train} train + {args.num_val} val images '
          f'({args.img_size}x{args.img_size}, seed {args.seed}) in '
          f'{time.time() - start:.1f}s: ' + ', '.join(paths.values()))


if __name__ == '__main__':
    run_tool(main)
