"""The RetinaNet FasterNet config: MMDetection's RetinaNet 1x recipe with
FasterNet's strides 8-32 feeding the FPN, and a model that trains and
predicts."""
import os.path as osp

import torch
from helpers import REPO_ROOT, official_url
from mmengine.config import Config
from mmengine.registry import init_default_scope

import fasternet_mm  # noqa: F401
from fasternet_mm import FasterNet
from fasternet_mm.demo import coco_demo_metainfo

CONFIG = osp.join(REPO_ROOT, 'configs', 'retinanet_fasternet_s.py')
DEMO_CONFIG = osp.join(REPO_ROOT, 'configs', 'demo',
                       'retinanet_fasternet_t0_coco_demo.py')


def build_detector(cfg):
    from mmdet.registry import MODELS
    init_default_scope('mmdet')  # mmseg tests share the process
    return MODELS.build(cfg.model)


def test_config_is_mmdet_retinanet_1x_with_a_fasternet_s_backbone():
    cfg = Config.fromfile(CONFIG)
    assert cfg.default_scope == 'mmdet'
    assert 'fasternet_mm' in cfg.custom_imports.imports
    assert cfg.model.type == 'RetinaNet'
    backbone = cfg.model.backbone
    # _delete_ dropped every ResNet key of the base.
    assert set(backbone) == {
        'type', 'arch', 'out_indices', 'drop_path_rate', 'norm_cfg', 'init_cfg'
    }
    assert (backbone.type, backbone.arch) == ('FasterNet', 's')
    assert backbone.init_cfg.checkpoint == official_url('s')
    assert cfg.model.data_preprocessor.pad_size_divisor == 32
    # The 1x schedule of MMDetection's RetinaNet, the paper's AdamW.
    assert cfg.train_cfg.max_epochs == 12
    assert cfg.param_scheduler[1].milestones == [8, 11]
    assert dict(cfg.optim_wrapper.optimizer) == dict(
        type='AdamW', lr=2e-4, betas=(0.9, 0.999), weight_decay=1e-4)
    assert cfg.auto_scale_lr.base_batch_size == 16
    assert cfg.train_dataloader.batch_size == 2
    assert cfg.val_evaluator.metric == 'bbox'


def test_fpn_reads_strides_8_to_32_and_keeps_five_levels():
    cfg = Config.fromfile(CONFIG)
    backbone = cfg.model.backbone
    widths = FasterNet(arch='s', out_indices=backbone.out_indices).out_channels
    assert tuple(backbone.out_indices) == (1, 2, 3)
    assert list(cfg.model.neck.in_channels) == list(widths) == [256, 512, 1024]
    assert cfg.model.neck.start_level == 0
    model = build_detector(cfg)
    assert model.neck.in_channels == list(model.backbone.out_channels)
    # P3-P5 from the backbone, P6-P7 from extra convs: the anchors' strides.
    with torch.no_grad():
        feats = model.extract_feat(torch.zeros(1, 3, 128, 160))
    assert [f.shape[-2:] for f in feats] == [(16, 20), (8, 10), (4, 5), (2, 3),
                                             (1, 2)]
    assert model.bbox_head.prior_generator.strides == [(8, 8), (16, 16),
                                                       (32, 32), (64, 64),
                                                       (128, 128)]


def _tiny_batch(num_classes, size=64):
    from mmdet.testing import demo_mm_inputs
    return demo_mm_inputs(
        batch_size=2,
        image_shapes=[(3, size, size)] * 2,
        num_items=[2, 1],
        num_classes=num_classes)


def test_every_parameter_gets_a_gradient_and_the_model_predicts():
    """DDP (find_unused_parameters=False) needs a gradient for every
    parameter: with out_indices=(1, 2, 3) no output norm is left unused."""
    cfg = Config.fromfile(CONFIG)
    cfg.model.backbone.init_cfg = None  # tests never download
    torch.manual_seed(0)
    model = build_detector(cfg)
    model.init_weights()
    model.train()
    data = model.data_preprocessor(_tiny_batch(80), True)
    losses = model.loss(data['inputs'], data['data_samples'])
    assert set(losses) == {'loss_cls', 'loss_bbox'}
    loss, _ = model.parse_losses(losses)
    assert torch.isfinite(loss)
    loss.backward()
    no_grad = [
        n for n, p in model.named_parameters()
        if p.requires_grad and p.grad is None
    ]
    assert no_grad == []

    model.eval()
    with torch.no_grad():
        data = model.data_preprocessor(_tiny_batch(80), False)
        results = model.predict(data['inputs'], data['data_samples'])
    assert len(results) == 2
    for result in results:
        pred = result.pred_instances
        assert pred.bboxes.shape[1:] == (4, )
        assert len(pred.bboxes) == len(pred.scores) == len(pred.labels)
        assert len(pred.bboxes) <= cfg.model.test_cfg.max_per_img
        assert 'masks' not in pred


def test_demo_config_trains_t0_from_scratch_on_the_demo_set():
    cfg = Config.fromfile(DEMO_CONFIG)
    assert cfg.model.backbone.arch == 't0'
    assert cfg.model.backbone.init_cfg is None
    assert cfg.train_dataloader.dataset.data_root == 'data/coco_demo/'
    assert cfg.model.bbox_head.num_classes == 4
    assert {
        k: list(v)
        for k, v in cfg.train_dataloader.dataset.metainfo.items()
    } == {
        k: list(v)
        for k, v in coco_demo_metainfo().items()
    }
    model = build_detector(cfg)
    assert model.neck.in_channels == list(model.backbone.out_channels)
