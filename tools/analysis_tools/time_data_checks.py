"""Time the pre-training data checks (fasternet_mm.runtime.check_data) on a
COCO-sized annotation file.

Writes, unless it is there, a synthetic COCO ``instances_train2017.json``
of COCO's size (118,287 images, 860,001 annotations with polygon masks,
about 450 MB) and one small 640x480 JPEG per image under ROOT (the checks
read a sample of image headers), then runs the checks that tools/train.py
runs on the detection config pointed at ROOT:

    python tools/analysis_tools/time_data_checks.py /tmp/coco_size

ROOT needs about 1 GB of disk; the checks parse the JSON once and let
mmdet build the dataset from it once (as training does), one after the
other: their peak memory is about that of mmdet's own loading.
"""
import argparse
import io
import json
import os
import os.path as osp
import random
import resource
import time

from PIL import Image

from fasternet_mm.errors import run_tool
from fasternet_mm.runtime import check_data, load_config

CONFIG = osp.join(
    osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))), 'configs',
    'mask_rcnn_fasternet_t0.py')
NUM_IMAGES, NUM_ANNOTATIONS = 118287, 860001


def make_annotations(root: str, seed: int = 0) -> str:
    from mmdet.datasets import CocoDataset
    classes = CocoDataset.METAINFO['classes']
    ann_dir = osp.join(root, 'annotations')
    img_dir = osp.join(root, 'train2017')
    os.makedirs(ann_dir, exist_ok=True)
    os.makedirs(img_dir, exist_ok=True)
    path = osp.join(ann_dir, 'instances_train2017.json')
    if osp.isfile(path):
        return path
    rng = random.Random(seed)
    images = []
    picture = io.BytesIO()
    Image.new('RGB', (640, 480)).save(picture, format='JPEG')
    for i in range(1, NUM_IMAGES + 1):
        name = f'{i:012d}.jpg'
        with open(osp.join(img_dir, name), 'wb') as f:
            f.write(picture.getvalue())
        images.append(
            dict(id=i, file_name=name, width=640, height=480, license=1))
    with open(path + '.part', 'w') as f:
        f.write('{"info": {}, "licenses": [], "images": ')
        json.dump(images, f)
        f.write(', "categories": ')
        json.dump([
            dict(id=i + 1, name=c, supercategory='thing')
            for i, c in enumerate(classes)
        ], f)
        f.write(', "annotations": [')
        for i in range(1, NUM_ANNOTATIONS + 1):
            x, y = rng.uniform(0, 500), rng.uniform(0, 350)
            w, h = rng.uniform(2, 140), rng.uniform(2, 130)
            # COCO's polygons average about 24 points (48 coordinates).
            poly = [
                round(
                    rng.uniform(x, x + w) if j %
                    2 == 0 else rng.uniform(y, y + h), 2) for j in range(48)
            ]
            ann = dict(
                id=i,
                image_id=rng.randint(1, NUM_IMAGES),
                category_id=rng.randint(1, len(classes)),
                bbox=[round(x, 2),
                      round(y, 2),
                      round(w, 2),
                      round(h, 2)],
                area=round(w * h * 0.6, 2),
                iscrowd=0,
                segmentation=[poly])
            f.write(('' if i == 1 else ', ') + json.dumps(ann))
        f.write(']}')
    os.replace(path + '.part', path)
    return path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('root', help='folder for the synthetic set')
    args = parser.parse_args(argv)
    path = make_annotations(args.root)
    root = args.root.rstrip('/') + '/'
    cfg = load_config(
        CONFIG, cfg_options={'train_dataloader.dataset.data_root': root})
    start = time.perf_counter()
    check_data(cfg, ['train'])
    took = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(f'{path}: {osp.getsize(path) / 2**20:.0f} MiB, {NUM_IMAGES} '
          f'images, {NUM_ANNOTATIONS} annotations: check_data took '
          f'{took:.1f} s, peak memory {peak:.1f} GiB')


if __name__ == '__main__':
    run_tool(main)
