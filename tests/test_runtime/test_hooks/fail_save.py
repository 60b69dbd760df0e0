"""Fail a checkpoint save part-way, for the tests of crash-safe saving.

Imported by test configs through ``custom_imports``. With
``FAIL_SAVE=N:MODE`` in the environment, the N-th checkpoint written (a
file whose name holds ``.pth``, opened through ``os.fdopen`` as
``fasternet_mm.runtime.fileio.atomic_write`` does) gets half of its bytes on
disk and then the process is killed by SIGTERM (``MODE=term``), as by a
cluster's preemption, or the write fails with ENOSPC (``MODE=full``), as on
a full disk.
"""
import errno
import os
import signal

_fdopen = os.fdopen
_count = 0


class _HalfWriter:

    def __init__(self, f, mode):
        self._f, self._mode = f, mode

    def write(self, data):
        self._f.write(data[:len(data) // 2])
        self._f.flush()
        if self._mode == 'term':
            os.kill(os.getpid(), signal.SIGTERM)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def __getattr__(self, name):
        return getattr(self._f, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._f.close()


def _failing_fdopen(fd, *args, **kwargs):
    global _count
    f = _fdopen(fd, *args, **kwargs)
    number, mode = os.environ['FAIL_SAVE'].split(':')
    if '.pth' in os.readlink(f'/proc/self/fd/{fd}'):
        _count += 1
        if _count == int(number):
            return _HalfWriter(f, mode)
    return f


if os.environ.get('FAIL_SAVE'):
    os.fdopen = _failing_fdopen
