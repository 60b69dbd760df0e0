"""Fixes to mmdeploy 1.3.1's rewriters, through its public registry.

Imported by :mod:`.export`; each fix is pinned by a test in
``tests/test_runtime/test_deploy/test_rewriters.py``.

* ``adaptive_avg_pool2d``: mmdeploy replaces it by an ``avg_pool2d`` whose
  kernel is computed from the size seen while tracing, so a dynamic-shape
  graph pools every other input size wrongly (UperNet's and PSPNet's
  pyramid pooling; a 4x4 map traced for 6 bins fails outright, "stride
  should not be zero"). Here it is PyTorch's own definition written with
  traced sizes (bin ``i`` of ``n`` over ``size`` averages
  ``floor(i*size/n) .. ceil((i+1)*size/n)``) as two averaging matrices, so
  any input size pools as PyTorch does.
* ``MlvlPointGenerator.single_level_grid_priors``: mmdeploy's RTMDet-Ins
  mask decoding (``rtmdet_ins_head.py``, ``_mask_predict_by_feat_single``)
  asks for the mask feature's grid without a ``device``, so MMDetection's
  default ``device='cuda'`` applies and tracing on a machine without CUDA
  fails ("Found no NVIDIA driver on your system"); the caller moves the
  grid to the feature's device afterwards. Here a CUDA device that this
  machine lacks is the CPU; any other device is kept.
* ``CascadeRoIHead.predict_mask``: MMDetection's Cascade Mask R-CNN masks
  are the mean of the stages' mask probabilities (``merge_aug_masks`` of
  the sigmoids); mmdeploy's rewriter averages the stages' logits and takes
  the sigmoid of that, so a pixel where the stages disagree may flip
  (whole rows of a mask on a small model). Here the probabilities are
  averaged, and handed to mmdeploy's mask-head rewriter (which always
  applies the sigmoid) as the logits of that mean.
"""
import torch
from mmdeploy.core import FUNCTION_REWRITER
from mmdeploy.utils import IR
from torch.nn.modules.utils import _pair


def _bin_matrix(size, bins: int, like: torch.Tensor) -> torch.Tensor:
    """(bins, size) weights that average each adaptive-pooling bin."""
    i = torch.arange(bins, device=like.device)
    start = torch.div(i * size, bins, rounding_mode='floor')
    end = torch.div((i + 1) * size + bins - 1, bins, rounding_mode='floor')
    pos = torch.arange(size, device=like.device)[None]
    inside = (pos >= start[:, None]) & (pos < end[:, None])
    return inside.to(like.dtype) / (end - start)[:, None].to(like.dtype)


@FUNCTION_REWRITER.register_rewriter(
    func_name='torch.nn.functional.adaptive_avg_pool2d', ir=IR.ONNX)
def adaptive_avg_pool2d__dynamic(input, output_size):
    """``adaptive_avg_pool2d`` that follows the input size of the graph."""
    ctx = FUNCTION_REWRITER.get_context()
    out_h, out_w = _pair(output_size)
    if out_h == out_w == 1:
        return ctx.origin_func(input, 1)
    h, w = input.shape[2:]
    rows = _bin_matrix(h, out_h, input)
    cols = _bin_matrix(w, out_w, input)
    return torch.matmul(torch.matmul(rows, input), cols.t())


@FUNCTION_REWRITER.register_rewriter(
    func_name='mmdet.models.task_modules.prior_generators.MlvlPointGenerator'
    '.single_level_grid_priors',
    ir=IR.ONNX)
def mlvl_point_generator__single_level_grid_priors__cpu(
        self,
        featmap_size,
        level_idx,
        dtype=torch.float32,
        device='cuda',
        with_stride=False):
    """``single_level_grid_priors`` on the CPU where CUDA is asked for but
    absent (mmdeploy's RTMDet-Ins rewriter leaves MMDetection's default)."""
    ctx = FUNCTION_REWRITER.get_context()
    if torch.device(device).type == 'cuda' and not torch.cuda.is_available():
        device = 'cpu'
    return ctx.origin_func(self, featmap_size, level_idx, dtype, device,
                           with_stride)


@FUNCTION_REWRITER.register_rewriter(
    func_name='mmdet.models.roi_heads.cascade_roi_head.CascadeRoIHead'
    '.predict_mask',
    ir=IR.ONNX)
def cascade_roi_head__predict_mask__mean_probability(self,
                                                     x,
                                                     batch_img_metas,
                                                     results_list,
                                                     rescale=False):
    """Cascade masks from the mean of the stages' mask probabilities:
    (dets, labels, masks), as mmdeploy's rewriter returns them."""
    dets, labels = results_list
    batch, num_det = dets.shape[:2]
    index = torch.arange(
        batch, device=dets.device, dtype=dets.dtype).view(-1, 1, 1)
    rois = torch.cat([index.expand(batch, num_det, 1), dets[..., :4]],
                     dim=-1).view(-1, 5)
    probs = sum(
        self._mask_forward(stage, x, rois)['mask_preds'].sigmoid()
        for stage in range(self.num_stages)) / self.num_stages
    probs = probs.clamp(1e-6, 1 - 1e-6)
    masks = self.mask_head[-1].predict_by_feat(
        torch.log(probs / (1 - probs)),  # its sigmoid gives back probs
        results_list,
        batch_img_metas,
        self.test_cfg,
        rescale=rescale)
    return dets, labels, masks.reshape(batch, num_det, *masks.shape[-2:])
