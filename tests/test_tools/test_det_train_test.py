"""Detection end to end through the real tools, on a tiny generated COCO set.

tools/train.py trains the demo Mask R-CNN (FasterNet-T0) for one epoch;
tools/test.py evaluates it with pycocotools (also with --deploy and --fast);
a second tools/train.py run
resumes from the first run's checkpoint; tools/image_demo.py draws one image.
"""
import glob
import json
import os.path as osp
import re
import shutil

import mmcv
import pytest
import torch
from helpers import DET_DEMO_CONFIG, coco_options, run_tool

from fasternet_mm.runtime.deploy import cpu_bf16_feature

pytestmark = pytest.mark.e2e  # pytest.ini: one stack only

ITERS_PER_EPOCH = 3  # 6 training images, 2 per batch
METRICS = [
    f'coco/{t}_mAP{s}' for t in ('bbox', 'segm')
    for s in ('', '_50', '_75', '_s', '_m', '_l')
]


def train(root, work_dir, *extra, epochs):
    return run_tool('train.py', DET_DEMO_CONFIG,
                    '--work-dir', str(work_dir), *extra, '--cfg-options',
                    *coco_options(root), f'train_cfg.max_epochs={epochs}',
                    'default_hooks.checkpoint.interval=1',
                    'default_hooks.logger.interval=1')


def load_checkpoint(path):
    return torch.load(path, map_location='cpu', weights_only=False)


@pytest.fixture(scope='module')
def first_epoch(tiny_coco, tmp_path_factory):
    """Work dir of a run stopped after its first epoch (and checkpoint)."""
    work_dir = tmp_path_factory.mktemp('det_first_epoch')
    train(tiny_coco, work_dir, epochs=1)
    return work_dir


def test_training_logs_losses_and_saves_a_checkpoint(first_epoch):
    ckpt = load_checkpoint(first_epoch / 'epoch_1.pth')
    assert (ckpt['meta']['epoch'], ckpt['meta']['iter']) == (1,
                                                             ITERS_PER_EPOCH)
    assert ckpt['meta']['dataset_meta']['classes'] == ('circle', 'square',
                                                       'triangle', 'star')
    assert any(k.startswith('backbone.stages.') for k in ckpt['state_dict'])
    log = open(glob.glob(str(first_epoch / '*' / '*.log'))[0]).read()
    assert 'Epoch(train) [1][3/3]' in log.replace('  ', ' ')
    for loss in ('loss_rpn_cls', 'loss_cls', 'loss_bbox', 'loss_mask'):
        assert loss in log


@pytest.fixture(scope='module')
def tested(first_epoch, tiny_coco, tmp_path_factory):
    """mode -> (tools/test.py's output, its metrics), each run once."""
    runs = {}

    def get(mode):
        if mode not in runs:
            work_dir = tmp_path_factory.mktemp(f'test_{mode}')
            extra = ['--show-dir', str(work_dir / 'pictures')
                     ] if mode == 'plain' else [f'--{mode}']
            out = run_tool('test.py', DET_DEMO_CONFIG,
                           str(first_epoch / 'epoch_1.pth'), '--work-dir',
                           str(work_dir), *extra, '--cfg-options',
                           *coco_options(tiny_coco))
            [metrics_file] = glob.glob(str(work_dir / '*' / '*.json'))
            with open(metrics_file) as f:
                runs[mode] = out, json.load(f), work_dir
        return runs[mode]

    return get


def test_test_tool_reports_coco_bbox_and_segm_ap(tested):
    out, metrics, work_dir = tested('plain')
    # pycocotools' summaries, for boxes and for masks.
    assert 'Evaluate annotation type *bbox*' in out
    assert 'Evaluate annotation type *segm*' in out
    assert 'Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all' in out
    assert set(METRICS) <= set(metrics)
    for key in METRICS:
        # -1 marks an empty area range (pycocotools' convention).
        assert 0 <= metrics[key] <= 1 or metrics[key] == -1, (key,
                                                              metrics[key])
    for key in ('coco/bbox_mAP', 'coco/segm_mAP', 'coco/bbox_mAP_50'):
        assert 0 <= metrics[key] <= 1
    pictures = glob.glob(
        str(work_dir / 'pictures' / '**' / '*.png'), recursive=True)
    assert len(pictures) == 3  # one per val image
    assert mmcv.imread(pictures[0]).shape[2] == 3


def test_test_tool_fast_mode_keeps_the_metrics(tested):
    """--fast (folded, channels_last, bf16 where the CPU has it) costs at
    most 0.005 AP (--deploy's exactness: test_inference.py)."""
    out, fast, _ = tested('fast')
    assert 'FasterNet switched to deploy mode' in out
    assert ('optimized for inference: bf16 autocast' in out) == (
        cpu_bf16_feature() is not None)
    plain = tested('plain')[1]
    for key in ('coco/bbox_mAP', 'coco/segm_mAP'):
        assert abs(plain[key] - fast[key]) <= 0.005, (key, plain[key],
                                                      fast[key])


def test_resume_continues_at_the_next_iteration_with_optimizer_state(
        first_epoch, tiny_coco, tmp_path):
    work_dir = tmp_path / 'work_dir'
    shutil.copytree(first_epoch, work_dir)
    first = load_checkpoint(work_dir / 'epoch_1.pth')

    out = train(tiny_coco, work_dir, '--resume', epochs=2)
    assert f'resumed epoch: 1, iter: {ITERS_PER_EPOCH}' in out
    trained = [
        (int(e), int(i))
        for e, i in re.findall(r'Epoch\(train\)\s+\[(\d+)\]\[\s*(\d+)/', out)
    ]
    assert trained and all(epoch == 2 for epoch, _ in trained), \
        'epoch 1 is not trained again'

    second = load_checkpoint(work_dir / 'epoch_2.pth')
    assert (second['meta']['epoch'],
            second['meta']['iter']) == (2, 2 * ITERS_PER_EPOCH)
    # AdamW counts its steps per parameter: they go on from the first run's
    # count only if the optimizer state was restored.
    steps_before = {
        float(s['step'])
        for s in first['optimizer']['state'].values()
    }
    steps_after = {
        float(s['step'])
        for s in second['optimizer']['state'].values()
    }
    assert steps_before == {ITERS_PER_EPOCH}
    assert steps_after == {2 * ITERS_PER_EPOCH}
    assert second['optimizer']['param_groups'][0]['lr'] != first['optimizer'][
        'param_groups'][0]['lr'], 'the lr schedule went on'


def test_image_demo_draws_boxes_and_masks(first_epoch, tiny_coco, tmp_path):
    img = osp.join(tiny_coco, 'val2017', '000000000001.png')
    out_file = tmp_path / 'result.jpg'
    out = run_tool('image_demo.py', img, DET_DEMO_CONFIG,
                   str(first_epoch / 'epoch_1.pth'), '--out-file',
                   str(out_file), '--score-thr', '0')
    assert f'picture saved to {out_file}' in out
    picture = mmcv.imread(str(out_file))
    assert picture.shape == mmcv.imread(img).shape
    assert not (picture == mmcv.imread(img)).all(), 'something is drawn'
    out = run_tool('image_demo.py', img, DET_DEMO_CONFIG,
                   str(first_epoch / 'epoch_1.pth'), '--out-file',
                   str(tmp_path / 'fast.jpg'), '--score-thr', '0', '--fast')
    assert 'optimized for inference' in out
    assert mmcv.imread(str(tmp_path / 'fast.jpg')).shape == picture.shape
