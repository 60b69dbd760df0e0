"""Fail a checkpoint save part-way, for the tests of crash-safe saving.

Imported by test configs through ``custom_imports``. With
``FAIL_SAVE=N:MODE`` in the environment, the N-th checkpoint written (a
``.pth`` file through mmengine's local file backend) gets half of its bytes
on disk and then the process is killed by SIGTERM (``MODE=term``), as by a
cluster's preemption, or the write fails with ENOSPC (``MODE=full``), as on
a full disk.
"""
import errno
import os
import signal

from mmengine.fileio import LocalBackend

_put = LocalBackend.put
_count = 0


def _failing_put(self, obj, filepath):
    global _count
    number, mode = os.environ['FAIL_SAVE'].split(':')
    if '.pth' in str(filepath):
        _count += 1
        if _count == int(number):
            with open(filepath, 'wb') as f:
                f.write(obj[:len(obj) // 2])
                f.flush()
            if mode == 'term':
                os.kill(os.getpid(), signal.SIGTERM)
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), filepath)
    return _put(self, obj, filepath)


if os.environ.get('FAIL_SAVE'):
    LocalBackend.put = _failing_put
