"""A user's mistake, or a file system that refuses a write, ends a tool
with one ``error:`` line naming the problem, not a traceback."""
import errno
import os
import subprocess

import pytest
from helpers import DET_DEMO_CONFIG, coco_options, load_tool

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
    train = load_tool('train')
    with pytest.raises(SystemExit) as e:
        run_tool(train.main, [
            DET_DEMO_CONFIG, '--work-dir',
            str(work), '--cfg-options', *coco_options(tiny_coco),
            'train_cfg.max_epochs=1'
        ])
    reason = {
        'full': 'No space left on device',
        'read-only': 'Read-only file system'
    }[kind]
    assert str(e.value.code).startswith('error: cannot write')
    assert reason in str(e.value.code)
