"""RTMDet with FasterNet end to end, with the recipe's two training stages
and its EMA taking effect: the demo config trains for 2 epochs on a tiny
generated COCO set (the pipeline switch after the first) through our
tools/train.py (test_same_behaviour_under_every_tool.py runs a switching
recipe under MMDetection's own too), and tools/test.py evaluates the
checkpoint. A probe hook (rtmdet_probe_hook.py) records what the run
did: the pipeline and transforms that actually ran in each epoch, the raw
weights at the end and the weights the model holds while it is tested."""
import glob
import json
import os
import os.path as osp

import pytest
import torch
from helpers import REPO_ROOT, coco_options, run_tool

pytestmark = pytest.mark.e2e  # pytest.ini: one stack only

HERE = osp.dirname(osp.abspath(__file__))
DEMO_CONFIG = osp.join(REPO_ROOT, 'configs', 'demo',
                       'rtmdet_fasternet_t0_coco_demo.py')
MIXING = {'CachedMosaic', 'CachedMixUp'}
# The demo config, its pipeline switch after epoch 1, and the probe.
PROBED = f"""_base_ = {DEMO_CONFIG!r}
custom_imports = dict(
    imports=['fasternet_mm.runtime', 'rtmdet_probe_hook'],
    allow_failed_imports=False)
custom_hooks = [
    dict(h, switch_epoch=1) if h.type == 'PipelineSwitchHook' else h
    for h in _base_.custom_hooks
] + [dict(type='RTMDetProbeHook')]
"""


@pytest.fixture
def probed_config(tmp_path, monkeypatch):
    path = tmp_path / 'rtmdet_fasternet_t0_probed.py'
    path.write_text(PROBED)
    # the tools' processes import the probe from this folder
    monkeypatch.setenv(
        'PYTHONPATH',
        os.pathsep.join(filter(None, [HERE, os.environ.get('PYTHONPATH')])))
    return str(path)


def train_options(root):
    # 6 images at batch 2: 3 iterations per epoch; no validation
    return coco_options(root) + [
        'train_cfg.max_epochs=2', 'train_cfg.val_begin=3',
        'default_hooks.logger.interval=1'
    ]


def check_two_stages_and_ema(work_dir, log):
    """What the recipe's PipelineSwitchHook and EMAHook did in a run."""
    with open(osp.join(work_dir, 'probe_train.json')) as f:
        epochs = json.load(f)
    # Epoch 1: Mosaic and MixUp in the live pipeline, and they ran; epoch 2:
    # switched to the pipeline without them, and neither ran.
    first, second = epochs['0'], epochs['1']
    assert MIXING <= set(first['pipeline'])
    assert first['calls'].get('CachedMosaic', 0) > 0
    assert first['calls'].get('CachedMixUp', 0) > 0
    assert not MIXING & set(second['pipeline'])
    assert second['calls'] == {}
    assert log.count('Switch pipeline now!') == 1

    # The checkpoint's state_dict holds the averaged weights, which differ
    # from the trained ones; those sit in its ema_state_dict.
    ckpt = torch.load(
        osp.join(work_dir, 'epoch_2.pth'),
        map_location='cpu',
        weights_only=False)
    raw = torch.load(osp.join(work_dir, 'probe_raw.pth'), map_location='cpu')
    ema, swapped = ckpt['state_dict'], ckpt['ema_state_dict']
    assert ema.keys() == raw.keys()
    for k, v in raw.items():
        torch.testing.assert_close(swapped['module.' + k], v, rtol=0, atol=0)
    weights = [
        k for k, v in raw.items()
        if k.endswith('.weight') and v.is_floating_point()
    ]
    differ = [k for k in weights if not torch.equal(ema[k], raw[k])]
    assert len(differ) > 0.9 * len(weights), 'EMA did not average'
    assert any(k.startswith('backbone.stages.') for k in differ)
    for k in weights:  # an average of recent weights, close to them
        assert (ema[k] - raw[k]).abs().max() < 1e-2, k
    return ckpt, ema


def test_train_two_stages_with_ema_then_test_evaluates_the_ema_weights(
        tiny_coco, tmp_path, probed_config):
    work_dir = str(tmp_path / 'train')
    log = run_tool('train.py', probed_config, '--work-dir', work_dir,
                   '--cfg-options', *train_options(tiny_coco))
    assert 'loss_cls: ' in log and 'loss_bbox: ' in log
    ckpt, ema = check_two_stages_and_ema(work_dir, log)
    assert (ckpt['meta']['epoch'], ckpt['meta']['iter']) == (2, 6)

    # tools/test.py evaluates the averaged weights (the untrained head
    # scores every box below 0.001: keep them all for pycocotools)
    test_dir = str(tmp_path / 'test')
    out = run_tool('test.py', probed_config, osp.join(work_dir, 'epoch_2.pth'),
                   '--work-dir', test_dir, '--cfg-options',
                   *coco_options(tiny_coco), 'model.test_cfg.score_thr=0')
    evaluated = torch.load(
        osp.join(test_dir, 'probe_evaluated.pth'), map_location='cpu')
    assert evaluated.keys() == ema.keys()
    for k, v in ema.items():
        torch.testing.assert_close(evaluated[k], v, rtol=0, atol=0)
    assert 'Evaluate annotation type *bbox*' in out
    [metrics_file] = glob.glob(osp.join(test_dir, '*', '*.json'))
    with open(metrics_file) as f:
        metrics = json.load(f)
    for key in ('coco/bbox_mAP', 'coco/bbox_mAP_50'):
        assert 0 <= metrics[key] <= 1, (key, metrics[key])
