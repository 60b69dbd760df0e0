"""Fast mask pasting gives MMDetection's masks."""
import numpy as np
import torch
from mmdet.models.roi_heads.mask_heads.fcn_mask_head import _do_paste_mask

from fasternet_mm.runtime.deploy.paste import paste_masks


def test_paste_masks_equals_mmdet_grid_sample_paste():
    g = torch.Generator().manual_seed(0)
    n, h, w = 30, 120, 170
    masks = torch.rand(n, 1, 28, 28, generator=g)
    xy = torch.rand(n, 2, generator=g) * torch.tensor([w, h])
    boxes = torch.cat([xy, xy + torch.rand(n, 2, generator=g) * 90 + .5], 1)
    boxes[:, 0::2] = boxes[:, 0::2].clamp(0, w)
    boxes[:, 1::2] = boxes[:, 1::2].clamp(0, h)
    boxes[0] = torch.tensor([10., 10., 12., 11.])  # tiny: a few pixels
    for threshold in (0.5, 0.2):
        ref, _ = _do_paste_mask(masks, boxes, h, w, skip_empty=False)
        ours = paste_masks(masks[:, 0].numpy(), boxes.numpy(), h, w, threshold)
        assert ours.shape == (n, h, w) and ours.dtype == bool
        assert ((ref >= threshold).numpy() == ours).all()


def test_paste_masks_of_no_boxes():
    assert paste_masks(
        np.zeros((0, 28, 28), np.float32), np.zeros((0, 4)), 5, 6,
        .5).shape == (0, 5, 6)
