"""The COCO-format demo set: COCO's layout and format, reproducible by seed."""
import filecmp
import json
import os
import os.path as osp

import numpy as np
import pytest
from helpers import run_tool
from pycocotools.coco import COCO

from fasternet_mm.demo import (COCO_DEMO_CLASSES, coco_demo_exists,
                               make_coco_demo)


def make(root, seed=0, **kwargs):
    kwargs = {'num_train': 5, 'num_val': 3, 'img_size': 64, **kwargs}
    return make_coco_demo(str(root), seed=seed, progress=False, **kwargs)


def test_set_has_coco_layout_and_both_splits(tmp_path):
    assert not coco_demo_exists(str(tmp_path))
    ann_files = make(tmp_path)
    assert coco_demo_exists(str(tmp_path))
    assert ann_files == {
        'train': str(tmp_path / 'annotations' / 'instances_train2017.json'),
        'val': str(tmp_path / 'annotations' / 'instances_val2017.json')
    }
    for split, folder, num in (('train', 'train2017', 5), ('val', 'val2017',
                                                           3)):
        coco = COCO(ann_files[split])
        assert len(coco.getImgIds()) == num
        assert [c['name'] for c in coco.loadCats(coco.getCatIds())
                ] == list(COCO_DEMO_CLASSES)
        for img in coco.loadImgs(coco.getImgIds()):
            assert osp.isfile(tmp_path / folder / img['file_name'])
            assert len(coco.getAnnIds(imgIds=img['id'])) >= 1


def test_annotations_are_polygons_matching_boxes_and_areas(tmp_path):
    coco = COCO(make(tmp_path, num_train=8, img_size=96)['train'])
    anns = coco.loadAnns(coco.getAnnIds())
    assert anns
    for ann in anns:
        assert ann['iscrowd'] == 0
        assert isinstance(ann['segmentation'], list)  # polygon, not RLE
        polygon = np.array(ann['segmentation'][0]).reshape(-1, 2)
        x, y, w, h = ann['bbox']
        assert polygon[:, 0].min() == pytest.approx(x, abs=0.01)
        assert polygon[:, 1].max() == pytest.approx(y + h, abs=0.02)
        assert 0 <= x and x + w <= 96.02 and 0 <= y and y + h <= 96.02
        # pycocotools' rasterisation agrees with the stored area (the pixel
        # count of the drawn shape) up to the boundary pixels.
        perimeter = np.linalg.norm(
            polygon - np.roll(polygon, 1, axis=0), axis=1).sum()
        assert abs(coco.annToMask(ann).sum() - ann['area']) <= perimeter


def test_same_seed_gives_the_same_files_another_seed_others(tmp_path):
    make(tmp_path / 'a', seed=3)
    make(tmp_path / 'b', seed=3)
    make(tmp_path / 'c', seed=4)
    for sub in ('annotations', 'train2017', 'val2017'):
        cmp = filecmp.dircmp(tmp_path / 'a' / sub, tmp_path / 'b' / sub)
        assert cmp.left_list == cmp.right_list
        _, mismatch, errors = filecmp.cmpfiles(
            tmp_path / 'a' / sub,
            tmp_path / 'b' / sub,
            cmp.left_list,
            shallow=False)
        assert not mismatch and not errors
    with open(tmp_path / 'a/annotations/instances_train2017.json') as f:
        a = json.load(f)
    with open(tmp_path / 'c/annotations/instances_train2017.json') as f:
        c = json.load(f)
    assert a['annotations'] != c['annotations']


def test_images_do_not_depend_on_the_set_size(tmp_path):
    make(tmp_path / 'small', num_train=2)
    make(tmp_path / 'large', num_train=6)
    assert filecmp.cmp(
        tmp_path / 'small/train2017/000000000002.png',
        tmp_path / 'large/train2017/000000000002.png',
        shallow=False)


def test_train_and_val_images_differ(tmp_path):
    make(tmp_path)
    assert not filecmp.cmp(
        tmp_path / 'train2017/000000000001.png',
        tmp_path / 'val2017/000000000001.png',
        shallow=False)


def test_mmdet_coco_dataset_reads_the_set(tmp_path):
    from mmdet.datasets import CocoDataset
    make(tmp_path)
    dataset = CocoDataset(
        data_root=str(tmp_path),
        ann_file='annotations/instances_val2017.json',
        data_prefix=dict(img='val2017/'),
        metainfo=dict(classes=COCO_DEMO_CLASSES),
        pipeline=[])
    assert len(dataset) == 3
    instance = dataset[0]['instances'][0]
    assert 0 <= instance['bbox_label'] < len(COCO_DEMO_CLASSES)
    assert instance['mask'] and len(instance['mask'][0]) >= 6


def test_bad_sizes_are_rejected(tmp_path):
    with pytest.raises(ValueError, match='num_val=0'):
        make(tmp_path, num_val=0)
    with pytest.raises(ValueError, match='img_size'):
        make(tmp_path, img_size=16)


def test_cli_shows_progress_and_keeps_an_existing_set(tmp_path):
    args = [
        'coco',
        str(tmp_path), '--num-train', '4', '--num-val', '2', '--img-size', '64'
    ]
    first = run_tool('misc/make_demo_data.py', *args, check=False)
    assert first.returncode == 0, first.stderr
    assert 'coco_demo train' in first.stderr and '4/4' in first.stderr
    assert 'wrote 4 train + 2 val images' in first.stdout
    stamp = os.stat(tmp_path / 'annotations/instances_train2017.json')
    second = run_tool('misc/make_demo_data.py', *args, check=False)
    assert second.returncode == 0 and 'exists, keeping it' in second.stdout
    assert os.stat(tmp_path / 'annotations/instances_train2017.json'
                   ).st_mtime_ns == stamp.st_mtime_ns
