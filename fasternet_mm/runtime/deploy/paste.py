"""Pasting instance masks into the image, fast.

:func:`paste_masks` gives what MMDetection's ``_do_paste_mask`` (bilinear
``grid_sample`` of each M x M mask over the whole image, zeros outside)
gives, computed over each box's own region only: bilinear sampling is
separable, so a box's pasted mask is ``Wy @ mask @ Wx.T`` with two small
interpolation matrices. 100 boxes on an 800 x 1216 image take milliseconds
instead of seconds.
"""
import numpy as np


def _weights(lo: float, hi: float, start: int, stop: int,
             size: int) -> np.ndarray:
    """Bilinear weights (stop-start, size) of the image pixels start..stop
    over a mask of ``size`` cells spread over [lo, hi] (align_corners=False,
    zero padding, as ``grid_sample`` samples it)."""
    centres = np.arange(start, stop, dtype=np.float32) + 0.5
    pos = (centres - lo) / max(hi - lo, 1e-6) * size - 0.5
    left = np.floor(pos)
    frac = (pos - left).astype(np.float32)
    left = left.astype(np.int64)
    w = np.zeros((stop - start, size), np.float32)
    rows = np.arange(stop - start)
    for idx, weight in ((left, 1 - frac), (left + 1, frac)):
        ok = (idx >= 0) & (idx < size)
        w[rows[ok], idx[ok]] += weight[ok]
    return w


def paste_masks(masks: np.ndarray, boxes: np.ndarray, height: int, width: int,
                threshold: float) -> np.ndarray:
    """Boolean (N, height, width) masks from (N, M, M) probabilities and
    (N, 4) boxes (x1, y1, x2, y2) in image pixels."""
    out = np.zeros((len(masks), height, width), bool)
    size_y, size_x = masks.shape[1:]
    for i, (mask, (x1, y1, x2, y2)) in enumerate(zip(masks, boxes)):
        # The pixels whose centres can get a non-zero weight: the box and
        # half a mask cell around it.
        hx, hy = (x2 - x1) / (2 * size_x), (y2 - y1) / (2 * size_y)
        xs = (max(int(np.floor(x1 - hx)) - 1,
                  0), min(int(np.ceil(x2 + hx)) + 1, width))
        ys = (max(int(np.floor(y1 - hy)) - 1,
                  0), min(int(np.ceil(y2 + hy)) + 1, height))
        if xs[0] >= xs[1] or ys[0] >= ys[1]:
            continue
        wy = _weights(y1, y2, *ys, size_y)
        wx = _weights(x1, x2, *xs, size_x)
        region = wy @ mask.astype(np.float32) @ wx.T
        out[i, ys[0]:ys[1], xs[0]:xs[1]] = region >= threshold
    return out
