"""Checks of a config's datasets that fail early, naming the path.

The tools run :func:`check_data` before building anything, so a dataset
that cannot train or test well is an error before the first iteration, not
a crash (or a silent loss) later. For each split's dataset:

1. its folders and annotation file exist;
2. a COCO JSON file, parsed once here, has the structure and field types
   of COCO (:data:`COCO_FIELDS`), unique image and annotation ids,
   annotations that refer to listed images, and the config's class names;
3. the dataset as mmdet / mmseg builds it (the config's dataset type through
   ``DATASETS``, ``full_init()``) is not empty, its images and label maps
   exist, a sample of their headers agrees with the annotations (image size
   after EXIF orientation, one-channel label maps of the image's size,
   labels in range), and an epoch has a batch; what mmdet drops silently
   (annotations, images) is counted in a warning from its ``data_list``.

What only loading every sample can find (a corrupt image) is reported by
``DataLoadCheckHook`` as the data loads. The checks run once: in a
distributed run, on the main process, which tells the others its verdict.
Their cost on a file of COCO's size is in docs/detection.md, 'Data'.
"""
import json
import logging
import math
import os
import os.path as osp
from collections import Counter
from importlib import import_module
from typing import Optional, Sequence

import numpy as np
from mmengine.config import Config
from mmengine.dist import (broadcast_object_list, is_distributed,
                           is_main_process)
from mmengine.logging import print_log

from .. import errors
from ..errors import ConfigValueError, DataError, UserInputError
from .hooks.data_load_check_hook import _label_range_cfg

DATA_HELP = ("see the README section 'Datasets' for the expected layout, or "
             "run 'make demo' / 'make demo-seg' for the embedded demo sets")
# Images (and label maps) whose headers are read, evenly spread over a set.
HEADER_SAMPLE = 200

_NUMBER = (int, float)
_ID = (int, str)
# field -> (accepted types, required); bbox is checked as [x, y, w, h].
COCO_FIELDS = {
    'images': {
        'id': (_ID, True),
        'file_name': ((str, ), True),
        'width': (_NUMBER, True),
        'height': (_NUMBER, True),
    },
    'annotations': {
        'id': (_ID, True),
        'image_id': (_ID, True),
        'category_id': (_ID, True),
        'bbox': ((list, ), True),
        'area': (_NUMBER, True),
        'iscrowd': ((int, bool), False),
        'segmentation': ((list, dict), False),
    },
    'categories': {
        'id': (_ID, True),
        'name': ((str, ), True),
    },
}


def check_data(cfg: Config, splits: Sequence[str]) -> None:
    """Fail early, naming the path, when a dataset is missing or unusable.

    Runs once per run: where a process group exists, on the main process,
    whose verdict every process raises; under torchrun before the group
    exists, on rank 0 only (torchrun stops the other processes when it
    fails); otherwise in the process that calls it.
    """
    if is_distributed():
        verdict = [None]
        if is_main_process():
            try:
                _check_splits(cfg, splits)
            except UserInputError as e:
                verdict = [(type(e).__name__, str(e))]
            except BaseException:
                broadcast_object_list([('RuntimeError', 'failed')])
                raise
        broadcast_object_list(verdict)
        if verdict[0] is not None:
            name, message = verdict[0]
            if name == 'RuntimeError':
                raise RuntimeError('the data checks failed on the main '
                                   'process; see its error')
            raise getattr(errors, name, DataError)(message)
        return
    if os.environ.get('TORCHELASTIC_RUN_ID') and os.environ.get('RANK',
                                                                '0') != '0':
        return
    _check_splits(cfg, splits)


def _check_splits(cfg: Config, splits: Sequence[str]) -> None:
    scope = cfg.get('default_scope', 'mmdet')
    for split in splits:
        loader = cfg.get(f'{split}_dataloader')
        if not loader:
            continue
        for dataset, repeats in _leaf_datasets(loader['dataset']):
            n = _check_dataset(cfg, dataset, split, scope)
            if split == 'train':
                _check_batches(cfg, loader, n * repeats)


def _leaf_datasets(dataset: dict, repeats: int = 1):
    """The datasets inside wrappers (Repeat, ClassBalanced, Concat), with
    how many times a ``RepeatDataset`` repeats them."""
    if 'dataset' in dataset:
        yield from _leaf_datasets(dataset['dataset'],
                                  repeats * dataset.get('times', 1))
    elif 'datasets' in dataset:
        for d in dataset['datasets']:
            yield from _leaf_datasets(d, repeats)
    else:
        yield dataset, repeats


def _check_dataset(cfg: Config, dataset: dict, split: str, scope: str) -> int:
    """The checks of one dataset; returns its length."""
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
    ann_path = osp.join(data_root, ann_file) if ann_file else None
    if ann_path and not osp.isfile(ann_path):
        raise DataError(
            f'{split} annotation file {ann_path!r} does not exist (from '
            f'{where}.ann_file); {DATA_HELP}')
    coco = None
    if ann_path and ann_path.endswith('.json'):
        coco = _check_coco_json(ann_path, split)
    built = _build(dataset, split, scope, ann_path)
    if coco is not None:
        _check_classes(coco, built.metainfo.get('classes'), ann_path, split)
    source = ann_path or (osp.join(data_root, prefixes.get('img_path', '')))
    try:  # full_init's steps, keeping the list before filtering
        built.data_list = parsed = built.load_data_list()
        data_list = built.filter_data()
    except Exception as e:  # noqa: B902  (whatever the dataset's parser hits)
        raise DataError(
            f'{split} dataset {dataset.get("type")} cannot be loaded from '
            f'{source!r}: {type(e).__name__}: {e}') from None
    test_mode = dataset.get('test_mode', False)
    if not data_list:
        raise DataError(_empty_message(split, dataset, coco, source))
    _check_files(data_list, split, source)
    if coco is not None:
        _warn_dropped(coco, built, parsed, data_list, ann_path, split,
                      test_mode)
    _check_headers(cfg, dataset, data_list, split)
    return len(data_list)


def _build(dataset: dict, split: str, scope: str, ann_path: Optional[str]):
    """The config's dataset, built by mmdet / mmseg without loading it (no
    pipeline; ``full_init`` by the caller, unserialised)."""
    registry = import_module(f'{scope}.registry').DATASETS
    import_module(f'{scope}.datasets')
    cfg = dict(dataset, lazy_init=True, serialize_data=False, pipeline=[])
    try:
        return registry.build(cfg)
    except Exception as e:  # noqa: B902  (an unknown type, a bad argument)
        raise ConfigValueError(
            f'{split}_dataloader.dataset ({dataset.get("type")}) cannot be '
            f'built: {type(e).__name__}: {e}') from None


def _empty_message(split: str, dataset: dict, coco: Optional[dict],
                   source: str) -> str:
    if coco is None:
        suffix = dataset.get('img_suffix', '.jpg')
        return (f'{split} dataset is empty: no *{suffix} image in '
                f'{source!r}; {DATA_HELP}')
    reasons = []
    if not coco['annotations']:
        reasons.append('it has no annotations')
    elif coco['orphans'] == coco['annotations']:
        reasons.append('no annotation refers to an image id of the file')
    elif coco['in_classes'] == 0:
        reasons.append("no annotation is of a category that is a class of "
                       "the config's metainfo")
    else:
        reasons.append('no image keeps an annotation of the classes with a '
                       'box of positive size')
    return (f'{split} dataset is empty after filtering: {source!r} lists '
            f'{coco["images"]} images and {coco["annotations"]} '
            f'annotations, but {reasons[0]}, and filter_cfg.filter_empty_gt'
            '=True drops every image without one')


def _check_coco_json(path: str, split: str) -> dict:
    """The structural checks of a COCO file, parsed once; returns what the
    later checks need (the parsed file itself is released)."""
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
    missing = [k for k in COCO_FIELDS if not isinstance(coco.get(k), list)
               ] if isinstance(coco, dict) else list(COCO_FIELDS)
    if missing:
        raise DataError(
            f'{split} annotation file {path!r} is not COCO JSON: it lacks '
            f'the list(s) {missing}; COCO files hold images, annotations and '
            'categories')
    if not coco['images']:
        raise DataError(f'{split} dataset is empty: {path!r} lists no images')
    for kind, fields in COCO_FIELDS.items():
        _check_fields(coco[kind], kind, fields, path, split)
    for kind in ('images', 'annotations', 'categories'):
        _check_unique_ids(coco[kind], kind, path, split)
    image_ids = {img['id'] for img in coco['images']}
    orphans = sum(ann['image_id'] not in image_ids
                  for ann in coco['annotations'])
    categories = {c['name']: c['id'] for c in coco['categories']}
    return dict(
        images=len(coco['images']),
        annotations=len(coco['annotations']),
        orphans=orphans,
        categories=categories,
        category_counts=Counter(ann['category_id']
                                for ann in coco['annotations']
                                if ann['image_id'] in image_ids),
        in_classes=None)


def _check_fields(items: list, kind: str, fields: dict, path: str,
                  split: str) -> None:
    """Every item is a JSON object whose fields have the types of
    ``fields`` (one pass; the first problems are named)."""
    problems, count = [], 0
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            found = [f'{kind}[{i}] is {_kind(item)}, not an object']
        else:
            found = []
            for field, (types, required) in fields.items():
                value = item.get(field)
                if value is None:
                    if required:
                        found.append(f'{kind}[{i}] has no {field!r}')
                elif not isinstance(value, types) or isinstance(
                        value, bool) and bool not in types:
                    found.append(f'{kind}[{i}].{field} is {_kind(value)}')
            bbox = item.get('bbox')
            if kind == 'annotations' and isinstance(
                    bbox, list) and (len(bbox) != 4 or not all(
                        isinstance(v, _NUMBER) and not isinstance(v, bool)
                        and math.isfinite(v) for v in bbox)):
                found.append(f'{kind}[{i}].bbox is {bbox!r}, not 4 numbers')
        if found:
            count += 1
            problems.extend(found[:1] if len(problems) < 3 else [])
    if count:
        expected = ', '.join(f'{f} ({"/".join(t.__name__ for t in types)})'
                             for f, (types, required) in fields.items()
                             if required)
        raise DataError(
            f'{split} annotation file {path!r}: {count} of its {len(items)} '
            f'{kind} are not COCO {kind}, e.g. {"; ".join(problems)}. Each '
            f'needs {expected}' +
            (' (bbox: [x, y, width, height])' if kind == 'annotations' else '')
        )


def _kind(value) -> str:
    return f'a {type(value).__name__} ({value!r:.40})'


def _check_unique_ids(items: list, kind: str, path: str, split: str) -> None:
    counts = Counter(item['id'] for item in items)
    if len(counts) == len(items):
        return
    twice = [i for i, n in counts.items() if n > 1]
    singular = dict(
        images='image', annotations='annotation', categories='category')[kind]
    consequence = {
        'images': "mmdet's COCO index keeps one image per id: the "
        "annotations of the others go to it and their own are lost",
        'annotations': 'mmdet needs annotation ids to be unique',
        'categories': 'a category id must name one category',
    }[kind]
    raise DataError(
        f'{split} annotation file {path!r}: {len(twice)} {singular} id(s) '
        f'are used more than once, e.g. {twice[:5]}; {consequence}. Give '
        f'each of the {kind} its own id')


def _check_classes(coco: dict, classes, path: str, split: str) -> None:
    """The config's class names must be categories of the file (mmdet looks
    them up by name and drops the others silently)."""
    if classes is None:
        return
    if isinstance(classes, str):
        classes = (classes, )
    names = coco['categories']
    absent = [c for c in classes if c not in names]
    if absent:
        raise DataError(
            f'{split} annotation file {path!r} has no category named '
            f'{absent[:10]} (of the {len(classes)} classes in the config\'s '
            f'metainfo); its categories are {list(names)[:20]}. Set '
            f'{split}_dataloader.dataset.metainfo=dict(classes=(...)) to '
            'names of the file, in the order of the model\'s labels')
    ids = {names[c] for c in classes}
    coco['in_classes'] = sum(n for c, n in coco['category_counts'].items()
                             if c in ids)


def _check_files(data_list: list, split: str, source: str) -> None:
    """Every image (and label map) that the dataset lists exists."""
    for key, what in (('img_path', 'images'), ('seg_map_path', 'label maps')):
        paths = [d[key] for d in data_list if d.get(key)]
        absent = [p for p in paths if not osp.isfile(p)]
        if absent:
            folder = osp.dirname(absent[0])
            raise DataError(
                f'{len(absent)} of the {len(paths)} {what} that the {split} '
                f'dataset lists ({source!r}) are not in {folder!r}, e.g. '
                f'{[osp.basename(p) for p in absent[:3]]}; fix the '
                'data_prefix or add the files')


def _warn_dropped(coco: dict, dataset, parsed: list, data_list: list,
                  path: str, split: str, test_mode: bool) -> None:
    """Count what mmdet's CocoDataset and LoadAnnotations drop silently, from
    the lists it built (``parsed``: before its filter_cfg)."""
    total = coco['annotations']
    kept = sum(len(d.get('instances', ())) for d in parsed)
    cat_ids = set(getattr(dataset, 'cat_ids', ()))
    other_cat = sum(n for c, n in coco['category_counts'].items()
                    if c not in cat_ids)
    notes = []
    if coco['orphans']:
        notes.append(f'{coco["orphans"]} that refer to no image of the file')
    if other_cat:
        notes.append(f'{other_cat} of categories that are not classes of '
                     "the config's metainfo")
    no_box = total - coco['orphans'] - other_cat - kept
    if no_box > 0:
        notes.append(f'{no_box} with a box of zero width, height or area '
                     '(or outside its image), or marked ignore')
    bad_polygon = sum(
        any(isinstance(p, list) and len(p) < 6 for p in inst['mask'])
        for d in data_list for inst in d.get('instances', ())
        if isinstance(inst.get('mask'), list))
    if bad_polygon:
        notes.append(f'{bad_polygon} with a polygon of fewer than 3 points '
                     '(that polygon is dropped from the mask)')
    skipped = len(parsed) - len(data_list)
    background = sum(not d.get('instances') for d in data_list)
    if not (notes or skipped or background and not test_mode):
        return
    message = f'{split} annotation file {path}: '
    if notes:
        message += (f'of its {total} annotations, mmdet drops ' +
                    '; '.join(notes) + '. ')
    if skipped:
        message += (f'{skipped} of its {len(parsed)} images are skipped '
                    '(filter_cfg: no annotation left, or smaller than '
                    'min_size). ')
    if background and not test_mode:
        message += (f'{background} of the {len(data_list)} images it uses '
                    'keep no annotation and train as background (no '
                    'object).')
    print_log(message.strip(), logger='current', level=logging.WARNING)


def _check_headers(cfg: Config, dataset: dict, data_list: list,
                   split: str) -> None:
    """A sample of images (and label maps): the size they load at agrees
    with the annotation; label maps have one channel, the image's size and
    labels in range. Headers only, except the sampled label maps."""
    from PIL import Image
    honours_exif = _honours_exif(dataset.get('pipeline') or [])
    num_classes, ignore_index = _label_range_cfg(cfg.get('model') or {})
    if num_classes is None and cfg.get('default_scope') == 'mmseg':
        num_classes = len((dataset.get('metainfo') or {}).get('classes',
                                                              ())) or None
    step = max(1, len(data_list) // HEADER_SAMPLE)
    for info in data_list[::step][:HEADER_SAMPLE]:
        img_path = info['img_path']
        try:
            with Image.open(img_path) as img:
                size = img.size
                if honours_exif and img.getexif().get(0x0112) in (5, 6, 7, 8):
                    size = size[::-1]  # rotated by 90 degrees as it loads
        except Exception as e:  # noqa: B902  (PIL's many decoder errors)
            raise DataError(f'{split} image {img_path!r} cannot be read as '
                            f'an image ({type(e).__name__}: {e})') from None
        expected = (info.get('width'), info.get('height'))
        if None not in expected and tuple(size) != tuple(expected):
            rotated = tuple(size[::-1]) == tuple(expected)
            raise DataError(
                f'{split} image {img_path!r} loads as {size[0]}x{size[1]} '
                f'(width x height) but its annotation says '
                f'{expected[0]}x{expected[1]}' +
                ('; its EXIF orientation rotates it as it loads: re-save the '
                 'images upright (and their annotations), or load them as '
                 "stored with LoadImageFromFile(color_type='color_ignore_"
                 "orientation')" if rotated else
                 '; fix the width/height in the annotation file, or the '
                 'image'))
        seg_path = info.get('seg_map_path')
        if seg_path and cfg.get('default_scope') == 'mmseg':
            _check_label_map(seg_path, size, info, num_classes, ignore_index,
                             split)


def _check_label_map(path: str, image_size, info: dict, num_classes,
                     ignore_index: int, split: str) -> None:
    from PIL import Image
    with Image.open(path) as label_map:
        mode, size = label_map.mode, label_map.size
        if mode not in ('L', 'P', 'I', 'I;16', '1'):
            raise DataError(
                f'{split} label map {path!r} is an {mode} image; label maps '
                'hold one class index per pixel (one channel: a grey or '
                'palette PNG). Convert colour-coded maps to indices')
        if tuple(size) != tuple(image_size):
            raise DataError(
                f'{split} label map {path!r} is {size[0]}x{size[1]} but its '
                f'image {info["img_path"]!r} loads as {image_size[0]}x'
                f'{image_size[1]}; each label map must have its image\'s '
                'size')
        if not num_classes:
            return
        labels = np.unique(np.asarray(label_map))
    if info.get('reduce_zero_label'):
        labels = np.where(labels == 0, 255, labels - 1)
    bad = labels[(labels >= num_classes) & (labels != ignore_index)]
    if bad.size:
        raise DataError(
            f'{split} label map {path!r} holds the label(s) '
            f'{bad[:10].tolist()} (after reduce_zero_label='
            f'{info.get("reduce_zero_label", False)}); labels must be '
            f'0..{num_classes - 1} or the ignore_index {ignore_index}. Fix '
            'the maps, or num_classes / reduce_zero_label in the config')


def _honours_exif(pipeline: list) -> bool:
    """Whether the pipeline loads images rotated by their EXIF orientation
    (mmcv's 'color' and 'grayscale' do; 'unchanged' and '*_ignore_
    orientation' do not)."""
    for t in pipeline:
        t = t.get('transform', t) if isinstance(t, dict) else {}
        if str(t.get('type', '')).endswith('LoadImageFromFile'):
            color_type = t.get('color_type', 'color')
            return color_type in ('color', 'grayscale')
    return True


def _check_batches(cfg: Config, loader: dict, length: int) -> None:
    """An epoch-based run must have a batch per epoch."""
    train_cfg = cfg.get('train_cfg') or {}
    loop = train_cfg.get('type') or ('EpochBasedTrainLoop'
                                     if train_cfg.get('by_epoch') else '')
    if 'EpochBased' not in str(loop):
        return
    batch_sampler = loader.get('batch_sampler') or {}
    drop_last = batch_sampler.get('drop_last', False) if batch_sampler else \
        loader.get('drop_last', False)
    batch = loader.get('batch_size', 1)
    world = int(os.environ.get('WORLD_SIZE', 1))
    per_process = math.ceil(length / world)
    if drop_last and isinstance(batch, int) and per_process < batch:
        raise ConfigValueError(
            f'an epoch would train no iteration: the train dataset has '
            f'{length} samples, and batches of train_dataloader.batch_size='
            f'{batch} per process x {world} process(es) with drop_last=True '
            f'leave none (each process gets {per_process} samples). Lower '
            'the batch size, or set drop_last=False')
