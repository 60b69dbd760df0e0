"""What get_flops.py and benchmark.py share: a model's input batch, and
counting params and FLOPs (multiply-adds, as fvcore and the paper count)."""
from typing import Sequence, Union

import torch
import torch.nn as nn
from mmengine.analysis import FlopAnalyzer, parameter_count


def data_batch(scope: str,
               shape: Sequence[int],
               device: Union[str, torch.device] = 'cpu',
               random: bool = True,
               seed: int = 0) -> dict:
    """One ``H x W`` uint8 image (random from ``seed``, or zeros) with the
    metainfo heads read, as ``model.test_step`` and the data preprocessor
    take it."""
    if scope == 'mmseg':
        from mmseg.structures import SegDataSample as DataSample
    else:
        from mmdet.structures import DetDataSample as DataSample
    h, w = shape
    if random:
        gen = torch.Generator().manual_seed(seed)
        img = torch.randint(
            0, 256, (3, h, w), dtype=torch.uint8, generator=gen)
    else:
        img = torch.zeros(3, h, w, dtype=torch.uint8)
    meta = dict(
        img_shape=(h, w),
        ori_shape=(h, w),
        pad_shape=(h, w),
        scale_factor=(1., 1.))
    return dict(
        inputs=[img.to(device)], data_samples=[DataSample(metainfo=meta)])


def complexity(model: nn.Module, inputs: tuple) -> dict:
    """``params`` and ``flops`` (multiply-adds) of ``model(*inputs)``."""
    with torch.no_grad():
        flops = FlopAnalyzer(model, inputs)
        flops.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
        return dict(flops=flops.total(), params=parameter_count(model)[''])
