"""A file that only fails when it loads (a corrupt image, a label map with
labels out of range) stops the run with 'error: ...' naming the file, from
DataLoader workers too, instead of a traceback mid-epoch or a wrong mIoU."""
import json
import os.path as osp
import re
import shutil

import numpy as np
import pytest
import torch
from helpers import (DET_DEMO_CONFIG, REPO_ROOT, coco_options, load_tool,
                     run_tool, run_upstream_tool)
from PIL import Image

from fasternet_mm.errors import DataError

pytestmark = pytest.mark.e2e  # pytest.ini: one stack only

SEG_DEMO_CONFIG = osp.join(REPO_ROOT, 'configs', 'demo',
                           'upernet_fasternet_t0_ade20k_demo.py')


def run_train(*args):
    return run_tool('train.py', *args, check=False)


def last_line(proc):
    return proc.stderr.strip().splitlines()[-1]


def test_corrupt_image_in_a_worker_is_an_error_naming_it(tiny_coco, tmp_path):
    root = tmp_path / 'coco'
    shutil.copytree(tiny_coco, root)
    coco = json.loads(
        (root / 'annotations' / 'instances_train2017.json').read_text())
    bad = root / 'train2017' / coco['images'][0]['file_name']
    # An image the data checks' header sample reads (PIL: an ICO of the
    # right size) but mmcv's decoder (OpenCV) cannot: only loading it, in
    # a DataLoader worker, fails.
    with Image.open(bad) as img:
        img.convert('RGB').save(bad, format='ICO', sizes=[img.size])
    options = [
        o.replace('train_dataloader.num_workers=0',
                  'train_dataloader.num_workers=1')
        for o in coco_options(str(root))
    ]
    proc = run_train(DET_DEMO_CONFIG, '--work-dir', str(tmp_path / 'work'),
                     '--cfg-options', *options, 'train_cfg.max_epochs=1')
    assert proc.returncode == 1
    assert 'Traceback' not in proc.stderr, proc.stderr[-3000:]
    assert last_line(proc) == (
        f"error: LoadImageFromFile failed on '{bad}': AssertionError: "
        f'failed to load image: {bad}; replace or remove the file (or its '
        "entry in the annotation file), or fix the transform's settings")


@pytest.fixture
def seg_set_with_label_199(tmp_path):
    """A 2 + 1 image ADE20K-format set; one map holds 200 (199 after
    reduce_zero_label), outside the demo's 5 classes."""
    from fasternet_mm.demo import make_ade20k_demo
    root = tmp_path / 'ade'
    make_ade20k_demo(
        str(root), num_train=2, num_val=1, img_size=64, progress=False)
    bad = []
    for split in ('training', 'validation'):
        path = sorted((root / 'annotations' / split).iterdir())[0]
        label = np.array(Image.open(path))
        label[:4, :4] = 200
        Image.fromarray(label).save(path)
        bad.append(path)
    return root, bad


def label_message(path):
    return (f"label map '{path}' holds the label(s) [199] (after "
            'reduce_zero_label=True); labels must be 0..4 or the '
            'ignore_index 255')


def test_label_out_of_range_stops_training_naming_the_map(
        seg_set_with_label_199, tmp_path):
    root, (bad_train, _) = seg_set_with_label_199
    proc = run_train(SEG_DEMO_CONFIG, '--work-dir', str(tmp_path / 'work'),
                     '--cfg-options',
                     f'train_dataloader.dataset.data_root={root}',
                     f'val_dataloader.dataset.data_root={root}',
                     'train_dataloader.num_workers=1',
                     'train_dataloader.batch_size=2', 'train_cfg.max_iters=2')
    assert proc.returncode == 1
    assert 'Traceback' not in proc.stderr, proc.stderr[-3000:]
    # The data checks' sample of label maps finds it before training.
    assert label_message(bad_train) in last_line(proc)


def test_label_out_of_range_fails_the_test_tool_instead_of_a_wrong_miou(
        seg_set_with_label_199, tmp_path):
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS

    from fasternet_mm.runtime import load_config
    root, (_, bad_val) = seg_set_with_label_199
    init_default_scope('mmseg')
    model = MODELS.build(load_config(SEG_DEMO_CONFIG).model)
    ckpt = tmp_path / 'random.pth'
    torch.save({'state_dict': model.state_dict()}, ckpt)
    with pytest.raises(DataError, match=re.escape(label_message(bad_val))):
        load_tool('test').main([
            SEG_DEMO_CONFIG,
            str(ckpt), '--work-dir',
            str(tmp_path / 'test'), '--cfg-options',
            f'test_dataloader.dataset.data_root={root}',
            'test_dataloader.num_workers=0',
            'test_dataloader.persistent_workers=False'
        ])


def test_checked_persistent_workers_run_past_the_first_epoch(tmp_path):
    """tools/train.py wraps the pipeline in the config, so the iter-based
    loop's persistent workers (started when the loop is built) check their
    samples; with mmseg's InfiniteSampler training must go on past the
    first pass over the data (2 images, batch 2: every iteration starts a
    new pass), and past the batches the workers fetch ahead (2 x 2)."""
    from fasternet_mm.demo import make_ade20k_demo
    root = tmp_path / 'ade'
    make_ade20k_demo(
        str(root), num_train=2, num_val=1, img_size=64, progress=False)
    work = tmp_path / 'work'
    run_tool('train.py', SEG_DEMO_CONFIG, '--work-dir', str(work),
             '--cfg-options', f'train_dataloader.dataset.data_root={root}',
             f'val_dataloader.dataset.data_root={root}',
             'train_dataloader.num_workers=2',
             'train_dataloader.persistent_workers=True',
             'train_dataloader.batch_size=2', 'train_cfg.max_iters=8',
             'train_cfg.val_interval=8', 'default_hooks.checkpoint.interval=8')
    assert (work / 'iter_8.pth').is_file()


def test_mmsegmentation_own_train_tool_warns_where_workers_started_unchecked(
        tmp_path):
    """Under MMSegmentation's own train.py the iter-based loop starts its
    workers before any hook runs: the hook says that their samples are not
    checked, instead of restarting them through private attributes."""
    import mmseg
    mmseg_train = osp.join(
        osp.dirname(mmseg.__file__), '.mim', 'tools', 'train.py')
    if not osp.isfile(mmseg_train):
        pytest.skip('mmseg is installed without its tools')
    from fasternet_mm.demo import make_ade20k_demo
    root = tmp_path / 'ade'
    make_ade20k_demo(
        str(root), num_train=2, num_val=1, img_size=64, progress=False)
    out = run_upstream_tool(
        'mmseg', 'train.py', SEG_DEMO_CONFIG, '--work-dir', tmp_path / 'work',
        '--cfg-options', f'train_dataloader.dataset.data_root={root}',
        f'val_dataloader.dataset.data_root={root}',
        'train_dataloader.num_workers=1', 'train_dataloader.batch_size=2',
        'train_cfg.max_iters=2', 'train_cfg.val_interval=2',
        'default_hooks.checkpoint.interval=2')
    assert ('IterBasedTrainLoop started its DataLoader workers before this '
            'hook could wrap the pipeline') in out
