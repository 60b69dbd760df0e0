"""MixProbeHook: counts the calls of Mosaic, RandomAffine and MixUp per
epoch and writes them to WORK_DIR/mix_counts.json after training (a test
probe: it wraps those transforms' ``transform`` methods in this process)."""
import collections
import json
import os.path as osp

from mmdet.datasets.transforms import MixUp, Mosaic, RandomAffine
from mmengine.hooks import Hook
from mmengine.registry import HOOKS

COUNTS = collections.defaultdict(collections.Counter)
EPOCH = [0]


def _counting(cls):
    transform = cls.transform

    def counted(self, results):
        COUNTS[EPOCH[0]][cls.__name__] += 1
        return transform(self, results)

    cls.transform = counted


for _cls in (Mosaic, RandomAffine, MixUp):
    _counting(_cls)


@HOOKS.register_module()
class MixProbeHook(Hook):

    def before_train_epoch(self, runner):
        EPOCH[0] = runner.epoch + 1

    def after_train(self, runner):
        with open(osp.join(runner.work_dir, 'mix_counts.json'), 'w') as f:
            json.dump({e: dict(c) for e, c in COUNTS.items()}, f)
