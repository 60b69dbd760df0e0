"""optimize_for_inference: what it folds, which parts run in which dtype,
that outputs keep their values and structures, and the capability checks."""
import copy

import pytest
import torch
import torch.nn as nn
from helpers import DET_DEMO_CONFIG, REPO_ROOT, randomise_norms
from mmcv.ops import RoIAlign
from torch.nn.modules.batchnorm import _BatchNorm

from fasternet_mm import FasterNet
from fasternet_mm.errors import UserInputError
from fasternet_mm.runtime import build_model_from_cfg
from fasternet_mm.runtime.deploy import (choose_precision, cpu_bf16_feature,
                                         optimize_for_inference)
from fasternet_mm.runtime.deploy.inference import (cpu_flags,
                                                   precision_regions,
                                                   protect_mmcv_ops,
                                                   reduce_precision)

SEG_DEMO_CONFIG = (f'{REPO_ROOT}/configs/demo/'
                   'upernet_fasternet_t0_ade20k_demo.py')
BF16 = cpu_bf16_feature() is not None


def det_data(h=96, w=128, flip=False):
    from mmdet.structures import DetDataSample
    img = torch.randint(
        0,
        256, (3, h, w),
        dtype=torch.uint8,
        generator=torch.Generator().manual_seed(0))
    meta = dict(
        img_shape=(h, w),
        ori_shape=(h, w),
        scale_factor=(1., 1.),
        flip=flip,
        flip_direction='horizontal' if flip else None)
    return dict(inputs=[img], data_samples=[DetDataSample(metainfo=meta)])


def seg_data(h=64, w=64):
    from mmseg.structures import SegDataSample
    img = torch.randint(
        0,
        256, (3, h, w),
        dtype=torch.uint8,
        generator=torch.Generator().manual_seed(0))
    meta = dict(img_shape=(h, w), ori_shape=(h, w), scale_factor=(1., 1.))
    return dict(inputs=[img], data_samples=[SegDataSample(metainfo=meta)])


@pytest.fixture(scope='module')
def detector():
    torch.manual_seed(0)
    return randomise_norms(build_model_from_cfg(DET_DEMO_CONFIG))


def dtypes_seen(modules):
    """Record the dtypes of each module's first input and of its output."""
    seen = {}

    def hook(name):

        def record(m, args, out):
            out = out if isinstance(out, torch.Tensor) else out[0]
            seen.setdefault(name, (args[0].dtype, out.dtype))

        return record

    for name, m in modules.items():
        m.register_forward_hook(hook(name))
    return seen


AMX = ['avx512f', 'avx512_bf16', 'amx_bf16', 'amx_tile']


@pytest.mark.parametrize('flags, cap, feature', [
    (AMX, {}, 'amx_bf16'),
    (['avx2', 'avx512f', 'avx512_bf16'], {}, 'avx512_bf16'),
    (['avx2', 'avx512f', 'avx512bw'], {}, None),
    ([], {}, None),
    (AMX, dict(ONEDNN_MAX_CPU_ISA='avx2'), None),
    (AMX, dict(DNNL_MAX_CPU_ISA='AVX2'), None),
    (AMX, dict(ONEDNN_MAX_CPU_ISA='AVX512_CORE_BF16'), 'avx512_bf16'),
    (AMX, dict(ONEDNN_MAX_CPU_ISA='AVX512_CORE_AMX'), 'amx_bf16'),
])
def test_cpu_bf16_feature_needs_amx_or_avx512_bf16(monkeypatch, flags, cap,
                                                   feature):
    """Where the CPU has it and oneDNN is not capped below it."""
    for name in ('ONEDNN_MAX_CPU_ISA', 'DNNL_MAX_CPU_ISA'):
        monkeypatch.delenv(name, raising=False)
    for name, value in cap.items():
        monkeypatch.setenv(name, value)
    assert cpu_bf16_feature(flags) == feature


def test_cpu_flags_reads_the_flags_line(tmp_path):
    info = tmp_path / 'cpuinfo'
    info.write_text('processor\t: 0\nmodel name\t: X\n'
                    'flags\t\t: fpu avx2 avx512_bf16\n\n')
    assert cpu_flags(str(info)) == ['fpu', 'avx2', 'avx512_bf16']
    assert cpu_flags(str(tmp_path / 'missing')) == []


@pytest.mark.parametrize('device, precision, flags, dtype, text', [
    ('cpu', 'auto', ['avx512_bf16'
                     ], torch.bfloat16, 'bf16 autocast (avx512_bf16)'),
    ('cpu', 'auto', ['amx_bf16'], torch.bfloat16, 'bf16 autocast (amx_bf16)'),
    ('cpu', 'auto', ['avx2'], None, 'fp32 (CPU without native bfloat16)'),
    ('cpu', 'fp32', ['amx_bf16'], None, 'fp32'),
    ('cpu', 'bf16', ['avx512_bf16'], torch.bfloat16, 'bf16'),
    ('cuda', 'auto', [], torch.float16, 'fp16 autocast (cuda)'),
    ('cuda', 'fp16', [], torch.float16, 'fp16 autocast (cuda)'),
    ('cuda', 'bf16', [], torch.bfloat16, 'bf16 autocast (cuda)'),
    ('cuda', 'fp32', [], None, 'fp32'),
])
def test_choose_precision_follows_the_hardware(device, precision, flags, dtype,
                                               text):
    got, description = choose_precision(device, precision, flags)
    assert got == dtype
    assert description.startswith(text)


@pytest.mark.parametrize('device, precision, flags, message', [
    ('cpu', 'fp16', ['amx_bf16'], "'fp16' needs a CUDA device"),
    ('cpu', 'bf16', ['avx2'], 'no native bfloat16'),
    ('cpu', 'int8', [], "precision must be one of ['auto', 'fp32'"),
])
def test_choose_precision_rejects_what_the_hardware_lacks(
        device, precision, flags, message):
    with pytest.raises(UserInputError, match=message.replace('[', r'\[')):
        choose_precision(device, precision, flags)


def test_regions_are_backbone_neck_and_head_networks(detector):
    regions = precision_regions(detector)
    assert regions[:2] == [detector.backbone, detector.neck]
    assert set(map(id, regions[2:])) == {
        id(detector.rpn_head),
        id(detector.roi_head.bbox_head),
        id(detector.roi_head.mask_head)
    }
    backbone = FasterNet('t0')
    assert precision_regions(backbone) == [backbone]


def network_outputs(model, data, proposals=None):
    """Features, raw RPN outputs and raw RoI head outputs, flattened.

    The RoI heads get ``proposals`` if given, so that near-tied random
    objectness scores cannot pick other boxes.
    """
    data = model.data_preprocessor(data)
    x = model.extract_feat(data['inputs'])
    if proposals is None:
        proposals = model.rpn_head.predict(x, data['data_samples'])
    roi = model.roi_head.forward(x, proposals, data['data_samples'])
    cls_scores, bbox_preds = model.rpn_head(x)
    return [*x, *cls_scores, *bbox_preds, *roi], proposals


def test_fp32_folds_every_norm_and_keeps_detector_outputs(detector):
    model = copy.deepcopy(detector)
    data = det_data()
    with torch.no_grad():
        expected, proposals = network_outputs(model, data)
        assert optimize_for_inference(model, 'fp32') is model
        got, _ = network_outputs(model, data, proposals)
    norms = [n for n, m in model.named_modules() if isinstance(m, _BatchNorm)]
    assert norms == [f'backbone.norm{i}' for i in range(4)]  # after adds
    assert model.backbone.deploy
    assert model.backbone.patch_embed.proj.weight.is_contiguous(
        memory_format=torch.channels_last)
    assert len(got) == len(expected) == 5 + 10 + 3  # FPN, RPN, RoI heads
    for a, b in zip(got, expected):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)


def test_auto_runs_networks_reduced_and_feeds_mmcv_ops_float32(detector):
    model = copy.deepcopy(detector)
    optimize_for_inference(model)
    roi = model.roi_head.bbox_roi_extractor.roi_layers[0]
    seen_io = {}

    def record(m, args, out):
        seen_io.setdefault('roi_align', (args, out))

    roi.register_forward_hook(record)
    seen = dtypes_seen({
        'stem': model.backbone.patch_embed.proj,
        'rpn_conv': model.rpn_head.rpn_conv,
        'roi_align': roi,
        'mask_logits': model.roi_head.mask_head.conv_logits,
    })
    with torch.no_grad():
        [result] = model.test_step(det_data())
    reduced = torch.bfloat16 if BF16 else torch.float32
    assert seen['stem'][1] == reduced
    assert seen['rpn_conv'][1] == reduced
    assert seen['mask_logits'][1] == reduced
    # RoIAlign gets fp32 features and gives what it gives on NCHW ones
    # (channels_last features read as NCHW would give other values).
    feats, rois = seen_io['roi_align'][0]
    assert seen_io['roi_align'][1].dtype == torch.float32
    torch.testing.assert_close(
        seen_io['roi_align'][1],
        RoIAlign.forward(roi,
                         feats.float().contiguous(), rois))
    pred = result.pred_instances
    assert pred.bboxes.dtype == pred.scores.dtype == torch.float32
    assert pred.masks.dtype == torch.bool
    assert pred.masks.shape[1:] == (96, 128)
    assert len(pred) > 0


def test_an_mmcv_op_inside_a_network_gets_float32_nchw():

    class Net(nn.Module):

        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 8, 3, padding=1)
            self.roi = RoIAlign(2, spatial_scale=1., sampling_ratio=2)

        def forward(self, x, rois):
            return self.roi(self.conv(x), rois)

    net = Net().eval()
    x, rois = torch.randn(1, 3, 16, 16), torch.tensor([[0., 1., 1., 9., 9.]])
    with torch.no_grad():
        expected = net(x, rois)
        net.to(memory_format=torch.channels_last)
        protect_mmcv_ops(net, 'cpu')
        reduce_precision(net, torch.bfloat16, 'cpu')
        seen = dtypes_seen({'conv': net.conv, 'roi': net.roi})
        out = net(x, rois)
    assert seen['conv'][1] == torch.bfloat16
    assert seen['roi'][1] == torch.float32
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, expected, rtol=0.05, atol=0.05)
    assert isinstance(net.roi, RoIAlign) and type(net).__name__ == 'Net'
    assert set(net.state_dict()) == {'conv.weight', 'conv.bias'}


def test_segmentor_fp32_is_exact_and_auto_gives_float32_logits():
    torch.manual_seed(0)
    model = randomise_norms(build_model_from_cfg(SEG_DEMO_CONFIG))
    data = seg_data()
    with torch.no_grad():
        expected = model.test_step(data)[0].seg_logits.data
        fp32 = optimize_for_inference(copy.deepcopy(model), 'fp32')
        torch.testing.assert_close(
            fp32.test_step(data)[0].seg_logits.data,
            expected,
            rtol=1e-4,
            atol=1e-4)
        optimize_for_inference(model)
        seen = dtypes_seen({'conv_seg': model.decode_head.conv_seg})
        [result] = model.test_step(data)
    assert seen['conv_seg'][1] == (torch.bfloat16 if BF16 else torch.float32)
    assert result.seg_logits.data.dtype == torch.float32
    assert result.pred_sem_seg.data.shape == (1, 64, 64)


def test_tta_wrapper_is_optimized_through_its_module():
    from mmseg.models import SegTTAModel
    torch.manual_seed(0)
    tta = SegTTAModel(module=build_model_from_cfg(SEG_DEMO_CONFIG)).eval()
    optimize_for_inference(tta, 'fp32')
    assert tta.module.backbone.deploy
    assert 'fp32' in tta.module._fasternet_mm_inference
    a, b = seg_data(), seg_data()
    b['data_samples'][0].set_metainfo(dict(img_path='demo.png'))
    a['data_samples'][0].set_metainfo(dict(img_path='demo.png'))
    data = {k: [a[k], b[k]] for k in a}
    with torch.no_grad():
        [result] = tta.test_step(data)
    assert result.pred_sem_seg.data.shape == (1, 64, 64)


def test_optimizing_twice_changes_nothing_more(detector, mmengine_log):
    model = optimize_for_inference(copy.deepcopy(detector), 'fp32')
    summary = model._fasternet_mm_inference
    state = {k: v.clone() for k, v in model.state_dict().items()}
    classes = [type(m) for m in model.modules()]
    del mmengine_log[:]
    optimize_for_inference(model)  # 'auto' now: would add reduced precision
    assert mmengine_log == [f'already optimized for inference: {summary}']
    assert model._fasternet_mm_inference == summary
    # no second wrapping of the networks or the mmcv ops
    assert [type(m) for m in model.modules()] == classes
    for k, v in model.state_dict().items():
        assert torch.equal(v, state[k]), k


def test_compile_option_compiles_the_backbone():
    torch.manual_seed(0)
    model = randomise_norms(FasterNet('t0')).eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        expected = model(x)
        optimize_for_inference(model, 'fp32', compile=dict(backend='eager'))
        got = model(x)
    assert 'torch.compile' in model._fasternet_mm_inference
    for a, b in zip(got, expected):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)
