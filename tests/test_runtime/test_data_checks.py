"""check_data: what can be checked before training starts fails early,
naming the file, and what mmdet drops silently is counted in a warning."""
import json
import os
import shutil

import numpy as np
import pytest
import torch
from helpers import DET_DEMO_CONFIG, REPO_ROOT, coco_options
from PIL import Image

import fasternet_mm.runtime.data_checks as data_checks
from fasternet_mm.errors import ConfigValueError, DataError
from fasternet_mm.runtime import check_data, load_config

SEG_DEMO_CONFIG = os.path.join(REPO_ROOT, 'configs', 'demo',
                               'upernet_fasternet_t0_ade20k_demo.py')


@pytest.fixture
def coco_copy(tiny_coco, tmp_path):
    root = tmp_path / 'coco'
    shutil.copytree(tiny_coco, root)
    return root


def det_config(root):
    # The options that are paths (strings), as the command line gives them.
    return load_config(
        DET_DEMO_CONFIG,
        cfg_options=dict(
            o.split('=', 1) for o in coco_options(str(root))
            if '/' in o.split('=', 1)[1]))


def edit_train_annotations(root, edit):
    path = root / 'annotations' / 'instances_train2017.json'
    coco = json.loads(path.read_text())
    edit(coco)
    path.write_text(json.dumps(coco))
    return coco


def test_a_listed_image_that_is_missing_is_named(coco_copy):
    coco = edit_train_annotations(coco_copy, lambda c: None)
    name = coco['images'][2]['file_name']
    (coco_copy / 'train2017' / name).unlink()
    with pytest.raises(
            DataError,
            match=rf"1 of the 6 images that the train dataset lists "
            rf"\('.*instances_train2017.json'\) are not in .*train2017', e.g. "
            rf"\['{name}'\]"):
        check_data(det_config(coco_copy), ['train'])


def test_class_names_absent_from_the_file_are_named(coco_copy):

    def rename(coco):
        coco['categories'][0]['name'] = 'disc'

    edit_train_annotations(coco_copy, rename)
    with pytest.raises(
            DataError,
            match=r"has no category named \['circle'\] .*its categories are "
            r"\['disc', 'square', 'triangle', 'star'\]. Set "
            r'train_dataloader.dataset.metainfo=dict\(classes='):
        check_data(det_config(coco_copy), ['train'])


def test_default_classes_of_the_dataset_type_are_checked(coco_copy):
    cfg = det_config(coco_copy)
    del cfg.train_dataloader.dataset['metainfo']  # CocoDataset's 80 classes
    with pytest.raises(DataError, match=r"has no category named \['person'"):
        check_data(cfg, ['train'])


def test_dropped_annotations_are_counted_in_a_warning(coco_copy, monkeypatch):

    def degrade(coco):
        anns = coco['annotations']
        anns[0]['bbox'][2] = 0  # zero width
        anns[1]['segmentation'] = [[1, 1, 5, 5]]  # a 2-point polygon
        coco['categories'].append(dict(id=99, name='hexagon'))
        anns[2]['category_id'] = anns[3]['category_id'] = 99

    coco = edit_train_annotations(coco_copy, degrade)
    logged = []
    monkeypatch.setattr(data_checks, 'print_log',
                        lambda msg, **kw: logged.append(msg))
    check_data(det_config(coco_copy), ['train'])
    total = len(coco['annotations'])
    assert len(logged) == 1, logged
    assert (f'of its {total} annotations, mmdet drops 2 of categories that '
            "are not classes of the config's metainfo; 1 with a box of zero "
            'width, height or area (or outside its image), or marked ignore; '
            '1 with a polygon of fewer than 3 points') in logged[0]


def test_clean_annotations_give_no_warning(coco_copy, monkeypatch):
    logged = []
    monkeypatch.setattr(data_checks, 'print_log',
                        lambda msg, **kw: logged.append(msg))
    check_data(det_config(coco_copy), ['train', 'val'])
    assert logged == []


def test_large_files_get_the_content_checks_too(coco_copy, monkeypatch):
    # There is no size limit any more: a file above 64 MB (COCO's is 448
    # MB) is parsed and checked like a small one.
    assert not hasattr(data_checks, '_FULL_CHECK_BYTES')
    monkeypatch.setattr(os.path, 'getsize', lambda p: 500 << 20)
    edit_train_annotations(coco_copy,
                           lambda c: c['categories'][0].update(name='disc'))
    with pytest.raises(DataError, match="has no category named"):
        check_data(det_config(coco_copy), ['train'])


def test_segmentation_image_without_label_map_is_named(tmp_path):
    from fasternet_mm.demo import make_ade20k_demo
    root = tmp_path / 'ade'
    make_ade20k_demo(
        str(root), num_train=2, num_val=1, img_size=64, progress=False)
    maps = sorted((root / 'annotations' / 'training').iterdir())
    maps[0].unlink()
    cfg = load_config(
        SEG_DEMO_CONFIG,
        cfg_options={'train_dataloader.dataset.data_root': str(root)})
    with pytest.raises(
            DataError,
            match=rf"1 of the 2 label maps that the train dataset lists "
            rf"\(.*\) are not in .*annotations/training', e.g. "
            rf"\['{maps[0].name}'\]"):
        check_data(cfg, ['train'])


def edit(root, split, change):
    """``change(coco)`` on the train or val annotation file of ``root``."""
    path = root / 'annotations' / f'instances_{split}2017.json'
    coco = json.loads(path.read_text())
    change(coco)
    path.write_text(json.dumps(coco))
    return coco


def test_duplicate_image_ids_are_refused(coco_copy):
    """mmdet's COCO index would train one image's boxes on the other and
    drop that image's own labels, silently."""

    def twin(coco):
        coco['images'][1]['id'] = coco['images'][0]['id']

    coco = edit(coco_copy, 'train', twin)
    with pytest.raises(
            DataError,
            match=r"1 image id\(s\) are used more than once, e.g. "
            rf"\[{coco['images'][0]['id']}\]; mmdet's COCO index keeps one "
            r'image per id: the annotations of the others go to it'):
        check_data(det_config(coco_copy), ['train'])


def test_duplicate_annotation_ids_are_refused(coco_copy):

    def twin(coco):
        coco['annotations'][1]['id'] = coco['annotations'][0]['id']

    edit(coco_copy, 'train', twin)
    with pytest.raises(
            DataError, match=r'1 annotation id\(s\) are used more than once'):
        check_data(det_config(coco_copy), ['train'])


def _set(kind, field, value):

    def change(coco):
        if field is None:
            coco[kind][0] = value
        elif value is None:
            del coco[kind][0][field]
        else:
            coco[kind][0][field] = value

    return change


@pytest.mark.parametrize('kind, field, value, message', [
    ('images', None, 7, r'images\[0\] is a int \(7\), not an object'),
    ('categories', None, 'circle',
     r"categories\[0\] is a str \('circle'\), not an object"),
    ('images', 'file_name', 42, r'images\[0\].file_name is a int \(42\)'),
    ('images', 'width', None, r"images\[0\] has no 'width'"),
    ('annotations', 'bbox', None, r"annotations\[0\] has no 'bbox'"),
    ('annotations', 'category_id', None,
     r"annotations\[0\] has no 'category_id'"),
    ('annotations', 'bbox', '1 2 3 4',
     r"annotations\[0\].bbox is a str \('1 2 3 4'\)"),
    ('annotations', 'bbox', [1, 2, 'x', 4],
     r"annotations\[0\].bbox is \[1, 2, 'x', 4\], not 4 numbers"),
])
def test_coco_fields_of_the_wrong_type_are_named(coco_copy, kind, field, value,
                                                 message):
    edit(coco_copy, 'train', _set(kind, field, value))
    with pytest.raises(
            DataError,
            match=rf'train annotation file .*: 1 of its \d+ {kind} are not '
            rf'COCO {kind}, e.g. {message}.* Each needs '):
        check_data(det_config(coco_copy), ['train'])


@pytest.mark.parametrize('change, reason', [
    (lambda c: [a.update(category_id=99) for a in c['annotations']],
     "no annotation is of a category that is a class of the config's "
     'metainfo'),
    (lambda c: [a.update(image_id=999) for a in c['annotations']],
     'no annotation refers to an image id of the file'),
])
def test_a_set_that_filtering_empties_says_why(coco_copy, change, reason):
    """mmengine would fail with 'need at least one array to concatenate'."""

    def apply(coco):
        coco['categories'].append(dict(id=99, name='hexagon'))
        change(coco)

    edit(coco_copy, 'train', apply)
    with pytest.raises(
            DataError,
            match=rf'train dataset is empty after filtering: .* lists 6 '
            rf'images and \d+ annotations, but {reason}, and '
            r'filter_cfg.filter_empty_gt=True drops every image'):
        check_data(det_config(coco_copy), ['train'])


def test_images_whose_boxes_are_all_empty_are_said_to_train_as_background(
        coco_copy, monkeypatch):
    """mmdet keeps them (filter_empty_gt looks at the raw annotations): the
    warning must not say they are skipped."""
    edit(coco_copy, 'train',
         lambda c: [a['bbox'].__setitem__(2, 0) for a in c['annotations']])
    logged = []
    monkeypatch.setattr(data_checks, 'print_log',
                        lambda msg, **kw: logged.append(msg))
    check_data(det_config(coco_copy), ['train'])
    assert 'with a box of zero width, height or area' in logged[0]
    assert ('6 of the 6 images it uses keep no annotation and train as '
            'background (no object)') in logged[0]
    assert 'skipped' not in logged[0]


def test_exif_rotated_image_against_its_annotation_size_is_named(coco_copy):
    """OpenCV applies the EXIF orientation: the image loads 90 degrees
    rotated against the width and height (and boxes) of its annotation."""
    coco = edit(coco_copy, 'train',
                lambda c: c['images'][0].update(width=64, height=32))
    path = coco_copy / 'train2017' / coco['images'][0]['file_name']
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    Image.new('RGB', (64, 32)).save(path, format='JPEG', exif=exif.tobytes())
    cfg = det_config(coco_copy)
    with pytest.raises(
            DataError,
            match=rf"train image '{path}' loads as 32x64 \(width x height\) "
            r'but its annotation says 64x32; its EXIF orientation rotates it'
            r".*LoadImageFromFile\(color_type='color_ignore_orientation'\)"):
        check_data(cfg, ['train'])
    cfg.train_dataloader.dataset.pipeline[0]['color_type'] = \
        'color_ignore_orientation'
    check_data(cfg, ['train'])


def test_an_epoch_without_a_batch_is_refused_before_training(coco_copy):
    """6 images, 16 per batch, drop_last: mmengine trains nothing."""
    cfg = det_config(coco_copy)
    cfg.train_dataloader.batch_size = 16
    cfg.train_dataloader.batch_sampler['drop_last'] = True
    with pytest.raises(
            ConfigValueError,
            match=r'an epoch would train no iteration: the train dataset has '
            r'6 samples, and batches of train_dataloader.batch_size=16 per '
            r'process x 1 process\(es\) with drop_last=True leave none'):
        check_data(cfg, ['train'])
    cfg.train_dataloader.batch_size = 6
    check_data(cfg, ['train'])


@pytest.fixture
def ade(tmp_path):
    from fasternet_mm.demo import make_ade20k_demo
    root = tmp_path / 'ade'
    make_ade20k_demo(
        str(root), num_train=2, num_val=2, img_size=64, progress=False)
    return root


def seg_config(root):
    return load_config(
        SEG_DEMO_CONFIG,
        cfg_options={
            f'{s}_dataloader.dataset.data_root': str(root)
            for s in ('train', 'val', 'test')
        })


@pytest.mark.parametrize('defect, message', [
    ('small', r"is 32x32 but its image '.*' loads as 64x64; each label map "
     r"must have its image's size"),
    ('rgb', r'is an RGB image; label maps hold one class index per pixel'),
])
def test_label_map_of_another_size_or_in_colour_is_named(ade, defect, message):
    label_map = sorted((ade / 'annotations' / 'training').iterdir())[0]
    labels = Image.open(label_map)
    (labels.resize(
        (32,
         32)) if defect == 'small' else labels.convert('RGB')).save(label_map)
    with pytest.raises(
            DataError, match=rf"train label map '{label_map}' {message}"):
        check_data(seg_config(ade), ['train'])


def test_bad_validation_labels_are_found_before_training(ade):
    """Not at the first validation, an epoch of training later."""
    label_map = sorted((ade / 'annotations' / 'validation').iterdir())[0]
    labels = np.array(Image.open(label_map))
    labels[:4, :4] = 77
    Image.fromarray(labels).save(label_map)
    with pytest.raises(
            DataError,
            match=rf"val label map '{label_map}' holds the label\(s\) \[76\] "
            r'\(after reduce_zero_label=True\); labels must be 0..4'):
        check_data(seg_config(ade), ['train', 'val'])


def test_under_torchrun_before_the_group_only_rank_0_checks(
        coco_copy, monkeypatch):
    calls = []
    monkeypatch.setattr(data_checks, '_check_splits',
                        lambda cfg, splits: calls.append(splits))
    monkeypatch.setenv('TORCHELASTIC_RUN_ID', 'test')
    for rank in ('1', '0'):
        monkeypatch.setenv('RANK', rank)
        check_data(det_config(coco_copy), ['train'])
    assert calls == [['train']]


def _check_on_rank(rank, root, port, results):
    """One process of a two-process gloo group: check the set, report."""
    import fasternet_mm.runtime.data_checks as checks
    torch.distributed.init_process_group(
        'gloo', init_method=f'tcp://127.0.0.1:{port}', rank=rank, world_size=2)
    ran = []
    real = checks._check_splits
    checks._check_splits = lambda *a: (ran.append(1), real(*a))
    try:
        check_data(det_config(root), ['train'])
        results.put((rank, bool(ran), None))
    except DataError as e:
        results.put((rank, bool(ran), str(e)))
    finally:
        torch.distributed.destroy_process_group()


def test_distributed_checks_run_once_and_stop_every_rank(coco_copy):
    import socket

    import torch.multiprocessing as mp
    edit(coco_copy, 'train', _set('images', 'file_name', 42))
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    ctx = mp.get_context('spawn')
    results = ctx.Queue()
    procs = [
        ctx.Process(
            target=_check_on_rank, args=(r, str(coco_copy), port, results))
        for r in range(2)
    ]
    for p in procs:
        p.start()
    reports = sorted(results.get(timeout=300) for _ in procs)
    for p in procs:
        p.join(60)
    (_, ran0, error0), (_, ran1, error1) = reports
    assert (ran0, ran1) == (True, False)
    assert error0 == error1 and 'file_name is a int (42)' in error0
