"""check_data: what can be checked before training starts fails early,
naming the file, and what mmdet drops silently is counted in a warning."""
import json
import os
import shutil

import pytest
from helpers import DET_DEMO_CONFIG, REPO_ROOT, coco_options

import fasternet_mm.runtime.data_checks as data_checks
from fasternet_mm.errors import DataError
from fasternet_mm.runtime import check_data, load_config

SEG_DEMO_CONFIG = os.path.join(REPO_ROOT, 'configs', 'demo',
                               'upernet_fasternet_t0_ade20k_demo.py')


@pytest.fixture
def coco_copy(tiny_coco, tmp_path):
    root = tmp_path / 'coco'
    shutil.copytree(tiny_coco, root)
    return root


def det_config(root):
    return load_config(
        DET_DEMO_CONFIG,
        cfg_options=dict(
            o.split('=', 1) for o in coco_options(str(root))
            if 'num_workers' not in o and 'persistent' not in o))


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
            match=rf"1 of the 6 images that the train annotation file .* "
            rf"lists are not in .*train2017/', e.g. \['{name}'\]"):
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
    assert len(logged) == 1
    assert (f'of its {total} annotations, mmdet drops 1 with a box of zero '
            'width, height or area (or outside its image); 2 of categories '
            "that are not classes of the config's metainfo; 1 with a polygon "
            'of fewer than 3 points') in logged[0]
    assert 'images keep no annotation and are skipped' in logged[0]


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
            match=rf"1 of the 2 train images in .* have no label map in "
            rf".*e.g. \['{maps[0].name}'\]"):
        check_data(cfg, ['train'])
