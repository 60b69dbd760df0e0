"""mmdeploy's SDK (mmdeploy-runtime 1.3.1) as a client of the exported
folders: users' deployment code opens them with ``mmdeploy_runtime``.

The SDK reads pipeline.json (preprocessing: resize, to_rgb, mean/std,
padding; postprocessing: box rescaling, mask pasting, class maps) and runs
end2end.onnx on its own ONNX Runtime (1.15). Its answers are compared per
image with :class:`DeployedModel` (which test_export.py compares with
PyTorch). The PyPI wheel is CPU-only and ships the ONNX Runtime net only:
it cannot run OpenVINO folders (docs/deployment.md).

Upstream bug (docs/deployment.md): the SDK's Mask R-CNN postprocessing
(``ResizeInstanceMask``, csrc/mmdeploy/codebase/mmdet/
instance_segmentation.cpp) reads the boxes and labels without waiting for
the CPU stream that copies the network's outputs (its ``stream().Wait()``
is commented out), so on CPU it returns empty, stale or garbage detections
at random. :func:`boxes_only` checks everything else of the folder (the
preprocessing, the graph, the label dtype) through the SDK's
``ResizeBBox``, which waits.
"""
import copy
import json
import os.path as osp
import shutil

import numpy as np
import pytest
import torch
from helpers import DET_DEMO_CONFIG as DET
from helpers import (REPO_ROOT, ade_options, box_iou, coco_options,
                     parse_options)

sdk = pytest.importorskip(
    'mmdeploy_runtime',
    reason='mmdeploy\'s SDK (mmdeploy-runtime 1.3.1) is installed on the '
    'torch 2.1 stack only (requirements/stack-torch2.1.txt), with the '
    'mmdeploy 1.3.1 that exports')

SEG = osp.join(REPO_ROOT, 'configs', 'demo',
               'upernet_fasternet_t0_ade20k_demo.py')
SCORE_THR = 0.1


def boxes_only(folder, tmp_path):
    """A copy of ``folder`` whose SDK pipeline ends in ``ResizeBBox``."""
    copied = str(tmp_path / 'boxes_only')
    shutil.copytree(folder, copied)
    path = osp.join(copied, 'pipeline.json')
    with open(path) as f:
        pipeline = json.load(f)
    post = pipeline['pipeline']['tasks'][-1]
    assert post['component'] == 'ResizeInstanceMask'
    post['component'] = 'ResizeBBox'
    with open(path, 'w') as f:
        json.dump(pipeline, f)
    return copied


def deployed_det(folder, tiny_coco):
    from mmdet.registry import DATASETS
    from mmengine.registry import init_default_scope

    from fasternet_mm.runtime import load_config
    from fasternet_mm.runtime.deploy import DeployedModel
    cfg = load_config(DET, parse_options(coco_options(tiny_coco)))
    init_default_scope('mmdet')
    model = DeployedModel(folder, cfg.model.to_dict(), 'mmdet')
    return model, DATASETS.build(cfg.test_dataloader.dataset)


def compare_detections(folder, sdk_folder, tiny_coco):
    import mmcv
    from mmengine.dataset import pseudo_collate
    model, dataset = deployed_det(folder, tiny_coco)
    detector = sdk.Detector(model_path=sdk_folder, device_name='cpu')
    compared = 0
    for i in range(len(dataset)):
        data = pseudo_collate([dataset[i]])
        sample = model.test_step(copy.deepcopy(data))[0]
        ref = sample.pred_instances
        img = mmcv.imread(sample.img_path)  # BGR, as users pass it
        bboxes, labels, _ = detector(img)
        # The SDK clips boxes to (width - 1, height - 1) (mmdet 1.x's
        # convention, csrc/mmdeploy/codebase/mmdet/utils.cpp); MMDetection
        # 3.x to (width, height).
        h, w = img.shape[:2]
        for j in torch.nonzero(ref.scores >= SCORE_THR)[:, 0].tolist():
            box = np.minimum(ref.bboxes[j].numpy(), [w - 1, h - 1] * 2)
            same = np.nonzero(labels == int(ref.labels[j]))[0]
            ious = [box_iou(box, bboxes[k, :4]) for k in same]
            assert ious and max(ious) > 0.99, (i, j, ious)
            k = same[int(np.argmax(ious))]
            assert abs(float(ref.scores[j]) - bboxes[k, 4]) < 0.01, (i, j)
            compared += 1
    assert compared, 'no detection to compare: train the demo model longer'
    return compared


def test_sdk_boxes_labels_scores_match_the_deployed_model(
        exported, tiny_coco, tmp_path):
    folder = exported('det', 'onnxruntime')
    compare_detections(folder, boxes_only(folder, tmp_path), tiny_coco)


def test_sdk_class_map_equals_the_deployed_model(exported, ade_root):
    import mmcv
    from mmengine.dataset import pseudo_collate
    from mmengine.registry import init_default_scope
    from mmseg.registry import DATASETS

    from fasternet_mm.runtime import load_config
    from fasternet_mm.runtime.deploy import DeployedModel
    folder = exported('seg', 'onnxruntime')
    cfg = load_config(SEG, parse_options(ade_options(ade_root)))
    init_default_scope('mmseg')
    model = DeployedModel(folder, cfg.model.to_dict(), 'mmseg')
    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    segmentor = sdk.Segmentor(model_path=folder, device_name='cpu')
    for i in range(len(dataset)):
        sample = model.test_step(pseudo_collate([dataset[i]]))[0]
        # with_argmax=False: the SDK returns the logits at the image size
        scores = segmentor(mmcv.imread(sample.img_path))
        want = sample.pred_sem_seg.data[0].numpy()
        assert scores.shape == (len(dataset.metainfo['classes']), *want.shape)
        assert (scores.argmax(0) == want).mean() >= 0.999, i
