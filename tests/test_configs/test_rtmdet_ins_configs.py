"""The RTMDet-Ins FasterNet configs: RTMDet's recipe with FasterNet in place
of CSPNeXt, and what changes for it (input normalisation, padding, lr)."""
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

CONFIG_DIR = osp.join(REPO_ROOT, 'configs')
# FasterNet arch -> the RTMDet-Ins size whose CSPNeXt has the same widths
SIZES = {'t1': 's', 't2': 'm'}
DEMO_CONFIG = osp.join(CONFIG_DIR, 'demo',
                       'rtmdet_ins_fasternet_t1_coco_demo.py')
IMAGENET_RGB = dict(
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True)


def load(arch):
    return Config.fromfile(
        osp.join(CONFIG_DIR, f'rtmdet_ins_fasternet_{arch}.py'))


def load_mmdet_base(arch):
    """The installed MMDetection config that ``arch``'s config inherits."""
    import mmdet
    return Config.fromfile(
        osp.join(
            osp.dirname(mmdet.__file__), '.mim', 'configs', 'rtmdet',
            f'rtmdet-ins_{SIZES[arch]}_8xb32-300e_coco.py'))


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
def test_backbone_widths_are_the_cspnext_widths_of_the_rtmdet_size(arch):
    cfg, base = load(arch), load_mmdet_base(arch)
    backbone = cfg.model.backbone
    assert set(backbone) == {
        'type', 'arch', 'out_indices', 'drop_path_rate', 'norm_cfg', 'init_cfg'
    }, 'no CSPNeXt key of the base is left over'
    assert (backbone.type, backbone.arch) == ('FasterNet', arch)
    # Strides 8-32 only: no unused stride-4 output norm.
    assert tuple(backbone.out_indices) == (1, 2, 3)
    widths = FasterNet(arch=arch, out_indices=(1, 2, 3)).out_channels
    assert list(widths) == list(cfg.model.neck.in_channels) == list(
        base.model.neck.in_channels)
    assert plain(cfg.model.neck) == plain(base.model.neck)
    assert plain(cfg.model.bbox_head) == plain(base.model.bbox_head)
    assert backbone.init_cfg.checkpoint == official_url(arch)
    model = build_detector(cfg)
    assert model.neck.in_channels == list(model.backbone.out_channels)


@pytest.mark.parametrize('arch', list(SIZES))
def test_rtmdet_recipe_is_kept(arch):
    cfg, base = load(arch), load_mmdet_base(arch)
    assert cfg.default_scope == 'mmdet'
    assert 'fasternet_mm' in cfg.custom_imports.imports
    assert cfg.model.type == 'RTMDet'
    assert cfg.model.bbox_head.type == 'RTMDetInsSepBNHead'
    # 300 epochs, Mosaic + MixUp, the last 20 without them, EMA.
    assert plain(cfg.train_cfg) == plain(base.train_cfg)
    assert cfg.train_cfg.max_epochs == 300
    assert plain(cfg.train_dataloader) == plain(base.train_dataloader)
    assert cfg.train_dataloader.batch_size == 32
    steps = [t.type for t in cfg.train_dataloader.dataset.pipeline]
    assert 'CachedMosaic' in steps and 'CachedMixUp' in steps
    # The base's hooks come first and unchanged, then the project's.
    n = len(base.custom_hooks)
    assert plain(cfg.custom_hooks[:n]) == plain(base.custom_hooks)
    assert [h.type for h in cfg.custom_hooks[n:]] == [
        'CheckpointFitHook', 'FiniteLossHook', 'TrainSetupCheckHook',
        'DataLoadCheckHook'
    ]
    ema, switch = cfg.custom_hooks[:n]
    assert ema.type == 'EMAHook'
    assert (switch.type, switch.switch_epoch) == ('PipelineSwitchHook', 280)
    assert cfg.val_evaluator.metric == ['bbox', 'segm']
    # AdamW, weight decay 0.05, none on norms and biases.
    optim = cfg.optim_wrapper
    assert (optim.optimizer.type, optim.optimizer.weight_decay) == ('AdamW',
                                                                    0.05)
    assert plain(optim.paramwise_cfg) == plain(
        base.optim_wrapper.paramwise_cfg)
    assert 'custom_keys' not in optim.paramwise_cfg


@pytest.mark.parametrize('arch', list(SIZES))
def test_what_changes_for_fasternet(arch):
    cfg, base = load(arch), load_mmdet_base(arch)
    # RGB with ImageNet statistics instead of BGR with CSPNeXt's.
    preprocessor = cfg.model.data_preprocessor
    assert base.model.data_preprocessor.bgr_to_rgb is False
    assert {k: preprocessor[k] for k in IMAGENET_RGB} == IMAGENET_RGB
    # Padded to a multiple of 32 (the base sets no pad_size_divisor).
    assert 'pad_size_divisor' not in base.model.data_preprocessor
    assert preprocessor.pad_size_divisor == 32
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


def test_t1_and_t2_make_the_same_changes():
    t1, t2 = load('t1'), load('t2')
    assert t1.model.data_preprocessor == t2.model.data_preprocessor
    assert t1.optim_wrapper == t2.optim_wrapper
    assert t1.param_scheduler == t2.param_scheduler
    assert {k: v for k, v in t1.model.backbone.items()
            if k not in ('arch', 'drop_path_rate', 'init_cfg')} == \
        {k: v for k, v in t2.model.backbone.items()
         if k not in ('arch', 'drop_path_rate', 'init_cfg')}


def _tiny_batch(num_classes, size=64):
    from mmdet.testing import demo_mm_inputs
    return demo_mm_inputs(
        batch_size=2,
        image_shapes=[(3, size, size)] * 2,
        num_items=[2, 1],
        num_classes=num_classes,
        with_mask=True)


def test_train_step_reaches_every_parameter_and_the_model_predicts_masks():
    cfg = load('t1')
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
    assert data['inputs'].shape[-2:] == (64, 64)
    losses = model.loss(data['inputs'], data['data_samples'])
    assert set(losses) == {'loss_cls', 'loss_bbox', 'loss_mask'}
    loss, _ = model.parse_losses(losses)
    assert torch.isfinite(loss)
    loss.backward()
    assert [
        n for n, p in model.named_parameters()
        if p.requires_grad and p.grad is None
    ] == []

    model.eval()
    with torch.no_grad():
        # 70x90 is padded to 96x96 (pad_size_divisor=32); the masks are
        # cut back to the image.
        data = model.data_preprocessor(_tiny_batch(80, size=70), False)
        assert data['inputs'].shape[-2:] == (96, 96)
        results = model.predict(data['inputs'], data['data_samples'])
    assert len(results) == 2
    for result in results:
        pred = result.pred_instances
        assert pred.bboxes.shape[1:] == (4, )
        assert len(pred.masks) == len(pred.scores) == len(pred.labels)
        assert tuple(pred.masks.shape[1:]) == tuple(result.ori_shape)


def test_demo_config_trains_t1_from_scratch_on_the_demo_set():
    cfg = Config.fromfile(DEMO_CONFIG)
    assert cfg.model.backbone.arch == 't1'
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
    # the recipe's two stages and EMA, at 160x160
    steps = [t.type for t in dataset.pipeline]
    assert 'CachedMosaic' in steps and 'CachedMixUp' in steps
    hooks = {h.type: h for h in cfg.custom_hooks}
    assert list(hooks) == [
        'EMAHook', 'CheckpointFitHook', 'FiniteLossHook',
        'TrainSetupCheckHook', 'DataLoadCheckHook', 'PipelineSwitchHook'
    ]
    switch = hooks['PipelineSwitchHook']
    assert switch.switch_epoch < cfg.train_cfg.max_epochs
    assert 'CachedMosaic' not in [t.type for t in switch.switch_pipeline]
    assert cfg.model.data_preprocessor == load('t1').model.data_preprocessor
    model = build_detector(cfg)
    assert model.neck.in_channels == list(model.backbone.out_channels)
