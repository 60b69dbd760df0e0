"""Fixtures of the whole-model export tests (test_export.py,
test_sdk_client.py): the demo Mask R-CNN and UperNet (FasterNet-T0),
trained briefly, and their exported folders, once per test package run."""
import os.path as osp

import pytest
from helpers import REPO_ROOT, ade_options, coco_options, run_tool

DET = osp.join(REPO_ROOT, 'configs', 'demo',
               'mask_rcnn_fasternet_t0_coco_demo.py')
SEG = osp.join(REPO_ROOT, 'configs', 'demo',
               'upernet_fasternet_t0_ade20k_demo.py')
DEPLOY = osp.join('deployment', 'deploy.py')


@pytest.fixture(scope='package')
def det_checkpoint(tiny_coco, tmp_path_factory):
    work_dir = tmp_path_factory.mktemp('deploy_det_train')
    run_tool('train.py', DET, '--work-dir', str(work_dir), '--cfg-options',
             *coco_options(tiny_coco), 'train_cfg.max_epochs=1',
             'default_hooks.checkpoint.interval=1')
    return str(work_dir / 'epoch_1.pth')


@pytest.fixture(scope='package')
def ade_root(tmp_path_factory):
    from fasternet_mm.demo import make_ade20k_demo
    root = str(tmp_path_factory.mktemp('deploy_ade20k'))
    make_ade20k_demo(root, num_train=8, num_val=3, img_size=64, progress=False)
    return root


@pytest.fixture(scope='package')
def seg_checkpoint(ade_root, tmp_path_factory):
    work_dir = tmp_path_factory.mktemp('deploy_seg_train')
    run_tool('train.py', SEG, '--work-dir', str(work_dir), '--cfg-options',
             'train_cfg.max_iters=4', 'train_cfg.val_interval=4',
             'default_hooks.checkpoint.interval=4',
             'train_dataloader.batch_size=2', *ade_options(ade_root))
    return str(work_dir / 'iter_4.pth')


@pytest.fixture(scope='package')
def exported(det_checkpoint, seg_checkpoint, tiny_coco, ade_root,
             tmp_path_factory):
    """(kind, backend, precision) -> folder, each exported once (``auto``
    is the precision it resolves to on this CPU); int8 calibrates on the
    training images of the demo sets."""
    from fasternet_mm.runtime.deploy.export import resolve_precision
    root = tmp_path_factory.mktemp('deployed')
    folders = {}

    def get(kind, backend, precision='fp32'):
        key = kind, backend, resolve_precision(backend, precision)[0]
        if key not in folders:
            config, ckpt, data = (DET, det_checkpoint,
                                  coco_options(tiny_coco)) if kind == 'det' \
                else (SEG, seg_checkpoint, ade_options(ade_root))
            folder = str(root / '_'.join(key))
            out = run_tool(DEPLOY, config, ckpt, '--backend', backend,
                           '--precision', precision, '--calib-images', '4',
                           '--work-dir', folder, '--cfg-options', *data)
            assert f'exported {config} to {folder} ({backend}' in out
            folders[key] = folder
        return folders[key]

    return get
