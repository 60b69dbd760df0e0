"""Checks of a built dataset that fail before training, naming the file.

They read what mmdet / mmseg already parsed, never the annotation file
again: the classes are categories of the file, every listed image and
label map exists, and a sample of headers agrees with the annotation.
"""
import os.path as osp

import numpy as np
from PIL import Image

from ..errors import DataError

DATA_HELP = ("see the README section 'Datasets' for the expected layout, or "
             "run 'make demo' / 'make demo-seg' for the embedded demo sets")
HEADER_SAMPLE = 200  # images (and label maps) read, spread over a set


def leaf_datasets(dataset):
    """The datasets inside wrappers (Repeat, Concat, MultiImageMix...)."""
    inner = getattr(dataset, 'datasets',
                    None) or [getattr(dataset, 'dataset', None)]
    if inner[0] is None:
        return [dataset]
    return [leaf for d in inner for leaf in leaf_datasets(d)]


def check_dataset(dataset, split: str) -> None:
    """The checks of the module docstring on a built ``dataset``: a
    :class:`DataError` names the file, the split and the fix."""
    for leaf in leaf_datasets(dataset):
        source = getattr(leaf, 'ann_file', '') or leaf.data_prefix.get(
            'img_path', '')
        classes = tuple(leaf.metainfo.get('classes') or ())
        cat_ids = getattr(leaf, 'cat_ids', None)  # COCO-style datasets
        if cat_ids is not None and len(cat_ids) != len(classes):
            raise DataError(
                f'{split} annotation file {source!r} has categories for '
                f'{len(cat_ids)} of the {len(classes)} classes of the '
                f"config's metainfo {classes[:10]}; mmdet would shift the "
                f'labels of the others. Set {split}_dataloader.dataset.'
                'metainfo=dict(classes=(...)) to category names of the file, '
                "in the order of the model's labels")
        n = len(leaf)
        if not n:
            raise DataError(
                f'{split} dataset ({type(leaf).__name__}) is empty: '
                f'{source!r} gives no sample' +
                (' after its filter_cfg (filter_empty_gt drops images '
                 'without an annotation of the classes)' if getattr(
                     leaf, 'filter_cfg', None) else '') + f'; {DATA_HELP}')
        absent = {'img_path': [], 'seg_map_path': []}
        for i in range(n):  # one info at a time: no second data list
            info = leaf.get_data_info(i)
            for key, missing in absent.items():
                if info.get(key) and not osp.isfile(info[key]):
                    missing.append(info[key])
        for (key, missing), what in zip(absent.items(),
                                        ('images', 'label maps')):
            if missing:
                raise DataError(
                    f'{len(missing)} of the {what} that the {split} dataset '
                    f'lists ({source!r}) are not in '
                    f'{osp.dirname(missing[0])!r}, e.g. '
                    f'{[osp.basename(p) for p in missing[:3]]}; fix the '
                    'data_prefix or add the files')
        exif = _honours_exif(leaf.pipeline.transforms)
        for i in range(0, n, max(1, n // HEADER_SAMPLE))[:HEADER_SAMPLE]:
            info = leaf.get_data_info(i)
            size = _check_image(info, exif, split)
            if info.get('seg_map_path') and hasattr(leaf, 'ignore_index'):
                _check_label_map(info, size, len(classes), leaf.ignore_index,
                                 split)


def _honours_exif(transforms) -> bool:
    """Whether images load rotated by their EXIF orientation (mmcv's
    'color' and 'grayscale' do, '*_ignore_orientation' and 'unchanged'
    do not)."""
    for t in transforms:
        if type(t).__name__ == 'LoadImageFromFile':
            return getattr(t, 'color_type', 'color') in ('color', 'grayscale')
    return True


def _check_image(info: dict, exif: bool, split: str) -> tuple:
    """The (width, height) the image loads at, checked against its
    annotation; from the header only."""
    path = info['img_path']
    try:
        with Image.open(path) as img:
            size = img.size
            if exif and img.getexif().get(0x0112) in (5, 6, 7, 8):
                size = size[::-1]  # rotated by 90 degrees as it loads
    except Exception as e:  # noqa: B902  (PIL's many decoder errors)
        raise DataError(f'{split} image {path!r} cannot be read as an image '
                        f'({type(e).__name__}: {e})') from None
    expected = (info.get('width'), info.get('height'))
    if None not in expected and tuple(size) != tuple(expected):
        rotated = tuple(size[::-1]) == tuple(expected)
        raise DataError(
            f'{split} image {path!r} loads as {size[0]}x{size[1]} (width x '
            f'height) but its annotation says {expected[0]}x{expected[1]}' +
            ('; its EXIF orientation rotates it as it loads: re-save the '
             'images upright (and their annotations), or load them as stored '
             "with LoadImageFromFile(color_type='color_ignore_orientation')"
             if rotated else
             '; fix the width/height in the annotation file, or the image'))
    return size


def _check_label_map(info: dict, image_size: tuple, num_classes: int,
                     ignore_index: int, split: str) -> None:
    path = info['seg_map_path']
    with Image.open(path) as label_map:
        if label_map.mode not in ('L', 'P', 'I', 'I;16', '1'):
            raise DataError(
                f'{split} label map {path!r} is an {label_map.mode} image; '
                'label maps hold one class index per pixel (one channel: a '
                'grey or palette PNG). Convert colour-coded maps to indices')
        if label_map.size != tuple(image_size):
            raise DataError(
                f'{split} label map {path!r} is {label_map.size[0]}x'
                f'{label_map.size[1]} but its image {info["img_path"]!r} '
                f'loads as {image_size[0]}x{image_size[1]}; each label map '
                "must have its image's size")
        labels = np.unique(np.asarray(label_map))
    if info.get('reduce_zero_label'):
        labels = np.where(labels == 0, 255, labels - 1)
    bad = labels[(labels >= num_classes) & (labels != ignore_index)]
    if num_classes and bad.size:
        raise DataError(
            f'{split} label map {path!r} holds the label(s) '
            f'{bad[:10].tolist()} (after reduce_zero_label='
            f'{info.get("reduce_zero_label", False)}); labels must be '
            f'0..{num_classes - 1} or the ignore_index {ignore_index}. Fix '
            'the maps, or the classes / reduce_zero_label in the config')
