"""Fixtures shared by the suite; plain helpers are in helpers.py."""
import logging
import os
import os.path as osp

import pytest
from helpers import REPO_ROOT

GOLDEN_DIR = os.environ.get('FASTERNET_MM_GOLDEN',
                            osp.join(REPO_ROOT, '..', 'shared', 'golden'))


@pytest.fixture(scope='session')
def golden_dir():
    if not osp.isdir(GOLDEN_DIR):
        pytest.fail(f'golden data not found at {GOLDEN_DIR}; set '
                    'FASTERNET_MM_GOLDEN to the folder holding the .pt files')
    return GOLDEN_DIR


@pytest.fixture(scope='session')
def tiny_coco(tmp_path_factory):
    """A 6 + 3 image COCO-format set of 64x64 synthetic scenes."""
    from fasternet_mm.demo import make_coco_demo
    root = str(tmp_path_factory.mktemp('coco_tiny'))
    make_coco_demo(root, num_train=6, num_val=3, img_size=64, progress=False)
    return root


@pytest.fixture
def mmengine_log():
    """The messages logged through mmengine's current logger (what
    ``print_log(..., logger='current')`` writes) during the test, in order.

    capsys cannot see them: the logger's stream handler holds the
    ``sys.stdout`` of the moment it was created.
    """
    from mmengine.logging import MMLogger
    logger = MMLogger.get_current_instance()
    messages = []

    class Collect(logging.Handler):

        def emit(self, record):
            messages.append(record.getMessage())

    handler = Collect()
    logger.addHandler(handler)
    yield messages
    logger.removeHandler(handler)
