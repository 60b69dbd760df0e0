"""The Cascade Mask R-CNN FasterNet configs: MMDetection's ms-3x recipe with
the paper's optimiser, and a model that trains and predicts."""
import os.path as osp

import pytest
import torch
from helpers import REPO_ROOT, official_url
from mmengine.config import Config
from mmengine.registry import init_default_scope

import fasternet_mm  # noqa: F401
from fasternet_mm import FasterNet
from fasternet_mm.demo import coco_demo_metainfo

CONFIG_DIR = osp.join(REPO_ROOT, 'configs')
ARCHS = ('s', 'm', 'l')
DEMO_CONFIG = osp.join(CONFIG_DIR, 'demo',
                       'cascade_mask_rcnn_fasternet_t0_coco_demo.py')


def load(arch):
    return Config.fromfile(
        osp.join(CONFIG_DIR, f'cascade_mask_rcnn_fasternet_{arch}_ms_3x.py'))


def build_detector(cfg):
    from mmdet.registry import MODELS
    init_default_scope('mmdet')  # mmseg tests share the process
    return MODELS.build(cfg.model)


@pytest.mark.parametrize('arch,lr,drop_path', [('s', 2e-4, 0.15),
                                               ('m', 1e-4, 0.2),
                                               ('l', 1e-4, 0.3)])
def test_config_is_cascade_mask_rcnn_ms_3x_with_the_papers_optimiser(
        arch, lr, drop_path):
    cfg = load(arch)
    assert cfg.default_scope == 'mmdet'
    assert 'fasternet_mm' in cfg.custom_imports.imports
    assert cfg.model.type == 'CascadeRCNN'
    assert cfg.model.roi_head.num_stages == 3
    assert 'mask_head' in cfg.model.roi_head
    backbone = cfg.model.backbone
    assert set(backbone) == {
        'type', 'arch', 'out_indices', 'drop_path_rate', 'norm_cfg', 'init_cfg'
    }, 'no ResNet key of the base is left over'
    assert (backbone.type, backbone.arch) == ('FasterNet', arch)
    assert backbone.drop_path_rate == drop_path
    assert backbone.init_cfg.checkpoint == official_url(arch)
    assert dict(cfg.optim_wrapper.optimizer) == dict(
        type='AdamW', lr=lr, betas=(0.9, 0.999), weight_decay=1e-4)
    # 3x: the training set repeated 3 times over 12 epochs (36 epochs), lr
    # steps after epochs 9 and 11 of them (27 and 33).
    assert cfg.train_dataloader.dataset.type == 'RepeatDataset'
    assert cfg.train_dataloader.dataset.times == 3
    assert cfg.train_cfg.max_epochs == 12
    assert cfg.param_scheduler[1].milestones == [9, 11]
    # Multi-scale training, shorter side 640-800.
    pipeline = cfg.train_dataloader.dataset.dataset.pipeline
    [resize] = [t for t in pipeline if t.type == 'RandomResize']
    assert [tuple(s) for s in resize.scale] == [(1333, 640), (1333, 800)]
    assert cfg.train_dataloader.batch_size == 2
    assert cfg.auto_scale_lr.base_batch_size == 16
    assert cfg.model.data_preprocessor.pad_size_divisor == 32
    assert cfg.val_evaluator.metric == cfg.test_evaluator.metric == [
        'bbox', 'segm'
    ]


@pytest.mark.parametrize('arch', ARCHS)
def test_neck_widths_are_the_backbone_widths(arch):
    cfg = load(arch)
    assert tuple(
        cfg.model.neck.in_channels) == FasterNet(arch=arch).out_channels
    model = build_detector(cfg)
    assert model.neck.in_channels == list(model.backbone.out_channels)


def _tiny_batch(num_classes, size=64):
    from mmdet.testing import demo_mm_inputs
    return demo_mm_inputs(
        batch_size=2,
        image_shapes=[(3, size, size)] * 2,
        num_items=[2, 1],
        num_classes=num_classes,
        with_mask=True)


def test_every_parameter_gets_a_gradient_and_the_model_predicts_masks():
    cfg = load('s')
    cfg.model.backbone.init_cfg = None  # tests never download
    # fewer proposals than on COCO images, for CPU time
    cfg.model.train_cfg.rpn_proposal.max_per_img = 200
    cfg.model.test_cfg.rpn.max_per_img = 100
    torch.manual_seed(0)
    model = build_detector(cfg)
    model.init_weights()
    model.train()
    data = model.data_preprocessor(_tiny_batch(80), True)
    losses = model.loss(data['inputs'], data['data_samples'])
    for stage in range(3):
        assert {
            f's{stage}.loss_cls', f's{stage}.loss_bbox', f's{stage}.loss_mask'
        } <= set(losses)
    loss, _ = model.parse_losses(losses)
    assert torch.isfinite(loss)
    loss.backward()
    assert [
        n for n, p in model.named_parameters()
        if p.requires_grad and p.grad is None
    ] == []

    model.eval()
    with torch.no_grad():
        data = model.data_preprocessor(_tiny_batch(80, size=70), False)
        results = model.predict(data['inputs'], data['data_samples'])
    assert len(results) == 2
    for result in results:
        pred = result.pred_instances
        assert pred.bboxes.shape[1:] == (4, )
        assert len(pred.masks) == len(pred.scores) == len(pred.labels)
        assert tuple(pred.masks.shape[1:]) == tuple(result.ori_shape)


def test_demo_config_trains_t0_from_scratch_on_the_demo_set():
    cfg = Config.fromfile(DEMO_CONFIG)
    assert cfg.model.backbone.arch == 't0'
    assert cfg.model.backbone.init_cfg is None
    dataset = cfg.train_dataloader.dataset
    assert dataset.type == 'CocoDataset', 'no 3x repeat in the demo'
    assert dataset.data_root == 'data/coco_demo/'
    assert {
        k: list(v)
        for k, v in dataset.metainfo.items()
    } == {
        k: list(v)
        for k, v in coco_demo_metainfo().items()
    }
    heads = cfg.model.roi_head.bbox_head
    assert [h.num_classes for h in heads] == [4, 4, 4]
    # each stage keeps its own box coder (the cascade's point)
    assert [h.bbox_coder.target_stds[0] for h in heads] == [0.1, 0.05, 0.033]
    assert cfg.model.roi_head.mask_head.num_classes == 4
    model = build_detector(cfg)
    assert model.neck.in_channels == list(model.backbone.out_channels)
