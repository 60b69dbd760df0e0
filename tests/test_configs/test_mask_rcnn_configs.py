"""The shipped Mask R-CNN configs: the paper's settings, and models that build,
train and predict.

Every config inherits MMDetection's installed bases through
``mask_rcnn_fasternet_s.py`` and replaces the ResNet backbone as a whole.
"""
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
ARCHS = ('t0', 't1', 't2', 's', 'm', 'l')
CONFIGS = {a: f'mask_rcnn_fasternet_{a}.py' for a in ARCHS}
CONFIGS['s_ms_3x'] = 'mask_rcnn_fasternet_s_ms_3x.py'
CONFIGS['t0_demo'] = 'demo/mask_rcnn_fasternet_t0_coco_demo.py'
RESNET_KEYS = {
    'depth', 'num_stages', 'style', 'strides', 'dilations', 'stem_channels',
    'base_channels', 'deep_stem', 'avg_down'
}


def load(name):
    return Config.fromfile(osp.join(CONFIG_DIR, CONFIGS[name]))


def build_detector(cfg):
    from mmdet.registry import MODELS
    init_default_scope('mmdet')  # mmseg tests share the process
    return MODELS.build(cfg.model)


@pytest.mark.parametrize('name', list(CONFIGS))
def test_config_has_a_fasternet_backbone_without_resnet_keys(name):
    cfg = load(name)
    backbone = cfg.model.backbone
    assert cfg.default_scope == 'mmdet'
    assert 'fasternet_mm' in cfg.custom_imports.imports
    assert backbone.type == 'FasterNet'
    assert not RESNET_KEYS & set(backbone)
    assert backbone.arch == name.split('_')[0]


@pytest.mark.parametrize('name', list(CONFIGS))
def test_model_builds_and_backbone_widths_feed_the_neck(name):
    cfg = load(name)
    model = build_detector(cfg)
    assert isinstance(model.backbone, FasterNet)
    assert list(model.backbone.out_channels) == list(
        cfg.model.neck.in_channels)
    assert model.neck.in_channels == list(model.backbone.out_channels)


@pytest.mark.parametrize('arch', ARCHS)
def test_pretrained_weights_are_the_official_release_url(arch):
    # mmengine downloads and caches a URL; building the model (as the tests
    # do) does not load it, only init_weights() does.
    init_cfg = load(arch).model.backbone.init_cfg
    assert init_cfg.type == 'Pretrained'
    assert init_cfg.checkpoint == official_url(arch)


@pytest.mark.parametrize('arch,lr,drop_path', [('s', 2e-4, 0.15),
                                               ('m', 1e-4, 0.2),
                                               ('l', 1e-4, 0.3)])
def test_paper_settings_for_s_m_l(arch, lr, drop_path):
    cfg = load(arch)
    optimizer = cfg.optim_wrapper.optimizer
    assert optimizer.type == 'AdamW'
    assert optimizer.lr == lr
    assert optimizer.weight_decay == 1e-4
    assert set(optimizer) == {'type', 'lr', 'betas', 'weight_decay'}, \
        'no SGD key of the base is left over'
    assert cfg.model.backbone.drop_path_rate == drop_path
    # 16 images per batch: 8 GPUs x 2, the lr's reference for auto scaling.
    assert cfg.train_dataloader.batch_size == 2
    assert cfg.auto_scale_lr.base_batch_size == 16
    # 1x: 12 epochs, lr steps after epochs 8 and 11, 500 warm-up iterations.
    assert cfg.train_cfg.max_epochs == 12
    warmup, steps = cfg.param_scheduler
    assert (warmup.type, warmup.end, warmup.by_epoch) == ('LinearLR', 500,
                                                          False)
    assert steps.milestones == [8, 11]
    pipeline = [t.type for t in cfg.train_dataloader.dataset.pipeline]
    resize = cfg.train_dataloader.dataset.pipeline[pipeline.index('Resize')]
    assert tuple(resize.scale) == (1333, 800) and resize.keep_ratio
    assert 'RandomFlip' in pipeline
    assert cfg.val_evaluator.metric == ['bbox', 'segm']


def test_3x_multiscale_config_trains_36_epochs_at_several_scales():
    cfg = load('s_ms_3x')
    assert cfg.train_cfg.max_epochs == 36
    assert cfg.param_scheduler[1].milestones == [27, 33]
    resize = [
        t for t in cfg.train_dataloader.dataset.pipeline
        if t.type == 'RandomResize'
    ]
    assert len(resize) == 1
    assert [tuple(s) for s in resize[0].scale] == [(1333, 640), (1333, 800)]
    assert cfg.optim_wrapper.optimizer.lr == load(
        's').optim_wrapper.optimizer.lr


def test_demo_config_trains_t0_from_scratch_on_the_demo_set():
    cfg = load('t0_demo')
    assert cfg.model.backbone.init_cfg is None
    assert cfg.train_dataloader.dataset.data_root == 'data/coco_demo/'
    assert cfg.model.roi_head.bbox_head.num_classes == len(
        cfg.train_dataloader.dataset.metainfo.classes) == 4
    assert cfg.randomness.seed is not None
    metainfo = cfg.train_dataloader.dataset.metainfo
    assert {
        k: list(v)
        for k, v in metainfo.items()
    } == {
        k: list(v)
        for k, v in coco_demo_metainfo().items()
    }


def _tiny_batch(num_classes, size=64):
    from mmdet.testing import demo_mm_inputs
    return demo_mm_inputs(
        batch_size=2,
        image_shapes=[(3, size, size)] * 2,
        num_items=[2, 1],
        num_classes=num_classes,
        with_mask=True)


@pytest.mark.parametrize('name', ['t0', 's'])
def test_one_training_step_and_one_inference_step(name):
    cfg = load(name)
    cfg.model.backbone.init_cfg = None  # no ImageNet file on this machine
    torch.manual_seed(0)
    model = build_detector(cfg)
    model.init_weights()
    num_classes = cfg.model.roi_head.bbox_head.num_classes
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    before = model.backbone.patch_embed.proj.weight.detach().clone()

    model.train()
    data = model.data_preprocessor(_tiny_batch(num_classes), True)
    losses = model.loss(data['inputs'], data['data_samples'])
    assert {'loss_rpn_cls', 'loss_cls', 'loss_bbox',
            'loss_mask'} <= set(losses)
    loss, _ = model.parse_losses(losses)
    assert torch.isfinite(loss)
    loss.backward()
    optimizer.step()
    assert not torch.equal(before, model.backbone.patch_embed.proj.weight)

    model.eval()
    with torch.no_grad():
        data = model.data_preprocessor(_tiny_batch(num_classes), False)
        results = model.predict(data['inputs'], data['data_samples'])
    assert len(results) == 2
    for result in results:
        pred = result.pred_instances
        assert pred.bboxes.shape[1:] == (4, )
        assert len(pred.masks) == len(pred.scores) == len(pred.labels)
        assert tuple(pred.masks.shape[1:]) == tuple(result.ori_shape)
