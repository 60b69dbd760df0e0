"""A training run refuses a length of no iterations and a work dir that
another run is training in, and warns when it would overwrite the
checkpoints of an earlier run."""
import fcntl
import os

import pytest
from helpers import DET_DEMO_CONFIG, coco_options, load_tool, run_tool

from fasternet_mm.errors import ConfigValueError, UserInputError

train_tool = load_tool('train')


def train(work_dir, root, *options, config=DET_DEMO_CONFIG):
    train_tool.main([
        str(config), '--work-dir',
        str(work_dir), '--cfg-options', *coco_options(root), *options
    ])


@pytest.mark.parametrize('option, name', [
    ('train_cfg.max_epochs=-1', 'max_epochs is -1'),
    ('train_cfg.max_epochs=0', 'max_epochs is 0'),
    ('iter-based', 'max_iters is 0'),
])
def test_no_iterations_is_a_config_error(tmp_path, tiny_coco, option, name):
    config = DET_DEMO_CONFIG
    if option == 'iter-based':
        config = tmp_path / 'iters.py'
        config.write_text(
            f'_base_ = {DET_DEMO_CONFIG!r}\ntrain_cfg = dict(_delete_=True, '
            "type='IterBasedTrainLoop', max_iters=0)\n")
        option = 'default_hooks.logger.interval=1'
    with pytest.raises(
            ConfigValueError,
            match=rf'train_cfg.{name}: training would run no iteration'):
        train(tmp_path, tiny_coco, option, config=config)


def test_work_dir_in_use_by_another_run_is_refused_before_logging(
        tmp_path, tiny_coco):
    work_dir = tmp_path / 'work'
    work_dir.mkdir()
    with open(work_dir / '.train.lock', 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        lock.write('4242')
        lock.flush()
        with pytest.raises(
                UserInputError,
                match=r'another training run \(pid 4242\) is using the work '
                r'dir .*give this run its own --work-dir'):
            train(work_dir, tiny_coco, 'train_cfg.max_epochs=1')
    # refused before mmengine opened a log folder (named by the second, it
    # could be the other run's)
    assert sorted(p.name for p in work_dir.iterdir()) == ['.train.lock']


@pytest.mark.e2e  # pytest.ini: one stack only
def test_earlier_run_checkpoints_warn_when_not_resuming(tmp_path, tiny_coco):
    work_dir = tmp_path / 'work'
    work_dir.mkdir()
    (work_dir / 'epoch_1.pth').write_bytes(b'old')
    (work_dir / 'last_checkpoint').write_text(str(work_dir / 'epoch_1.pth'))
    out = run_tool('train.py', DET_DEMO_CONFIG,
                   '--work-dir', str(work_dir), '--cfg-options',
                   *coco_options(tiny_coco), 'train_cfg.max_epochs=1',
                   'val_cfg=None', 'val_dataloader=None', 'val_evaluator=None')
    assert (f'the work dir {work_dir} holds 1 checkpoint(s) of an earlier '
            'run (epoch_1.pth); this run does not resume') in out
    assert 'add --resume' in out
    # the lock is released when the run ends
    with open(work_dir / '.train.lock') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    assert os.path.getsize(work_dir / 'epoch_1.pth') > 3
