"""Specification of PConvPAFPN: RTMDet's CSPNeXtPAFPN with FasterNet blocks
in its CSP layers, all else MMDetection's."""
import copy
import subprocess
import sys

import pytest
import torch
import torch.nn as nn
from helpers import randomise_norms, tool_env
from mmcv.cnn import fuse_conv_bn
from mmdet.models.layers import CSPLayer
from mmdet.models.layers.csp_layer import CSPNeXtBlock
from mmdet.models.necks import CSPNeXtPAFPN
from mmengine.model.utils import revert_sync_batchnorm
from mmengine.registry import init_default_scope
from torch.nn.modules.batchnorm import _BatchNorm

from fasternet_mm.models import PConvPAFPN
from fasternet_mm.models.backbones.fasternet import FasterNetBlock
from fasternet_mm.models.necks import pconv_pafpn

# RTMDet's necks (the installed rtmdet_{tiny,s,m} configs) fed by
# FasterNet-T0, T1, T2 (out_indices=(1, 2, 3): widths 2C, 4C, 8C).
NECKS = {
    't0-tiny':
    dict(in_channels=[80, 160, 320], out_channels=96, num_csp_blocks=1),
    't1-s':
    dict(in_channels=[128, 256, 512], out_channels=128, num_csp_blocks=1),
    't2-m':
    dict(in_channels=[192, 384, 768], out_channels=192, num_csp_blocks=2),
}
RTMDET = dict(
    expand_ratio=0.5,
    norm_cfg=dict(type='BN'),
    act_cfg=dict(type='SiLU', inplace=True))


def build(name, **kwargs):
    return PConvPAFPN(**NECKS[name], **RTMDET, **kwargs)


def features(neck, size=32, batch=2):
    """Backbone-like inputs at strides 8, 16, 32 of a ``size`` image."""
    gen = torch.Generator().manual_seed(0)
    return tuple(
        torch.randn(batch, c, size // s, size // s, generator=gen)
        for c, s in zip(neck.in_channels, (8, 16, 32)))


@pytest.mark.parametrize('name', list(NECKS))
def test_outputs_have_out_channels_at_the_input_strides(name):
    neck = build(name).eval()
    x = features(neck, size=64)
    with torch.no_grad():
        outs = neck(x)
    assert [tuple(o.shape) for o in outs
            ] == [(2, NECKS[name]['out_channels'], *f.shape[2:]) for f in x]


@pytest.mark.parametrize('name', list(NECKS))
def test_csp_layers_hold_fasternet_blocks_instead_of_cspnext_blocks(name):
    neck = build(name)
    layers = [*neck.top_down_blocks, *neck.bottom_up_blocks]
    assert len(layers) == 4 and all(isinstance(m, CSPLayer) for m in layers)
    assert not any(isinstance(m, CSPNeXtBlock) for m in neck.modules())
    for layer in layers:
        blocks = list(layer.blocks)
        assert len(blocks) == NECKS[name]['num_csp_blocks']
        for block in blocks:
            assert isinstance(block, FasterNetBlock)
            # the backbone's block at the CSP layer's inner width: PConv on
            # a quarter of it, a 2x-wide hidden pointwise layer
            width = layer.main_conv.out_channels
            assert block.spatial_mixing.dim_conv == width // 4
            assert block.mlp[0].out_channels == 2 * width
            # the neck's norm and activation
            assert type(block.mlp[1]) is nn.BatchNorm2d
            assert type(block.mlp[2]) is nn.SiLU


def test_csp_layer_forward_runs_the_blocks_on_its_main_branch():
    """Pins the private detail the neck relies on: mmdet's CSPLayer.forward
    is final_conv(cat(blocks(main_conv(x)), short_conv(x))), so replacing
    ``.blocks`` replaces the inner blocks and nothing else. If MMDetection
    changes it, this fails."""
    neck = build('t1-s').eval()
    calls = []
    for block in neck.modules():
        if isinstance(block, FasterNetBlock):
            block.register_forward_hook(lambda m, i, o: calls.append(m))
    with torch.no_grad():
        neck(features(neck))
        assert sorted(map(id, calls)) == sorted(
            id(m) for m in neck.modules() if isinstance(m, FasterNetBlock))
        layer = neck.bottom_up_blocks[0]
        x = torch.randn(1, layer.main_conv.in_channels, 8, 8)
        expected = layer.final_conv(
            torch.cat((layer.blocks(layer.main_conv(x)), layer.short_conv(x)),
                      dim=1))
        torch.testing.assert_close(layer(x), expected)


def test_an_mmdetection_that_builds_no_csp_layers_is_an_error(monkeypatch):

    class OtherLayer(nn.Module):
        pass

    monkeypatch.setattr(pconv_pafpn, 'CSPLayer', OtherLayer)
    with pytest.raises(RuntimeError, match='expects CSPNeXtPAFPN to hold'):
        build('t0-tiny')


def test_lighter_than_cspnext_pafpn_at_the_same_widths():
    for name in NECKS:
        ours = sum(p.numel() for p in build(name).parameters())
        theirs = sum(
            p.numel()
            for p in CSPNeXtPAFPN(**NECKS[name], **RTMDET).parameters())
        assert ours < theirs, name


@pytest.mark.parametrize('name', ['t0-tiny', 't2-m'])
def test_a_gradient_reaches_every_parameter(name):
    torch.manual_seed(0)
    neck = build(name).train()
    outs = neck(features(neck))
    sum(o.square().mean() for o in outs).backward()
    assert [n for n, p in neck.named_parameters() if p.grad is None] == []
    assert all(
        torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0
        for n, p in neck.named_parameters()
        if n.endswith('.weight') and 'blocks.' in n)


@pytest.mark.parametrize('name', list(NECKS))
def test_folding_the_norms_keeps_the_outputs(name):
    torch.manual_seed(0)
    neck = build(name).eval()
    randomise_norms(neck)
    x = features(neck)
    folded = copy.deepcopy(neck)
    with torch.no_grad():
        expected = neck(x)
        fuse_conv_bn(folded)
        got = folded(x)
    assert not any(isinstance(m, _BatchNorm) for m in folded.modules())
    for e, g in zip(expected, got):  # float32 round-off, to the scale
        torch.testing.assert_close(
            g, e, rtol=1e-4, atol=1e-5 * e.abs().max().item())
    # Each folded block is the backbone's deploy form (norm in the conv).
    block = folded.top_down_blocks[0].blocks[0]
    width = folded.top_down_blocks[0].main_conv.out_channels
    deploy = FasterNetBlock(
        width, act_cfg=RTMDET['act_cfg'], deploy=True).eval()
    deploy.load_state_dict(block.state_dict())  # strict: same layout
    y = torch.randn(1, width, 4, 4)
    with torch.no_grad():
        torch.testing.assert_close(deploy(y), block(y))


def test_syncbn_configs_build_and_revert_to_bn():
    neck = PConvPAFPN(**NECKS['t0-tiny'], norm_cfg=dict(type='SyncBN'))
    assert any(isinstance(m, nn.SyncBatchNorm) for m in neck.modules())
    neck = revert_sync_batchnorm(neck)
    assert not any(isinstance(m, nn.SyncBatchNorm) for m in neck.modules())


def test_registered_in_the_root_and_mmdetection_registries():
    from mmdet.registry import MODELS as DET_MODELS
    from mmengine.registry import MODELS as ROOT_MODELS
    assert ROOT_MODELS.get('PConvPAFPN') is PConvPAFPN
    init_default_scope('mmdet')
    for name in ('PConvPAFPN', 'mmdet.PConvPAFPN'):
        assert DET_MODELS.get(name) is PConvPAFPN
        neck = DET_MODELS.build(dict(type=name, **NECKS['t0-tiny']))
        assert type(neck) is PConvPAFPN


def test_without_mmdetection_the_model_layer_imports_without_the_neck():
    """MMDetection is an extra (fasternet_mm[det]); segmentation-only
    installs import fasternet_mm and get the backbone, not the neck."""
    code = ('import sys\n'
            'class NoMMDet:  # an environment without MMDetection\n'
            '    def find_spec(self, name, *args):\n'
            "        if name.split('.')[0] == 'mmdet':\n"
            "            raise ModuleNotFoundError(name, name='mmdet')\n"
            'sys.meta_path.insert(0, NoMMDet())\n'
            'import fasternet_mm, fasternet_mm.models as m\n'
            'from mmseg.registry import MODELS\n'
            "assert MODELS.get('mmseg.FasterNet') is m.FasterNet\n"
            "assert 'PConvPAFPN' not in m.__all__\n"
            "print('ok')\n")
    proc = subprocess.run([sys.executable, '-c', code],
                          capture_output=True,
                          text=True,
                          env=tool_env())
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == 'ok'
