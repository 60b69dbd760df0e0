"""Crash-safe files and the work-dir lock (fasternet_mm.runtime.fileio)."""
import errno
import os

import pytest
from mmengine.fileio import get_file_backend
from mmengine.runner.checkpoint import save_checkpoint

from fasternet_mm.errors import UserInputError
from fasternet_mm.runtime import fileio
from fasternet_mm.runtime.fileio import (AtomicLocalBackend, DiskWriteError,
                                         atomic_write, lock_work_dir)


def test_mmengine_saves_checkpoints_through_the_backend_named_in_backend_args(
        tmp_path, monkeypatch):
    """What AtomicSaveHook relies on: mmengine's save_checkpoint writes the
    file with the ``put`` of the backend ``backend_args`` names (if this
    fails, mmengine changed and saves are no longer atomic)."""
    written = []
    monkeypatch.setattr(AtomicLocalBackend, 'put',
                        lambda self, obj, path: written.append(str(path)))
    path = str(tmp_path / 'epoch_1.pth')
    save_checkpoint({'state_dict': {}},
                    path,
                    backend_args=dict(backend='atomic_local'))
    assert written == [path]
    assert isinstance(
        get_file_backend(path, backend_args=dict(backend='atomic_local')),
        AtomicLocalBackend)


def test_atomic_write_replaces_a_symlink_instead_of_writing_through_it(
        tmp_path):
    victim = tmp_path / 'victim'
    victim.write_text('keep')
    link = tmp_path / 'last_checkpoint'
    link.symlink_to(victim)
    atomic_write(str(link), b'new')
    assert victim.read_text() == 'keep'
    assert not link.is_symlink() and link.read_text() == 'new'


def test_atomic_write_uses_unpredictable_temporary_names(
        tmp_path, monkeypatch):
    names = []
    real_replace = os.replace

    def spy(src, dst):
        names.append(os.path.basename(src))
        real_replace(src, dst)

    monkeypatch.setattr(os, 'replace', spy)
    for _ in range(2):
        atomic_write(str(tmp_path / 'epoch_1.pth'), b'x')
    assert names[0] != names[1]
    assert str(os.getpid()) not in names[0]
    assert names[0].startswith('.epoch_1.pth.')


def test_a_failed_write_leaves_the_old_file_and_no_temporary_file(
        tmp_path, monkeypatch):
    target = tmp_path / 'epoch_1.pth'
    target.write_bytes(b'old')

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, 'fsync', full)
    with pytest.raises(
            DiskWriteError,
            match=r'cannot write .*epoch_1.pth: No space left on '
            r'device; it needs 0.0 MiB free next to the previous'):
        atomic_write(str(target), b'new content')
    assert os.listdir(tmp_path) == ['epoch_1.pth']
    assert target.read_bytes() == b'old'


def test_a_symlinked_lock_file_is_refused_and_its_target_untouched(tmp_path):
    victim = tmp_path / 'victim'
    victim.write_text('precious')
    work_dir = tmp_path / 'work'
    work_dir.mkdir()
    (work_dir / fileio.LOCK_FILE).symlink_to(victim)
    with pytest.raises(UserInputError, match='is a symbolic link'):
        lock_work_dir(str(work_dir))
    assert victim.read_text() == 'precious'


def test_a_hard_linked_lock_file_is_refused_and_its_target_untouched(tmp_path):
    victim = tmp_path / 'victim'
    victim.write_text('precious')
    work_dir = tmp_path / 'work'
    work_dir.mkdir()
    os.link(victim, work_dir / fileio.LOCK_FILE)
    with pytest.raises(UserInputError, match='not a plain file of its own'):
        lock_work_dir(str(work_dir))
    assert victim.read_text() == 'precious'


def test_the_lock_holds_the_pid_and_is_released(tmp_path):
    handle = lock_work_dir(str(tmp_path))
    assert (tmp_path / fileio.LOCK_FILE).read_text() == str(os.getpid())
    with pytest.raises(UserInputError, match='another training run'):
        lock_work_dir(str(tmp_path))
    handle.close()
    lock_work_dir(str(tmp_path)).close()


def test_an_unwritable_work_dir_is_a_user_error_naming_it(tmp_path):
    if os.geteuid() == 0:
        work_dir = '/proc/fasternet_mm_work'  # not creatable, even by root
    else:
        tmp_path.chmod(0o500)
        work_dir = str(tmp_path / 'work')
    with pytest.raises(DiskWriteError, match=f'cannot write {work_dir}'):
        lock_work_dir(work_dir)
