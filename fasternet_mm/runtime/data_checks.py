"""Checks of a config's datasets that fail early, naming the path.

The tools run them before building anything, so a missing folder or image,
a file that is not COCO JSON, class names that the file lacks or an empty
dataset is an error, not a crash after training has started; annotations
that mmdet would drop silently are counted in a warning. What only loading
can find (a corrupt image, a label out of range) is checked by
``DataLoadCheckHook`` as the data loads.
"""
import json
import logging
import os
import os.path as osp
from importlib import import_module
from typing import Optional, Sequence

from mmengine.config import Config
from mmengine.logging import print_log

from ..errors import DataError

DATA_HELP = ("see the README section 'Datasets' for the expected layout, or "
             "run 'make demo' / 'make demo-seg' for the embedded demo sets")


def check_data(cfg: Config, splits: Sequence[str]) -> None:
    """Fail early, naming the path, when a dataset is missing or unusable."""
    for split in splits:
        loader = cfg.get(f'{split}_dataloader')
        if not loader:
            continue
        dataset = loader['dataset']
        while 'dataset' in dataset:  # RepeatDataset, ClassBalancedDataset...
            dataset = dataset['dataset']
        where = f'{split}_dataloader.dataset'
        data_root = dataset.get('data_root') or ''
        if data_root and not osp.isdir(data_root):
            raise DataError(
                f'{split} data root {data_root!r} does not exist (from '
                f'{where}.data_root); {DATA_HELP}')
        prefixes = dataset.get('data_prefix') or {}
        for key, sub in prefixes.items():
            path = osp.join(data_root, sub)
            if not osp.isdir(path):
                raise DataError(
                    f'{split} {key} folder {path!r} does not exist (from '
                    f'{where}.data_prefix.{key}); {DATA_HELP}')
        ann_file = dataset.get('ann_file')
        if ann_file:
            ann_path = osp.join(data_root, ann_file)
            if not osp.isfile(ann_path):
                raise DataError(
                    f'{split} annotation file {ann_path!r} does not exist '
                    f'(from {where}.ann_file); {DATA_HELP}')
            if ann_path.endswith('.json'):
                _check_coco_json(ann_path, split, dataset, data_root,
                                 cfg.get('default_scope', 'mmdet'))
        elif 'img_path' in prefixes:  # segmentation: one image per file
            img_dir = osp.join(data_root, prefixes['img_path'])
            suffix = dataset.get('img_suffix', '.jpg')
            if not any(f.endswith(suffix) for f in os.listdir(img_dir)):
                raise DataError(
                    f'{split} dataset is empty: no *{suffix} image in '
                    f'{img_dir!r}; {DATA_HELP}')
            _check_seg_maps(dataset, split, data_root)


def _check_coco_json(path: str, split: str, dataset: dict, data_root: str,
                     scope: str) -> None:
    """Every check that needs the file's content, on files of any size.

    The whole file is parsed once more than mmdet does, then every image
    file is looked up and every annotation visited once: about 22 s and
    3 GiB at peak for a file of COCO's size (docs/detection.md, 'Data').
    """
    with open(path, 'rb') as f:
        head = f.read(4096).lstrip()
    if not head.startswith(b'{'):
        raise DataError(
            f'{split} annotation file {path!r} is not COCO JSON (it does not '
            "start with '{'); convert it to COCO format (images, "
            'annotations, categories)')
    try:
        with open(path, encoding='utf-8') as f:
            coco = json.load(f)
    except (ValueError, UnicodeDecodeError) as e:
        raise DataError(
            f'{split} annotation file {path!r} is not valid JSON ({e})')
    missing = [
        k for k in ('images', 'annotations', 'categories')
        if not isinstance(coco.get(k), list)
    ]
    if missing:
        raise DataError(
            f'{split} annotation file {path!r} is not COCO JSON: it lacks '
            f'the list(s) {missing}; COCO files hold images, annotations and '
            'categories')
    if not coco['images']:
        raise DataError(f'{split} dataset is empty: {path!r} lists no images')
    cat_ids = _check_classes(coco['categories'], path, split, dataset, scope)
    _check_images_exist(coco['images'], path, split, dataset, data_root)
    test_mode = dataset.get('test_mode', False)
    filter_cfg = dataset.get('filter_cfg') or {}
    if filter_cfg.get('filter_empty_gt') and not coco['annotations'] and \
            not test_mode:
        raise DataError(
            f'{split} dataset is empty after filtering: {path!r} has no '
            'annotations and filter_cfg.filter_empty_gt=True drops every '
            'image')
    _warn_dropped(coco, cat_ids, path, split,
                  filter_cfg.get('filter_empty_gt') and not test_mode)


def _check_classes(categories: list, path: str, split: str, dataset: dict,
                   scope: str) -> Optional[set]:
    """The config's class names must be categories of the file (mmdet looks
    them up by name and fails with 'need at least one array to
    concatenate' when none is found). Returns the ids of the classes."""
    classes = (dataset.get('metainfo') or {}).get('classes')
    if classes is None:
        classes = _default_classes(dataset.get('type'), scope)
    if classes is None:
        return None
    if isinstance(classes, str):
        classes = (classes, )
    names = {c.get('name'): c.get('id') for c in categories}
    absent = [c for c in classes if c not in names]
    if absent:
        raise DataError(
            f'{split} annotation file {path!r} has no category named '
            f'{absent[:10]} (of the {len(classes)} classes in the config\'s '
            f'metainfo); its categories are {list(names)[:20]}. Set '
            f'{split}_dataloader.dataset.metainfo=dict(classes=(...)) to '
            'names of the file, in the order of the model\'s labels')
    return {names[c] for c in classes}


def _default_classes(dataset_type, scope: str):
    """The classes a dataset type declares (``METAINFO``), if it is known."""
    if not isinstance(dataset_type, str):
        return None
    try:
        registry = import_module(f'{scope}.registry').DATASETS
        import_module(f'{scope}.datasets')
        cls = registry.get(dataset_type)
    except (ImportError, KeyError):
        return None
    return getattr(cls, 'METAINFO', {}).get('classes') if cls else None


def _check_images_exist(images: list, path: str, split: str, dataset: dict,
                        data_root: str) -> None:
    prefix = osp.join(data_root, (dataset.get('data_prefix')
                                  or {}).get('img', ''))
    absent = [
        img.get('file_name', '?') for img in images
        if not osp.isfile(osp.join(prefix, img.get('file_name', '')))
    ]
    if absent:
        raise DataError(
            f'{len(absent)} of the {len(images)} images that the {split} '
            f'annotation file {path!r} lists are not in {prefix!r}, e.g. '
            f'{absent[:3]}; fix data_prefix.img or add the files')


def _warn_dropped(coco: dict, cat_ids: Optional[set], path: str, split: str,
                  filter_empty_gt: bool) -> None:
    """Count what mmdet's CocoDataset and LoadAnnotations drop silently."""
    sizes = {
        img.get('id'): (img.get('width'), img.get('height'))
        for img in coco['images']
    }
    kept_images = set()
    no_box = other_cat = bad_polygon = 0
    for ann in coco['annotations']:
        if ann.get('ignore', False):
            continue
        try:
            x1, y1, w, h = ann['bbox']
            img_w, img_h = sizes.get(ann.get('image_id'), (x1 + w, y1 + h))
            inter_w = max(0, min(x1 + w, img_w) - max(x1, 0))
            inter_h = max(0, min(y1 + h, img_h) - max(y1, 0))
            empty = inter_w * inter_h == 0 or ann.get('area', w * h) <= 0 \
                or w < 1 or h < 1
        except (KeyError, TypeError, ValueError):
            empty = True
        if empty:
            no_box += 1
            continue
        if cat_ids is not None and ann.get('category_id') not in cat_ids:
            other_cat += 1
            continue
        kept_images.add(ann.get('image_id'))
        polygons = ann.get('segmentation')
        if isinstance(polygons, list) and any(
                len(p) < 6 for p in polygons if isinstance(p, list)):
            bad_polygon += 1
    notes = []
    if no_box:
        notes.append(f'{no_box} with a box of zero width, height or area '
                     '(or outside its image)')
    if other_cat:
        notes.append(f'{other_cat} of categories that are not classes of '
                     "the config's metainfo")
    if bad_polygon:
        notes.append(f'{bad_polygon} with a polygon of fewer than 3 points '
                     '(that polygon is dropped from the mask)')
    if notes:
        total = len(coco['annotations'])
        message = (f'{split} annotation file {path}: of its {total} '
                   f'annotations, mmdet drops ' + '; '.join(notes))
        if filter_empty_gt:
            empty_images = len(sizes) - len(kept_images & set(sizes))
            message += (f'. {empty_images} of {len(sizes)} images keep no '
                        'annotation and are skipped (filter_empty_gt)')
        print_log(message, logger='current', level=logging.WARNING)


def _check_seg_maps(dataset: dict, split: str, data_root: str) -> None:
    """Every image of a segmentation set has its label map."""
    prefixes = dataset.get('data_prefix') or {}
    if 'seg_map_path' not in prefixes:
        return
    img_dir = osp.join(data_root, prefixes['img_path'])
    seg_dir = osp.join(data_root, prefixes['seg_map_path'])
    img_suffix = dataset.get('img_suffix', '.jpg')
    seg_suffix = dataset.get('seg_map_suffix', '.png')
    maps = set(os.listdir(seg_dir))
    images = [f for f in os.listdir(img_dir) if f.endswith(img_suffix)]
    absent = sorted(f[:-len(img_suffix)] + seg_suffix for f in images
                    if f[:-len(img_suffix)] + seg_suffix not in maps)
    if absent:
        raise DataError(
            f'{len(absent)} of the {len(images)} {split} images in '
            f'{img_dir!r} have no label map in {seg_dir!r}, e.g. '
            f'{absent[:3]}')
