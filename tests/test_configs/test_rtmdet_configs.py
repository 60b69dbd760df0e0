"""The RTMDet FasterNet configs: RTMDet's recipe of the size FasterNet's
widths and cost match, with FasterNet in place of CSPNeXt and what changes
for it stated once; the PConv-neck configs change the neck and nothing
else."""
import math
import os.path as osp

import pytest
import torch
from helpers import REPO_ROOT, official_url
from mmengine.config import Config
from mmengine.model import revert_sync_batchnorm
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope

import fasternet_mm  # noqa: F401
from fasternet_mm import FasterNet
from fasternet_mm.demo import coco_demo_metainfo
from fasternet_mm.models import PConvPAFPN

CONFIG_DIR = osp.join(REPO_ROOT, 'configs')
# FasterNet arch -> the RTMDet size it replaces CSPNeXt in
SIZES = {'t0': 'tiny', 't1': 's', 't2': 'm'}
ALL_SIZES = ('tiny', 's', 'm', 'l', 'x')
DEMO_CONFIG = osp.join(CONFIG_DIR, 'demo', 'rtmdet_fasternet_t0_coco_demo.py')
IMAGENET_RGB = dict(
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True)


def load(arch, neck=''):
    return Config.fromfile(
        osp.join(CONFIG_DIR, f'rtmdet_fasternet_{arch}{neck}.py'))


def load_mmdet(size):
    """The installed MMDetection RTMDet config of ``size``."""
    import mmdet
    return Config.fromfile(
        osp.join(
            osp.dirname(mmdet.__file__), '.mim', 'configs', 'rtmdet',
            f'rtmdet_{size}_8xb32-300e_coco.py'))


def load_base(name):
    return Config.fromfile(osp.join(CONFIG_DIR, '_base_', f'{name}.py'))


def plain(node):
    """``node`` as plain data, without the ``_scope_`` keys that inheriting
    ``mmdet::`` bases adds."""
    if isinstance(node, dict):
        return {k: plain(v) for k, v in node.items() if k != '_scope_'}
    if isinstance(node, (list, tuple)):
        return [plain(v) for v in node]
    return node


def build_detector(cfg):
    from mmdet.registry import MODELS
    init_default_scope('mmdet')  # mmseg tests share the process
    return revert_sync_batchnorm(MODELS.build(cfg.model))


@pytest.mark.parametrize('arch', list(SIZES))
def test_the_recipe_is_the_size_with_the_nearest_widths(arch):
    widths = FasterNet(arch=arch, out_indices=(1, 2, 3)).out_channels

    def distance(size):
        theirs = load_mmdet(size).model.neck.in_channels
        return sum(abs(math.log(a / b)) for a, b in zip(widths, theirs))

    assert min(ALL_SIZES, key=distance) == SIZES[arch]


@pytest.mark.parametrize('arch', list(SIZES))
def test_fasternet_replaces_cspnext_and_feeds_the_neck_its_widths(arch):
    cfg, base = load(arch), load_mmdet(SIZES[arch])
    backbone = cfg.model.backbone
    assert set(backbone) == {
        'type', 'arch', 'out_indices', 'drop_path_rate', 'norm_cfg', 'init_cfg'
    }, 'no CSPNeXt key of the base is left over'
    assert (backbone.type, backbone.arch) == ('FasterNet', arch)
    # Strides 8-32 only: no unused stride-4 output norm.
    assert tuple(backbone.out_indices) == (1, 2, 3)
    assert backbone.init_cfg.checkpoint == official_url(arch)
    widths = FasterNet(arch=arch, out_indices=(1, 2, 3)).out_channels
    assert list(cfg.model.neck.in_channels) == list(widths)
    # The neck and head are the recipe's, but for the neck's input widths.
    neck, base_neck = plain(cfg.model.neck), plain(base.model.neck)
    del neck['in_channels'], base_neck['in_channels']
    assert neck == base_neck
    assert plain(cfg.model.bbox_head) == plain(base.model.bbox_head)
    model = build_detector(cfg)
    assert model.neck.in_channels == list(model.backbone.out_channels)


@pytest.mark.parametrize('arch', list(SIZES))
def test_rtmdet_recipe_is_kept(arch):
    cfg, base = load(arch), load_mmdet(SIZES[arch])
    assert cfg.default_scope == 'mmdet'
    assert cfg.custom_imports == load_base('fasternet_runtime').custom_imports
    assert (cfg.model.type, cfg.model.bbox_head.type) == ('RTMDet',
                                                          'RTMDetSepBNHead')
    # 300 epochs, the recipe's Mosaic + MixUp, the last 20 without them, EMA.
    assert plain(cfg.train_cfg) == plain(base.train_cfg)
    assert cfg.train_cfg.max_epochs == 300
    assert plain(cfg.train_dataloader) == plain(base.train_dataloader)
    assert plain(cfg.test_dataloader) == plain(base.test_dataloader)
    assert cfg.train_dataloader.batch_size == 32
    steps = [t.type for t in cfg.train_dataloader.dataset.pipeline]
    assert 'CachedMosaic' in steps and 'CachedMixUp' in steps
    # The base's hooks come first and unchanged, then the project's.
    n = len(base.custom_hooks)
    assert plain(cfg.custom_hooks[:n]) == plain(base.custom_hooks)
    assert plain(cfg.custom_hooks[n:]) == plain(
        load_base('fasternet_runtime').fasternet_hooks)
    ema, switch = cfg.custom_hooks[:n]
    assert ema.type == 'EMAHook'
    assert (switch.type, switch.switch_epoch) == ('PipelineSwitchHook', 280)
    assert 'CachedMosaic' not in [t.type for t in switch.switch_pipeline]
    assert cfg.val_evaluator.metric == 'bbox'
    # AdamW, weight decay 0.05, none on norms and biases.
    optim = cfg.optim_wrapper
    assert (optim.optimizer.type, optim.optimizer.weight_decay) == ('AdamW',
                                                                    0.05)
    assert plain(optim.paramwise_cfg) == plain(
        base.optim_wrapper.paramwise_cfg)
    assert 'custom_keys' not in optim.paramwise_cfg


@pytest.mark.parametrize('arch', list(SIZES))
def test_what_changes_for_fasternet(arch):
    cfg, base = load(arch), load_mmdet(SIZES[arch])
    # RGB with ImageNet statistics instead of BGR with CSPNeXt's.
    preprocessor = cfg.model.data_preprocessor
    assert base.model.data_preprocessor.bgr_to_rgb is False
    assert {k: preprocessor[k] for k in IMAGENET_RGB} == IMAGENET_RGB
    # Padded to a multiple of 32 (the base sets no pad_size_divisor).
    assert 'pad_size_divisor' not in base.model.data_preprocessor
    assert preprocessor.pad_size_divisor == 32
    assert preprocessor.type == base.model.data_preprocessor.type
    # lr 1e-3 instead of 4e-3, for the whole model; the cosine decay keeps
    # the base's shape (epochs 150-300, down to 5 % of the lr).
    assert base.optim_wrapper.optimizer.lr == 4e-3
    assert cfg.optim_wrapper.optimizer.lr == 1e-3
    warmup, cosine = cfg.param_scheduler
    base_warmup, base_cosine = base.param_scheduler
    assert plain(warmup) == plain(base_warmup)
    assert cosine.eta_min == pytest.approx(1e-3 * 0.05)
    cosine.eta_min = base_cosine.eta_min = None
    assert plain(cosine) == plain(base_cosine)


def test_the_changes_come_from_one_fragment():
    fragment = load_base('rtmdet_fasternet')
    for arch in SIZES:
        cfg = load(arch)
        preprocessor = dict(cfg.model.data_preprocessor)
        assert preprocessor.pop('type') == 'DetDataPreprocessor'
        assert preprocessor.pop('batch_augments') is None
        assert preprocessor == fragment.fasternet_data_preprocessor
        assert cfg.optim_wrapper.optimizer.lr == fragment.fasternet_lr
        assert cfg.param_scheduler == fragment.fasternet_param_scheduler
        own = ('arch', 'drop_path_rate', 'init_cfg')
        assert {
            k: v
            for k, v in cfg.model.backbone.items() if k not in own
        } == {
            k: v
            for k, v in fragment.fasternet_backbone.items() if k != '_delete_'
        }


@pytest.mark.parametrize('arch', list(SIZES))
def test_pconv_neck_config_changes_the_neck_type_only(arch):
    cfg, pconv = load(arch).to_dict(), load(arch, '_pconv_neck').to_dict()
    assert pconv['model']['neck'].pop('type') == 'PConvPAFPN'
    assert cfg['model']['neck'].pop('type') == 'CSPNeXtPAFPN'
    assert pconv == cfg
    model = build_detector(load(arch, '_pconv_neck'))
    assert type(model.neck) is PConvPAFPN
    assert model.neck.in_channels == list(model.backbone.out_channels)


def _tiny_batch(num_classes, size=64):
    from mmdet.testing import demo_mm_inputs
    return demo_mm_inputs(
        batch_size=2,
        image_shapes=[(3, size, size)] * 2,
        num_items=[2, 1],
        num_classes=num_classes)


@pytest.mark.parametrize('neck', ['', '_pconv_neck'])
def test_train_step_reaches_every_parameter_and_the_model_predicts_boxes(neck):
    cfg = load('t0', neck)
    cfg.model.backbone.init_cfg = None  # tests never download
    torch.manual_seed(0)
    model = build_detector(cfg)
    model.init_weights()
    optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    # The paramwise rules reach the backbone: no decay on its norms.
    norm = model.backbone.norm1.weight
    [group] = [
        g for g in optim_wrapper.param_groups
        if any(p is norm for p in g['params'])
    ]
    assert group['weight_decay'] == 0 and group['lr'] == 1e-3

    model.train()
    data = model.data_preprocessor(_tiny_batch(80), True)
    losses = model.loss(data['inputs'], data['data_samples'])
    assert set(losses) == {'loss_cls', 'loss_bbox'}
    loss, _ = model.parse_losses(losses)
    assert torch.isfinite(loss)
    loss.backward()
    assert [
        n for n, p in model.named_parameters()
        if p.requires_grad and p.grad is None
    ] == []

    model.eval()
    with torch.no_grad():
        # 70x70 is padded to 96x96 (pad_size_divisor=32)
        data = model.data_preprocessor(_tiny_batch(80, size=70), False)
        assert data['inputs'].shape[-2:] == (96, 96)
        results = model.predict(data['inputs'], data['data_samples'])
    assert len(results) == 2
    for result in results:
        pred = result.pred_instances
        assert pred.bboxes.shape[1:] == (4, )
        assert len(pred.bboxes) == len(pred.scores) == len(pred.labels)


def test_demo_config_trains_t0_from_scratch_on_the_demo_set():
    cfg, base = Config.fromfile(DEMO_CONFIG), load('t0')
    assert cfg.model.backbone.arch == 't0'
    assert cfg.model.backbone.init_cfg is None
    dataset = cfg.train_dataloader.dataset
    assert dataset.data_root == 'data/coco_demo/'
    assert {
        k: list(v)
        for k, v in dataset.metainfo.items()
    } == {
        k: list(v)
        for k, v in coco_demo_metainfo().items()
    }
    assert cfg.model.bbox_head.num_classes == 4
    # the recipe's two stages and EMA, at 160x160; hooks in the base's order
    steps = [t.type for t in dataset.pipeline]
    assert 'CachedMosaic' in steps and 'CachedMixUp' in steps
    assert [h.type
            for h in cfg.custom_hooks] == [h.type for h in base.custom_hooks]
    ema, switch = cfg.custom_hooks[:2]
    assert plain(ema) == plain(base.custom_hooks[0])
    assert switch.switch_epoch == cfg.train_cfg.max_epochs - 2
    assert 'CachedMosaic' not in [t.type for t in switch.switch_pipeline]
    assert cfg.model.data_preprocessor == base.model.data_preprocessor
    model = build_detector(cfg)
    assert model.neck.in_channels == list(model.backbone.out_channels)
