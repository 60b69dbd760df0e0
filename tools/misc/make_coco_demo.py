"""Generate the small COCO-format demo set (synthetic shapes, polygon masks).

    python tools/misc/make_coco_demo.py data/coco_demo --num-train 200

The set has COCO's layout (annotations/instances_{train,val}2017.json,
train2017/, val2017/); equal seeds give equal files.
"""
import argparse
import sys
import time

from fasternet_mm.datasets import coco_demo_exists, make_coco_demo


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Generate a small COCO-format instance-segmentation set')
    parser.add_argument(
        'out_dir', nargs='?', default='data/coco_demo', help='output root')
    parser.add_argument('--num-train', type=int, default=200)
    parser.add_argument('--num-val', type=int, default=50)
    parser.add_argument(
        '--img-size', type=int, default=160, help='image side in pixels')
    parser.add_argument('--max-objects', type=int, default=4)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--overwrite',
        action='store_true',
        help='regenerate even if the annotation files exist')
    parser.add_argument(
        '--no-progress', action='store_true', help='hide the progress bar')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if coco_demo_exists(args.out_dir) and not args.overwrite:
        print(f'{args.out_dir}: demo set exists, keeping it '
              '(--overwrite regenerates it)')
        return
    start = time.time()
    ann_files = make_coco_demo(
        args.out_dir,
        num_train=args.num_train,
        num_val=args.num_val,
        img_size=args.img_size,
        seed=args.seed,
        max_objects=args.max_objects,
        progress=not args.no_progress)
    print(f'wrote {args.num_train} train + {args.num_val} val images '
          f'({args.img_size}x{args.img_size}, seed {args.seed}) in '
          f'{time.time() - start:.1f}s: ' + ', '.join(ann_files.values()))


if __name__ == '__main__':
    try:
        main()
    except ValueError as e:
        sys.exit(f'error: {e}')
