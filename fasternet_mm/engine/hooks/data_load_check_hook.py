"""Data errors that only loading finds, as errors that name the file."""
import numpy as np
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS
from mmengine.runner import BaseLoop

from ...errors import DataError, UserInputError


class CheckedTransform:
    """A loading transform whose failures are :class:`DataError` naming the
    file, and which checks segmentation labels against the classes."""

    def __init__(self, transform, num_classes=None, ignore_index=255):
        self.transform = transform
        self.num_classes = num_classes
        self.ignore_index = ignore_index

    def __call__(self, results: dict):
        name = type(self.transform).__name__
        try:
            out = self.transform(results)
        except UserInputError:
            raise
        except Exception as e:  # noqa: B902  (any failure to read a file)
            raise DataError(
                f'{name} failed on {_files(results)}: {type(e).__name__}: '
                f'{e}; replace or remove the file (or its entry in the '
                'annotation file)') from None
        if isinstance(out, dict) and self.num_classes and \
                'gt_seg_map' in out:
            self._check_labels(out)
        return out

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


@HOOKS.register_module()
class DataLoadCheckHook(Hook):
    """Make a file that fails to load an error that names it.

    Before the run, every loading transform (``Load*``) of the train, val
    and test pipelines is wrapped: a missing or corrupt image or label map
    is a :class:`DataError` naming the file (mmcv asserts, or raises
    ``FileNotFoundError``, with a long traceback, mid-epoch); and a
    segmentation label map with labels outside ``0..num_classes-1`` that
    are not the ``ignore_index`` is an error too (it crashes the loss with
    "Target 199 is out of bounds" in training and makes the mIoU wrong in
    testing). ``num_classes`` and ``ignore_index`` are the decode head's.

    The error, raised in a DataLoader worker, reaches our tools wrapped by
    torch; ``UserInputError`` prints the original message only.
    """

    priority = 'VERY_HIGH'

    def before_run(self, runner) -> None:
        num_classes, ignore_index = _label_range(runner.model)
        for loop in (runner._train_loop, runner._val_loop, runner._test_loop):
            if isinstance(loop, BaseLoop) and hasattr(loop, 'dataloader'):
                wrapped = [
                    self._wrap(d, num_classes, ignore_index)
                    for d in _datasets(loop.dataloader.dataset)
                ]
                if any(wrapped):
                    _restart_workers(loop)

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
            if type(t).__name__.startswith('Load') and not isinstance(
                    t, CheckedTransform):
                transforms[i] = CheckedTransform(t, num_classes, ignore_index)
                wrapped = True
        return wrapped


def _restart_workers(loop) -> None:
    """mmengine's IterBasedTrainLoop starts its workers when it is built,
    before any hook runs: restart them so that they get the wrapped
    transforms. (Other loops start theirs when they run.)"""
    iterator = getattr(loop, 'dataloader_iterator', None)
    if iterator is None:
        return
    workers = getattr(iterator, '_iterator', None)
    if hasattr(workers, '_shutdown_workers'):
        workers._shutdown_workers()
    loop.dataloader._iterator = None  # persistent workers are cached here
    loop.dataloader_iterator = type(iterator)(loop.dataloader)
    # Keep the old iterator alive: collecting it would close its sampler
    # iterator, and mmengine's InfiniteSampler shares one index generator
    # between its iterators (``yield from self.indices``), so the new
    # workers would find it exhausted after their first pass.
    loop._replaced_dataloader_iterator = iterator


def _datasets(dataset):
    """The dataset and those inside wrappers (Repeat, Concat, ...)."""
    yield dataset
    inner = getattr(dataset, 'dataset', None)
    if inner is not None:
        yield from _datasets(inner)
    for d in getattr(dataset, 'datasets', None) or ():
        yield from _datasets(d)


def _label_range(model):
    """``(num_classes, ignore_index)`` of a segmentor's decode head."""
    model = model.module if is_model_wrapper(model) else model
    model = getattr(model, 'module', model)  # test-time augmentation
    head = getattr(model, 'decode_head', None)
    if head is None or not hasattr(head, 'num_classes'):
        return None, 255
    return head.num_classes, getattr(head, 'ignore_index', 255)
