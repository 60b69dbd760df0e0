"""SetupCheckHook: a run that cannot train well stops before its first
iteration, under any tool; a work dir holds one training run at a time."""
import glob
import os
import shutil

import pytest
from helpers import DET_DEMO_CONFIG, coco_options, load_tool

from fasternet_mm.errors import ConfigValueError, DataError, UserInputError
from fasternet_mm.runtime.fileio import lock_work_dir

pytestmark = pytest.mark.e2e  # pytest.ini: runs of the Runner, one stack

train_tool = load_tool('train')


def train(root, work_dir, *options, extra=()):
    train_tool.main([
        DET_DEMO_CONFIG, '--work-dir',
        str(work_dir), *extra, '--cfg-options', *coco_options(root),
        'train_cfg.max_epochs=1', *options
    ])


@pytest.mark.parametrize(
    'options, message',
    [
        (['train_cfg.max_epochs=0'
          ], r'train_cfg.max_epochs is 0: training would run no iteration'),
        (
            [
                'train_dataloader.batch_size=16',
                'train_dataloader.batch_sampler.drop_last=True'
            ],
            # tools/train.py's check
            r'an epoch would train no iteration: 6 samples per process in '
            r'batches of 16 with drop_last=True leave none'),
    ])
def test_a_run_of_no_iteration_is_refused(tiny_coco, tmp_path, options,
                                          message):
    """mmengine would run nothing and exit 0."""
    with pytest.raises(ConfigValueError, match=message):
        train(tiny_coco, tmp_path / 'work', *options)
    assert not [f for f in os.listdir(tmp_path / 'work') if '.pth' in f]


def test_a_val_set_with_a_missing_image_fails_before_training(
        tiny_coco, tmp_path):
    root = tmp_path / 'coco'
    shutil.copytree(tiny_coco, root)
    (root / 'val2017' / '000000000001.png').unlink()
    with pytest.raises(DataError, match=r'1 of the images that the val '):
        train(root, tmp_path / 'work')
    assert not [f for f in os.listdir(tmp_path / 'work') if '.pth' in f]


def test_a_work_dir_in_use_is_refused(tiny_coco, tmp_path):
    work_dir = tmp_path / 'work'
    held = lock_work_dir(str(work_dir))  # another run's lock
    with pytest.raises(
            UserInputError,
            match=rf'another training run \(pid {os.getpid()}\) is using the '
            rf'work dir {work_dir}'):
        train(tiny_coco, work_dir)
    held.close()
    train(tiny_coco, work_dir)  # released: trains


def test_earlier_checkpoints_warn_when_the_run_starts_from_scratch(
        tiny_coco, tmp_path):
    work_dir = tmp_path / 'work'
    work_dir.mkdir()
    (work_dir / 'epoch_3.pth').write_bytes(b'')
    train(tiny_coco, work_dir)
    [log] = glob.glob(str(work_dir / '*' / '*.log'))
    warned = [line for line in open(log) if 'of an earlier run' in line]
    assert warned and 'epoch_3.pth' in warned[0] and '--resume' in warned[0]
