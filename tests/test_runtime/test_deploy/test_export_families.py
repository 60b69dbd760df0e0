"""Whole-model export of the other detector families, end to end.

Cascade Mask R-CNN, RetinaNet, RTMDet and RTMDet-Ins (their demo configs:
FasterNet-T0/T1, 160x160 inputs, 4 classes) are exported for ONNX Runtime
and OpenVINO by tools/deployment/deploy.py; per image, every PyTorch
detection has a deployed twin (label, box, score, mask). Training these
heads to meaningful scores takes minutes, so the checkpoints are random
weights whose last layers are rescaled on the test images (see
:func:`spread`): scores spread from 0 to 1 with a few detections per image
over the threshold, boxes of a few strides, masks neither empty nor full.
Export runs through mmdeploy 1.3.1 on the torch 2.1 stack only.
"""
import copy
import json
import os.path as osp

import pytest
import torch
from helpers import (REPO_ROOT, assert_deployed_twins, coco_options,
                     parse_options, run_tool)

pytest.importorskip(
    'mmdeploy',
    reason='whole-model export needs mmdeploy 1.3.1: the torch 2.1 stack '
    'installs it (requirements/stack-torch2.1.txt)')

DEMO = osp.join(REPO_ROOT, 'configs', 'demo')
# family -> (demo config, {last layer: (mean, std[, more]) of its outputs on
# the test images}); a layer is named by its attribute (rtm_cls.0 by
# rtm_cls); ``more`` is added to its last output (the background logit of
# a softmax classifier).
CASCADE_LAYERS = dict(
    rpn_cls=(-2., 2.),
    rpn_reg=(0., .2),
    fc_cls=(0., 2., 7.),
    conv_logits=(0., 3.))
RETINANET_LAYERS = dict(retina_cls=(-10., 2.), retina_reg=(0., .2))
RTMDET_LAYERS = dict(rtm_cls=(-9., 2.), rtm_reg=(1., .3))
RTMDET_INS_LAYERS = dict(
    rtm_cls=(-7.5, 2.), rtm_reg=(1., .3), rtm_kernel=(0., 1.))
FAMILIES = {
    'cascade_mask_rcnn':
    ('cascade_mask_rcnn_fasternet_t0_coco_demo.py', CASCADE_LAYERS),
    'retinanet': ('retinanet_fasternet_t0_coco_demo.py', RETINANET_LAYERS),
    'rtmdet': ('rtmdet_fasternet_t0_coco_demo.py', RTMDET_LAYERS),
    'rtmdet_ins': ('rtmdet_ins_fasternet_t1_coco_demo.py', RTMDET_INS_LAYERS),
}
MASKS = ('cascade_mask_rcnn', 'rtmdet_ins')
DEPLOY = osp.join('deployment', 'deploy.py')


def spread(model, data, targets):
    """Rescale each layer named in ``targets`` (weight and bias) so that its
    outputs on ``data`` have the (mean, std) given: an affine change of the
    layer, as training would make it."""
    layers, matched = {}, set()
    for name, m in model.named_modules():
        key = next((p for p in name.split('.')[-2:] if p in targets), None)
        if key and isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)):
            layers[name] = (m, targets[key])
            matched.add(key)
    assert matched == set(targets), (matched, targets)
    raw = {}

    def keep(name):

        def hook(m, args, out):
            bias = m.bias.view(-1, *[1] * (out.dim() - 2)) if isinstance(
                m, torch.nn.Conv2d) else m.bias
            raw.setdefault(name, []).append(out - bias)

        return hook

    hooks = [m.register_forward_hook(keep(n)) for n, (m, _) in layers.items()]
    with torch.no_grad():
        model.test_step(copy.deepcopy(data))
        for h in hooks:
            h.remove()
        for name, (m, (mean, std, *more)) in layers.items():
            out = torch.cat([o.flatten() for o in raw[name]])
            # a level whose features are all alike stays as it is
            scale = std / out.std() if out.std() > 0 else 1.
            m.weight.mul_(scale)
            m.bias.fill_(mean).sub_(out.mean() * scale)
            m.bias[-1:].add_(sum(more))


@pytest.fixture(scope='module')
def families(tiny_coco, tmp_path_factory):
    """family -> (config path, cfg, PyTorch model, checkpoint, dataset)."""
    from mmdet.registry import DATASETS
    from mmengine.dataset import pseudo_collate

    from fasternet_mm.runtime import build_model_from_cfg, load_config
    root = tmp_path_factory.mktemp('family_ckpts')
    cache = {}

    def get(family):
        if family not in cache:
            name, targets = FAMILIES[family]
            config = osp.join(DEMO, name)
            cfg = load_config(config, parse_options(coco_options(tiny_coco)))
            torch.manual_seed(0)
            model = build_model_from_cfg(cfg)
            model.init_weights()
            model.eval()
            dataset = DATASETS.build(cfg.test_dataloader.dataset)
            spread(model,
                   pseudo_collate([dataset[i] for i in range(len(dataset))]),
                   targets)
            ckpt = str(root / f'{family}.pth')
            torch.save(
                dict(
                    state_dict=model.state_dict(),
                    meta=dict(dataset_meta=dict(dataset.metainfo))), ckpt)
            cache[family] = (config, cfg, model, ckpt, dataset)
        return cache[family]

    return get


@pytest.fixture(scope='module')
def exported(families, tmp_path_factory):
    """(family, backend) -> folder, each exported once."""
    root = tmp_path_factory.mktemp('family_deployed')
    folders = {}

    def get(family, backend):
        if (family, backend) not in folders:
            config, _, _, ckpt, _ = families(family)
            folder = str(root / f'{family}_{backend}')
            out = run_tool(DEPLOY, config, ckpt, '--backend', backend,
                           '--precision', 'fp32', '--work-dir', folder)
            assert f'exported {config} to {folder} ({backend}' in out
            folders[family, backend] = folder
        return folders[family, backend]

    return get


# OpenVINO reads the same graph as ONNX Runtime; Cascade's needs a fix of
# its own for OpenVINO (onnx_fixes.py), so it runs on both.
@pytest.mark.parametrize('family, backend',
                         [(f, 'onnxruntime') for f in sorted(FAMILIES)] +
                         [('cascade_mask_rcnn', 'openvino')])
def test_every_pytorch_detection_of_the_family_has_its_twin(
        families, exported, family, backend):
    from fasternet_mm.runtime.deploy import DeployedModel
    _, cfg, model, _, dataset = families(family)
    folder = exported(family, backend)
    with open(osp.join(folder, 'deploy.json')) as f:
        record = json.load(f)['fasternet_mm']
    masks = ['masks'] if family in MASKS else []
    assert record['output_names'] == ['dets', 'labels', *masks]
    deployed = DeployedModel(folder, cfg.model.to_dict(), 'mmdet')
    compared = assert_deployed_twins(model, deployed, dataset)
    assert compared >= 2, f'{compared} detections over the threshold'
