"""mmdeploy's own Python API as a client of the exported folders: code
written for mmdeploy (``mmdeploy.apis.inference_model`` with the folder's
deploy_cfg.py and network file) gets the detections of
:class:`DeployedModel`, per image, on ONNX Runtime. (mmdeploy 1.3.1's
OpenVINO wrapper imports ``openvino.inference_engine``, which OpenVINO
removed in 2023: OpenVINO folders run through our tools or OpenVINO's own
API; docs/deployment.md.)"""
import copy
import os.path as osp

import pytest
from helpers import DET_DEMO_CONFIG as DET
from helpers import assert_twin_instances, coco_options, parse_options

pytest.importorskip(
    'mmdeploy',
    reason='mmdeploy 1.3.1 is installed on the torch 2.1 stack only '
    '(requirements/stack-torch2.1.txt)')

SCORE_THR = 0.1


def test_mmdeploy_inference_model_matches_the_deployed_model(
        exported, tiny_coco):
    from mmdeploy.apis import inference_model
    from mmdet.registry import DATASETS
    from mmengine.dataset import pseudo_collate
    from mmengine.registry import init_default_scope

    from fasternet_mm.runtime import load_config
    from fasternet_mm.runtime.deploy import DeployedModel
    folder = exported('det', 'onnxruntime')
    cfg = load_config(DET, parse_options(coco_options(tiny_coco)))
    init_default_scope('mmdet')
    model = DeployedModel(folder, cfg.model.to_dict(), 'mmdet')
    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    compared = 0
    for i in range(len(dataset)):
        data = pseudo_collate([dataset[i]])
        ref = model.test_step(copy.deepcopy(data))[0]
        [got] = inference_model(
            copy.deepcopy(cfg), osp.join(folder, 'deploy_cfg.py'),
            [osp.join(folder, 'end2end.onnx')], ref.img_path, 'cpu')
        compared += assert_twin_instances(ref.pred_instances,
                                          got.pred_instances, SCORE_THR, i)
    assert compared, 'no detection to compare: train the demo model longer'
