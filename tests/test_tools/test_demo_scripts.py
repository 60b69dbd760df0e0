"""`make demo` and `make demo-seg`: tools/demo/{det,seg}_demo.sh share
tools/demo/common.sh, so they run the same three steps with the same
messages and print their metrics in one line.

Here on tiny generated sets (DATA_ROOT) with a shortened schedule
(CFG_OPTIONS); the full demos are timed in the README.
"""
import glob
import re

import pytest
from helpers import run_launcher

from fasternet_mm.demo import make_ade20k_demo

pytestmark = pytest.mark.e2e  # pytest.ini: one stack only


def run_demo(script, **env):
    """The demo's stdout: its steps and results (the tools' progress bars
    and warnings go to stderr)."""
    proc = run_launcher(f'demo/{script}', check=False, env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout


def assert_demo_steps(out, name, work_dir, num_pictures):
    steps = re.findall(rf'^=== \[{name} \d+s\] (\S+)', out, re.M)
    assert steps == ['1/3', '2/3', '3/3', 'done'], out[-2000:]
    assert f'checkpoint:  {work_dir}/' in out
    assert f'metrics:     {work_dir}/test/' in out
    assert (f'pictures:    {work_dir}/predictions (ground truth left, '
            'prediction right)') in out
    pictures = glob.glob(f'{work_dir}/predictions/**/*.png', recursive=True)
    assert len(pictures) == num_pictures  # one per val image


def test_det_demo_trains_tests_and_prints_coco_ap(tiny_coco, tmp_path):
    out = run_demo(
        'det_demo.sh',
        DATA_ROOT=tiny_coco,
        WORK_DIR=str(tmp_path),
        CFG_OPTIONS='train_cfg.max_epochs=1 train_dataloader.num_workers=0 '
        'val_dataloader.num_workers=0 test_dataloader.num_workers=0 '
        'train_dataloader.persistent_workers=False '
        'val_dataloader.persistent_workers=False '
        'test_dataloader.persistent_workers=False')
    assert_demo_steps(out, 'det_demo', tmp_path, num_pictures=3)
    [line] = re.findall(r'^bbox AP .*$', out, re.M)
    assert re.fullmatch(
        r'bbox AP [01]\.\d{3} \(AP50 [01]\.\d{3}\)   '
        r'segm AP [01]\.\d{3} \(AP50 [01]\.\d{3}\)', line), line
    assert 'one picture: ' in out


@pytest.fixture(scope='module')
def tiny_ade20k(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('ade20k_tiny'))
    make_ade20k_demo(root, num_train=8, num_val=2, img_size=64, progress=False)
    return root


def test_seg_demo_trains_tests_and_prints_miou(tiny_ade20k, tmp_path):
    out = run_demo(
        'seg_demo.sh',
        DATA_ROOT=tiny_ade20k,
        WORK_DIR=str(tmp_path),
        CFG_OPTIONS='train_cfg.max_iters=4 train_cfg.val_interval=4 '
        'train_dataloader.batch_size=2 train_dataloader.num_workers=0 '
        'val_dataloader.num_workers=0 test_dataloader.num_workers=0 '
        'train_dataloader.persistent_workers=False '
        'val_dataloader.persistent_workers=False '
        'test_dataloader.persistent_workers=False')
    assert_demo_steps(out, 'seg_demo', tmp_path, num_pictures=2)
    [line] = re.findall(r'^mIoU .*$', out, re.M)
    assert re.fullmatch(
        r'mIoU \d+\.\d\d  mAcc \d+\.\d\d  aAcc \d+\.\d\d  '
        r'\(percent, validation split\)', line), line
