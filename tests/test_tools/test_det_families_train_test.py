"""RetinaNet, Cascade Mask R-CNN and RTMDet-Ins with FasterNet end to end:
tools/train.py trains each family's demo config for one epoch on a tiny
generated COCO set, tools/test.py evaluates the checkpoint with pycocotools.

One short run per family; tests/test_tools/test_det_train_test.py covers
the tools themselves (resume, deploy, pictures) with Mask R-CNN.
"""
import glob
import json
import os.path as osp

import pytest
import torch
from helpers import REPO_ROOT, coco_options, run_tool

pytestmark = pytest.mark.e2e  # pytest.ini: one stack only

ITERS_PER_EPOCH = 3  # 6 training images, 2 per batch
# config -> (losses it logs, whether it predicts masks)
FAMILIES = {
    'retinanet_fasternet_t0_coco_demo.py': (('loss_cls', 'loss_bbox'), False),
    'cascade_mask_rcnn_fasternet_t0_coco_demo.py':
    (('loss_rpn_cls', 's0.loss_cls', 's1.loss_bbox', 's2.loss_mask'), True),
    'rtmdet_ins_fasternet_t1_coco_demo.py':
    (('loss_cls', 'loss_bbox', 'loss_mask'), True),
}
# After 3 iterations from scratch the single-stage heads score every box
# below their 0.05 threshold; keep them all, so that pycocotools has
# detections to match.
SCORE_THR = {
    'retinanet_fasternet_t0_coco_demo.py': ['model.test_cfg.score_thr=0'],
    'rtmdet_ins_fasternet_t1_coco_demo.py': ['model.test_cfg.score_thr=0'],
}


def config_path(name):
    return osp.join(REPO_ROOT, 'configs', 'demo', name)


@pytest.mark.parametrize('name', list(FAMILIES))
def test_train_one_epoch_then_test_reports_coco_ap(name, tiny_coco, tmp_path):
    losses, with_masks = FAMILIES[name]
    options = coco_options(tiny_coco) + SCORE_THR.get(name, [])
    work_dir = tmp_path / 'train'
    out = run_tool('train.py', config_path(name), '--work-dir', str(work_dir),
                   '--cfg-options', *options, 'train_cfg.max_epochs=1',
                   'default_hooks.logger.interval=1',
                   'train_cfg.val_begin=2')  # no validation: test.py evaluates
    for loss in losses:
        assert f'{loss}: ' in out, loss
    ckpt = torch.load(
        work_dir / 'epoch_1.pth', map_location='cpu', weights_only=False)
    assert (ckpt['meta']['epoch'], ckpt['meta']['iter']) == (1,
                                                             ITERS_PER_EPOCH)
    assert any(k.startswith('backbone.stages.') for k in ckpt['state_dict'])
    if name.startswith('rtmdet'):
        # RTMDet's EMA is kept: the checkpoint holds the averaged weights.
        assert any(
            k.startswith('module.backbone.') for k in ckpt['ema_state_dict'])

    test_dir = tmp_path / 'test'
    out = run_tool('test.py', config_path(name), str(work_dir / 'epoch_1.pth'),
                   '--work-dir', str(test_dir), '--cfg-options', *options)
    assert 'Evaluate annotation type *bbox*' in out
    assert ('Evaluate annotation type *segm*' in out) == with_masks
    [metrics_file] = glob.glob(str(test_dir / '*' / '*.json'))
    with open(metrics_file) as f:
        metrics = json.load(f)
    kinds = ('bbox', 'segm') if with_masks else ('bbox', )
    assert {k.split('_')[0]
            for k in metrics
            if k.endswith('_mAP')} == {f'coco/{kind}'
                                       for kind in kinds}
    for kind in kinds:
        for key in (f'coco/{kind}_mAP', f'coco/{kind}_mAP_50'):
            assert isinstance(metrics[key], float), (key, metrics[key])
            assert 0 <= metrics[key] <= 1, (key, metrics[key])
