"""A user's mistake, or a file system that refuses a write, ends a tool
with one ``error:`` line naming the problem, not a traceback."""
import errno
import os
import subprocess

import pytest
from helpers import DET_DEMO_CONFIG, coco_options
from helpers import run_tool as run_script

from fasternet_mm.errors import ConfigValueError, run_tool


def exit_message(main):
    with pytest.raises(SystemExit) as e:
        run_tool(main, [])
    return str(e.value.code)


def raising(error):

    def main(argv):
        raise error

    return main


@pytest.mark.parametrize('error, message', [
    (OSError(errno.ENOSPC, 'No space left on device', '/w/epoch_1.pth'),
     'error: cannot write /w/epoch_1.pth: No space left on device; free some '
     'space (a checkpoint save needs room for the new file next to the '
     'previous one) or use another --work-dir'),
    (OSError(errno.EROFS, 'Read-only file system', '/ro/work'),
     'error: cannot write /ro/work: Read-only file system; use a writable '
     '--work-dir'),
    (PermissionError(errno.EACCES, 'Permission denied', '/etc/x'),
     'error: cannot access /etc/x: Permission denied; check its permissions'
     ', or use another path'),
    (OSError(errno.ENOSPC, 'No space left on device'),
     'error: cannot write: No space left on device; free some space'),
    (ConfigValueError('bad value'), 'error: bad value'),
])
def test_file_system_errors_are_one_line_naming_the_path(error, message):
    assert exit_message(raising(error)).startswith(message)


def test_other_os_errors_keep_their_traceback():
    with pytest.raises(ConnectionResetError):
        run_tool(raising(ConnectionResetError(errno.ECONNRESET, 'reset')), [])


@pytest.fixture
def tmpfs(tmp_path):
    """A 4 MiB tmpfs (root only: the disk-full and read-only cases need a
    file system of their own)."""
    mount = tmp_path / 'fs'
    mount.mkdir()
    if os.geteuid() != 0 or subprocess.run(
        ['mount', '-t', 'tmpfs', '-o', 'size=4M', 'tmpfs',
         str(mount)]).returncode:
        pytest.skip('needs root to mount a tmpfs')
    yield mount
    subprocess.run(['umount', '-l', str(mount)])


@pytest.mark.e2e  # pytest.ini: one stack only
@pytest.mark.parametrize('kind', ['full', 'read-only'])
def test_train_on_a_full_or_read_only_disk_is_one_error_line(
        tmpfs, tiny_coco, kind):
    work = tmpfs / 'work'
    if kind == 'full':
        subprocess.run(['dd', 'if=/dev/zero', f'of={tmpfs}/filler', 'bs=64k'],
                       capture_output=True)  # until the disk is full
    else:
        work.mkdir()
        subprocess.run(['mount', '-o', 'remount,ro', str(tmpfs)], check=True)
    # in a process of its own: the run leaves mmengine's visualizer (one
    # instance per process) pointing into the tmpfs, which goes away
    proc = run_script(
        'train.py',
        DET_DEMO_CONFIG,
        '--work-dir',
        work,
        '--cfg-options',
        *coco_options(tiny_coco),
        'train_cfg.max_epochs=1',
        check=False)
    reason = {
        'full': 'No space left on device',
        'read-only': 'Read-only file system'
    }[kind]
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith('error: cannot write'), proc.stderr[-2000:]
    assert reason in last and 'Traceback' not in proc.stderr


@pytest.mark.parametrize('workers', [0, 1])
def test_a_sample_that_fails_to_load_is_one_line_naming_its_file(
        tiny_coco, tmp_path, workers):
    """In this process or in a DataLoader worker: mmcv's message names the
    file there; here the sample's own record does."""
    import shutil

    from mmdet.registry import DATASETS
    from mmengine.dataset import pseudo_collate
    from mmengine.registry import init_default_scope
    from torch.utils.data import DataLoader

    from fasternet_mm.runtime import load_config
    root = tmp_path / 'coco'
    shutil.copytree(tiny_coco, root)
    broken = root / 'train2017' / '000000000002.png'
    broken.write_text('not an image')
    cfg = load_config(DET_DEMO_CONFIG)
    cfg.train_dataloader.dataset.data_root = str(root)
    init_default_scope('mmdet')
    loader = DataLoader(
        DATASETS.build(cfg.train_dataloader.dataset),
        num_workers=workers,
        collate_fn=pseudo_collate)

    def main(argv):
        for _ in loader:
            pass

    with pytest.raises(SystemExit) as e:
        run_tool(main, [])
    message = str(e.value.code)
    assert message.startswith('error: ')
    assert f'failed to load image: {broken}' in message
    assert message.endswith('; replace or remove the file (or its entry in '
                            'the annotation file)')
    assert ('DataLoader worker process 0' in message) == bool(workers)
    if not workers:
        assert message.startswith(f"error: loading '{broken}' failed: ")
