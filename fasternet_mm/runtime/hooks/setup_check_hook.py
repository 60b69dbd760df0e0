"""Checks of a run's setup that mmengine leaves to chance."""
import glob
import os.path as osp

from mmengine.dist import broadcast_object_list, is_main_process
from mmengine.hooks import Hook
from mmengine.registry import HOOKS
from mmengine.runner import EpochBasedTrainLoop

from ...errors import ConfigValueError, DataError
from ..data_checks import check_dataset
from ..fileio import lock_work_dir


@HOOKS.register_module()
class SetupCheckHook(Hook):
    """Before training or testing, on what the Runner has built: a
    positive length (mmengine would run nothing and exit 0), the datasets
    (:func:`~fasternet_mm.runtime.data_checks.check_dataset`: the main
    process checks, every process raises its verdict), and a work dir
    locked to one training run, with a warning where it would overwrite an
    earlier run's checkpoints."""

    priority = 'VERY_HIGH'

    def __init__(self):
        self.lock = None

    def before_train(self, runner) -> None:
        loop = runner.train_loop
        name = 'max_epochs' if isinstance(loop, EpochBasedTrainLoop) else \
            'max_iters'
        if getattr(loop, name, 1) <= 0:
            raise ConfigValueError(
                f'train_cfg.{name} is {getattr(loop, name)}: training would '
                f'run no iteration; set train_cfg.{name} to a positive number')
        loaders = dict(train=runner.train_dataloader)
        if runner.val_loop is not None:
            loaders['val'] = runner.val_dataloader
        self._check(loaders)
        if is_main_process():
            self.lock = lock_work_dir(runner.work_dir)
            self._warn_earlier_run(runner)

    def before_test(self, runner) -> None:
        self._check(dict(test=runner.test_dataloader))

    def after_run(self, runner) -> None:
        if self.lock is not None:
            self.lock.close()
            self.lock = None

    @staticmethod
    def _check(loaders: dict) -> None:
        verdict = ['the data checks failed on the main process']
        try:
            if is_main_process():
                for split, loader in loaders.items():
                    check_dataset(loader.dataset, split)
            verdict = [None]
        except DataError as e:
            verdict = [str(e)]
        finally:  # a no-op outside a distributed run
            broadcast_object_list(verdict)
        if verdict[0] is not None:
            raise DataError(verdict[0])

    @staticmethod
    def _warn_earlier_run(runner) -> None:
        found = sorted(glob.glob(osp.join(runner.work_dir, '*.pth')))
        resumes = runner.cfg.get('resume') and (
            runner.cfg.get('load_from')
            or osp.isfile(osp.join(runner.work_dir, 'last_checkpoint')))
        if found and not resumes:
            runner.logger.warning(
                f'the work dir {runner.work_dir} holds {len(found)} '
                f'checkpoint(s) of an earlier run '
                f'({", ".join(osp.basename(p) for p in found[:5])}); this '
                'run starts from scratch and will overwrite those of the same'
                ' name and re-point last_checkpoint. To continue that run, '
                'add --resume; to keep it, use another --work-dir.')
