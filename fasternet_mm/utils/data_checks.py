"""Checks of a config's datasets that fail early, naming the path.

The tools run them before building anything, so a missing folder, a file
that is not COCO JSON or an empty dataset is an error, not a crash after
training has started.
"""
import json
import os
import os.path as osp
from typing import Sequence

from mmengine.config import Config

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
                _check_coco_json(ann_path, split, dataset)
        elif 'img_path' in prefixes:  # segmentation: one image per file
            img_dir = osp.join(data_root, prefixes['img_path'])
            suffix = dataset.get('img_suffix', '.jpg')
            if not any(f.endswith(suffix) for f in os.listdir(img_dir)):
                raise DataError(
                    f'{split} dataset is empty: no *{suffix} image in '
                    f'{img_dir!r}; {DATA_HELP}')


# Files above this size (full COCO) are only checked to be a JSON object.
_FULL_CHECK_BYTES = 64 << 20


def _check_coco_json(path: str, split: str, dataset: dict) -> None:
    with open(path, 'rb') as f:
        head = f.read(4096).lstrip()
    if not head.startswith(b'{'):
        raise DataError(
            f'{split} annotation file {path!r} is not COCO JSON (it does not '
            "start with '{'); convert it to COCO format (images, "
            'annotations, categories)')
    if osp.getsize(path) > _FULL_CHECK_BYTES:
        return
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
        raise DataError(
            f'{split} dataset is empty: {path!r} lists no images')
    filter_cfg = dataset.get('filter_cfg') or {}
    if filter_cfg.get('filter_empty_gt') and not coco['annotations'] and \
            not dataset.get('test_mode', False):
        raise DataError(
            f'{split} dataset is empty after filtering: {path!r} has no '
            'annotations and filter_cfg.filter_empty_gt=True drops every '
            'image')
