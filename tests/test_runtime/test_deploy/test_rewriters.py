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


def mmdet_rewriting():
    """mmdeploy's rewriters (and ours) as whole-model export applies them
    to a detector with masks (ONNX Runtime)."""
    from mmdeploy.codebase import import_codebase
    from mmdeploy.core import RewriterContext
    from mmdeploy.utils import IR, Codebase

    import fasternet_mm.runtime.deploy.rewriters  # noqa: F401
    from fasternet_mm.runtime.deploy.configs import deploy_config
    import_codebase(Codebase.MMDET)  # mmdeploy's MMDetection rewriters
    model_cfg = Config(
        dict(default_scope='mmdet', model=dict(mask_head=dict())))
    return RewriterContext(
        cfg=deploy_config(model_cfg, 'onnxruntime', 'fp32'),
        backend='onnxruntime',
        ir=IR.ONNX)


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
