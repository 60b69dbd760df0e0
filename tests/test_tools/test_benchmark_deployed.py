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
SEG = osp.join(REPO_ROOT, 'configs', 'demo',
               'upernet_fasternet_t0_ade20k_demo.py')


def run(tmp_path, *extra):
    out = tmp_path / 'bench.json'
    benchmark.main([
        '--backbones', '--det-configs', DET, '--seg-configs', SEG,
        '--model-modes', 'eager', 'onnxruntime', 'openvino-int8',
        '--det-shape', '96', '128', '--seg-shape', '64', '64', '--iters', '1',
        '--warmup', '0', '--rounds', '1', '--calib-images', '1', '--device',
        'cpu', '--export-dir',
        str(tmp_path / 'exports'), '--out',
        str(out), *extra
    ])
    return json.loads(out.read_text())['results']


def test_deployed_modes_are_timed_beside_pytorch_and_reused(tmp_path, capsys):
    rows = run(tmp_path)
    got = {(r['model'], r['mode']): r for r in rows}
    names = ('mask_rcnn_fasternet_t0_coco_demo',
             'upernet_fasternet_t0_ade20k_demo')
    assert list(got) == [(n, m) for n in names
                         for m in ('eager', 'onnxruntime', 'openvino-int8')]
    det_ort = got[names[0], 'onnxruntime']
    assert det_ort['dtype'] == 'fp32'
    assert set(det_ort['stages_ms']) == {'network', 'mask_paste', 'rest'}
    assert 'network_ms' not in det_ort  # per-layer counters: OpenVINO only
    det_int8 = got[names[0], 'openvino-int8']
    assert det_int8['dtype'] == 'int8'
    assert {'backbone', 'neck', 'rpn_head',
            'mask_head'} <= set(det_int8['network_ms'])
    assert 'backbone' in got[names[1], 'openvino-int8']['network_ms']
    assert set(got[names[1],
                   'onnxruntime']['stages_ms']) == {'network', 'rest'}
    assert 'mask_paste' in got[names[0], 'eager']['stages_ms']
    out = capsys.readouterr().out
    assert 'inside the deployed network' in out
    assert 'reusing' not in out

    # the same models again (segmentor only, to keep it short): reused;
    # another score threshold would be another detector (score_options)
    run(tmp_path, '--det-configs')
    out = capsys.readouterr().out
    assert out.count('reusing') == 2, out
    assert benchmark.score_options(benchmark.load_config(DET), 0.5) == {
        'model.test_cfg.rcnn.score_thr': 0.5
    }
