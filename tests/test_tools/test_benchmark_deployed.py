"""benchmark.py times exported models (ONNX Runtime, OpenVINO, int8) beside
PyTorch, with the stages of the deployed run and, for OpenVINO, the time
inside the network per module; exported folders are kept and reused."""
import json
import os.path as osp

import pytest
from helpers import REPO_ROOT, load_tool

pytest.importorskip(
    'mmdeploy',
    reason='deployed modes export through mmdeploy 1.3.1: the torch 2.1 '
    'stack installs it (requirements/stack-torch2.1.txt)')

pytestmark = pytest.mark.e2e  # pytest.ini: one stack only

benchmark = load_tool('analysis_tools/benchmark')
DET = osp.join(REPO_ROOT, 'configs', 'demo',
               'mask_rcnn_fasternet_t0_coco_demo.py')


def run(tmp_path, *modes):
    out = tmp_path / 'bench.json'
    benchmark.main([
        '--backbones', '--det-configs', DET, '--seg-configs', '--model-modes',
        *modes, '--det-shape', '96', '128', '--iters', '1', '--warmup', '0',
        '--rounds', '1', '--calib-images', '1', '--device', 'cpu',
        '--export-dir',
        str(tmp_path / 'exports'), '--out',
        str(out)
    ])
    return json.loads(out.read_text())


def test_deployed_modes_are_timed_beside_pytorch_and_reused(tmp_path, capsys):
    report = run(tmp_path, 'eager', 'onnxruntime', 'openvino-int8')
    got = {r['mode']: r for r in report['results']}
    assert list(got) == ['eager', 'onnxruntime', 'openvino-int8']
    assert {r['model']
            for r in got.values()} == {'mask_rcnn_fasternet_t0_coco_demo'}
    assert got['onnxruntime']['dtype'] == 'fp32'
    assert got['openvino-int8']['dtype'] == 'int8'
    assert set(
        got['onnxruntime']['stages_ms']) == {'network', 'mask_paste', 'rest'}
    assert 'mask_paste' in got['eager']['stages_ms']
    for mode in ('onnxruntime', 'openvino-int8'):  # the backend's counters
        profile = got[mode]['network_ms']
        assert {'backbone', 'neck', 'rpn_head',
                'mask_head'} <= set(profile['by_module']), mode
        assert sum(profile['by_op'].values()) > 0
    assert any('Conv' in op
               for op in got['onnxruntime']['network_ms']['by_op'])
    env = report['environment']
    assert set(env['load_per_core']) == {'before', 'others_during'}
    assert 'avx2' in env['cpu_flags'] or not env['cpu_flags']
    out = capsys.readouterr().out
    assert 'inside the deployed network' in out
    assert 'reusing' not in out

    # the same model again: reused; another score threshold would be
    # another detector (score_options)
    run(tmp_path, 'onnxruntime')
    assert capsys.readouterr().out.count('reusing') == 1
    assert benchmark.score_options(benchmark.load_config(DET), 0.5) == {
        'model.test_cfg.rcnn.score_thr': 0.5
    }
