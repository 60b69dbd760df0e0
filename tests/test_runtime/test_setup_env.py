"""Run set-up: the config decides which run hooks run (our tools add none);
the data paths are checked before anything is built."""
import os.path as osp

import pytest
from helpers import DET_DEMO_CONFIG, REPO_ROOT, coco_options, parse_options
from mmengine.config import Config

from fasternet_mm.errors import DataError
from fasternet_mm.runtime import build_runner, load_config
from fasternet_mm.runtime.hooks import FASTERNET_HOOKS
from fasternet_mm.runtime.setup_env import check_data_paths

RUNTIME_BASE = osp.join(REPO_ROOT, 'configs', '_base_', 'fasternet_runtime.py')


def test_the_runtime_base_lists_every_run_hook_and_imports_the_runtime():
    cfg = Config.fromfile(RUNTIME_BASE)
    assert [h['type'] for h in cfg.fasternet_hooks] == list(FASTERNET_HOOKS)
    assert cfg.custom_imports.imports == ['fasternet_mm.runtime']


def test_build_runner_adds_no_hook(tmp_path, tiny_coco):
    """The runner gets the config's hooks, as under MMDetection's own
    tools, and the transforms as configured."""
    options = parse_options(coco_options(tiny_coco))
    cfg = load_config(DET_DEMO_CONFIG, options, work_dir=str(tmp_path))
    cfg.custom_hooks = cfg.custom_hooks[1:]  # one of ours left out
    runner = build_runner(cfg)
    ours = [
        type(h).__name__ for h in runner.hooks
        if type(h).__module__.startswith('fasternet_mm')
    ]
    assert sorted(ours) == sorted(h['type'] for h in cfg.custom_hooks)
    pipeline = runner.train_dataloader.dataset.pipeline.transforms
    assert [type(t).__name__
            for t in pipeline] == [t['type'] for t in cfg.train_pipeline]


@pytest.mark.parametrize('key, value, message', [
    ('data_root', 'nowhere', r"train data root '.*nowhere' does not exist "
     r'\(from train_dataloader.dataset.data_root\)'),
    ('ann_file', 'x.json', r"train annotation file '.*x.json' does not "
     r'exist \(from train_dataloader.dataset.ann_file\)'),
    ('data_prefix', dict(img='empty/'), r"train img folder '.*empty/' is "
     r'empty \(from train_dataloader.dataset.data_prefix.img\)'),
])
def test_data_paths_are_checked_before_anything_is_built(
        tiny_coco, tmp_path, key, value, message):
    """An empty image folder would make an InfiniteSampler with workers
    spin forever while the Runner builds its loop."""
    (tmp_path / 'empty').mkdir()
    cfg = load_config(DET_DEMO_CONFIG)
    dataset = cfg.train_dataloader.dataset
    dataset.data_root = str(tmp_path if key == 'data_prefix' else tiny_coco)
    dataset[key] = str(tmp_path / value) if key == 'data_root' else value
    with pytest.raises(
            DataError, match=message + ".*README section "
            "'Datasets'"):
        check_data_paths(cfg, ['train'])
