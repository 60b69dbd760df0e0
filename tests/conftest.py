import os
import os.path as osp

import pytest

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
GOLDEN_DIR = os.environ.get('FASTERNET_MM_GOLDEN',
                            osp.join(REPO_ROOT, '..', 'shared', 'golden'))


@pytest.fixture(scope='session')
def golden_dir():
    if not osp.isdir(GOLDEN_DIR):
        pytest.fail(f'golden data not found at {GOLDEN_DIR}; set '
                    'FASTERNET_MM_GOLDEN to the folder holding the .pt files')
    return GOLDEN_DIR
