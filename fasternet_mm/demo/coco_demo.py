"""A small COCO-format instance-segmentation set of synthetic shape scenes.

COCO itself is a 20 GB download; the detection demo and the tests train on
this set instead. It has COCO's layout, so a COCO config only needs another
``data_root`` and the class names::

    data/coco_demo/
        annotations/instances_train2017.json
        annotations/instances_val2017.json
        train2017/000000000001.png ...
        val2017/000000000001.png ...

Objects are the shapes of :mod:`fasternet_mm.demo.synthetic`, each
annotated with its polygon (COCO ``segmentation``), box and area. Every image
is drawn from its own random stream seeded by ``(seed, split, index)``, so a
seed gives the same files on every machine, whatever the set sizes.
"""
import json
import os
import os.path as osp
from typing import Dict

import cv2
import numpy as np

from .synthetic import SHAPES, check_set_sizes, split_scenes

COCO_DEMO_CLASSES = SHAPES
# Drawing colours (RGB) for the visualizer, chosen to stand out from the
# shapes' own colours.
COCO_DEMO_PALETTE = [(0, 255, 255), (255, 0, 255), (255, 140, 0),
                     (140, 0, 255)]
# Split name -> (COCO folder / annotation suffix, stream id).
_SPLITS = {'train': ('train2017', 0), 'val': ('val2017', 1)}


def coco_demo_metainfo() -> Dict:
    """``metainfo`` for mmdet's ``CocoDataset`` on this set."""
    return dict(
        classes=tuple(COCO_DEMO_CLASSES), palette=list(COCO_DEMO_PALETTE))


def _annotation(polygon: np.ndarray, mask: np.ndarray, ann_id: int,
                img_id: int, label: int) -> Dict:
    xs, ys = polygon[:, 0], polygon[:, 1]
    x0, y0 = float(xs.min()), float(ys.min())
    return dict(
        id=ann_id,
        image_id=img_id,
        category_id=label + 1,
        segmentation=[[round(float(v), 2) for v in polygon.reshape(-1)]],
        area=float(mask.sum()),
        bbox=[
            round(x0, 2),
            round(y0, 2),
            round(float(xs.max()) - x0, 2),
            round(float(ys.max()) - y0, 2)
        ],
        iscrowd=0)


def make_coco_demo(out_dir: str,
                   num_train: int = 200,
                   num_val: int = 50,
                   img_size: int = 160,
                   seed: int = 0,
                   max_objects: int = 4,
                   progress: bool = True) -> Dict[str, str]:
    """Write the train and val splits of the demo set under ``out_dir``.

    Args:
        out_dir: Root of the set (the config's ``data_root``).
        num_train, num_val: Images per split.
        img_size: Side of the square images, in pixels.
        seed: Seed of the whole set; equal seeds give equal files.
        max_objects: Most objects per image (at least one each).
        progress: Show a tqdm progress bar per split.

    Returns:
        The path of each split's annotation file, by split name.
    """
    check_set_sizes(num_train, num_val, img_size)
    categories = [
        dict(id=i + 1, name=name, supercategory='shape')
        for i, name in enumerate(COCO_DEMO_CLASSES)
    ]
    ann_dir = osp.join(out_dir, 'annotations')
    os.makedirs(ann_dir, exist_ok=True)
    ann_files = {}
    for split, num in (('train', num_train), ('val', num_val)):
        folder, stream = _SPLITS[split]
        os.makedirs(osp.join(out_dir, folder), exist_ok=True)
        images, annotations = [], []
        for i, img, objects in split_scenes(num, img_size, seed, stream,
                                            max_objects, f'coco_demo {split}',
                                            progress):
            img_id = i + 1
            file_name = f'{img_id:012d}.png'
            cv2.imwrite(
                osp.join(out_dir, folder, file_name),
                cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
            images.append(
                dict(
                    id=img_id,
                    file_name=file_name,
                    height=img_size,
                    width=img_size))
            for obj in objects:
                annotations.append(
                    _annotation(obj['polygon'], obj['mask'],
                                len(annotations) + 1, img_id, obj['label']))
        ann_file = osp.join(ann_dir, f'instances_{folder}.json')
        with open(ann_file, 'w') as f:
            json.dump(
                dict(
                    info=dict(description='fasternet_mm synthetic shapes '
                              f'(seed {seed})'),
                    images=images,
                    annotations=annotations,
                    categories=categories), f)
        ann_files[split] = ann_file
    return ann_files


def coco_demo_exists(out_dir: str) -> bool:
    """Whether both annotation files of a demo set exist under ``out_dir``."""
    return all(
        osp.isfile(osp.join(out_dir, 'annotations', f'instances_{f}.json'))
        for f, _ in _SPLITS.values())
