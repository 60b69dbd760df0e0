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
from helpers import (REPO_ROOT, ade_options, assert_deployed_twins,
                     coco_options, load_tool, parse_options, run_tool,
                     tool_env)

from fasternet_mm.errors import UserInputError

pytest.importorskip(
    'mmdeploy',
    reason='whole-model export needs mmdeploy 1.3.1: the torch 2.1 stack '
    'installs it (requirements/stack-torch2.1.txt); it would downgrade '
    "onnx and protobuf on the current stack, and torch >= 2.9's exporter "
    'is not mmdeploy\'s')

DET = osp.join(REPO_ROOT, 'configs', 'demo',
               'mask_rcnn_fasternet_t0_coco_demo.py')
SEG = osp.join(REPO_ROOT, 'configs', 'demo',
               'upernet_fasternet_t0_ade20k_demo.py')
BACKENDS = ('onnxruntime', 'openvino')
# The bounds of the deployed metrics from PyTorch's, by the
# precision the folder records (COCO AP on 0-1, mIoU in %); 'auto' exports
# fp32 or bf16 by the CPU (test_deploy_configs.py). int8 is checked on its
# network's outputs here: the briefly trained demo models score every box
# about alike, so any rounding reorders them; its metrics on the make-demo
# checkpoints are in docs/deployment.md.
AP_BOUND = dict(fp32=0.005, bf16=0.01)
MIOU_BOUND = dict(fp32=0.5, bf16=1.0)


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
    assert record['precision'] == 'fp32'  # asked for
    assert record['output_names'] == ['dets', 'labels', 'masks']
    assert record['onnx_fixes']['where_constants'] >= 1
    assert record['dataset_meta']['classes'][0] == 'circle'
    # no temporary folder left beside it
    assert sorted(os.listdir(osp.dirname(folder))) == sorted(
        n for n in os.listdir(osp.dirname(folder)) if not n.startswith('.'))


def precision_of(folder):
    with open(osp.join(folder, 'deploy.json')) as f:
        return json.load(f)['fasternet_mm']['precision']


def test_test_tool_on_folder_gives_pytorch_coco_ap(exported, reference,
                                                   tiny_coco, tmp_path):
    """OpenVINO's auto precision: bf16 where the CPU has it, else fp32
    (the fp32 folders match per image: below)."""
    options = coco_options(tiny_coco)
    ref = reference('det')
    folder = exported('det', 'openvino', 'auto')
    bound = AP_BOUND[precision_of(folder)]
    got = evaluate(DET, folder, tmp_path / 'dep', options)
    for key in ('coco/bbox_mAP', 'coco/bbox_mAP_50', 'coco/segm_mAP',
                'coco/segm_mAP_50'):
        assert abs(ref[key] - got[key]) <= bound, (key, ref[key], got[key])


def test_test_tool_on_folder_gives_pytorch_miou(exported, reference, ade_root,
                                                tmp_path):
    folder = exported('seg', 'onnxruntime')
    got = seg_miou(SEG, folder, tmp_path, ade_options(ade_root))
    assert abs(reference('seg') -
               got) <= MIOU_BOUND[precision_of(folder)], (reference('seg'),
                                                          got)


def quantized_inputs(folder: str, backend: str):
    """The names of the graph's ops that take a quantized tensor (OpenVINO:
    NNCF's FakeQuantize; ONNX Runtime: a DequantizeLinear of an
    activation, as QDQ writes it), shape queries left out."""
    if backend == 'openvino':
        import openvino as ov
        model = ov.Core().read_model(osp.join(folder, 'end2end.xml'))
        return [
            target.get_node().get_friendly_name() for op in model.get_ops()
            if op.get_type_name() == 'FakeQuantize' for out in op.outputs()
            for target in out.get_target_inputs()
            if target.get_node().get_type_name() != 'ShapeOf'
        ]
    import onnx
    graph = onnx.load(osp.join(folder, 'end2end.onnx')).graph
    weights = {w.name for w in graph.initializer}
    dequantized = {
        n.output[0]
        for n in graph.node
        if n.op_type == 'DequantizeLinear' and n.input[0] not in weights
    }
    return [
        n.name for n in graph.node
        if n.op_type != 'Shape' and dequantized & set(n.input)
    ]


@pytest.mark.parametrize('backend', BACKENDS)
def test_int8_detector_quantizes_its_networks_only(exported, backend):
    """The folder records its calibration; only the networks' layers take
    int8 inputs: no quantized tensor feeds the box decoding, NMS and mask
    bookkeeping at the graph's top level (quantized, with the RoI
    extractors, they cost the demo Mask R-CNN 0.10 segm AP). OpenVINO's RoI
    extractors read float FPN levels; ONNX Runtime's QDQ rounds the levels
    for all their readers, the RoI extractors too."""
    folder = exported('det', backend, 'int8')
    with open(osp.join(folder, 'deploy.json')) as f:
        record = json.load(f)['fasternet_mm']
    assert record['precision'] == 'int8'
    assert record['chosen'] == 'int8, calibrated on 4 training images'
    fed = quantized_inputs(folder, backend)
    outside = sorted(
        name for name in fed if len(name.split('/')) < 3 or (
            'roi_extractor' in name and backend == 'openvino'))
    assert len(fed) > 10 and outside == []


@pytest.mark.parametrize('backend', BACKENDS)
def test_int8_segmentor_logits_stay_near_fp32(exported, ade_root, backend):
    """On each val image the quantized UperNet's class logits (at the image
    size, as tools/test.py takes them) stay within 10% of the fp32 ones in
    norm (2.0-2.3% with either backend, measured on the demo model on a
    CPU with AMX)."""
    from mmengine.dataset import pseudo_collate
    from mmengine.registry import init_default_scope
    from mmseg.registry import DATASETS

    from fasternet_mm.runtime import load_config
    from fasternet_mm.runtime.deploy import DeployedModel
    cfg = load_config(SEG, parse_options(ade_options(ade_root)))
    init_default_scope('mmseg')
    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    models = [  # ONNX Runtime computes fp32 on any CPU
        DeployedModel(folder, cfg.model.to_dict(), 'mmseg')
        for folder in (exported('seg', 'onnxruntime'),
                       exported('seg', backend, 'int8'))
    ]
    errors = []
    for i in range(len(dataset)):
        want, got = (
            m.test_step(pseudo_collate([dataset[i]]))[0].seg_logits.data
            for m in models)
        errors.append(float((got - want).norm() / want.norm()))
    assert 0 < max(errors) < 0.1, errors


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
    for flag in ('--fast', '--deploy'):  # they change a PyTorch model
        with pytest.raises(
                UserInputError,
                match=f'{flag} change the PyTorch model; .* is an exported '
                'model'):
            load_tool('image_demo').main(
                [img, DET, exported('det', 'openvino'), flag])


def test_failed_export_leaves_no_folder(det_checkpoint, tmp_path, monkeypatch):
    import mmdeploy.apis

    from fasternet_mm.runtime.deploy import export_model

    def fail(*args, **kwargs):
        raise RuntimeError('untraceable op')

    monkeypatch.setattr(mmdeploy.apis, 'torch2onnx', fail)
    with pytest.raises(UserInputError, match='cannot be exported.*untrace'):
        export_model(DET, det_checkpoint, str(tmp_path / 'out'))
    assert os.listdir(tmp_path) == []
