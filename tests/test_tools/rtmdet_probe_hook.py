"""A hook for the RTMDet end-to-end tests: what the run actually did.

Imported by test configs through ``custom_imports`` (with this folder on
the path; the training runs with ``num_workers=0``, so the data pipeline
runs in the training process). It writes to the work dir:

* ``probe_train.json``: per epoch, the transforms of the live training
  dataset's pipeline and how often Mosaic and MixUp actually ran;
* ``probe_raw.pth``: the model's own (not averaged) weights at the end of
  training;
* ``probe_evaluated.pth``: the weights the model holds while it tests.
"""
import collections
import functools
import json
import os.path as osp

import torch
from mmdet.datasets.transforms import CachedMixUp, CachedMosaic
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS

CALLS = collections.Counter()


def _counted(cls):
    transform = cls.transform

    @functools.wraps(transform)
    def counted(self, results):
        CALLS[cls.__name__] += 1
        return transform(self, results)

    cls.transform = counted


for _cls in (CachedMosaic, CachedMixUp):
    _counted(_cls)


def _model(runner):
    return runner.model.module if is_model_wrapper(
        runner.model) else runner.model


@HOOKS.register_module()
class RTMDetProbeHook(Hook):

    priority = 'VERY_LOW'  # after PipelineSwitchHook and EMAHook

    def __init__(self):
        self.epochs = {}

    def before_train_epoch(self, runner):
        CALLS.clear()

    def after_train_epoch(self, runner):
        transforms = runner.train_dataloader.dataset.pipeline.transforms
        self.epochs[runner.epoch] = dict(
            pipeline=[type(t).__name__ for t in transforms], calls=dict(CALLS))

    def after_train(self, runner):
        with open(osp.join(runner.work_dir, 'probe_train.json'), 'w') as f:
            json.dump(self.epochs, f)
        torch.save(
            _model(runner).state_dict(),
            osp.join(runner.work_dir, 'probe_raw.pth'))

    def before_test_iter(self, runner, batch_idx, data_batch=None):
        if batch_idx == 0:
            torch.save(
                _model(runner).state_dict(),
                osp.join(runner.work_dir, 'probe_evaluated.pth'))
