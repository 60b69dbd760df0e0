"""Whole-model export end to end, on the demo models the suite trains.

tools/deployment/deploy.py exports the demo Mask R-CNN (FasterNet-T0) and
UperNet (FasterNet-T0) for ONNX Runtime and OpenVINO once per module;
tools/test.py evaluates each folder with the config's evaluator, within
the issue's bounds of PyTorch; per image, every PyTorch detection has a
deployed one with its label, box and score. Export runs through mmdeploy
1.3.1 on the torch 2.1 stack only (requirements/stack-torch2.1.txt).
"""
import glob
import json
import os
import os.path as osp
import subprocess
import sys

import pytest
from helpers import (REPO_ROOT, assert_deployed_twins, coco_options,
                     parse_options, run_tool, tool_env)

pytest.importorskip(
    'mmdeploy',
    reason='whole-model export needs mmdeploy 1.3.1: the torch 2.1 stack '
    'installs it (requirements/stack-torch2.1.txt); it would downgrade '
    "onnx and protobuf on the current stack, and torch >= 2.9's exporter "
    'is not mmdeploy\'s')

from fasternet_mm.demo import make_ade20k_demo  # noqa: E402

DET = osp.join(REPO_ROOT, 'configs', 'demo',
               'mask_rcnn_fasternet_t0_coco_demo.py')
SEG = osp.join(REPO_ROOT, 'configs', 'demo',
               'upernet_fasternet_t0_ade20k_demo.py')
BACKENDS = ('onnxruntime', 'openvino')
DEPLOY = osp.join('deployment', 'deploy.py')


def ade_options(root):
    return [
        f'{s}_dataloader.{k}' for s in ('train', 'val', 'test')
        for k in (f'dataset.data_root={root}', 'num_workers=0',
                  'persistent_workers=False')
    ]


@pytest.fixture(scope='module')
def det_checkpoint(tiny_coco, tmp_path_factory):
    work_dir = tmp_path_factory.mktemp('deploy_det_train')
    run_tool('train.py', DET, '--work-dir', str(work_dir), '--cfg-options',
             *coco_options(tiny_coco), 'train_cfg.max_epochs=1',
             'default_hooks.checkpoint.interval=1')
    return str(work_dir / 'epoch_1.pth')


@pytest.fixture(scope='module')
def ade_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('deploy_ade20k'))
    make_ade20k_demo(root, num_train=8, num_val=3, img_size=64, progress=False)
    return root


@pytest.fixture(scope='module')
def seg_checkpoint(ade_root, tmp_path_factory):
    work_dir = tmp_path_factory.mktemp('deploy_seg_train')
    run_tool('train.py', SEG, '--work-dir', str(work_dir), '--cfg-options',
             'train_cfg.max_iters=4', 'train_cfg.val_interval=4',
             'default_hooks.checkpoint.interval=4',
             'train_dataloader.batch_size=2', *ade_options(ade_root))
    return str(work_dir / 'iter_4.pth')


@pytest.fixture(scope='module')
def exported(det_checkpoint, seg_checkpoint, tmp_path_factory):
    """(kind, backend) -> folder, each exported once."""
    root = tmp_path_factory.mktemp('deployed')
    folders = {}

    def get(kind, backend):
        if (kind, backend) not in folders:
            config, ckpt = (DET, det_checkpoint) if kind == 'det' else (
                SEG, seg_checkpoint)
            folder = str(root / f'{kind}_{backend}')
            out = run_tool(DEPLOY, config, ckpt, '--backend', backend,
                           '--work-dir', folder)
            assert f'exported {config} to {folder} ({backend}' in out
            folders[kind, backend] = folder
        return folders[kind, backend]

    return get


@pytest.fixture(scope='module')
def reference(det_checkpoint, seg_checkpoint, tiny_coco, ade_root,
              tmp_path_factory):
    """tools/test.py's PyTorch metrics, once per model kind."""
    cache = {}

    def get(kind):
        if kind not in cache:
            work_dir = tmp_path_factory.mktemp(f'reference_{kind}')
            cache[kind] = evaluate(DET, det_checkpoint, work_dir,
                                   coco_options(tiny_coco)) if kind == 'det' \
                else seg_miou(SEG, seg_checkpoint, work_dir,
                              ade_options(ade_root))
        return cache[kind]

    return get


def seg_miou(config, checkpoint, work_dir, options):
    log = run_tool('test.py', config, checkpoint, '--work-dir', str(work_dir),
                   '--cfg-options', *options)
    return float(log.split('mIoU: ')[1].split()[0])


def metrics(work_dir):
    [path] = glob.glob(osp.join(work_dir, '*', '*.json'))
    with open(path) as f:
        return json.load(f)


def evaluate(config, checkpoint, work_dir, options):
    run_tool('test.py', config, checkpoint, '--work-dir', str(work_dir),
             '--cfg-options', *options)
    return metrics(str(work_dir))


@pytest.mark.parametrize('backend', BACKENDS)
def test_export_writes_mmdeploy_folder_and_nothing_else(exported, backend):
    folder = exported('det', backend)
    net = ['end2end.onnx'
           ] if backend == 'onnxruntime' else ['end2end.xml', 'end2end.bin']
    for name in net + ['deploy.json', 'pipeline.json', 'detail.json']:
        assert osp.isfile(osp.join(folder, name)), name
    with open(osp.join(folder, 'deploy.json')) as f:
        deploy = json.load(f)
    assert deploy['models'][0]['backend'] == backend
    assert deploy['models'][0]['net'] == net[0]
    record = deploy['fasternet_mm']
    assert record['precision'] == 'fp32'  # no native bf16: see test_configs
    assert record['output_names'] == ['dets', 'labels', 'masks']
    assert record['onnx_fixes']['where_constants'] >= 1
    assert record['dataset_meta']['classes'][0] == 'circle'
    # no temporary folder left beside it
    assert sorted(os.listdir(osp.dirname(folder))) == sorted(
        n for n in os.listdir(osp.dirname(folder)) if not n.startswith('.'))


@pytest.mark.parametrize('backend', BACKENDS)
def test_test_tool_on_folder_gives_pytorch_coco_ap(exported, reference,
                                                   tiny_coco, tmp_path,
                                                   backend):
    options = coco_options(tiny_coco)
    ref = reference('det')
    got = evaluate(DET, exported('det', backend), tmp_path / 'dep', options)
    for key in ('coco/bbox_mAP', 'coco/bbox_mAP_50', 'coco/segm_mAP',
                'coco/segm_mAP_50'):
        assert abs(ref[key] - got[key]) <= 0.005, (key, ref[key], got[key])


@pytest.mark.parametrize('backend', BACKENDS)
def test_test_tool_on_folder_gives_pytorch_miou(exported, reference, ade_root,
                                                tmp_path, backend):
    got = seg_miou(SEG, exported('seg', backend), tmp_path,
                   ade_options(ade_root))
    assert abs(reference('seg') - got) <= 0.5, (reference('seg'), got)


@pytest.mark.parametrize('backend', BACKENDS)
def test_every_pytorch_detection_has_its_deployed_twin(exported,
                                                       det_checkpoint,
                                                       tiny_coco, backend):
    from mmdet.registry import DATASETS
    from mmengine.runner import load_checkpoint

    from fasternet_mm.runtime import build_model_from_cfg, load_config
    from fasternet_mm.runtime.deploy import DeployedModel
    options = parse_options(coco_options(tiny_coco))
    cfg = load_config(DET, options)
    model = build_model_from_cfg(cfg)
    load_checkpoint(model, det_checkpoint, map_location='cpu')
    deployed = DeployedModel(
        exported('det', backend), cfg.model.to_dict(), 'mmdet')
    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    compared = assert_deployed_twins(model, deployed, dataset)
    assert compared, 'no detection to compare: train the demo model longer'


def test_folder_of_another_config_is_refused_before_any_work(exported):
    """Another model config (here: a changed test setting) is refused."""
    proc = subprocess.run([
        sys.executable,
        osp.join(REPO_ROOT, 'tools', 'test.py'), DET,
        exported('det', 'onnxruntime'), '--cfg-options',
        'model.test_cfg.rcnn.score_thr=0.3'
    ],
                          capture_output=True,
                          text=True,
                          env=tool_env())
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1].startswith(
        'error: ') and 'exported from another model config' in proc.stderr


def test_image_demo_draws_with_the_folder(exported, tiny_coco, tmp_path):
    img = osp.join(tiny_coco, 'val2017', '000000000001.png')
    out = run_tool('image_demo.py', img, DET, exported('det', 'openvino'),
                   '--out-file', str(tmp_path / 'r.jpg'), '--score-thr', '0')
    assert f'picture saved to {tmp_path / "r.jpg"}' in out


def test_failed_export_leaves_no_folder(det_checkpoint, tmp_path, monkeypatch):
    import mmdeploy.apis

    from fasternet_mm.errors import UserInputError
    from fasternet_mm.runtime.deploy import export_model

    def fail(*args, **kwargs):
        raise RuntimeError('untraceable op')

    monkeypatch.setattr(mmdeploy.apis, 'torch2onnx', fail)
    with pytest.raises(UserInputError, match='cannot be exported.*untrace'):
        export_model(DET, det_checkpoint, str(tmp_path / 'out'))
    assert os.listdir(tmp_path) == []
