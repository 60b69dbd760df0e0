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
* ``RPNHead.predict_by_feat``: MMDetection runs the proposals' NMS per FPN
  level (``batched_nms`` by level), keeps every score and drops boxes no
  larger than ``min_bbox_size``; mmdeploy runs one NMS over all levels and
  drops scores under its deploy config's ``score_threshold`` (0.05), so a
  trained Mask R-CNN gets other proposals, and other detections
  (docs/deployment.md). Here each level is an NMS class of its own, as in
  ``batched_nms``.
* ``BBoxHead.predict_by_feat``: MMDetection's ``multiclass_nms`` gives a
  class-specific head's detection of class c the box regressed for c;
  mmdeploy gives every class of a RoI the box of its top-scoring class.
  Here each (RoI, class) pair is a candidate with its own box, as in
  MMDetection, and the zero boxes that pad the proposals (fewer than
  ``max_per_img`` left the RPN's NMS) propose nothing.
"""
import torch
import torch.nn.functional as F
from mmdeploy.codebase.mmdet.deploy import (gather_topk,
                                            get_post_processing_params)
from mmdeploy.core import FUNCTION_REWRITER
from mmdeploy.mmcv.ops import multiclass_nms
from mmdeploy.utils import IR
from mmdet.structures.bbox import get_box_tensor
from torch.nn.modules.utils import _pair

# NMS keeps scores above its threshold: this keeps every positive score
# (MMDetection's RPN has no threshold) and drops the zeros of the one-hot
# score columns below.
ANY_SCORE = float(torch.finfo(torch.float32).tiny)


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


def _one_hot_scores(scores, classes, num_classes: int):
    """(B, N, num_classes) scores that are ``scores`` in column ``classes``
    and 0 elsewhere: an NMS per class runs per ``classes`` value."""
    columns = torch.arange(num_classes, device=scores.device)
    return torch.where(
        classes.unsqueeze(-1) == columns, scores.unsqueeze(-1),
        scores.new_zeros(1))


@FUNCTION_REWRITER.register_rewriter(
    func_name='mmdet.models.dense_heads.rpn_head.RPNHead.predict_by_feat',
    ir=IR.ONNX)
def rpn_head__predict_by_feat__nms_per_level(self,
                                             cls_scores,
                                             bbox_preds,
                                             score_factors=None,
                                             batch_img_metas=None,
                                             cfg=None,
                                             rescale=False,
                                             with_nms=True,
                                             **kwargs):
    """Proposals as MMDetection's ``RPNHead`` makes them: each level's top
    ``nms_pre`` boxes, NMS per level, the best ``max_per_img`` kept; (dets,
    levels) with dets (B, max_per_img, 5), zero rows padding."""
    ctx = FUNCTION_REWRITER.get_context()
    cfg = self.test_cfg if cfg is None else cfg
    batch = cls_scores[0].shape[0]
    num_levels = len(cls_scores)
    anchors = self.anchor_generator.grid_anchors(
        [s.shape[-2:] for s in cls_scores], device=cls_scores[0].device)
    nms_pre = cfg.get('nms_pre', -1)
    all_boxes, all_scores = [], []
    for level, (cls_score, bbox_pred,
                priors) in enumerate(zip(cls_scores, bbox_preds, anchors)):
        cls_score = cls_score.permute(0, 2, 3, 1)
        if self.use_sigmoid_cls:
            scores = cls_score.reshape(batch, -1).sigmoid()
        else:
            scores = cls_score.reshape(batch, -1, 2).softmax(-1)[..., 0]
        deltas = bbox_pred.permute(0, 2, 3,
                                   1).reshape(batch, -1,
                                              self.bbox_coder.encode_size)
        priors = priors.unsqueeze(0)
        # mmdeploy's topk takes min(k, size). Its gather_topk, as in its own
        # rewriter: a gather through an expanded index (Expand by -1) fails
        # in OpenVINO's CPU plugin once denormals are flushed
        # (torch.set_flush_denormal).
        if nms_pre > 0:
            scores, keep = scores.topk(nms_pre)
            deltas = gather_topk(deltas, inds=keep, batch_size=batch)
            priors = gather_topk(
                priors, inds=keep, batch_size=batch, is_batched=False)
        boxes = get_box_tensor(
            self.bbox_coder.decode(
                priors, deltas, max_shape=batch_img_metas[0]['img_shape']))
        if cfg.get('min_bbox_size', -1) >= 0:
            wide = (boxes[..., 2] - boxes[..., 0] > cfg.min_bbox_size) & (
                boxes[..., 3] - boxes[..., 1] > cfg.min_bbox_size)
            scores = scores.where(wide, scores.new_zeros(1))
        all_boxes.append(boxes)
        all_scores.append(
            _one_hot_scores(scores,
                            torch.full_like(scores, level, dtype=torch.long),
                            num_levels))
    boxes = torch.cat(all_boxes, 1)
    scores = torch.cat(all_scores, 1)
    if not with_nms:
        return boxes, scores.sum(-1, keepdim=True)
    # pre_top_k as mmdeploy's rewriter (TensorRT's NMS takes a bound); it
    # keeps every box where the levels give no more (5 x nms_pre 1000)
    return multiclass_nms(
        boxes,
        scores,
        cfg.max_per_img,
        nms_type=cfg.nms.get('type', 'nms'),
        iou_threshold=cfg.nms.iou_threshold,
        score_threshold=ANY_SCORE,
        pre_top_k=get_post_processing_params(ctx.cfg).pre_top_k,
        keep_top_k=cfg.max_per_img)


@FUNCTION_REWRITER.register_rewriter(
    func_name='mmdet.models.roi_heads.bbox_heads.bbox_head.BBoxHead'
    '.predict_by_feat',
    ir=IR.ONNX)
def bbox_head__predict_by_feat__box_per_class(self,
                                              rois,
                                              cls_scores,
                                              bbox_preds,
                                              batch_img_metas,
                                              rcnn_test_cfg,
                                              rescale=False):
    """Detections as MMDetection's ``multiclass_nms`` makes them from a
    RoI head: (dets, labels), dets (B, max_per_img, 5)."""
    ctx = FUNCTION_REWRITER.get_context()
    if self.custom_cls_channels:
        scores = self.loss_cls.get_activation(cls_scores)
    else:
        scores = F.softmax(cls_scores, dim=-1)
    batch, num_rois = scores.shape[:2]
    num_classes = self.num_classes
    boxes = get_box_tensor(
        self.bbox_coder.decode(
            rois[..., 1:],
            bbox_preds,
            max_shape=batch_img_metas[0]['img_shape']))
    if boxes.shape[-1] == 4:  # class-agnostic regression
        boxes = boxes.repeat(1, 1, num_classes)
    boxes = boxes.reshape(batch, -1, 4)
    proposed = (rois[..., 3] > rois[..., 1]) & (rois[..., 4] > rois[..., 2])
    scores = scores[..., :num_classes].where(
        proposed.unsqueeze(-1), scores.new_zeros(1)).reshape(batch, -1)
    # one candidate per (RoI, class); the best pre_top_k go to the NMS
    pre_top_k = get_post_processing_params(ctx.cfg).pre_top_k
    if pre_top_k > 0:
        scores, keep = scores.topk(pre_top_k)
        boxes = gather_topk(boxes, inds=keep, batch_size=batch)
    else:
        keep = torch.arange(
            scores.shape[1], device=scores.device).repeat(batch, 1)
    labels = torch.remainder(keep, num_classes)
    max_per_img = rcnn_test_cfg.max_per_img
    return multiclass_nms(
        boxes,
        _one_hot_scores(scores, labels, num_classes),
        max_per_img,
        nms_type=rcnn_test_cfg.nms.get('type', 'nms'),
        iou_threshold=rcnn_test_cfg.nms.iou_threshold,
        score_threshold=rcnn_test_cfg.score_thr,
        keep_top_k=max_per_img)
