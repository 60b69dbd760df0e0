"""benchmark.py times single-stage detectors (RTMDet, with either neck)
side by side with MMDetection's own, installed configs included."""
import json
import os.path as osp

from helpers import REPO_ROOT, load_tool

benchmark = load_tool('analysis_tools/benchmark')
CONFIGS = [
    osp.join(REPO_ROOT, 'configs', 'demo', 'rtmdet_fasternet_t0_coco_demo.py'),
    osp.join(REPO_ROOT, 'configs', 'rtmdet_fasternet_t0_pconv_neck.py'),
    'mmdet::rtmdet/rtmdet_tiny_8xb32-300e_coco.py',
]


def test_score_threshold_reaches_single_and_two_stage_heads():
    rtmdet = benchmark.build_model(CONFIGS[0], 0.)
    assert rtmdet.bbox_head.test_cfg.score_thr == 0
    mask_rcnn = benchmark.build_model(
        osp.join(REPO_ROOT, 'configs', 'demo',
                 'mask_rcnn_fasternet_t0_coco_demo.py'), 0.)
    assert mask_rcnn.roi_head.test_cfg.score_thr == 0


def test_rtmdet_configs_run_interleaved_with_stage_times(tmp_path, capsys):
    out = tmp_path / 'bench.json'
    benchmark.main([
        '--backbones', '--det-configs', *CONFIGS, '--seg-configs',
        '--model-modes', 'eager', 'deploy', '--det-shape', '64', '64',
        '--iters', '1', '--warmup', '0', '--rounds', '1', '--device', 'cpu',
        '--out',
        str(out)
    ])
    rows = json.loads(out.read_text())['results']
    assert [(r['model'], r['mode'])
            for r in rows] == [(name, mode)
                               for name in ('rtmdet_fasternet_t0_coco_demo',
                                            'rtmdet_fasternet_t0_pconv_neck',
                                            'rtmdet_tiny_8xb32-300e_coco')
                               for mode in ('eager', 'deploy')]
    for r in rows:
        assert set(r['stages_ms']) == {'backbone', 'neck', 'bbox_head', 'rest'}
        assert r['latency_ms'] > 0
    assert 'where the time goes' in capsys.readouterr().out
