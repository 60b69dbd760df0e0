"""Data errors that only loading finds, as errors that name the file."""
import functools

import numpy as np
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS, TRANSFORMS
from mmengine.runner import BaseLoop

from ...errors import DataError, UserInputError


@TRANSFORMS.register_module()
class CheckedTransform:
    """A data transform whose failures are :class:`DataError` naming the
    file and the transform, and which checks segmentation labels against
    the classes.

    Args:
        transform (dict | callable): The transform, or its config.
        num_classes (int, optional): Labels must be below it (or be the
            ``ignore_index``) in ``gt_seg_map``; None: not checked.
        ignore_index (int): The label that marks ignored pixels.
    """

    def __init__(self, transform, num_classes=None, ignore_index=255):
        self.transform = TRANSFORMS.build(transform) if isinstance(
            transform, dict) else transform
        self.num_classes = num_classes
        self.ignore_index = ignore_index

    def __call__(self, results: dict):
        name = type(self.transform).__name__
        try:
            out = self.transform(results)
        except UserInputError:
            raise
        except Exception as e:  # noqa: B902  (any failure on one sample)
            reason = ' '.join(str(e).split())  # cv2's end in newlines
            raise DataError(
                f'{name} failed on {_files(results)}: {type(e).__name__}: '
                f'{reason}; replace or remove the file (or its entry in the '
                'annotation file), or fix the transform\'s settings') from None
        if isinstance(out, dict) and self.num_classes and \
                'gt_seg_map' in out:
            self._check_labels(out)
        return out

    def __getattr__(self, name):
        # Mixing transforms are asked for get_indexes() and the like.
        if name == 'transform':
            raise AttributeError(name)
        return getattr(self.transform, name)

    def _check_labels(self, results: dict) -> None:
        labels = results['gt_seg_map']
        bad = (labels >= self.num_classes) & (labels != self.ignore_index)
        if bad.any():
            values = np.unique(labels[bad])[:10].tolist()
            raise DataError(
                f'label map {results.get("seg_map_path")!r} holds the '
                f'label(s) {values} (after reduce_zero_label='
                f'{results.get("reduce_zero_label", False)}); labels must be '
                f'0..{self.num_classes - 1} or the ignore_index '
                f'{self.ignore_index}. Fix the map, or num_classes / '
                'reduce_zero_label in the config')

    def __repr__(self):
        return repr(self.transform)


def _files(results: dict) -> str:
    paths = [
        repr(results[k]) for k in ('img_path', 'seg_map_path')
        if results.get(k)
    ]
    return ' / '.join(paths) or 'a sample'


def wrap_pipelines(cfg) -> None:
    """Wrap every transform of the config's train / val / test pipelines in
    :class:`CheckedTransform`, before anything is built (so DataLoader
    workers, however early they start, get the wrapped pipeline)."""
    num_classes, ignore_index = _label_range_cfg(cfg.get('model') or {})
    for split in ('train', 'val', 'test'):
        loader = cfg.get(f'{split}_dataloader')
        for dataset in _datasets(loader.get('dataset')) if loader else ():
            if not isinstance(dataset, dict):
                continue
            pipeline = dataset.get('pipeline')
            if not pipeline:
                continue
            n_classes = num_classes
            if n_classes is None and cfg.get('default_scope') == 'mmseg':
                n_classes = len(
                    (dataset.get('metainfo') or {}).get('classes', ())) or None
            dataset['pipeline'] = _checked(pipeline, n_classes, ignore_index)
    # A pipeline that a hook swaps in later (RTMDet's PipelineSwitchHook,
    # for the last epochs) is checked as well.
    for hook in cfg.get('custom_hooks') or ():
        if isinstance(hook, dict) and hook.get('switch_pipeline'):
            hook['switch_pipeline'] = _checked(hook['switch_pipeline'],
                                               num_classes, ignore_index)


def _checked(pipeline, num_classes, ignore_index) -> list:
    """Transform configs, each wrapped in :class:`CheckedTransform` once."""
    return [
        t if t.get('type') == 'CheckedTransform' else dict(
            type='CheckedTransform',
            transform=t,
            num_classes=num_classes,
            ignore_index=ignore_index) for t in pipeline
    ]


@HOOKS.register_module()
class DataLoadCheckHook(Hook):
    """Make a sample that fails to load or transform an error naming it.

    Every transform of the train, val and test pipelines is wrapped in
    :class:`CheckedTransform`: a missing or corrupt image or label map, or a
    transform that fails on one sample, is a :class:`DataError` naming the
    file and the transform (mmcv asserts, or raises ``FileNotFoundError``,
    with a long traceback, mid-epoch); and a segmentation label map with
    labels outside ``0..num_classes-1`` that are not the ``ignore_index``
    is an error too (it crashes the loss with "Target 199 is out of bounds"
    in training and makes the mIoU wrong in testing).

    So is a pipeline that a hook swaps in later (``switch_pipeline``, as
    RTMDet's ``PipelineSwitchHook`` for the last epochs).

    Our tools wrap the pipelines in the config (:func:`wrap_pipelines`);
    under other tools this hook wraps the built datasets before the run,
    which every loop sees except one whose DataLoader workers already run
    (mmengine's ``IterBasedTrainLoop`` starts them when it is built): it
    warns about that one instead of restarting them.
    """

    priority = 'VERY_HIGH'

    def before_run(self, runner) -> None:
        num_classes, ignore_index = _label_range(runner.model)
        for loop in (runner._train_loop, runner._val_loop, runner._test_loop):
            if not (isinstance(loop, BaseLoop)
                    and hasattr(loop, 'dataloader')):
                continue
            wrapped = [
                self._wrap(d, num_classes, ignore_index)
                for d in _datasets(loop.dataloader.dataset)
            ]
            if any(wrapped) and getattr(loop, 'dataloader_iterator',
                                        None) is not None and \
                    loop.dataloader.num_workers > 0:
                runner.logger.warning(
                    f'{type(loop).__name__} started its DataLoader workers '
                    'before this hook could wrap the pipeline: a sample that '
                    'fails to load there stops the run with the original '
                    'traceback. fasternet_mm\'s tools/train.py wraps it in '
                    'the config.')
        for hook in runner.hooks:  # e.g. RTMDet's PipelineSwitchHook
            pipeline = getattr(hook, 'switch_pipeline', None)
            if isinstance(pipeline, list):
                hook.switch_pipeline = _checked(pipeline, num_classes,
                                                ignore_index)

    @staticmethod
    def _wrap(dataset, num_classes, ignore_index) -> bool:
        transforms = getattr(
            getattr(dataset, 'pipeline', None), 'transforms', None)
        if transforms is None:
            return False
        wrapped = False
        if num_classes is None and hasattr(dataset, 'ignore_index'):
            num_classes = len(dataset.metainfo.get('classes', ())) or None
            ignore_index = dataset.ignore_index
        for i, t in enumerate(transforms):
            if not isinstance(t, CheckedTransform):
                transforms[i] = CheckedTransform(t, num_classes, ignore_index)
                wrapped = True
        return wrapped


def _datasets(dataset):
    """The dataset and those inside wrappers (Repeat, Concat, ...), built
    or as configs."""
    if dataset is None:
        return
    yield dataset
    get = dataset.get if isinstance(dataset, dict) else functools.partial(
        getattr, dataset)
    inner = get('dataset', None)
    if inner is not None:
        yield from _datasets(inner)
    for d in get('datasets', None) or ():
        yield from _datasets(d)


def _label_range_cfg(model_cfg: dict):
    """``(num_classes, ignore_index)`` of a segmentor config's decode head
    (through a test-time augmentation wrapper)."""
    while 'module' in model_cfg:
        model_cfg = model_cfg['module']
    head = model_cfg.get('decode_head')
    if isinstance(head, (list, tuple)):  # cascade decode heads
        head = head[-1]
    if not head or 'num_classes' not in head:
        return None, 255
    return head['num_classes'], head.get('ignore_index', 255)


def _label_range(model):
    """``(num_classes, ignore_index)`` of a segmentor's decode head."""
    model = model.module if is_model_wrapper(model) else model
    model = getattr(model, 'module', model)  # test-time augmentation
    head = getattr(model, 'decode_head', None)
    if head is None or not hasattr(head, 'num_classes'):
        return None, 255
    return head.num_classes, getattr(head, 'ignore_index', 255)
