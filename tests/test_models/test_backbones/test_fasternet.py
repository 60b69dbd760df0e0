"""Specification of the FasterNet backbone."""
import copy
import math
import os.path as osp
import subprocess
import sys

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.registry import init_default_scope
from torch.nn.modules.batchnorm import _BatchNorm

import fasternet_mm
from fasternet_mm.errors import ConfigValueError
from fasternet_mm.models import FasterNet, convert_fasternet_checkpoint
from fasternet_mm.models.backbones.fasternet import PartialConv

PRESETS = ['t0', 't1', 't2', 's', 'm', 'l']
TINY = dict(embed_dim=8, depths=(1, 1, 2, 1), act_cfg=dict(type='ReLU'))


def registry(scope):
    init_default_scope(scope)
    if scope == 'mmdet':
        from mmdet.registry import MODELS
    else:
        from mmseg.registry import MODELS
    return MODELS


def build_pretrained(scope, arch, path, **kwargs):
    model = registry(scope).build(
        dict(
            type='FasterNet',
            arch=arch,
            init_cfg=dict(type='Pretrained', checkpoint=path),
            **kwargs))
    model.init_weights()
    return model.eval()


def cls_logits(features, conv_w, fc_w, fc_b, act):
    """The paper's classification head on the last stage's features."""
    x = F.conv2d(features.mean((2, 3), keepdim=True), conv_w)
    return F.linear(act(x).flatten(1), fc_w, fc_b)


# --- parity with the paper's and timm's models ---------------------------


@pytest.mark.parametrize('scope', ['mmdet', 'mmseg'])
@pytest.mark.parametrize('name, arch', [
    ('fasternet_tiny_relu_det.pt',
     dict(embed_dim=24, depths=(1, 2, 3, 2), act_cfg=dict(type='ReLU'))),
    ('fasternet_t0_det.pt', 't0'),
])
def test_dense_outputs_match_official_model(golden_dir, scope, name, arch):
    path = osp.join(golden_dir, name)
    golden = torch.load(path)
    model = build_pretrained(scope, arch, path)
    with torch.no_grad():
        outs = model(golden['input'])
    assert len(outs) == len(golden['output']) == 4
    for out, ref in zip(outs, golden['output']):
        assert out.shape == ref.shape
        assert (out - ref).abs().max().item() < 1e-5


@pytest.mark.parametrize('layout', ['official', 'timm'])
def test_classification_logits_match_official_and_timm(golden_dir, layout):
    if layout == 'official':
        golden = torch.load(osp.join(golden_dir, 'fasternet_t0_cls.pt'))
        path = osp.join(golden_dir, 'fasternet_t0_cls.pt')
        sd, x, ref = golden['state_dict'], golden['input'], golden['output']
        head = (sd['avgpool_pre_head.1.weight'], sd['head.weight'],
                sd['head.bias'])
    else:
        path = osp.join(golden_dir, 'fasternet_t0_timm_cls_state_dict.pt')
        io = torch.load(osp.join(golden_dir, 'fasternet_t0_timm_cls_io.pt'))
        sd, x, ref = torch.load(path), io['input'], io['output']
        head = (sd['conv_head.weight'], sd['classifier.weight'],
                sd['classifier.bias'])
    model = build_pretrained('mmdet', 't0', path, out_indices=(3, ))
    norm = model.norm3  # new output norm at init: x / sqrt(1 + eps)
    assert torch.equal(norm.weight, torch.ones_like(norm.weight))
    with torch.no_grad():
        features = model(x)[0] * math.sqrt(1 + norm.eps)
        logits = cls_logits(features, *head, nn.GELU())
    assert (logits - ref).abs().max().item() < 1e-5


def test_whole_detector_checkpoint_loads_backbone_only(golden_dir, tmp_path):
    golden = torch.load(osp.join(golden_dir, 'fasternet_t0_det.pt'))
    state = {
        f'module.backbone.{k}': v
        for k, v in golden['state_dict'].items()
    }
    state['module.neck.lateral_convs.0.conv.weight'] = torch.zeros(1)
    path = tmp_path / 'detector.pth'
    torch.save(dict(meta=dict(epoch=12), state_dict=state), path)
    model = build_pretrained('mmdet', 't0', str(path))
    with torch.no_grad():
        outs = model(golden['input'])
    for out, ref in zip(outs, golden['output']):
        assert (out - ref).abs().max().item() < 1e-5


def test_conversion_report_names_dropped_and_new_keys(golden_dir):
    golden = torch.load(osp.join(golden_dir, 'fasternet_t0_cls.pt'))
    model = FasterNet('t0')
    state, report = convert_fasternet_checkpoint(
        golden, model.state_dict(), source='t0.pth')
    assert 'stages.1.downsample.reduction.weight' in state
    assert 'stages.2.blocks.7.mlp.3.weight' in state
    assert len(state) == 128
    assert 'official layout' in report
    assert 'avgpool_pre_head.1.weight' in report and 'head.bias' in report
    assert 'norm0, norm1, norm2, norm3' in report


def test_conversion_rejects_other_arch_with_key_and_shapes(golden_dir):
    golden = torch.load(osp.join(golden_dir, 'fasternet_t0_det.pt'))
    with pytest.raises(
            ValueError,
            match=r'shape mismatch .*patch_embed\.proj'
            r'\.weight: checkpoint \(40, 3, 4, 4\) vs model '
            r'\(128, 3, 4, 4\)'):
        build_pretrained('mmdet', 's',
                         osp.join(golden_dir, 'fasternet_t0_det.pt'))
    state = dict(golden['state_dict'])
    state['stages.0.blocks.0.extra.weight'] = torch.zeros(1)
    with pytest.raises(
            ValueError,
            match=r'fit no FasterNet parameter: '
            r'stages\.0\.blocks\.0\.extra\.weight'):
        convert_fasternet_checkpoint(state, FasterNet('t0').state_dict())
    del state['stages.0.blocks.0.extra.weight']
    del state['stages.6.blocks.1.mlp.3.weight']
    with pytest.raises(
            ValueError,
            match=r'lacks 1 FasterNet parameter\(s\): '
            r'stages\.3\.blocks\.1\.mlp\.3\.weight'):
        convert_fasternet_checkpoint(state, FasterNet('t0').state_dict())


# --- architecture --------------------------------------------------------


def classification_params(model):
    """Params of the paper's classification model: trunk + head."""
    trunk = sum(p.numel() for n, p in model.named_parameters()
                if not n.startswith('norm'))
    width = model.embed_dims[-1]
    return trunk + width * 1280 + 1280 * 1000 + 1000


@pytest.mark.parametrize('arch, params', [('t0', 3.905), ('t1', 7.595),
                                          ('t2', 14.983), ('s', 31.181),
                                          ('m', 53.521), ('l', 93.465)])
def test_preset_parameter_counts_match_paper(arch, params):
    model = FasterNet(arch, out_indices=(3, ))
    assert round(classification_params(model) / 1e6, 3) == params


@pytest.mark.parametrize('arch', PRESETS)
def test_preset_output_shapes_on_odd_input(arch):
    model = FasterNet(arch).eval()
    c = FasterNet.arch_settings[arch]['embed_dim']
    with torch.no_grad():
        outs = model(torch.rand(1, 3, 67, 99))
    assert [tuple(o.shape)
            for o in outs] == [(1, c, 16, 24), (1, 2 * c, 8, 12),
                               (1, 4 * c, 4, 6), (1, 8 * c, 2, 3)]
    assert model.out_channels == (c, 2 * c, 4 * c, 8 * c)


def test_preset_activations_follow_paper():
    assert isinstance(FasterNet('t0').stages[0].blocks[0].mlp[2], nn.GELU)
    assert isinstance(FasterNet('t2').stages[0].blocks[0].mlp[2], nn.ReLU)
    relu_t0 = FasterNet('t0', act_cfg=dict(type='ReLU'))
    assert isinstance(relu_t0.stages[3].blocks[1].mlp[2], nn.ReLU)


def test_default_arch_is_s():
    model = registry('mmdet').build(dict(type='FasterNet'))
    assert model.embed_dims == [128, 256, 512, 1024]
    assert [len(s.blocks) for s in model.stages] == [1, 2, 13, 2]


def test_out_indices_subset():
    model = FasterNet(TINY, out_indices=(1, 3)).eval()
    outs = model(torch.rand(2, 3, 64, 64))
    assert [o.shape[1] for o in outs] == [16, 64] == list(model.out_channels)
    assert [o.shape[-1] for o in outs] == [8, 2]
    assert hasattr(model, 'norm1') and not hasattr(model, 'norm0')


def test_dict_arch_accepts_mlp_ratio_and_n_div():
    model = FasterNet(dict(TINY, embed_dim=16, mlp_ratio=3, n_div=2))
    block = model.stages[0].blocks[0]
    assert block.mlp[0].out_channels == 48
    assert block.spatial_mixing.partial_conv3.in_channels == 8


@pytest.mark.parametrize('norm_cfg, norm_type', [
    (dict(type='GN', num_groups=4), nn.GroupNorm),
    (dict(type='SyncBN'), nn.SyncBatchNorm),
])
def test_norm_cfg_builds_every_norm(norm_cfg, norm_type):
    model = FasterNet(TINY, norm_cfg=norm_cfg)
    norms = [
        m for m in model.modules() if isinstance(m, (nn.GroupNorm, _BatchNorm))
    ]
    assert len(norms) == 1 + 3 + 5 + 4  # stem, merges, blocks, outputs
    assert all(isinstance(m, norm_type) for m in norms)


def test_default_init_is_truncated_normal():
    model = FasterNet('t0')
    model.init_weights()
    w = model.stages[2].blocks[0].mlp[0].weight
    assert abs(w.std().item() - 0.02) < 0.003
    assert abs(w.mean().item()) < 0.002


# --- training behaviour --------------------------------------------------


def trainable(module):
    return [p.requires_grad for p in module.parameters()]


@pytest.mark.parametrize('frozen_stages', [0, 1, 2, 4])
def test_frozen_stages_freeze_stem_stages_and_their_norms(frozen_stages):
    model = FasterNet(TINY, frozen_stages=frozen_stages)
    model.train()
    assert not any(trainable(model.patch_embed))
    assert not model.patch_embed.norm.training
    for i in range(4):
        frozen = i < frozen_stages
        for module in (model.stages[i], getattr(model, f'norm{i}')):
            assert all(not t for t in trainable(module)) == frozen
            assert all(t for t in trainable(module)) == (not frozen)
            bns = [m for m in module.modules() if isinstance(m, _BatchNorm)]
            assert all(m.training != frozen for m in bns)


def test_frozen_stages_minus_one_trains_everything():
    model = FasterNet(TINY, frozen_stages=-1).train()
    assert all(trainable(model))
    assert all(m.training for m in model.modules())


def test_norm_eval_keeps_all_norms_in_eval():
    model = FasterNet(TINY, norm_eval=True).train()
    bns = [m for m in model.modules() if isinstance(m, _BatchNorm)]
    assert bns and not any(m.training for m in bns)
    assert model.training and model.stages[0].blocks[0].mlp[0].training


def test_with_cp_gives_same_outputs_and_gradients():
    torch.manual_seed(0)
    ref = FasterNet(TINY).train()
    cp_model = FasterNet(TINY, with_cp=True).train()
    cp_model.load_state_dict(ref.state_dict())
    x = torch.rand(2, 3, 64, 64)
    grads = []
    for model in (ref, cp_model):
        xi = x.clone().requires_grad_()
        outs = model(xi)
        sum(o.sum() for o in outs).backward()
        grads.append(
            (outs, xi.grad, [p.grad.clone() for p in model.parameters()]))
    (o1, g1, p1), (o2, g2, p2) = grads
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(o1, o2))
    assert torch.allclose(g1, g2, atol=1e-6)
    assert all(torch.allclose(a, b, atol=1e-5) for a, b in zip(p1, p2))
    assert cp_model.stages[0].blocks[0].with_cp


def test_drop_path_only_in_training():
    torch.manual_seed(0)
    model = FasterNet(TINY, drop_path_rate=0.5, norm_eval=True)
    x = torch.rand(1, 3, 64, 64)
    model.eval()
    assert torch.equal(model(x)[-1], model(x)[-1])
    model.train()
    assert not torch.equal(model(x)[-1], model(x)[-1])
    rates = [b.drop_path.drop_prob for s in model.stages[1:] for b in s.blocks]
    assert rates[-1] == pytest.approx(0.5)
    assert rates == sorted(rates)


def test_slicing_equals_split_cat_in_eval():
    pconv = PartialConv(16, n_div=4).eval()
    x = torch.rand(2, 16, 9, 11)
    with torch.no_grad():
        sliced = pconv(x)
        split = pconv.forward_split_cat(x)
    assert torch.equal(sliced, pconv.forward_slicing(x))
    assert torch.allclose(sliced, split, atol=1e-7)
    assert torch.equal(sliced[:, 4:], x[:, 4:])
    with pytest.raises(RuntimeError):  # the reason training uses split/cat
        xg = x.clone().requires_grad_()
        pconv.forward_slicing(xg).sum().backward()


def test_every_parameter_gets_a_gradient():
    model = FasterNet(TINY, drop_path_rate=0.1).train()
    sum(o.mean() for o in model(torch.rand(2, 3, 64, 64))).backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None]
    assert missing == []


def test_deploy_model_is_in_eval_mode_from_construction():
    model = FasterNet(TINY, deploy=True)
    assert not any(m.training for m in model.modules())
    norm = model.norm3
    before = norm.running_mean.clone()
    with torch.no_grad():
        model(torch.rand(2, 3, 64, 64))
    assert torch.equal(norm.running_mean, before)
    with pytest.raises(ConfigValueError, match='deploy mode'):
        model.train()


@pytest.mark.parametrize('size', [(31, 64), (64, 16)])
def test_input_below_32_pixels_names_the_minimum(size):
    with pytest.raises(
            ValueError,
            match=rf'at least 32x32 pixels .*got {size[0]}x{size[1]}'):
        FasterNet(TINY)(torch.rand(1, 3, *size))


def test_trace_and_deepcopy_work():
    model = FasterNet(TINY).eval()
    x = torch.rand(1, 3, 64, 64)
    traced = torch.jit.trace(model, x)
    clone = copy.deepcopy(model)
    with torch.no_grad():
        ref = model(x)
        for out in (traced(x), clone(x)):
            assert all(torch.allclose(a, b) for a, b in zip(ref, out))


# --- errors --------------------------------------------------------------


@pytest.mark.parametrize('kwargs, error, match', [
    (dict(arch='xl'), KeyError, r"Unknown FasterNet arch 'xl'; valid archs "
     r"are \['t0', 't1', 't2', 's', 'm', 'l'\]"),
    (dict(arch=dict(TINY, width=3)), KeyError,
     r"Unknown key\(s\) \['width'\].*valid keys are \['act_cfg', 'depths', "
     r"'embed_dim', 'mlp_ratio', 'n_div'\]"),
    (dict(arch=dict(embed_dim=8, depths=(1, 1, 1, 1))), KeyError,
     r"lacks \['act_cfg'\]"),
    (dict(arch=dict(TINY, depths=(1, 1, 1))), ValueError,
     r'depths must be 4 positive integers \(blocks per stage\), got '
     r'\(1, 1, 1\)'),
    (dict(arch=dict(TINY, depths=(1, -1, 1, 1))), ValueError,
     r'depths must be 4 positive integers'),
    (dict(arch=dict(TINY, embed_dim=0)), ValueError,
     r'embed_dim must be a positive integer .*got 0'),
    (dict(arch=dict(TINY, n_div=0)), ValueError,
     r'n_div must be an integer in \[1, embed_dim=8\] .*got 0'),
    (dict(arch=dict(TINY, n_div=9)), ValueError,
     r'n_div must be an integer in \[1, embed_dim=8\] .*got 9'),
    (dict(arch=dict(TINY, mlp_ratio=0)), ValueError,
     r'mlp_ratio must be a number with embed_dim \* mlp_ratio >= 1 .*got 0'),
    (dict(init_cfg=[dict(type='Pretrained', checkpoint='x.pth')]), TypeError,
     r"FasterNet takes one init_cfg dict, got a list: .*use e.g. "
     r"init_cfg=dict\(type='Pretrained', checkpoint=...\)"),
    (dict(out_indices=(0, 4)), ValueError,
     r'out_indices must be distinct stage indices in \[0, 1, 2, 3\].*'
     r'got \(0, 4\)'),
    (dict(out_indices=()), ValueError, r'out_indices must be distinct'),
    (dict(frozen_stages=5), ValueError,
     r'frozen_stages must be in \[-1, 4\].*got 5'),
    (dict(drop_path_rate=2.0), ValueError,
     r'drop_path_rate must be in \[0, 1\) .*got 2.0'),
    (dict(drop_path_rate=1.0), ValueError, r'drop_path_rate must be in'),
    (dict(drop_path_rate=-0.1), ValueError, r'drop_path_rate must be in'),
    (dict(depth=50, style='pytorch'), TypeError,
     r"unexpected argument\(s\) \['depth', 'style'\]; valid arguments are "
     r"\['arch', .*'init_cfg'\]\. These look inherited from a ResNet"),
    (dict(out_indice=(1, )), TypeError,
     r"unexpected argument\(s\) \['out_indice'\]; valid arguments"),
])
def test_bad_arguments_name_problem_and_valid_values(kwargs, error, match):
    with pytest.raises(error, match=match):
        registry('mmdet').build(dict(type='FasterNet', **kwargs))


def test_pretrained_without_checkpoint_is_an_error():
    model = FasterNet(TINY, init_cfg=dict(type='Pretrained'))
    with pytest.raises(KeyError, match="needs a 'checkpoint'"):
        model.init_weights()


def test_missing_pretrained_file_names_the_path(tmp_path):
    from fasternet_mm.runtime import checkpoint  # noqa: F401  (its loader)
    path = str(tmp_path / 'fasternet_t0-epoch.281-val_acc1.71.9180.pth')
    model = FasterNet('t0', init_cfg=dict(type='Pretrained', checkpoint=path))
    with pytest.raises(
            fasternet_mm.errors.CheckpointError,
            match='fasternet_t0-epoch.281.*does not exist'):
        model.init_weights()


# --- registration --------------------------------------------------------


@pytest.mark.parametrize('absent', ['mmdet', 'mmseg'])
def test_import_works_with_one_codebase_only(absent):
    code = f'''
import importlib.abc, sys
class NotInstalled(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split('.')[0] == {absent!r}:
            raise ModuleNotFoundError(name, name={absent!r})
sys.meta_path.insert(0, NotInstalled())
import fasternet_mm
from mmengine.registry import MODELS
assert MODELS.get('FasterNet') is fasternet_mm.FasterNet
print(sorted(c for c in ('mmdet', 'mmseg') if sys.modules.get(c + '.registry')
             and sys.modules[c + '.registry'].MODELS.get(c + '.FasterNet')
             is fasternet_mm.FasterNet))
'''
    out = subprocess.run([sys.executable, '-c', code],
                         capture_output=True,
                         text=True,
                         check=True).stdout
    present = {'mmdet', 'mmseg'} - {absent}
    assert out.strip().splitlines()[-1] == str(sorted(present))
