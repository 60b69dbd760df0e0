"""Distributed training on PyTorch's own engine, here on CPUs with gloo.

``tools/dist_train.sh`` starts 2 processes with torchrun; both ranks must
end with identical weights, and the result must match a 1-process run with
the same total batch. To make the two runs comparable, the test configs
remove what depends on how a batch is split rather than on the gradients:
random augmentation, dropout, BN batch statistics (frozen BN in the
backbone, GN in the segmentation heads) and random RoI sampling (the
samplers take every candidate); and each batch of 2 holds one image twice,
so that a loss averaged over the batch (1 process) equals the average of the
per-rank losses (2 processes) even where it is normalised by the number of
anchors, RoIs or pixels. The runs then differ by float round-off only.
SGD, not the configs' AdamW: Adam's first steps move every weight by about
lr whatever the gradient's size, which hides how close the gradients are.
"""
import json
import os.path as osp
import shutil

import pytest
import torch
from helpers import (DET_DEMO_CONFIG, REPO_ROOT, coco_options, run_launcher,
                     run_tool)

pytestmark = pytest.mark.e2e  # pytest.ini: one stack only

HERE = osp.dirname(osp.abspath(__file__))
SEG_DEMO_CONFIG = osp.join(REPO_ROOT, 'configs', 'demo',
                           'upernet_fasternet_t0_ade20k_demo.py')
ITERS = 3

COMMON = f"""
custom_imports = dict(
    imports=['fasternet_mm.runtime', 'dump_state_hook'],
    allow_failed_imports=False)
custom_hooks = [*_base_.custom_hooks, dict(type='DumpStateHook')]
train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters={ITERS})
val_dataloader = None
val_cfg = None
val_evaluator = None
param_scheduler = []
default_hooks = dict(
    checkpoint=dict(by_epoch=False, interval=1000), logger=dict(interval=1))
"""

DET = f"""_base_ = {DET_DEMO_CONFIG!r}
model = dict(
    backbone=dict(norm_eval=True, drop_path_rate=0.),
    train_cfg=dict(
        rpn=dict(sampler=dict(num=100000)),
        rcnn=dict(sampler=dict(num=100000))))
train_dataloader = dict(
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(pipeline=[
        dict(type='LoadImageFromFile'),
        dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
        dict(type='PackDetInputs')
    ]))
optim_wrapper = dict(
    optimizer=dict(_delete_=True, type='SGD', lr=0.01, momentum=0.9))
""" + COMMON

SEG = f"""_base_ = {SEG_DEMO_CONFIG!r}
gn = dict(type='GN', num_groups=8, requires_grad=True)
model = dict(
    backbone=dict(norm_eval=True, drop_path_rate=0.),
    decode_head=dict(norm_cfg=gn, dropout_ratio=0.),
    auxiliary_head=dict(norm_cfg=gn, dropout_ratio=0.))
train_dataloader = dict(
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(pipeline=[
        dict(type='LoadImageFromFile'),
        dict(type='LoadAnnotations', reduce_zero_label=True),
        dict(type='PackSegInputs')
    ]))
optim_wrapper = dict(
    optimizer=dict(_delete_=True, type='SGD', lr=0.01, momentum=0.9))
""" + COMMON


def run_training(config, work_dir, options, procs, port):
    """tools/train.py for one process, dist_train.sh (torchrun) for more;
    dump_state_hook importable; the output."""
    args = ['--work-dir', work_dir, '--cfg-options', *options]
    run = dict(
        env=dict(OMP_NUM_THREADS='1', PORT=str(port)), pythonpath=[HERE])
    if procs == 1:
        return run_tool('train.py', config, *args, **run)
    return run_launcher('dist_train.sh', config, str(procs), *args, **run)


def float_weights(path):
    state = torch.load(path)['weights']
    return {k: v for k, v in state.items() if v.is_floating_point()}


def distance(a, b):
    return sum(((a[k] - b[k])**2).sum() for k in a).sqrt().item()


def check_ranks_and_single_run(dist_dir, single_dir, log):
    assert "'backend': 'gloo'" in log
    rank0 = float_weights(osp.join(dist_dir, 'after_train_rank0.pth'))
    rank1 = float_weights(osp.join(dist_dir, 'after_train_rank1.pth'))
    assert all(torch.equal(rank0[k], rank1[k]) for k in rank0)
    assert torch.load(osp.join(dist_dir,
                               'after_train_rank0.pth'))['iter'] == ITERS
    start = float_weights(osp.join(single_dir, 'before_train_rank0.pth'))
    dist_start = float_weights(osp.join(dist_dir, 'before_train_rank0.pth'))
    assert all(torch.equal(start[k], dist_start[k]) for k in start)
    single = float_weights(osp.join(single_dir, 'after_train_rank0.pth'))
    moved = distance(single, start)
    assert moved > 0
    # Round-off alone; summed instead of averaged gradients, or ranks
    # reading the wrong samples, would put the runs about as far apart as
    # training moved the weights.
    return distance(rank0, single) / moved


@pytest.fixture
def paired_coco(tiny_coco, tmp_path):
    """The tiny COCO set with every train image listed twice in a row."""
    root = tmp_path / 'coco_pairs'
    shutil.copytree(tiny_coco, root)
    ann = root / 'annotations' / 'instances_train2017.json'
    coco = json.loads(ann.read_text())
    images, annotations = [], []
    for img in coco['images'][:2 * ITERS]:
        for copy in range(2):
            new_id = len(images) + 1
            images.append(dict(img, id=new_id))
            for a in coco['annotations']:
                if a['image_id'] == img['id']:
                    annotations.append(
                        dict(a, id=len(annotations) + 1, image_id=new_id))
    ann.write_text(
        json.dumps(dict(coco, images=images, annotations=annotations)))
    return str(root)


@pytest.fixture
def paired_seg_set(tmp_path):
    """An ADE20K-format set whose sorted training files come in pairs."""
    from fasternet_mm.demo import make_ade20k_demo
    root = tmp_path / 'ade_pairs'
    make_ade20k_demo(
        str(root), num_train=ITERS, num_val=1, img_size=64, progress=False)
    for folder, suffix in (('images', '.jpg'), ('annotations', '.png')):
        split = root / folder / 'training'
        for path in sorted(split.glob(f'*{suffix}')):
            stem = path.name[:-len(suffix)]
            shutil.copy(path, split / f'{stem}_b{suffix}')
            path.rename(split / f'{stem}_a{suffix}')
    return str(root)


def test_two_process_detection_matches_one_process(paired_coco, tmp_path):
    config = tmp_path / 'det_dist.py'
    config.write_text(DET)
    base = [
        o for o in coco_options(paired_coco)
        if not o.startswith(('val', 'test'))
    ]
    per_gpu = [o.replace('batch_size=2', 'batch_size=1') for o in base]
    log = run_training(config, tmp_path / 'dist', per_gpu, 2, 29511)
    run_training(config, tmp_path / 'single', base, 1, 29512)
    ratio = check_ranks_and_single_run(tmp_path / 'dist', tmp_path / 'single',
                                       log)
    assert ratio < 1e-3, ratio


def test_two_process_segmentation_matches_one_process(paired_seg_set,
                                                      tmp_path):
    config = tmp_path / 'seg_dist.py'
    config.write_text(SEG)
    opts = [
        f'train_dataloader.dataset.data_root={paired_seg_set}',
        'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False'
    ]
    log = run_training(config, tmp_path / 'dist',
                       opts + ['train_dataloader.batch_size=1'], 2, 29513)
    run_training(config, tmp_path / 'single',
                 opts + ['train_dataloader.batch_size=2'], 1, 29514)
    ratio = check_ranks_and_single_run(tmp_path / 'dist', tmp_path / 'single',
                                       log)
    assert ratio < 1e-3, ratio


def test_the_main_process_checks_the_data_and_every_rank_stops(
        tiny_coco, tmp_path):
    """SetupCheckHook: rank 0 checks, both ranks raise its verdict (none
    is left waiting in a collective)."""
    root = tmp_path / 'coco'
    shutil.copytree(tiny_coco, root)
    (root / 'train2017' / '000000000001.png').unlink()
    options = [o for o in coco_options(str(root)) if o.startswith('train')]
    proc = run_launcher(
        'dist_train.sh',
        DET_DEMO_CONFIG,
        '2',
        '--work-dir',
        tmp_path / 'work',
        '--cfg-options',
        *options,
        'train_dataloader.batch_size=1',
        'val_dataloader=None',
        'val_cfg=None',
        'val_evaluator=None',
        check=False,
        env=dict(OMP_NUM_THREADS='1', PORT='29515'))
    assert proc.returncode != 0
    message = 'error: 1 of the images that the train dataset lists'
    assert proc.stderr.count(message) == 2, proc.stderr[-3000:]
