"""Segmentation end to end through tools/train.py and tools/test.py.

UperNet FasterNet-T0 (the demo config) trains a few iterations on a tiny
generated ADE20K-format set, then the test tool evaluates mIoU from the
saved checkpoint and paints the predictions.
"""
import glob
import json
import os.path as osp

import cv2
import numpy as np
import pytest
from helpers import REPO_ROOT, run_tool

from fasternet_mm.demo import ADE20K_DEMO_CLASSES, make_ade20k_demo

pytestmark = pytest.mark.e2e  # pytest.ini: one stack only

DEMO_CONFIG = osp.join(REPO_ROOT, 'configs', 'demo',
                       'upernet_fasternet_t0_ade20k_demo.py')
NUM_VAL = 3
ITERS = 4


def data_options(root):
    opts = []
    for split in ('train', 'val', 'test'):
        opts += [
            f'{split}_dataloader.dataset.data_root={root}',
            f'{split}_dataloader.num_workers=0',
            f'{split}_dataloader.persistent_workers=False',
        ]
    return opts


def last_metrics(work_dir):
    """The metrics the LoggerHook dumped after the last val/test epoch."""
    logs = sorted(
        glob.glob(osp.join(work_dir, '*', 'vis_data', '*.json')) +
        glob.glob(osp.join(work_dir, '*', '*.json')))
    records = []
    for path in logs:
        with open(path) as f:
            records += [json.loads(line) for line in f if line.strip()]
    records = [r for r in records if 'mIoU' in r]
    assert records, f'no mIoU in the logs under {work_dir}'
    return records[-1]


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('ade20k_tiny'))
    make_ade20k_demo(
        root, num_train=8, num_val=NUM_VAL, img_size=64, progress=False)
    work_dir = str(tmp_path_factory.mktemp('seg_work'))
    run_tool('train.py', DEMO_CONFIG, '--work-dir', work_dir, '--cfg-options',
             f'train_cfg.max_iters={ITERS}', f'train_cfg.val_interval={ITERS}',
             f'default_hooks.checkpoint.interval={ITERS}',
             'train_dataloader.batch_size=2', *data_options(root))
    return root, work_dir


def check_metrics(metrics):
    for key in ('aAcc', 'mIoU', 'mAcc'):
        assert key in metrics, metrics
        assert 0 <= metrics[key] <= 100, (key, metrics[key])


def test_train_saves_a_checkpoint_and_validates(trained):
    _, work_dir = trained
    assert osp.isfile(osp.join(work_dir, f'iter_{ITERS}.pth'))
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        assert f.read().strip().endswith(f'iter_{ITERS}.pth')
    check_metrics(last_metrics(work_dir))


def test_test_tool_reports_miou_and_paints_predictions(trained, tmp_path):
    root, train_dir = trained
    work_dir, show_dir = str(tmp_path / 'test'), str(tmp_path / 'show')
    out_dir = str(tmp_path / 'pred')
    log = run_tool('test.py', DEMO_CONFIG,
                   osp.join(train_dir,
                            f'iter_{ITERS}.pth'), '--work-dir', work_dir,
                   '--show-dir', show_dir, '--out', out_dir, '--cfg-options',
                   *data_options(root))
    assert 'per class results' in log
    assert all(name in log for name in ADE20K_DEMO_CLASSES)
    metrics = last_metrics(work_dir)
    check_metrics(metrics)
    pictures = glob.glob(osp.join(show_dir, '**', '*.png'), recursive=True)
    assert len(pictures) == NUM_VAL
    label_maps = glob.glob(osp.join(out_dir, '*.png'))
    assert len(label_maps) == NUM_VAL
    # --out label maps are in the files' own convention (ADE20K: class k is
    # k + 1, reduce_zero_label undone).
    pred = cv2.imread(label_maps[0], cv2.IMREAD_UNCHANGED)
    assert pred.shape == (64, 64)
    assert 1 <= np.min(pred) and np.max(pred) <= len(ADE20K_DEMO_CLASSES)
