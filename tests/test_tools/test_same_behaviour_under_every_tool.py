"""A config behaves the same under our tools and MMDetection's own: nothing
of fasternet_mm wraps or renames what upstream code inspects.

A YOLOX-style FasterNet-T0 (yolox_fasternet_t0.py: MultiImageMixDataset
with Mosaic, RandomAffine and MixUp, YOLOXModeSwitchHook switching them off
for the last epoch) trains 2 epochs under each train.py; mix_probe.py counts
the mixing per epoch.
"""
import json
import os.path as osp

import pytest
from helpers import run_tool, run_upstream_tool

pytestmark = pytest.mark.e2e  # pytest.ini: one stack only

HERE = osp.dirname(osp.abspath(__file__))


@pytest.mark.parametrize('tool', ['ours', 'mmdet'])
def test_yolox_mixing_runs_in_the_first_epoch_and_stops_in_the_last(
        tiny_coco, tmp_path, tool):
    args = (osp.join(HERE, 'yolox_fasternet_t0.py'), '--work-dir', tmp_path,
            '--cfg-options',
            f'train_dataloader.dataset.dataset.data_root={tiny_coco}/')
    if tool == 'ours':
        run_tool('train.py', *args, pythonpath=[HERE])
    else:
        run_upstream_tool('mmdet', 'train.py', *args, pythonpath=[HERE])
    with open(tmp_path / 'mix_counts.json') as f:
        counts = json.load(f)
    # 6 training images: each mixing transform once per sample of epoch 1
    assert counts == {'1': dict(Mosaic=6, RandomAffine=6, MixUp=6)}, counts
