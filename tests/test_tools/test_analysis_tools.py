"""get_flops reproduces the paper's counts; benchmark runs end to end."""
import json

import pytest
import torch
from helpers import DET_DEMO_CONFIG, REPO_ROOT, load_tool

from fasternet_mm.runtime.deploy import cpu_bf16_feature
from fasternet_mm.runtime.deploy.inference import onednn_isa_cap

get_flops = load_tool('analysis_tools/get_flops')
benchmark = load_tool('analysis_tools/benchmark')
SEG_DEMO_CONFIG = (f'{REPO_ROOT}/configs/demo/'
                   'upernet_fasternet_t0_ade20k_demo.py')


@pytest.mark.parametrize('arch, params, fused, unfused', [
    ('t0', 3.905, 0.335, 0.338),
    ('s', 31.181, 4.550, 4.560),
])
def test_get_flops_reproduces_the_papers_table(arch, params, fused, unfused):
    r = get_flops.get_flops(arch, with_cls_head=True)
    assert r['shape'] == (224, 224)
    assert round(r['params'] / 1e6, 3) == params
    assert round(r['flops_fused'] / 1e9, 3) == fused
    assert round(r['flops'] / 1e9, 3) == unfused


def test_get_flops_backbone_counts_output_norms_but_no_head():
    backbone = get_flops.get_flops('t0')
    cls = get_flops.get_flops('t0', with_cls_head=True)
    assert backbone['params'] < cls['params'] - 1e6  # head: 1.3M + 1.3M
    assert backbone['flops'] > backbone['flops_fused']


def test_get_flops_counts_a_detector_config():
    r = get_flops.get_flops(DET_DEMO_CONFIG, shape=(128, 160))
    backbone = get_flops.get_flops('t0', shape=(128, 160))
    assert r['shape'] == (128, 160)
    # plus the FPN, RPN and RoI heads
    assert r['params'] > backbone['params'] + 1e6
    assert r['flops'] > backbone['flops'] + 1e9
    assert r['flops_fused'] < r['flops']


def test_get_flops_rejects_unknown_models():
    with pytest.raises(ValueError, match='neither a FasterNet preset'):
        get_flops.get_flops('resnet50')


def test_benchmark_tiny_run_writes_json_and_plot(tmp_path, capsys):
    out, png = tmp_path / 'bench.json', tmp_path / 'bench.png'
    benchmark.main([
        '--backbones', 't0', 'resnet18', '--modes', 'eager', 'deploy', 'fast',
        '--formats', 'nchw', 'channels_last', '--dtypes', 'fp32', 'fp16',
        '--shape', '64', '64', '--iters', '1', '--warmup', '0', '--rounds',
        '2', '--det-configs', DET_DEMO_CONFIG, '--seg-configs',
        SEG_DEMO_CONFIG, '--model-modes', 'eager', 'fast', '--det-shape', '64',
        '64', '--seg-shape', '64', '64', '--baseline', 'resnet18', '--device',
        'cpu', '--out',
        str(out), '--plot',
        str(png)
    ])
    data = json.loads(out.read_text())
    rows = data['results']
    backbones = [r for r in rows if r['kind'] == 'backbone']
    # fp16 is skipped on CPU; fast picks its own dtype and format
    assert len(backbones) == 2 * (2 * 2 + 1)
    fast = {r['dtype'] for r in rows if r['mode'] == 'fast'}
    assert fast == {'bf16' if cpu_bf16_feature() else 'fp32'}
    assert {(r['model'], r['mode'], r['memory_format'])
            for r in backbones} >= {('t0', 'deploy', 'channels_last'),
                                    ('resnet18', 'eager', 'nchw'),
                                    ('resnet18', 'fast', 'channels_last')}
    models = [(r['kind'], r['model'], r['mode']) for r in rows
              if r['kind'] != 'backbone']
    assert models == [
        ('detector', 'mask_rcnn_fasternet_t0_coco_demo', 'eager'),
        ('detector', 'mask_rcnn_fasternet_t0_coco_demo', 'fast'),
        ('segmentor', 'upernet_fasternet_t0_ade20k_demo', 'eager'),
        ('segmentor', 'upernet_fasternet_t0_ade20k_demo', 'fast'),
    ]
    for r in rows:
        assert r['iters'] == 2 and r['latency_ms'] > 0
        # throughput is rounded to 3 decimals
        assert r['throughput'] == pytest.approx(
            1e3 / r['latency_ms'], rel=1e-3, abs=5e-4)
    det, seg = rows[-4], rows[-2]
    assert set(det['stages_ms']) == {
        'backbone', 'neck', 'rpn_head', 'bbox_roi_extractor', 'bbox_head',
        'mask_roi_extractor', 'mask_head', 'mask_paste', 'rest'
    }
    assert set(seg['stages_ms']) == {'backbone', 'decode_head', 'rest'}
    assert sum(det['stages_ms'].values()) == pytest.approx(
        det['latency_ms'], abs=0.5)
    assert data['environment']['device'] == 'cpu'
    assert data['environment']['threads'] >= 1
    assert data['environment']['onednn_max_cpu_isa'] == onednn_isa_cap()
    assert png.read_bytes()[:4] == b'\x89PNG'
    table = capsys.readouterr().out
    assert 'vs eager' in table and 'vs resnet' in table
    assert 'where the time goes' in table


def test_benchmark_flushes_denormals_for_pytorch_cases_only():
    """Random weights make denormals, on which PyTorch slows down; deployed
    networks run as tools/test.py runs them (OpenVINO's AVX2 kernels fail
    in mmdeploy's RoI extractor with flushed denormals)."""
    if not torch.set_flush_denormal(False):
        pytest.skip('this CPU cannot flush denormals')
    flushed = []
    for mode in ('eager', 'openvino-int8', 'fast', 'onnxruntime'):
        benchmark.Case(
            lambda: flushed.append(float(torch.tensor([1e-40]) * 1) == 0),
            1,
            mode=mode).run(1, lambda: None)
    torch.set_flush_denormal(False)
    assert flushed == [True, False, True, False]
