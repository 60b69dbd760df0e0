"""Generate the small ADE20K-format demo set (synthetic shapes, label maps).

    python tools/misc/make_ade20k_demo.py data/ade20k_demo --num-train 300

The set has ADE20K's layout (images/{training,validation}/*.jpg,
annotations/{training,validation}/*.png, label 0 = unlabeled); equal seeds
give equal files.
"""
import argparse
import sys
import time

from fasternet_mm.datasets import ade20k_demo_exists, make_ade20k_demo


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Generate a small ADE20K-format semantic-segmentation set')
    parser.add_argument(
        'out_dir', nargs='?', default='data/ade20k_demo', help='output root')
    parser.add_argument('--num-train', type=int, default=300)
    parser.add_argument('--num-val', type=int, default=50)
    parser.add_argument(
        '--img-size', type=int, default=128, help='image side in pixels')
    parser.add_argument('--max-objects', type=int, default=4)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--overwrite',
        action='store_true',
        help='regenerate even if the set exists')
    parser.add_argument(
        '--no-progress', action='store_true', help='hide the progress bar')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if ade20k_demo_exists(args.out_dir) and not args.overwrite:
        print(f'{args.out_dir}: demo set exists, keeping it '
              '(--overwrite regenerates it)')
        return
    start = time.time()
    img_dirs = make_ade20k_demo(
        args.out_dir,
        num_train=args.num_train,
        num_val=args.num_val,
        img_size=args.img_size,
        seed=args.seed,
        max_objects=args.max_objects,
        progress=not args.no_progress)
    print(f'wrote {args.num_train} training + {args.num_val} validation '
          f'images ({args.img_size}x{args.img_size}, seed {args.seed}) in '
          f'{time.time() - start:.1f}s: ' + ', '.join(img_dirs.values()))


if __name__ == '__main__':
    try:
        main()
    except ValueError as e:
        sys.exit(f'error: {e}')
