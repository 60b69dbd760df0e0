"""What a training run costs before its first iteration, at COCO's size.

    python tools/analysis_tools/time_data_checks.py ROOT [--images N] [--train]

Writes (unless it is there) a synthetic COCO ``instances_train2017.json``
of COCO's density (N images, default COCO's 118,287, with 7.27 polygon
annotations of 24 points each) and one small JPEG per image under ROOT.
Then, in this process, mmdet builds the train dataset of the demo Mask
R-CNN config as the Runner does, and :func:`check_dataset` (what
``SetupCheckHook`` runs before training) checks it: the time and peak
memory of each are printed.

``--train`` also trains 2 iterations (no validation, ``num_workers=0``)
with tools/train.py and with MMDetection's own train.py on that set, each in
a fresh process, and prints their wall time, peak memory and the ratios.
"""
import argparse
import io
import json
import os
import os.path as osp
import random
import resource
import subprocess
import sys
import time

from PIL import Image

from fasternet_mm.errors import run_tool
from fasternet_mm.runtime import load_config
from fasternet_mm.runtime.data_checks import check_dataset

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(REPO, 'configs', 'demo',
                  'mask_rcnn_fasternet_t0_coco_demo.py')
COCO_IMAGES, ANNOTATIONS_PER_IMAGE = 118287, 860001 / 118287


def make_set(root: str, num_images: int, seed: int = 0) -> str:
    """The synthetic set under ``root``; returns its annotation file."""
    path = osp.join(root, 'annotations', 'instances_train2017.json')
    if osp.isfile(path):
        return path
    for folder in ('annotations', 'train2017'):
        os.makedirs(osp.join(root, folder), exist_ok=True)
    rng = random.Random(seed)
    picture = io.BytesIO()
    Image.new('RGB', (640, 480)).save(picture, format='JPEG')
    images = []
    for i in range(1, num_images + 1):
        name = f'{i:012d}.jpg'
        with open(osp.join(root, 'train2017', name), 'wb') as f:
            f.write(picture.getvalue())
        images.append(dict(id=i, file_name=name, width=640, height=480))
    classes = ('circle', 'square', 'triangle', 'star')
    with open(path + '.part', 'w') as f:
        f.write('{"images": ')
        json.dump(images, f)
        f.write(', "categories": ')
        json.dump([dict(id=i + 1, name=c) for i, c in enumerate(classes)], f)
        f.write(', "annotations": [')
        for i in range(1, round(num_images * ANNOTATIONS_PER_IMAGE) + 1):
            x, y = rng.uniform(0, 500), rng.uniform(0, 350)
            w, h = rng.uniform(2, 140), rng.uniform(2, 130)
            poly = [
                round(
                    rng.uniform(x, x + w) if j %
                    2 == 0 else rng.uniform(y, y + h), 2) for j in range(48)
            ]
            ann = dict(
                id=i,
                image_id=rng.randint(1, num_images),
                category_id=rng.randint(1, len(classes)),
                bbox=[round(v, 2) for v in (x, y, w, h)],
                area=round(w * h * 0.6, 2),
                iscrowd=0,
                segmentation=[poly])
            f.write(('' if i == 1 else ', ') + json.dumps(ann))
        f.write(']}')
    os.replace(path + '.part', path)
    return path


def peak_gib(usage) -> float:
    return usage.ru_maxrss / 2**20  # KiB on Linux


def time_checks(root: str) -> None:
    from mmdet.registry import DATASETS
    from mmengine.registry import init_default_scope
    cfg = load_config(
        CONFIG, cfg_options={'train_dataloader.dataset.data_root': root})
    init_default_scope('mmdet')
    start = time.perf_counter()
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    built = time.perf_counter()
    built_peak = peak_gib(resource.getrusage(resource.RUSAGE_SELF))
    check_dataset(dataset, 'train')
    checked = time.perf_counter()
    print(f"mmdet's dataset build: {built - start:.1f} s, peak memory "
          f'{built_peak:.2f} GiB; check_dataset on it: {checked - built:.1f} '
          f's, peak memory then '
          f'{peak_gib(resource.getrusage(resource.RUSAGE_SELF)):.2f} GiB')


def train(tool: str, root: str, work_dir: str):
    """Wall seconds and peak GiB of 2 iterations of ``tool``."""
    options = [
        f'train_dataloader.dataset.data_root={root}',
        'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False', 'val_dataloader=None',
        'val_cfg=None', 'val_evaluator=None', 'param_scheduler=[]',
        'train_cfg._delete_=True', 'train_cfg.type=IterBasedTrainLoop',
        'train_cfg.max_iters=2', 'default_hooks.checkpoint.interval=1000'
    ]
    start = time.perf_counter()
    proc = subprocess.Popen([
        sys.executable, tool, CONFIG, '--work-dir', work_dir, '--cfg-options',
        *options
    ],
                            cwd=REPO,
                            env=dict(os.environ, PYTHONPATH=REPO),
                            stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    if status:
        raise RuntimeError(f'{tool} failed ({status})')
    return time.perf_counter() - start, peak_gib(usage)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('root', help='folder of the synthetic set')
    parser.add_argument('--images', type=int, default=COCO_IMAGES)
    parser.add_argument('--train', action='store_true')
    args = parser.parse_args(argv)
    root = osp.abspath(args.root) + '/'
    path = make_set(root, args.images)
    print(f'{path}: {osp.getsize(path) / 2**20:.0f} MiB, {args.images} '
          'images')
    time_checks(root)
    if args.train:
        import mmdet
        theirs = osp.join(
            osp.dirname(mmdet.__file__), '.mim', 'tools', 'train.py')
        ours = osp.join(REPO, 'tools', 'train.py')
        runs = {
            name: train(tool, root, osp.join(root, f'work_{name}'))
            for name, tool in (('mmdet', theirs), ('ours', ours))
        }
        for name, (wall, peak) in runs.items():
            print(f'{name} train.py, 2 iterations: {wall:.1f} s, peak memory '
                  f'{peak:.2f} GiB')
        (wall0, peak0), (wall1, peak1) = runs['mmdet'], runs['ours']
        print(f'ours / mmdet: time {wall1 / wall0:.2f}x, peak memory '
              f'{peak1 / peak0:.2f}x')


if __name__ == '__main__':
    run_tool(main)
