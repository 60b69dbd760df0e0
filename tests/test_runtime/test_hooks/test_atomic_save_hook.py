"""A run killed, or out of disk, while it saves a checkpoint loses nothing
that was saved before, and ``--resume`` continues from it.

The save fails part-way for real (fail_save.py: half the bytes are on disk
when SIGTERM arrives or ENOSPC is raised), in the detection demo config with
its ``max_keep_ckpts=1`` and a checkpoint every epoch.
"""
import os
import os.path as osp
import signal

import pytest
import torch
from helpers import (DET_DEMO_CONFIG, coco_options, load_tool, run_tool,
                     run_upstream_tool)

from fasternet_mm.errors import CheckpointError

HERE = osp.dirname(osp.abspath(__file__))
CONFIG = f"""_base_ = {DET_DEMO_CONFIG!r}
custom_imports = dict(
    imports=['fasternet_mm.runtime', 'fail_save'], allow_failed_imports=False)
val_dataloader = None
val_cfg = None
val_evaluator = None
train_cfg = dict(val_interval=1000)
default_hooks = dict(checkpoint=dict(interval=1, max_keep_ckpts=1))
"""


def train(config, work_dir, root, epochs, *extra, fail=None):
    options = [o for o in coco_options(root) if o.startswith('train')]
    return run_tool(
        'train.py',
        config,
        '--work-dir',
        work_dir,
        *extra,
        '--cfg-options',
        *options,
        f'train_cfg.max_epochs={epochs}',
        check=False,
        env=dict(FAIL_SAVE=fail) if fail else None,
        pythonpath=[HERE])


@pytest.fixture
def config(tmp_path):
    path = tmp_path / 'atomic.py'
    path.write_text(CONFIG)
    return path


def files(work_dir):
    """The files in ``work_dir``, hidden ones (temporary files) too."""
    return sorted(
        f for f in os.listdir(work_dir) if osp.isfile(osp.join(work_dir, f)))


@pytest.mark.e2e  # pytest.ini: one stack only
def test_sigterm_while_saving_keeps_the_previous_checkpoint(
        config, tmp_path, tiny_coco):
    work_dir = tmp_path / 'work'
    killed = train(config, work_dir, tiny_coco, 2, fail='2:term')
    assert killed.returncode == -signal.SIGTERM, killed.stderr[-3000:]
    # epoch_2.pth was being written: the old one is kept, no half file
    # carries a checkpoint's name, and last_checkpoint names a whole one.
    assert (work_dir / 'last_checkpoint').read_text() == str(work_dir /
                                                             'epoch_1.pth')
    assert not (work_dir / 'epoch_2.pth').exists()
    ckpt = torch.load(work_dir / 'epoch_1.pth', weights_only=False)
    assert ckpt['meta']['epoch'] == 1

    resumed = train(config, work_dir, tiny_coco, 2, '--resume')
    out = resumed.stdout + resumed.stderr
    assert resumed.returncode == 0, out[-3000:]
    assert 'resumed epoch: 1' in out
    assert (work_dir / 'last_checkpoint').read_text() == str(work_dir /
                                                             'epoch_2.pth')
    # max_keep_ckpts=1 removed epoch_1.pth after epoch_2.pth was saved, and
    # the killed save's temporary file is gone.
    assert [f for f in files(work_dir) if '.pth' in f] == ['epoch_2.pth']


train_tool = load_tool('train')


def test_resuming_from_a_missing_checkpoint_names_it(tmp_path, tiny_coco):
    """--resume PATH, or a last_checkpoint naming a file that is gone."""
    work_dir = tmp_path / 'work'
    work_dir.mkdir()
    (work_dir / 'last_checkpoint').write_text(str(work_dir / 'epoch_4.pth'))
    for extra in (['--resume'], ['--resume', str(tmp_path / 'nope.pth')]):
        with pytest.raises(
                CheckpointError,
                match=rf"checkpoint file '.*{extra[-1][-8:]}' does not "
                r'exist' if len(extra) == 2 else r"'.*epoch_4.pth' does not"):
            train_tool.main([
                DET_DEMO_CONFIG, '--work-dir',
                str(work_dir), *extra, '--cfg-options',
                *coco_options(tiny_coco)
            ])


@pytest.mark.e2e  # pytest.ini: one stack only
def test_full_disk_under_mmdetections_own_tool_leaves_no_partial_file(
        config, tmp_path, tiny_coco):
    """The config names the hook: MMDetection's own train.py gets it."""
    work_dir = tmp_path / 'work'
    options = [o for o in coco_options(tiny_coco) if o.startswith('train')]
    failed = run_upstream_tool(
        'mmdet',
        'train.py',
        config,
        '--work-dir',
        work_dir,
        '--cfg-options',
        *options,
        'train_cfg.max_epochs=1',
        check=False,
        env=dict(FAIL_SAVE='1:full'),
        pythonpath=[HERE])
    assert failed.returncode != 0
    assert 'DiskWriteError: cannot write' in failed.stderr
    assert 'No space left on device; it needs ' in failed.stderr
    assert [f for f in files(work_dir) if '.pth' in f] == []
    assert not (work_dir / 'last_checkpoint').exists()
