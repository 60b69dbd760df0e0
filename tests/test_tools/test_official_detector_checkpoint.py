"""The paper's trained detectors load through our configs and tools.

The authors' Mask R-CNN checkpoints (MMDetection 2.x) keep neck and head
keys as MMDetection 3.x names them and the backbone in the official layout
(``stages.0..6``, ``norm0/2/4/6``). One is synthesised here from the golden
official FasterNet-T0 and a seeded neck/heads; it must give the same
predictions as the model loaded the normal way, and any backbone key that
would stay unloaded is an error.
"""
import os
import os.path as osp

import pytest
import torch
from helpers import DET_DEMO_CONFIG, coco_options, load_tool, run_tool
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import load_checkpoint

from fasternet_mm import convert_fasternet_checkpoint
from fasternet_mm.errors import CheckpointError


def build_detector():
    from mmdet.registry import MODELS
    cfg = Config.fromfile(DET_DEMO_CONFIG)
    init_default_scope('mmdet')
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    return model.eval()


@pytest.fixture(scope='module')
def official(golden_dir, tmp_path_factory):
    """(path of the official-layout detector checkpoint, its native twin)."""
    golden = torch.load(osp.join(golden_dir, 'fasternet_t0_det.pt'))
    model = build_detector()
    heads = {
        k: v
        for k, v in model.state_dict().items() if not k.startswith('backbone.')
    }
    backbone, _ = convert_fasternet_checkpoint(golden['state_dict'],
                                               model.backbone.state_dict())
    folder = tmp_path_factory.mktemp('official')
    paths = {}
    for layout, state in (('official', golden['state_dict']), ('native',
                                                               backbone)):
        paths[layout] = str(folder / f'{layout}.pth')
        torch.save(
            {
                'meta': {
                    'mmdet_version': '2.25.0'
                },
                'state_dict': {
                    **{
                        f'backbone.{k}': v
                        for k, v in state.items()
                    },
                    **heads
                }
            }, paths[layout])
    return paths


def predict(model, img):
    from mmdet.structures import DetDataSample
    sample = DetDataSample(
        metainfo=dict(
            img_shape=(96, 128),
            ori_shape=(96, 128),
            scale_factor=(1., 1.),
            pad_shape=(96, 128),
            batch_input_shape=(96, 128)))
    with torch.no_grad():
        return model.predict(img, [sample])[0]


def test_official_layout_predicts_like_the_native_one(official):
    img = torch.rand(1, 3, 96, 128)
    results = []
    for layout in ('official', 'native'):
        model = build_detector()
        load_checkpoint(model, official[layout], map_location='cpu')
        feats = model.extract_feat(img)
        results.append((feats, predict(model, img)))
    (feat_a, pred_a), (feat_b, pred_b) = results
    for a, b in zip(feat_a, feat_b):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    torch.testing.assert_close(pred_a.pred_instances.bboxes,
                               pred_b.pred_instances.bboxes)
    torch.testing.assert_close(pred_a.pred_instances.scores,
                               pred_b.pred_instances.scores)


def test_official_backbone_really_loads(official, golden_dir):
    """Not a random backbone: its features are the paper model's."""
    golden = torch.load(osp.join(golden_dir, 'fasternet_t0_det.pt'))
    model = build_detector()
    load_checkpoint(model, official['official'], map_location='cpu')
    with torch.no_grad():
        outs = model.backbone(golden['input'])
    for out, ref in zip(outs, golden['output']):
        torch.testing.assert_close(out, ref, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize('change, message', [
    ('drop', r"lacks 1 FasterNet parameter\(s\): stages.2.blocks.3."),
    ('extra', r'1 key\(s\) fit no FasterNet parameter: extra_conv.weight'),
])
def test_backbone_key_left_unloaded_is_an_error(official, tmp_path, change,
                                                message):
    ckpt = torch.load(official['official'])
    state = ckpt['state_dict']
    if change == 'drop':
        del state['backbone.stages.4.blocks.3.mlp.0.weight']
    else:
        state['backbone.extra_conv.weight'] = torch.zeros(1)
    path = tmp_path / 'broken.pth'
    torch.save(ckpt, path)
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(build_detector(), str(path), map_location='cpu')


def test_tools_evaluate_an_official_detector_checkpoint(
        official, tiny_coco, tmp_path):
    """tools/test.py gives the same COCO metrics for both layouts, and
    image_demo.py draws with it."""
    test_tool = load_tool('test')
    metrics = {
        layout:
        test_tool.main([
            DET_DEMO_CONFIG, official[layout], '--work-dir',
            str(tmp_path / layout), '--cfg-options', *coco_options(tiny_coco)
        ])
        for layout in ('official', 'native')
    }
    assert metrics['official'] == metrics['native']
    assert isinstance(metrics['official']['coco/bbox_mAP'], float)
    val = osp.join(tiny_coco, 'val2017')
    image = osp.join(val, sorted(os.listdir(val))[0])
    out = run_tool('image_demo.py', image,
                   DET_DEMO_CONFIG, official['official'], '--out-file',
                   str(tmp_path / 'vis.jpg'))
    assert 'FasterNet: loaded' in out and 'official layout' in out
    assert osp.isfile(tmp_path / 'vis.jpg')
