"""Run set-up: the config decides which run hooks run; build_runner checks
them and adds none."""
import os.path as osp

import pytest
from helpers import DET_DEMO_CONFIG, REPO_ROOT, coco_options, parse_options
from mmengine.config import Config

from fasternet_mm.errors import ConfigValueError
from fasternet_mm.runtime import build_runner, load_config
from fasternet_mm.runtime.hooks import FASTERNET_HOOKS
from fasternet_mm.runtime.setup_env import check_run_hooks

RUNTIME_BASE = osp.join(REPO_ROOT, 'configs', '_base_', 'fasternet_runtime.py')


def test_the_runtime_base_lists_every_run_hook_and_imports_the_runtime():
    cfg = Config.fromfile(RUNTIME_BASE)
    assert [h['type'] for h in cfg.fasternet_hooks] == list(FASTERNET_HOOKS)
    assert cfg.custom_imports.imports == ['fasternet_mm.runtime']


def test_a_config_without_the_run_hooks_is_refused_naming_the_fix():
    cfg = load_config(DET_DEMO_CONFIG)
    cfg.custom_hooks = [
        h for h in cfg.custom_hooks if h['type'] != 'FiniteLossHook'
    ]
    with pytest.raises(
            ConfigValueError,
            match=r"custom_hooks lacks fasternet_mm's run hooks "
            r"\['FiniteLossHook'\]: add .*configs/_base_/fasternet_runtime"
            r'.py to _base_ and set custom_hooks = \[\*_base_.custom_hooks, '
            r'\*_base_.fasternet_hooks\]'):
        check_run_hooks(cfg)


def test_scoped_hook_names_count():
    cfg = load_config(DET_DEMO_CONFIG)
    cfg.custom_hooks = [
        dict(h, type=f'mmengine.{h["type"]}') for h in cfg.custom_hooks
    ]
    check_run_hooks(cfg)


def test_build_runner_adds_no_hook(tmp_path, tiny_coco):
    """The runner gets the config's hooks, as under MMDetection's own
    tools: the same config behaves the same under every tool."""
    options = parse_options(coco_options(tiny_coco))
    cfg = load_config(DET_DEMO_CONFIG, options, work_dir=str(tmp_path))
    runner = build_runner(cfg)
    ours = [
        type(h).__name__ for h in runner.hooks
        if type(h).__module__.startswith('fasternet_mm')
    ]
    assert sorted(ours) == sorted(FASTERNET_HOOKS)
    checkpoint = [h for h in runner.hooks if 'Checkpoint' in type(h).__name__]
    assert 'CheckpointHook' in [type(h).__name__ for h in checkpoint]
