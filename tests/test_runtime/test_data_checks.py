"""check_dataset: what can be found before training, on the dataset as
mmdet / mmseg built it, fails naming the file; what they cannot parse fails
in their own build, which our tools report in one line."""
import json
import os
import shutil

import numpy as np
import pytest
from helpers import DET_DEMO_CONFIG, REPO_ROOT, coco_options, load_tool
from mmengine.registry import init_default_scope
from PIL import Image

from fasternet_mm.errors import DataError
from fasternet_mm.runtime import load_config
from fasternet_mm.runtime.data_checks import check_dataset

SEG_DEMO_CONFIG = os.path.join(REPO_ROOT, 'configs', 'demo',
                               'upernet_fasternet_t0_ade20k_demo.py')


@pytest.fixture
def coco_copy(tiny_coco, tmp_path):
    root = tmp_path / 'coco'
    shutil.copytree(tiny_coco, root)
    return root


def edit(root, change, split='train'):
    """``change(coco)`` on the annotation file of ``split`` of ``root``."""
    path = root / 'annotations' / f'instances_{split}2017.json'
    coco = json.loads(path.read_text())
    change(coco)
    path.write_text(json.dumps(coco))
    return coco


def built(config, root, split='train', scope='mmdet', **dataset):
    """The ``split`` dataset of ``config`` on ``root``, built as the Runner
    builds it."""
    from importlib import import_module
    cfg = load_config(config)
    cfg[f'{split}_dataloader'].dataset.update(data_root=str(root), **dataset)
    init_default_scope(scope)
    registry = import_module(f'{scope}.registry').DATASETS
    return registry.build(cfg[f'{split}_dataloader'].dataset)


def test_a_listed_image_that_is_missing_is_named(coco_copy):
    name = sorted(os.listdir(coco_copy / 'train2017'))[2]
    (coco_copy / 'train2017' / name).unlink()
    with pytest.raises(
            DataError,
            match=rf"1 of the images that the train dataset lists "
            rf"\('.*instances_train2017.json'\) are not in .*train2017', e.g. "
            rf"\['{name}'\]; fix the data_prefix or add the files"):
        check_dataset(built(DET_DEMO_CONFIG, coco_copy), 'train')


def test_class_names_absent_from_the_file_would_shift_labels(coco_copy):
    edit(coco_copy, lambda c: c['categories'][0].update(name='disc'))
    with pytest.raises(
            DataError,
            match=r"has categories for 3 of the 4 classes of the config's "
            r"metainfo \('circle', .*mmdet would shift the labels of the "
            r'others. Set train_dataloader.dataset.metainfo='):
        check_dataset(built(DET_DEMO_CONFIG, coco_copy), 'train')


def test_a_set_that_filtering_empties_says_why(coco_copy, tmp_path):
    """mmengine's build fails on it ('need at least one array to
    concatenate') unless the dataset keeps its list unserialized."""
    edit(coco_copy, lambda c: c.update(annotations=[]))
    with pytest.raises(
            DataError,
            match=r"train dataset \(CocoDataset\) is empty: '.*' gives no "
            r'sample after its filter_cfg \(filter_empty_gt drops images '
            r'without an annotation of the classes\)'):
        check_dataset(
            built(DET_DEMO_CONFIG, coco_copy, serialize_data=False), 'train')
    with pytest.raises(
            DataError,
            match=r'cannot be built from .*: the dataset has no sample'):
        load_tool('train').main([
            DET_DEMO_CONFIG, '--work-dir',
            str(tmp_path / 'work'), '--cfg-options', *coco_options(coco_copy)
        ])


def test_exif_rotated_image_against_its_annotation_size_is_named(coco_copy):
    """OpenCV applies the EXIF orientation: the image loads 90 degrees
    rotated against the width and height (and boxes) of its annotation."""
    coco = edit(coco_copy,
                lambda c: c['images'][0].update(width=64, height=32))
    path = coco_copy / 'train2017' / coco['images'][0]['file_name']
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    Image.new('RGB', (64, 32)).save(path, format='PNG', exif=exif.tobytes())
    with pytest.raises(
            DataError,
            match=rf"train image '{path}' loads as 32x64 \(width x height\) "
            r'but its annotation says 64x32; its EXIF orientation rotates it'
            r".*LoadImageFromFile\(color_type='color_ignore_orientation'\)"):
        check_dataset(built(DET_DEMO_CONFIG, coco_copy), 'train')
    pipeline = load_config(DET_DEMO_CONFIG).train_pipeline
    pipeline[0]['color_type'] = 'color_ignore_orientation'
    check_dataset(
        built(DET_DEMO_CONFIG, coco_copy, pipeline=pipeline), 'train')


def test_an_unreadable_image_is_named(coco_copy):
    path = sorted((coco_copy / 'train2017').iterdir())[0]
    path.write_text('not an image')
    with pytest.raises(
            DataError,
            match=rf"train image '{path}' cannot be read as an image"):
        check_dataset(built(DET_DEMO_CONFIG, coco_copy), 'train')


def test_headers_are_read_for_a_sample_only(coco_copy, monkeypatch):
    """The files are all checked; headers of HEADER_SAMPLE images."""
    from fasternet_mm.runtime import data_checks
    monkeypatch.setattr(data_checks, 'HEADER_SAMPLE', 2)
    opened = []
    real = Image.open
    monkeypatch.setattr(data_checks.Image, 'open',
                        lambda p: opened.append(p) or real(p))
    check_dataset(built(DET_DEMO_CONFIG, coco_copy), 'train')
    assert len(opened) == 2


@pytest.fixture
def ade(tmp_path):
    from fasternet_mm.demo import make_ade20k_demo
    root = tmp_path / 'ade'
    make_ade20k_demo(
        str(root), num_train=2, num_val=2, img_size=64, progress=False)
    return root


@pytest.mark.parametrize('defect, message', [
    ('small', r"is 32x32 but its image '.*' loads as 64x64; each label map "
     r"must have its image's size"),
    ('rgb', r'is an RGB image; label maps hold one class index per pixel'),
    ('label', r'holds the label\(s\) \[76\] \(after reduce_zero_label=True\)'
     r'; labels must be 0..4 or the ignore_index 255'),
    ('missing', r'1 of the label maps that the train dataset lists'),
])
def test_label_maps_are_checked(ade, defect, message):
    label_map = sorted((ade / 'annotations' / 'training').iterdir())[0]
    labels = Image.open(label_map)
    if defect == 'small':
        labels.resize((32, 32)).save(label_map)
    elif defect == 'rgb':
        labels.convert('RGB').save(label_map)
    elif defect == 'label':
        array = np.array(labels)
        array[:4, :4] = 77
        Image.fromarray(array).save(label_map)
    else:
        label_map.unlink()
    with pytest.raises(DataError, match=message):
        check_dataset(built(SEG_DEMO_CONFIG, ade, scope='mmseg'), 'train')


def test_the_checks_reach_datasets_inside_wrappers(coco_copy):
    from mmengine.dataset import ConcatDataset, RepeatDataset
    name = sorted(os.listdir(coco_copy / 'train2017'))[0]
    (coco_copy / 'train2017' / name).unlink()
    inner = built(DET_DEMO_CONFIG, coco_copy)
    for wrapped in (RepeatDataset(inner, 2), ConcatDataset([inner, inner])):
        with pytest.raises(DataError, match='1 of the images'):
            check_dataset(wrapped, 'train')


@pytest.mark.parametrize('change, message', [
    (lambda c: c['annotations'][1].update(id=c['annotations'][0]['id']),
     r"AssertionError: Annotation ids in '.*' are not unique"),
    (lambda c: c['images'][0].pop('width'), r"KeyError: 'width'"),
    (lambda c: c.pop('categories'), r"KeyError: 'categories'"),
])
def test_a_file_mmdet_cannot_parse_is_one_error_naming_it(
        coco_copy, tmp_path, change, message):
    edit(coco_copy, change)
    with pytest.raises(
            DataError,
            match=r"train_dataloader.dataset \(CocoDataset\) cannot be built "
            rf"from '.*instances_train2017.json': {message}"):
        load_tool('train').main([
            DET_DEMO_CONFIG, '--work-dir',
            str(tmp_path / 'work'), '--cfg-options', *coco_options(coco_copy)
        ])
