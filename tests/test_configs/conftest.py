"""Fixtures of the config tests; the table of configs is in test_configs.py.
"""
import copy
import os.path as osp

import pytest
from helpers import CONFIG_DIR


@pytest.fixture(scope='session')
def load_cfg():
    """``load_cfg(file)``: a config as the tools load it (``load_config``),
    ``file`` under configs/ or an installed ``mmdet::`` / ``mmseg::`` one.

    Each file is parsed once per session (MMDetection's bases make that the
    slow part); every call returns a copy the test may change.
    """
    from fasternet_mm.runtime import load_config
    cache = {}

    def load(file):
        if file not in cache:
            path = file if '::' in file else osp.join(CONFIG_DIR, file)
            cache[file] = load_config(path)
        return copy.deepcopy(cache[file])

    return load
