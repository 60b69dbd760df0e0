"""A small ADE20K-format semantic-segmentation set of synthetic shape scenes.

ADE20K is a 1 GB download; the segmentation demo and the tests train on this
set instead. It has the layout of ``ADEChallengeData2016``, so an ADE20K
config only needs another ``data_root`` and the class names::

    data/ade20k_demo/
        images/training/ADE_train_00000001.jpg ...
        images/validation/ADE_val_00000001.jpg ...
        annotations/training/ADE_train_00000001.png ...
        annotations/validation/ADE_val_00000001.png ...

Label maps follow ADE20K's convention: one uint8 class index per pixel and 0
for "unlabeled", which MMSegmentation's ``reduce_zero_label=True`` turns into
the ignore index 255 while class ``k`` becomes ``k - 1``. Every demo pixel is
labeled: 1 is the background and ``2 + i`` the shape ``SHAPES[i]`` of
:mod:`fasternet_mm.demo.synthetic`, giving :data:`ADE20K_DEMO_CLASSES`.
Every image is drawn from its own random stream seeded by
``(seed, split, index)``, so a seed gives the same files on every machine,
whatever the set sizes.
"""
import glob
import os
import os.path as osp
from typing import Dict

import cv2
import numpy as np

from .synthetic import SHAPE_COLORS, SHAPES, check_set_sizes, split_scenes

ADE20K_DEMO_CLASSES = ('background', ) + SHAPES
ADE20K_DEMO_PALETTE = ((120, 120, 120), ) + SHAPE_COLORS
# Split name -> (ADE20K folder, file-name prefix, stream id).
_SPLITS = {
    'train': ('training', 'ADE_train', 0),
    'val': ('validation', 'ADE_val', 1)
}


def ade20k_demo_metainfo() -> Dict:
    """``metainfo`` for mmseg's ``BaseSegDataset`` on this set."""
    return dict(
        classes=tuple(ADE20K_DEMO_CLASSES),
        palette=[list(c) for c in ADE20K_DEMO_PALETTE])


def render_label_map(objects, height: int, width: int) -> np.ndarray:
    """The ADE20K-style label map (H, W, uint8) of a scene's objects."""
    label = np.ones((height, width), np.uint8)  # 1: background
    for obj in objects:
        label[obj['mask']] = obj['label'] + 2
    return label


def make_ade20k_demo(out_dir: str,
                     num_train: int = 300,
                     num_val: int = 50,
                     img_size: int = 128,
                     seed: int = 0,
                     max_objects: int = 4,
                     progress: bool = True) -> Dict[str, str]:
    """Write the training and validation splits of the demo set.

    Args:
        out_dir: Root of the set (the config's ``data_root``).
        num_train, num_val: Images per split.
        img_size: Side of the square images, in pixels.
        seed: Seed of the whole set; equal seeds give equal files.
        max_objects: Most objects per image (at least one each).
        progress: Show a tqdm progress bar per split.

    Returns:
        The image folder of each split, by split name.
    """
    check_set_sizes(num_train, num_val, img_size)
    img_dirs = {}
    for split, num in (('train', num_train), ('val', num_val)):
        folder, prefix, stream = _SPLITS[split]
        img_dir = osp.join(out_dir, 'images', folder)
        ann_dir = osp.join(out_dir, 'annotations', folder)
        os.makedirs(img_dir, exist_ok=True)
        os.makedirs(ann_dir, exist_ok=True)
        for i, img, objects in split_scenes(num, img_size, seed, stream,
                                            max_objects,
                                            f'ade20k_demo {split}', progress):
            name = f'{prefix}_{i + 1:08d}'
            # Label map first: a set cut short never has an image without one.
            cv2.imwrite(
                osp.join(ann_dir, name + '.png'),
                render_label_map(objects, img_size, img_size))
            cv2.imwrite(
                osp.join(img_dir, name + '.jpg'),
                cv2.cvtColor(img, cv2.COLOR_RGB2BGR),
                [cv2.IMWRITE_JPEG_QUALITY, 95])
        img_dirs[split] = img_dir
    return img_dirs


def ade20k_demo_exists(out_dir: str) -> bool:
    """Whether every split under ``out_dir`` has images, each with a label
    map."""
    for folder, _, _ in _SPLITS.values():
        imgs = glob.glob(osp.join(out_dir, 'images', folder, '*.jpg'))
        anns = glob.glob(osp.join(out_dir, 'annotations', folder, '*.png'))
        if not imgs or len(imgs) != len(anns):
            return False
    return True
