"""The shipped configs, one row each: what the paper or the recipe fixes, what
every config needs to run under fasternet_mm's run-time layer, models that
build, and (the small archs) one training step and one prediction.

``FAMILIES`` holds what a detector or segmentor family shares, ``ROWS`` what
each config sets. The tests after the table check every row; those at the
end pin what only one family has (the cascade's stages, RTMDet's recipe and
pipeline switch, RetinaNet's levels, UperNet's heads).
"""
import glob
import math
import os.path as osp
from dataclasses import dataclass
from typing import Optional

import pytest
import torch
from helpers import CONFIG_DIR, official_url
from mmengine.optim import build_optim_wrapper

from fasternet_mm import FasterNet
from fasternet_mm.demo import ade20k_demo_metainfo, coco_demo_metainfo
from fasternet_mm.runtime import build_model_from_cfg, check_input_padding
from fasternet_mm.runtime.hooks import FASTERNET_HOOKS


@dataclass(frozen=True)
class Family:
    scope: str
    model: str  # model.type
    out_indices: tuple
    norm: str  # the backbone's norm_cfg.type
    evaluator: dict  # keys of val_evaluator and test_evaluator
    losses: frozenset  # what one training step reports
    num_classes: int  # on COCO / ADE20K; the demo sets have their own
    masks: bool = False  # instance masks
    strides: tuple = ()  # the neck's levels, as the head's priors assume
    recipe_hooks: tuple = ()  # custom_hooks of the recipe, before ours
    decay_on_norms: bool = True  # weight decay on the backbone's norms


RPN_LOSSES = {'loss_rpn_cls', 'loss_rpn_bbox'}
STAGES = {
    f's{i}.{k}'
    for i in range(3)
    for k in ('loss_cls', 'loss_bbox', 'acc', 'loss_mask')
}
# yapf: disable
FAMILIES = {
    'mask_rcnn': Family(
        'mmdet', 'MaskRCNN', (0, 1, 2, 3), 'BN', dict(metric=['bbox', 'segm']),
        frozenset(RPN_LOSSES | {'loss_cls', 'loss_bbox', 'acc', 'loss_mask'}),
        80, masks=True, strides=(4, 8, 16, 32, 64)),
    'cascade_mask_rcnn': Family(
        'mmdet', 'CascadeRCNN', (0, 1, 2, 3), 'BN',
        dict(metric=['bbox', 'segm']), frozenset(RPN_LOSSES | STAGES),
        80, masks=True, strides=(4, 8, 16, 32, 64)),
    'retinanet': Family(
        'mmdet', 'RetinaNet', (1, 2, 3), 'BN', dict(metric='bbox'),
        frozenset({'loss_cls', 'loss_bbox'}),
        80, strides=(8, 16, 32, 64, 128)),
    'rtmdet_ins': Family(
        'mmdet', 'RTMDet', (1, 2, 3), 'SyncBN', dict(metric=['bbox', 'segm']),
        frozenset({'loss_cls', 'loss_bbox', 'loss_mask'}),
        80, masks=True, strides=(8, 16, 32),
        recipe_hooks=('EMAHook', 'PipelineSwitchHook'),
        decay_on_norms=False),  # the recipe's norm_decay_mult=0
    'rtmdet': Family(
        'mmdet', 'RTMDet', (1, 2, 3), 'SyncBN', dict(metric='bbox'),
        frozenset({'loss_cls', 'loss_bbox'}),
        80, strides=(8, 16, 32),
        recipe_hooks=('EMAHook', 'PipelineSwitchHook'),
        decay_on_norms=False),  # the recipe's norm_decay_mult=0
    'upernet': Family(
        'mmseg', 'EncoderDecoder', (0, 1, 2, 3), 'SyncBN',
        dict(iou_metrics=['mIoU']),
        frozenset({'decode.loss_ce', 'decode.acc_seg',
                   'aux.loss_ce', 'aux.acc_seg'}),
        150),
}
# yapf: enable
# The demo sets (fasternet_mm.demo) by scope: data root, metainfo.
DEMO_SETS = {
    'mmdet': ('data/coco_demo/', coco_demo_metainfo),
    'mmseg': ('data/ade20k_demo', ade20k_demo_metainfo),
}


def adamw(lr, weight_decay=1e-4):
    """The paper's detection optimiser (its Mask R-CNN): AdamW, weight
    decay 1e-4, lr 2e-4 for S and below, 1e-4 for M and L."""
    return dict(
        type='AdamW', lr=lr, betas=(0.9, 0.999), weight_decay=weight_decay)


@dataclass(frozen=True)
class Row:
    file: str  # under configs/
    family: str
    arch: str
    widths: tuple  # what the neck (UperNet: the decode head) reads
    optimizer: dict
    drop_path_rate: float
    schedule: dict  # train_cfg's length
    milestones: Optional[list] = None  # MultiStepLR's
    batch_size: int = 2  # per GPU; 8 GPUs x 2 = 16 images
    base_batch_size: Optional[int] = 16  # auto_scale_lr's reference
    train_step: bool = False  # one training step and a prediction

    @property
    def demo(self):
        return self.file.startswith('demo/')

    @property
    def num_classes(self):
        if self.demo:
            return len(DEMO_SETS[FAMILIES[self.family].scope][1]()['classes'])
        return FAMILIES[self.family].num_classes


C = (40, 80, 160, 320)  # T0's stage widths C, 2C, 4C, 8C
T1, T2, S = (64, 128, 256, 512), (96, 192, 384, 768), (128, 256, 512, 1024)
M, L = (144, 288, 576, 1152), (192, 384, 768, 1536)
E12, E36, E300 = dict(max_epochs=12), dict(max_epochs=36), dict(max_epochs=300)
I160K = dict(max_iters=160000)
RTMDET = dict(type='AdamW', lr=1e-3, weight_decay=0.05)
DEMO = dict(
    optimizer=adamw(2e-3, 0.05),
    drop_path_rate=0.,
    schedule=dict(max_epochs=6),
    batch_size=4,
    base_batch_size=4)
TRAIN = dict(train_step=True)
# yapf: disable
ROWS = [
    # Mask R-CNN 1x, the paper's (S, M, L); T0-T2 on the S recipe.
    Row('mask_rcnn_fasternet_t0.py', 'mask_rcnn', 't0', C,
        adamw(2e-4), 0., E12, [8, 11], **TRAIN),
    Row('mask_rcnn_fasternet_t1.py', 'mask_rcnn', 't1', T1,
        adamw(2e-4), .05, E12, [8, 11]),
    Row('mask_rcnn_fasternet_t2.py', 'mask_rcnn', 't2', T2,
        adamw(2e-4), .1, E12, [8, 11]),
    Row('mask_rcnn_fasternet_s.py', 'mask_rcnn', 's', S,
        adamw(2e-4), .15, E12, [8, 11], **TRAIN),
    Row('mask_rcnn_fasternet_m.py', 'mask_rcnn', 'm', M,
        adamw(1e-4), .2, E12, [8, 11]),
    Row('mask_rcnn_fasternet_l.py', 'mask_rcnn', 'l', L,
        adamw(1e-4), .3, E12, [8, 11]),
    Row('mask_rcnn_fasternet_s_ms_3x.py', 'mask_rcnn', 's', S,
        adamw(2e-4), .15, E36, [27, 33]),
    Row('demo/mask_rcnn_fasternet_t0_coco_demo.py', 'mask_rcnn', 't0', C,
        **DEMO),
    # Cascade Mask R-CNN ms-3x: the COCO train set 3 times over 12 epochs.
    Row('cascade_mask_rcnn_fasternet_s_ms_3x.py', 'cascade_mask_rcnn', 's', S,
        adamw(2e-4), .15, E12, [9, 11], **TRAIN),
    Row('cascade_mask_rcnn_fasternet_m_ms_3x.py', 'cascade_mask_rcnn', 'm', M,
        adamw(1e-4), .2, E12, [9, 11]),
    Row('cascade_mask_rcnn_fasternet_l_ms_3x.py', 'cascade_mask_rcnn', 'l', L,
        adamw(1e-4), .3, E12, [9, 11]),
    Row('demo/cascade_mask_rcnn_fasternet_t0_coco_demo.py',
        'cascade_mask_rcnn', 't0', C, **DEMO),
    # RetinaNet 1x: FasterNet's strides 8-32 (2C, 4C, 8C) feed the FPN.
    Row('retinanet_fasternet_s.py', 'retinanet', 's', S[1:],
        adamw(2e-4), .15, E12, [8, 11], **TRAIN),
    Row('demo/retinanet_fasternet_t0_coco_demo.py', 'retinanet', 't0', C[1:],
        **DEMO),
    # RTMDet-Ins: the recipe (AdamW, weight decay 0.05, 300 epochs at 8 GPUs
    # x 32 images) at lr 1e-3; the recipe leaves auto_scale_lr at 16 images.
    Row('rtmdet_ins_fasternet_t1.py', 'rtmdet_ins', 't1', T1[1:],
        RTMDET, .05, E300, batch_size=32, base_batch_size=None, **TRAIN),
    Row('rtmdet_ins_fasternet_t2.py', 'rtmdet_ins', 't2', T2[1:],
        RTMDET, .1, E300, batch_size=32, base_batch_size=None),
    Row('demo/rtmdet_ins_fasternet_t1_coco_demo.py', 'rtmdet_ins', 't1',
        T1[1:], dict(RTMDET, lr=4e-3), 0., dict(max_epochs=12),
        batch_size=8, base_batch_size=8),
    # RTMDet (real time): T0 on the tiny recipe, T1 on s, T2 on m, each with
    # the CSPNeXt neck and with the PConv neck; the RTMDet-Ins recipe's
    # settings (test_rtmdet_configs.py has the family's own checks).
    *[Row(f'rtmdet_fasternet_{a}{neck}.py', 'rtmdet', a, w[1:], RTMDET, dpr,
          E300, batch_size=32, base_batch_size=None)
      for a, w, dpr in (('t0', C, 0.), ('t1', T1, .05), ('t2', T2, .1))
      for neck in ('', '_pconv_neck')],
    Row('demo/rtmdet_fasternet_t0_coco_demo.py', 'rtmdet', 't0', C[1:],
        dict(RTMDET, lr=4e-3), 0., dict(max_epochs=12), batch_size=8,
        base_batch_size=8),
    # UperNet on ADE20K, 160k iterations; T0-T2 keep their ImageNet drop
    # path rates (the Mask R-CNN T1, T2 configs use more).
    Row('upernet_fasternet_t0_ade20k.py', 'upernet', 't0', C,
        adamw(2e-4), 0., I160K, **TRAIN),
    Row('upernet_fasternet_t1_ade20k.py', 'upernet', 't1', T1,
        adamw(2e-4), .02, I160K),
    Row('upernet_fasternet_t2_ade20k.py', 'upernet', 't2', T2,
        adamw(2e-4), .05, I160K),
    Row('upernet_fasternet_s_ade20k.py', 'upernet', 's', S,
        adamw(2e-4), .15, I160K, **TRAIN),
    Row('upernet_fasternet_m_ade20k.py', 'upernet', 'm', M,
        adamw(1e-4), .2, I160K),
    Row('upernet_fasternet_l_ade20k.py', 'upernet', 'l', L,
        adamw(1e-4), .3, I160K),
    Row('demo/upernet_fasternet_t0_ade20k_demo.py', 'upernet', 't0', C,
        adamw(2e-3), 0., dict(max_iters=400), batch_size=8,
        base_batch_size=8),
]
# yapf: enable


def rows(*families, demo=None, train_step=None):
    """The rows of ``families`` (all when none is named), as pytest
    parameters named after their files."""
    return [
        pytest.param(r, id=osp.basename(r.file)[:-3]) for r in ROWS
        if (not families or r.family in families) and (
            demo is None or r.demo == demo) and (
                train_step is None or r.train_step == train_step)
    ]


def plain(node):
    """``node`` as plain data: lists for tuples, without the ``_scope_``
    keys that inheriting ``mmdet::`` bases adds."""
    if isinstance(node, dict):
        return {k: plain(v) for k, v in node.items() if k != '_scope_'}
    if isinstance(node, (list, tuple)):
        return [plain(v) for v in node]
    return node


def values_of(node, key):
    """Every value of ``key`` anywhere in the config ``node``."""
    if isinstance(node, dict):
        return [v for k, v in node.items() if k == key] + [
            x for k, v in node.items() if k != key for x in values_of(v, key)
        ]
    if isinstance(node, (list, tuple)):
        return [x for v in node for x in values_of(v, key)]
    return []


def neck_widths(model_cfg):
    if 'neck' in model_cfg:
        return tuple(model_cfg.neck.in_channels)
    return tuple(model_cfg.decode_head.in_channels)


def test_every_shipped_config_has_a_row():
    shipped = glob.glob(osp.join(CONFIG_DIR, '*.py')) + glob.glob(
        osp.join(CONFIG_DIR, 'demo', '*.py'))
    assert sorted(osp.relpath(p, CONFIG_DIR)
                  for p in shipped) == sorted(r.file for r in ROWS)


@pytest.mark.parametrize('row', rows())
def test_config_imports_the_runtime_and_lists_its_run_hooks(row, load_cfg):
    cfg = load_cfg(row.file)
    assert cfg.custom_imports == dict(
        imports=['fasternet_mm.runtime'], allow_failed_imports=False)
    # The recipe's own hooks first and in their order, then fasternet_mm's.
    hooks = [h.type for h in cfg.custom_hooks]
    recipe = FAMILIES[row.family].recipe_hooks
    assert hooks == [*recipe, *FASTERNET_HOOKS], 'the recipe hooks, then ours'
    # The recipe's plain CheckpointHook: AtomicSaveHook makes it atomic.
    assert cfg.default_hooks.checkpoint.type == 'CheckpointHook'
    # no helper variable of a base file (e.g. the release URL) leaks in
    assert [k for k in cfg if k.startswith('_')] == []


@pytest.mark.parametrize('row', rows())
def test_backbone_is_fasternet_with_no_key_of_the_replaced_one(row, load_cfg):
    cfg = load_cfg(row.file)
    family = FAMILIES[row.family]
    assert cfg.default_scope == family.scope
    assert cfg.model.type == family.model
    backbone = cfg.model.backbone
    # _delete_ dropped every ResNet / CSPNeXt key of the base.
    assert set(backbone) == {
        'type', 'arch', 'out_indices', 'drop_path_rate', 'norm_cfg', 'init_cfg'
    }
    assert (backbone.type, backbone.arch) == ('FasterNet', row.arch)
    assert tuple(backbone.out_indices) == family.out_indices
    assert backbone.drop_path_rate == row.drop_path_rate
    assert backbone.norm_cfg.type == family.norm


@pytest.mark.parametrize('row', rows())
def test_backbone_starts_from_the_official_release_or_demos_from_scratch(
        row, load_cfg):
    # mmengine downloads and caches the URL in init_weights(); building a
    # model (as the tests do) loads nothing.
    init_cfg = load_cfg(row.file).model.backbone.init_cfg
    if row.demo:
        assert init_cfg is None
    else:
        assert init_cfg.type == 'Pretrained'
        assert init_cfg.checkpoint == official_url(row.arch)


@pytest.mark.parametrize('row', rows())
def test_heads_read_the_backbone_widths_and_predict_the_data_sets_classes(
        row, load_cfg):
    model = load_cfg(row.file).model
    assert neck_widths(model) == row.widths
    if row.family == 'upernet':  # the auxiliary head reads stage 3 (4C)
        assert model.auxiliary_head.in_channels == row.widths[2]
    assert set(values_of(model, 'num_classes')) == {row.num_classes}


@pytest.mark.parametrize('row', rows())
def test_optimiser_and_schedule_are_the_papers_or_the_recipes(row, load_cfg):
    cfg = load_cfg(row.file)
    # The whole dict: no SGD key (momentum) of the base is left over.
    assert dict(cfg.optim_wrapper.optimizer) == row.optimizer
    assert {k: cfg.train_cfg[k] for k in row.schedule} == row.schedule
    # The lr schedule spans the training.
    [length] = row.schedule.values()
    assert cfg.param_scheduler[-1].end == length
    steps = [s for s in cfg.param_scheduler if s.type == 'MultiStepLR']
    assert [s.milestones
            for s in steps] == ([row.milestones] if row.milestones else [])
    assert cfg.train_dataloader.batch_size == row.batch_size
    if row.base_batch_size is not None:
        assert cfg.auto_scale_lr.base_batch_size == row.base_batch_size
    for key, value in FAMILIES[row.family].evaluator.items():
        assert cfg.val_evaluator[key] == cfg.test_evaluator[key] == value


@pytest.mark.parametrize('row', rows())
def test_images_are_padded_to_a_multiple_of_32(row, load_cfg):
    """FasterNet's 4x4 stem and 2x2 merging layers floor odd sizes."""
    cfg = load_cfg(row.file)
    preprocessor = cfg.model.data_preprocessor
    if cfg.default_scope == 'mmdet':
        assert preprocessor.pad_size_divisor == 32
    else:  # training crops padded to the crop, test images to 32
        crop = (128, 128) if row.demo else (512, 512)
        assert tuple(preprocessor.size) == crop
        assert dict(preprocessor.test_cfg) == dict(size_divisor=32)
    check_input_padding(cfg)  # what the tools ask


@pytest.mark.parametrize('row', rows(demo=True))
def test_demo_config_trains_from_scratch_on_the_demo_set(row, load_cfg):
    cfg = load_cfg(row.file)
    data_root, metainfo = DEMO_SETS[cfg.default_scope]
    dataset = cfg.train_dataloader.dataset
    assert dataset.data_root == data_root
    assert plain(dataset.metainfo) == plain(dict(metainfo()))
    assert cfg.randomness.seed is not None


@pytest.mark.parametrize('row', rows())
def test_model_builds_and_its_levels_have_the_heads_strides(row, load_cfg):
    model = build_model_from_cfg(load_cfg(row.file))
    assert isinstance(model.backbone, FasterNet)
    assert model.backbone.out_channels == row.widths
    if FAMILIES[row.family].scope == 'mmseg':
        assert model.decode_head.in_channels == list(row.widths)
        return
    assert model.neck.in_channels == list(row.widths)
    # The neck's levels have the strides the head's anchors or points use.
    strides = FAMILIES[row.family].strides
    with torch.no_grad():
        feats = model.extract_feat(torch.zeros(1, 3, 128, 160))
    expected = [(math.ceil(128 / s), math.ceil(160 / s)) for s in strides]
    assert [tuple(f.shape[-2:]) for f in feats] == expected
    head = model.rpn_head if hasattr(model, 'rpn_head') else model.bbox_head
    priors = [tuple(s) for s in head.prior_generator.strides]
    assert priors == [(s, s) for s in strides]


def det_batch(num_classes, size, masks):
    from mmdet.testing import demo_mm_inputs
    batch = demo_mm_inputs(
        batch_size=2,
        image_shapes=[(3, *size)] * 2,
        num_items=[2, 1],
        num_classes=num_classes,
        with_mask=masks)
    for sample in batch['data_samples']:
        # demo_mm_inputs says (1.1, 1.2) with ori_shape == img_shape: the
        # predictions would be rescaled to another size than ori_shape.
        sample.set_metainfo(dict(scale_factor=(1., 1.)))
    return batch


def seg_batch(num_classes, size):
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    inputs, samples = [], []
    gen = torch.Generator().manual_seed(0)
    for _ in range(2):
        inputs.append(
            torch.randint(
                0, 256, (3, *size), generator=gen, dtype=torch.uint8))
        sample = SegDataSample(metainfo=dict(img_shape=size, ori_shape=size))
        label = torch.randint(0, num_classes, (1, *size), generator=gen)
        sample.gt_sem_seg = PixelData(data=label)
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)


def tiny_batch(row, size):
    if FAMILIES[row.family].scope == 'mmseg':
        return seg_batch(row.num_classes, size)
    return det_batch(row.num_classes, size, FAMILIES[row.family].masks)


@pytest.mark.parametrize('row', rows(train_step=True))
def test_one_training_step_reaches_every_parameter_and_the_model_predicts(
        row, load_cfg):
    """As the Runner runs them on CPU (SyncBN as BN), on 64x64 images; the
    optimiser is the config's, with its paramwise rules."""
    family = FAMILIES[row.family]
    cfg = load_cfg(row.file)
    if family.scope == 'mmseg':
        cfg.model.data_preprocessor.size = (64, 64)  # training crops
    test_cfg = cfg.model.get('test_cfg', {})
    if 'rpn' in test_cfg:  # fewer proposals than on COCO images (CPU time)
        cfg.model.train_cfg.rpn_proposal.max_per_img = 200
        test_cfg.rpn.max_per_img = 100
    # The 10 best boxes whatever their scores (an untrained model's are
    # below the threshold): the predictions below hold some.
    for node in (test_cfg, test_cfg.get('rcnn', {})):
        if 'score_thr' in node:
            node.update(score_thr=0., max_per_img=10)
    torch.manual_seed(0)
    model = build_model_from_cfg(cfg)  # no download: init_cfg dropped
    model.init_weights()
    optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    # The optimiser reaches the backbone, its norms with or without decay.
    norm = model.backbone.norm1.weight
    [group] = [
        g for g in optim_wrapper.param_groups
        if any(p is norm for p in g['params'])
    ]
    assert group['lr'] == row.optimizer['lr']
    assert group['weight_decay'] == (
        row.optimizer['weight_decay'] if family.decay_on_norms else 0)
    stem = model.backbone.patch_embed.proj.weight
    before = stem.detach().clone()

    model.train()
    data = model.data_preprocessor(tiny_batch(row, (64, 64)), True)
    assert data['inputs'].shape[-2:] == (64, 64)
    losses = model.loss(data['inputs'], data['data_samples'])
    assert set(losses) == family.losses
    loss, log_vars = model.parse_losses(losses)
    assert torch.isfinite(loss)
    assert all(math.isfinite(v) for v in log_vars.values()), log_vars
    optim_wrapper.backward(loss)
    # DDP (find_unused_parameters=False) needs a gradient for every one.
    assert [
        n for n, p in model.named_parameters()
        if p.requires_grad and p.grad is None
    ] == []
    optim_wrapper.step()
    assert not torch.equal(before, stem)

    # 70x90 test images are padded to 96x96; predictions are cut back.
    model.eval()
    batch = tiny_batch(row, (70, 90))
    with torch.no_grad():
        padded = model.data_preprocessor(batch, False)['inputs']
        assert padded.shape[-2:] == (96, 96)
        results = model.test_step(batch)
    assert len(results) == 2
    if family.scope == 'mmseg':
        for result in results:
            pred = result.pred_sem_seg.data
            assert pred.shape == (1, 70, 90)
            assert 0 <= pred.min() and pred.max() < row.num_classes
            assert result.seg_logits.data.shape == (row.num_classes, 70, 90)
        return
    for result in results:
        pred = result.pred_instances
        assert 0 < len(pred) <= 10
        assert pred.bboxes.shape[1:] == (4, )
        assert len(pred.bboxes) == len(pred.scores) == len(pred.labels)
        if family.masks:
            assert len(pred.masks) == len(pred.bboxes)
            assert tuple(pred.masks.shape[1:]) == tuple(result.ori_shape)
        else:
            assert 'masks' not in pred


# What only some families have.


@pytest.mark.parametrize(
    'row', [p for p in rows(demo=False) if p.values[0].milestones == [8, 11]])
def test_1x_trains_at_1333x800_with_flips_after_500_warmup_iterations(
        row, load_cfg):
    cfg = load_cfg(row.file)
    warmup = cfg.param_scheduler[0]
    assert (warmup.type, warmup.end, warmup.by_epoch) == ('LinearLR', 500,
                                                          False)
    pipeline = cfg.train_dataloader.dataset.pipeline
    [resize] = [t for t in pipeline if t.type == 'Resize']
    assert tuple(resize.scale) == (1333, 800) and resize.keep_ratio
    assert 'RandomFlip' in [t.type for t in pipeline]


def test_mask_rcnn_3x_trains_at_several_scales(load_cfg):
    pipeline = load_cfg(
        'mask_rcnn_fasternet_s_ms_3x.py').train_dataloader.dataset.pipeline
    [resize] = [t for t in pipeline if t.type == 'RandomResize']
    assert [tuple(s) for s in resize.scale] == [(1333, 640), (1333, 800)]
    assert 'Resize' not in [t.type for t in pipeline]


@pytest.mark.parametrize('row', rows('cascade_mask_rcnn', demo=False))
def test_cascade_is_mmdets_ms_3x_recipe_with_three_mask_stages(row, load_cfg):
    cfg = load_cfg(row.file)
    assert cfg.model.roi_head.num_stages == 3
    assert 'mask_head' in cfg.model.roi_head
    # 3x: the training set repeated 3 times over 12 epochs (36 epochs), lr
    # steps after epochs 9 and 11 of them (27 and 33).
    dataset = cfg.train_dataloader.dataset
    assert (dataset.type, dataset.times) == ('RepeatDataset', 3)
    # Multi-scale training, shorter side 640-800.
    [resize
     ] = [t for t in dataset.dataset.pipeline if t.type == 'RandomResize']
    assert [tuple(s) for s in resize.scale] == [(1333, 640), (1333, 800)]


def test_cascade_demo_counts_epochs_and_keeps_each_stages_box_coder(load_cfg):
    cfg = load_cfg('demo/cascade_mask_rcnn_fasternet_t0_coco_demo.py')
    assert cfg.train_dataloader.dataset.type == 'CocoDataset', 'no 3x repeat'
    heads = cfg.model.roi_head.bbox_head
    assert [h.num_classes for h in heads] == [4, 4, 4]
    # each stage keeps its own box coder (the cascade's point)
    assert [h.bbox_coder.target_stds[0] for h in heads] == [0.1, 0.05, 0.033]


@pytest.mark.parametrize('row', rows('retinanet'))
def test_retinanet_fpn_starts_at_stride_8(row, load_cfg):
    # level 0 is FasterNet's stride 8 output, as in MMDetection's Swin and
    # PVT RetinaNets; P6, P7 come from extra convs (the strides above).
    assert load_cfg(row.file).model.neck.start_level == 0


def load_rtmdet_base(load_cfg, arch):
    """The installed RTMDet-Ins config that ``arch``'s config inherits: the
    size whose CSPNeXt has FasterNet-``arch``'s widths."""
    size = {'t1': 's', 't2': 'm'}[arch]
    return load_cfg(f'mmdet::rtmdet/rtmdet-ins_{size}_8xb32-300e_coco.py')


@pytest.mark.parametrize('row', rows('rtmdet_ins', demo=False))
def test_rtmdet_neck_and_head_are_the_cspnext_sizes(row, load_cfg):
    cfg, base = load_cfg(row.file), load_rtmdet_base(load_cfg, row.arch)
    assert list(row.widths) == list(base.model.neck.in_channels)
    assert plain(cfg.model.neck) == plain(base.model.neck)
    assert plain(cfg.model.bbox_head) == plain(base.model.bbox_head)
    assert cfg.model.bbox_head.type == 'RTMDetInsSepBNHead'


@pytest.mark.parametrize('row', rows('rtmdet_ins', demo=False))
def test_rtmdet_recipe_is_kept(row, load_cfg):
    cfg, base = load_cfg(row.file), load_rtmdet_base(load_cfg, row.arch)
    # 300 epochs, Mosaic + MixUp, the last 20 without them, EMA.
    assert plain(cfg.train_cfg) == plain(base.train_cfg)
    assert plain(cfg.train_dataloader) == plain(base.train_dataloader)
    steps = [t.type for t in cfg.train_dataloader.dataset.pipeline]
    assert 'CachedMosaic' in steps and 'CachedMixUp' in steps
    # The base's hooks come first and unchanged.
    n = len(base.custom_hooks)
    assert plain(cfg.custom_hooks[:n]) == plain(base.custom_hooks)
    ema, switch = cfg.custom_hooks[:n]
    assert ema.type == 'EMAHook'
    assert (switch.type, switch.switch_epoch) == ('PipelineSwitchHook', 280)
    # No decay on norms and biases, as the base.
    paramwise = cfg.optim_wrapper.paramwise_cfg
    assert plain(paramwise) == plain(base.optim_wrapper.paramwise_cfg)
    assert 'custom_keys' not in paramwise


@pytest.mark.parametrize('row', rows('rtmdet_ins', demo=False))
def test_rtmdet_changes_input_normalisation_padding_and_lr(row, load_cfg):
    cfg, base = load_cfg(row.file), load_rtmdet_base(load_cfg, row.arch)
    # RGB with ImageNet statistics instead of BGR with CSPNeXt's.
    imagenet_rgb = dict(
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True)
    preprocessor = cfg.model.data_preprocessor
    assert base.model.data_preprocessor.bgr_to_rgb is False
    assert {k: preprocessor[k] for k in imagenet_rgb} == imagenet_rgb
    # Padded to a multiple of 32 (the base sets no pad_size_divisor).
    assert 'pad_size_divisor' not in base.model.data_preprocessor
    # lr 1e-3 instead of 4e-3, for the whole model; the cosine decay keeps
    # the base's shape (epochs 150-300, down to 5 % of the lr).
    assert base.optim_wrapper.optimizer.lr == 4e-3
    warmup, cosine = cfg.param_scheduler
    base_warmup, base_cosine = base.param_scheduler
    assert plain(warmup) == plain(base_warmup)
    assert cosine.eta_min == pytest.approx(1e-3 * 0.05)
    cosine.eta_min = base_cosine.eta_min = None
    assert plain(cosine) == plain(base_cosine)


def test_rtmdet_t1_and_t2_make_the_same_changes(load_cfg):
    t1 = load_cfg('rtmdet_ins_fasternet_t1.py')
    t2 = load_cfg('rtmdet_ins_fasternet_t2.py')
    assert t1.model.data_preprocessor == t2.model.data_preprocessor
    assert t1.optim_wrapper == t2.optim_wrapper
    assert t1.param_scheduler == t2.param_scheduler
    per_arch = ('arch', 'drop_path_rate', 'init_cfg')
    assert {k: v for k, v in t1.model.backbone.items()
            if k not in per_arch} == \
        {k: v for k, v in t2.model.backbone.items() if k not in per_arch}


def test_rtmdet_demo_switches_pipelines_before_its_last_epoch(load_cfg):
    cfg = load_cfg('demo/rtmdet_ins_fasternet_t1_coco_demo.py')
    # the recipe's two stages and EMA, at 160x160
    steps = [t.type for t in cfg.train_dataloader.dataset.pipeline]
    assert 'CachedMosaic' in steps and 'CachedMixUp' in steps
    [switch] = [h for h in cfg.custom_hooks if h.type == 'PipelineSwitchHook']
    assert switch.switch_epoch < cfg.train_cfg.max_epochs
    assert 'CachedMosaic' not in [t.type for t in switch.switch_pipeline]
    t1 = load_cfg('rtmdet_ins_fasternet_t1.py')
    assert cfg.model.data_preprocessor == t1.model.data_preprocessor


@pytest.mark.parametrize('row', rows('upernet'))
def test_upernet_heads_and_ade20k_training(row, load_cfg):
    cfg = load_cfg(row.file)
    model = cfg.model
    assert model.pretrained is None
    assert model.decode_head.type == 'UPerHead'
    assert model.test_cfg.mode == 'whole'
    # SyncBN for multi-GPU runs (the Runner makes it BN in a single
    # process), in the backbone as in the heads.
    assert model.decode_head.norm_cfg.type == 'SyncBN'
    assert model.auxiliary_head.norm_cfg.type == 'SyncBN'
    if row.demo:
        return
    # 512x512 crops of ADE20K; the warm-up and poly decay of
    # MMSegmentation's UperNets for ImageNet-pretrained backbones.
    crops = [t for t in cfg.train_pipeline if t.type == 'RandomCrop']
    assert crops and tuple(crops[0].crop_size) == (512, 512)
    assert cfg.train_dataloader.dataset.type == 'ADE20KDataset'
    warmup, poly = cfg.param_scheduler
    assert (warmup.type, warmup.end, poly.type,
            poly.begin) == ('LinearLR', 1500, 'PolyLR', 1500)


@pytest.mark.parametrize('row', rows('upernet', demo=False))
def test_upernet_starts_from_the_checkpoint_of_the_mask_rcnn_config(
        row, load_cfg):
    seg = load_cfg(row.file).model.backbone.init_cfg.checkpoint
    det = load_cfg(f'mask_rcnn_fasternet_{row.arch}.py')
    assert seg == det.model.backbone.init_cfg.checkpoint
