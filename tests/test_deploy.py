"""Deploy mode (norms folded into convs), its hook and ONNX export."""
import re
from types import SimpleNamespace

import pytest
import torch
from helpers import DET_DEMO_CONFIG, load_tool, randomise_norms
from mmengine.config import Config
from mmengine.registry import HOOKS, init_default_scope
from torch.nn.modules.batchnorm import _BatchNorm

from fasternet_mm import FasterNet
from fasternet_mm.errors import ConfigValueError
from fasternet_mm.runtime.deploy import FastInferenceHook

onnx_tool = load_tool('deployment/pytorch2onnx')


def randomised(arch, **kwargs):
    """A FasterNet whose norms all have non-trivial statistics."""
    torch.manual_seed(0)
    model = FasterNet(arch, **kwargs)
    model.init_weights()
    return randomise_norms(model).eval()


@pytest.mark.parametrize('arch', ['t0', 't1', 't2', 's'])
def test_switch_to_deploy_keeps_outputs_and_folds_every_trunk_norm(arch):
    model = randomised(arch)
    x = torch.randn(2, 3, 64, 96)
    with torch.no_grad():
        expected = model(x)
        model.switch_to_deploy()
        outs = model(x)
    norms = [n for n, m in model.named_modules() if isinstance(m, _BatchNorm)]
    assert norms == ['norm0', 'norm1', 'norm2', 'norm3']  # outputs only
    for out, ref in zip(outs, expected):
        torch.testing.assert_close(out, ref, rtol=1e-4, atol=1e-4)


def test_deployed_backbone_refuses_to_train_and_freezes_parameters():
    model = randomised('t0').switch_to_deploy()
    assert not any(p.requires_grad for p in model.parameters())
    with pytest.raises(ConfigValueError, match='deploy mode'):
        model.train()
    assert model.switch_to_deploy() is model  # idempotent


def test_deploy_state_dict_loads_into_backbone_built_with_deploy_true():
    model = randomised('t0').switch_to_deploy()
    built = FasterNet('t0', deploy=True).eval()
    built.load_state_dict(model.state_dict(), strict=True)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        for out, ref in zip(built(x), model(x)):
            torch.testing.assert_close(out, ref)


@pytest.mark.parametrize('precision', ['fp32', 'auto'])
def test_fast_inference_hook_folds_the_detector_before_test(precision):
    from mmdet.registry import MODELS
    init_default_scope('mmdet')
    model = MODELS.build(Config.fromfile(DET_DEMO_CONFIG).model)
    hook = HOOKS.build(dict(type='FastInferenceHook', precision=precision))
    assert isinstance(hook, FastInferenceHook)
    hook.before_test(SimpleNamespace(model=model, hooks=[]))  # no EMA here
    assert model.backbone.deploy
    assert not any(
        isinstance(m, _BatchNorm) for m in model.backbone.stages.modules())
    # The hook's precision reached optimize_for_inference: the summary's
    # first step is what that precision means on this machine.
    from fasternet_mm.runtime.deploy import choose_precision
    _, applied = choose_precision('cpu', precision)
    first = model._fasternet_mm_inference.split(', ')[0]
    assert re.fullmatch(re.escape(applied) + r'( in \d+ networks)?', first)


def test_fast_inference_hook_folds_other_backbones_through_mmcv():
    from mmdet.registry import MODELS
    init_default_scope('mmdet')
    cfg = Config.fromfile(DET_DEMO_CONFIG).model
    cfg.backbone = dict(type='ResNet', depth=18, out_indices=(0, 1, 2, 3))
    cfg.neck.in_channels = [64, 128, 256, 512]
    model = MODELS.build(cfg).eval()
    HOOKS.build(dict(type='FastInferenceHook', precision='fp32')).before_test(
        SimpleNamespace(model=model, hooks=[]))
    assert not any(isinstance(m, _BatchNorm) for m in model.modules())
    assert model._fasternet_mm_inference.endswith('20 norms folded, 8 mmcv '
                                                  'ops fed fp32 NCHW')


def test_onnx_export_matches_pytorch_at_another_size(tmp_path):
    model = randomised('t0').switch_to_deploy()
    path = str(tmp_path / 't0.onnx')
    onnx_tool.export(model, path, shape=(64, 96))
    import onnx
    ops = {n.op_type for n in onnx.load(path).graph.node}
    assert 'ScatterND' not in ops and 'Split' in ops  # PConv as split/concat
    assert onnx_tool.verify(model, path, shape=(96, 160), batch=2) < 1e-4
