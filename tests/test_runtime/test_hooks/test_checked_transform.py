"""A transform that fails on one sample names the file and the transform
(the data checks' sample cannot see every image)."""
import cv2
import numpy as np
import pytest
from helpers import DET_DEMO_CONFIG
from mmengine.config import Config
from mmengine.registry import init_default_scope

import fasternet_mm.runtime  # noqa: F401  (registers CheckedTransform)
from fasternet_mm.errors import DataError
from fasternet_mm.runtime.hooks import CheckedTransform


def test_an_image_too_wide_to_resize_names_file_and_transform(tmp_path):
    """20000x1 pixels: Resize to 160 gives a height of 0 (a cv2 error)."""
    path = str(tmp_path / 'wide.png')
    cv2.imwrite(path, np.zeros((1, 20000, 3), np.uint8))
    init_default_scope('mmdet')
    pipeline = [
        CheckedTransform(t)
        for t in Config.fromfile(DET_DEMO_CONFIG).train_pipeline
    ]
    results = dict(
        img_path=path,
        img_id=1,
        height=1,
        width=20000,
        instances=[
            dict(
                bbox=[0, 0, 100, 1],
                bbox_label=0,
                ignore_flag=0,
                mask=[[0, 0, 100, 0, 100, 1]])
        ])
    with pytest.raises(
            DataError,
            match=rf"(?s)^Resize failed on '{path}': error: .*; replace or "
            'remove the file'):
        for transform in pipeline:
            results = transform(results)
