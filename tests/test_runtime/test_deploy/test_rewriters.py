"""Our fixes to mmdeploy's rewriters (torch 2.1 stack, where it exports)."""
import numpy as np
import onnxruntime as ort
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config

pytest.importorskip(
    'mmdeploy', reason='mmdeploy 1.3.1 is installed on the torch 2.1 stack')


class Pyramid(torch.nn.Module):
    """Pyramid pooling as UperNet's and PSPNet's heads do it."""

    def forward(self, x):
        return torch.cat([
            F.interpolate(
                F.adaptive_avg_pool2d(x, s), x.shape[2:], mode='bilinear')
            for s in (1, 2, 3, 6)
        ], 1)


def export_dynamic(path):
    from mmdeploy.core import RewriterContext
    from mmdeploy.utils import IR

    import fasternet_mm.runtime.deploy.rewriters  # noqa: F401
    cfg = Config(
        dict(
            onnx_config=dict(type='onnx', input_shape=None),
            backend_config=dict(type='onnxruntime'),
            codebase_config=dict(type='mmseg', task='Segmentation')))
    with RewriterContext(cfg=cfg, backend='onnxruntime', ir=IR.ONNX), \
            torch.no_grad():
        torch.onnx.export(
            Pyramid(),
            torch.rand(1, 2, 12, 12),
            path,
            input_names=['x'],
            output_names=['y'],
            opset_version=11,
            dynamic_axes=dict(x={
                0: 'n',
                2: 'h',
                3: 'w'
            }))


def test_pyramid_pooling_follows_the_input_size(tmp_path):
    """mmdeploy alone bakes the pooling kernel of the traced 12x12 input
    into the graph: any other size pools wrongly."""
    path = str(tmp_path / 'pyramid.onnx')
    export_dynamic(path)
    session = ort.InferenceSession(path, providers=['CPUExecutionProvider'])
    for shape in ((1, 2, 12, 12), (2, 2, 20, 33), (1, 2, 4, 4)):
        x = torch.rand(*shape)
        got = session.run(None, dict(x=x.numpy()))[0]
        np.testing.assert_allclose(
            got, Pyramid()(x).numpy(), rtol=1e-5, atol=1e-5)


def mmdet_deploy_cfg():
    """The deploy config of a detector with masks (ONNX Runtime)."""
    from fasternet_mm.runtime.deploy.configs import deploy_config
    model_cfg = Config(
        dict(default_scope='mmdet', model=dict(mask_head=dict())))
    return deploy_config(model_cfg, 'onnxruntime', 'fp32')


def mmdet_rewriting():
    """mmdeploy's rewriters (and ours) as whole-model export applies them
    to a detector with masks (ONNX Runtime)."""
    from mmdeploy.codebase import import_codebase
    from mmdeploy.core import RewriterContext
    from mmdeploy.utils import IR, Codebase

    import fasternet_mm.runtime.deploy.rewriters  # noqa: F401
    import_codebase(Codebase.MMDET)  # mmdeploy's MMDetection rewriters
    return RewriterContext(
        cfg=mmdet_deploy_cfg(), backend='onnxruntime', ir=IR.ONNX)


@pytest.mark.skipif(
    torch.cuda.is_available(), reason='fails on machines without CUDA only')
def test_point_grid_without_a_device_is_made_on_the_cpu():
    """mmdeploy's RTMDet-Ins mask decoding asks for the grid without a
    device: MMDetection's default, CUDA, fails on a machine without it."""
    from mmdet.models.task_modules.prior_generators import MlvlPointGenerator
    generator = MlvlPointGenerator([8, 16])
    want = generator.single_level_grid_priors((2, 3), 1, device='cpu')
    with mmdet_rewriting(), torch.no_grad():
        got = generator.single_level_grid_priors((2, 3), 1)
        kept = generator.single_level_grid_priors((2, 3), 1, device='cpu')
    assert got.device.type == 'cpu'
    torch.testing.assert_close(got, want)
    torch.testing.assert_close(kept, want)


def test_cascade_masks_average_the_stages_probabilities():
    """MMDetection averages the stages' mask probabilities; mmdeploy alone
    averages their logits: stages of logits 3, -1, -1 give 0.497 (below
    the 0.5 threshold) in MMDetection and sigmoid(1/3) = 0.58 there."""
    import types

    from mmdet.models.roi_heads import CascadeRoIHead
    from mmdet.models.roi_heads.mask_heads import FCNMaskHead
    from mmengine.config import ConfigDict
    stage_logits = (3., -1., -1.)
    num_det, size = 2, 4

    def mask_forward(stage, x, rois):
        assert rois.shape == (num_det, 5)
        shape = (num_det, 3, size, size)  # 3 classes
        return dict(mask_preds=torch.full(shape, stage_logits[stage]))

    head = types.SimpleNamespace(
        num_stages=3,
        _mask_forward=mask_forward,
        mask_head=[FCNMaskHead(num_convs=0, in_channels=4, num_classes=3)],
        test_cfg=ConfigDict(mask_thr_binary=0.5))
    dets = torch.tensor([[[0., 0., 8., 8., .9], [2., 2., 6., 9., .8]]])
    labels = torch.tensor([[2, 0]])
    metas = [dict(img_shape=(16, 16))]
    with mmdet_rewriting(), torch.no_grad():
        _, _, masks = CascadeRoIHead.predict_mask(head, (), metas,
                                                  (dets, labels))
    mean = sum(torch.sigmoid(torch.tensor(v)) for v in stage_logits) / 3
    assert masks.shape == (1, num_det, size, size)
    torch.testing.assert_close(masks, torch.full_like(masks, float(mean)))
    assert (masks < 0.5).all()


def rpn_inputs(seed):
    """An RPNHead (3 anchors, 5 levels) and its random outputs on a 64x96
    input: (head, cls_scores, bbox_preds, metas)."""
    from mmdet.models.dense_heads import RPNHead
    from mmengine.config import ConfigDict
    head = RPNHead(
        in_channels=4,
        anchor_generator=dict(
            type='AnchorGenerator',
            scales=[2],
            ratios=[0.5, 1.0, 2.0],
            strides=[4, 8, 16, 32, 64]),
        bbox_coder=dict(
            type='DeltaXYWHBBoxCoder',
            target_means=[0.] * 4,
            target_stds=[1.] * 4),
        test_cfg=ConfigDict(
            nms_pre=200,
            max_per_img=350,
            nms=dict(type='nms', iou_threshold=0.7),
            min_bbox_size=0))
    gen = torch.Generator().manual_seed(seed)
    sizes = [(16, 24), (8, 12), (4, 6), (2, 3), (1, 2)]
    cls_scores = [torch.randn(1, 3, *s, generator=gen) * 2 - 3 for s in sizes]
    bbox_preds = [torch.randn(1, 12, *s, generator=gen) for s in sizes]
    return head, cls_scores, bbox_preds, [dict(img_shape=(64, 96))]


def proposals(head, cls_scores, bbox_preds, metas):
    """(MMDetection's proposals, the rewritten head's dets)."""
    with torch.no_grad():
        want = head.predict_by_feat(
            cls_scores, bbox_preds, batch_img_metas=metas)[0]
        with mmdet_rewriting():
            dets, _ = head.predict_by_feat(
                cls_scores, bbox_preds, batch_img_metas=metas)
    return want, dets


@pytest.mark.parametrize('seed', [0, 1])
def test_rpn_proposals_are_mmdetections(seed):
    """MMDetection runs the RPN's NMS per FPN level and keeps every score;
    mmdeploy alone runs one NMS over all levels and drops scores under
    0.05: other proposals, so a trained Mask R-CNN found other boxes."""
    want, dets = proposals(*rpn_inputs(seed))
    assert dets.shape == (1, 350, 5)
    assert len(want) == 350 and (want.scores < 0.05).any()
    torch.testing.assert_close(dets[0, :, 4], want.scores)
    torch.testing.assert_close(dets[0, :, :4], want.bboxes)


def test_rpn_pads_with_zero_boxes_where_fewer_proposals_are_left():
    """Fewer boxes than max_per_img after NMS: zero rows follow them (the
    exported graph pads to max_per_img)."""
    head, *outputs = rpn_inputs(2)
    head.test_cfg.max_per_img = 2000
    want, dets = proposals(head, *outputs)
    n = len(want)
    assert n < 2000 and dets.shape[1] > n
    torch.testing.assert_close(dets[0, :n, 4], want.scores)
    torch.testing.assert_close(dets[0, :n, :4], want.bboxes)
    assert not dets[0, n:].any()


def test_roi_head_detections_are_mmdetections():
    """MMDetection gives a detection of class c the box regressed for c;
    mmdeploy alone gives every class of a RoI its top class's box. Zero
    rows (the RPN's padding) propose nothing."""
    from mmdet.models.roi_heads.bbox_heads import BBoxHead
    from mmengine.config import ConfigDict
    num_classes, num_rois = 4, 60
    head = BBoxHead(
        with_avg_pool=False,
        in_channels=4,
        roi_feat_size=1,
        num_classes=num_classes,
        bbox_coder=dict(
            type='DeltaXYWHBBoxCoder',
            target_means=[0.] * 4,
            target_stds=[.1, .1, .2, .2]))
    cfg = ConfigDict(
        score_thr=0.3,
        nms=dict(type='nms', iou_threshold=0.5),
        max_per_img=100)
    gen = torch.Generator().manual_seed(0)
    xy = torch.rand(num_rois, 2, generator=gen) * 60
    wh = torch.rand(num_rois, 2, generator=gen) * 30 + 2
    rois = torch.cat([torch.zeros(num_rois, 1), xy, xy + wh], 1)
    cls_scores = torch.randn(num_rois, num_classes + 1, generator=gen) * 2
    bbox_preds = torch.randn(num_rois, 4 * num_classes, generator=gen)
    metas = [dict(img_shape=(80, 96))]
    with torch.no_grad():
        want = head.predict_by_feat((rois, ), (cls_scores, ), (bbox_preds, ),
                                    metas, cfg)[0]
        padded = [  # 10 zero rows, as the RPN pads
            torch.cat([t, torch.zeros(10, t.shape[1])])[None]
            for t in (rois, cls_scores, bbox_preds)
        ]
        padded[1][0, num_rois:, 0] = 5.  # the padding would score class 0
        with mmdet_rewriting():
            dets, labels = head.predict_by_feat(*padded, metas, cfg)
    n = len(want)
    assert 10 < n < 100, n
    torch.testing.assert_close(dets[0, :n, 4], want.scores)
    torch.testing.assert_close(dets[0, :n, :4], want.bboxes)
    torch.testing.assert_close(labels[0, :n], want.labels)
    assert not dets[0, n:, 4].any()


@pytest.mark.parametrize('backend', ['onnxruntime', 'openvino'])
def test_roi_align_of_a_sliver_is_mmcvs(tmp_path, backend):
    """mmcv's aligned RoIAlign samples a RoI narrower than a feature pixel
    as it is; opset 11's RoiAlign (mmdeploy adds the half-pixel shift by
    hand there) widens it to one pixel, so a sliver box at the image border
    of the demo Mask R-CNN scored 0.26 deployed, 0.40 in PyTorch. The
    export's opset (16) has the aligned RoiAlign."""
    from mmcv.ops import RoIAlign
    op = RoIAlign(7, spatial_scale=0.25, sampling_ratio=0, aligned=True)
    feat = torch.rand(1, 2, 20, 24, generator=torch.Generator().manual_seed(0))
    rois = torch.tensor([[0., 0.06, 90.3, 0.6, 126.2], [
        0., 10., 10., 10.4, 50.
    ], [0., 3., 5., 61.7, 44.2]]) / 2
    path = str(tmp_path / 'roi_align.onnx')
    opset = mmdet_deploy_cfg().onnx_config.opset_version
    assert opset >= 16
    with mmdet_rewriting(), torch.no_grad():
        torch.onnx.export(
            op, (feat, rois[:1]),
            path,
            input_names=['feat', 'rois'],
            opset_version=opset,
            dynamic_axes=dict(rois={0: 'n'}))
        want = op(feat, rois).numpy()
    inputs = dict(feat=feat.numpy(), rois=rois.numpy())
    if backend == 'openvino':
        import openvino as ov
        model = ov.Core().compile_model(ov.convert_model(path), 'CPU')
        got = model(inputs)[0]
    else:
        session = ort.InferenceSession(
            path, providers=['CPUExecutionProvider'])
        got = session.run(None, inputs)[0]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
