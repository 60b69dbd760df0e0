"""UperNet FasterNet ADE20K configs: they load, build, train and infer."""
import copy
import glob
import os.path as osp

import pytest
import torch
from helpers import REPO_ROOT, official_url
from mmengine.config import Config
from mmengine.model import revert_sync_batchnorm
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData

import fasternet_mm  # noqa: F401  (registers FasterNet)
from fasternet_mm import FasterNet

CONFIG_DIR = osp.join(REPO_ROOT, 'configs')
ARCHS = ('t0', 't1', 't2', 's', 'm', 'l')
DEMO_CONFIG = osp.join(CONFIG_DIR, 'demo',
                       'upernet_fasternet_t0_ade20k_demo.py')


def config_path(arch):
    return osp.join(CONFIG_DIR, f'upernet_fasternet_{arch}_ade20k.py')


@pytest.fixture(autouse=True)
def mmseg_scope():
    init_default_scope('mmseg')


def build_segmentor(cfg):
    from mmseg.registry import MODELS
    return MODELS.build(cfg.model)


def test_every_arch_has_a_config():
    shipped = sorted(
        glob.glob(osp.join(CONFIG_DIR, 'upernet_fasternet_*_ade20k.py')))
    assert shipped == sorted(config_path(a) for a in ARCHS)


@pytest.mark.parametrize('arch', ARCHS)
def test_config_is_upernet_on_ade20k_with_fasternet(arch):
    cfg = Config.fromfile(config_path(arch))
    assert cfg.default_scope == 'mmseg'
    assert 'fasternet_mm' in cfg.custom_imports['imports']
    model = cfg.model
    assert model.type == 'EncoderDecoder' and model.pretrained is None
    assert model.decode_head.type == 'UPerHead'
    assert model.decode_head.num_classes == 150
    assert model.auxiliary_head.num_classes == 150
    backbone = model.backbone
    # _delete_ dropped every ResNet key of the base.
    assert set(backbone) == {
        'type', 'arch', 'out_indices', 'norm_cfg', 'drop_path_rate', 'init_cfg'
    }
    assert backbone.type == 'FasterNet' and backbone.arch == arch
    assert backbone.norm_cfg.type == 'SyncBN'
    assert model.decode_head.norm_cfg.type == 'SyncBN'
    # Heads read the arch's stage widths (C, 2C, 4C, 8C; aux: 4C).
    widths = FasterNet(arch=arch).out_channels
    assert tuple(model.decode_head.in_channels) == widths
    assert model.auxiliary_head.in_channels == widths[2]
    # The official ImageNet weights of this arch, by their release URL.
    assert backbone.init_cfg.type == 'Pretrained'
    assert backbone.init_cfg.checkpoint == official_url(arch)
    # 512x512 crops, ADE20K, AdamW, 160k iterations.
    crops = [t for t in cfg.train_pipeline if t.type == 'RandomCrop']
    assert crops and tuple(crops[0].crop_size) == (512, 512)
    assert tuple(model.data_preprocessor.size) == (512, 512)
    assert cfg.train_dataloader.dataset.type == 'ADE20KDataset'
    assert cfg.optim_wrapper.optimizer.type == 'AdamW'
    assert cfg.optim_wrapper.optimizer.lr == (1e-4 if arch in 'ml' else 2e-4)
    assert cfg.train_cfg.max_iters == 160000
    assert cfg.param_scheduler[-1].end == 160000


@pytest.mark.parametrize('arch', ARCHS)
def test_checkpoint_names_match_the_detection_configs(arch):
    mask_rcnn = osp.join(CONFIG_DIR, f'mask_rcnn_fasternet_{arch}.py')
    if not osp.isfile(mask_rcnn):
        pytest.skip(f'{mask_rcnn} not shipped')
    det = Config.fromfile(mask_rcnn).model.backbone.init_cfg.checkpoint
    seg = Config.fromfile(config_path(arch)).model.backbone.init_cfg.checkpoint
    assert seg == det


@pytest.mark.parametrize('path',
                         [config_path(a) for a in ARCHS] + [DEMO_CONFIG])
def test_config_builds(path):
    model = build_segmentor(Config.fromfile(path))
    assert isinstance(model.backbone, FasterNet)
    assert model.decode_head.in_channels == list(model.backbone.out_channels)


def _tiny_batch(num_classes, sizes):
    from mmseg.structures import SegDataSample
    inputs, samples = [], []
    gen = torch.Generator().manual_seed(0)
    for h, w in sizes:
        inputs.append(
            torch.randint(0, 256, (3, h, w), generator=gen, dtype=torch.uint8))
        sample = SegDataSample(
            metainfo=dict(img_shape=(h, w), ori_shape=(h, w)))
        label = torch.randint(0, num_classes, (1, h, w), generator=gen)
        sample.gt_sem_seg = PixelData(data=label)
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)


@pytest.mark.parametrize('arch', ['t0', 's'])
def test_one_train_step_and_one_inference_step(arch):
    """As the Runner runs them on CPU: SyncBN reverted to BN."""
    cfg = Config.fromfile(config_path(arch))
    cfg.model.backbone.init_cfg = None  # no ImageNet weights in tests
    cfg.model.data_preprocessor.size = (64, 64)
    model = revert_sync_batchnorm(build_segmentor(cfg))
    model.init_weights()
    optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    before = copy.deepcopy(model.backbone.stages[0].blocks[0].mlp[0].weight)

    model.train()
    losses = model.train_step(_tiny_batch(150, [(64, 64)] * 2), optim_wrapper)
    assert {'decode.loss_ce', 'aux.loss_ce'} <= set(losses)
    assert all(torch.isfinite(v).all() for v in losses.values())
    after = model.backbone.stages[0].blocks[0].mlp[0].weight
    assert not torch.equal(before, after)

    # Test images are padded to a multiple of 32; predictions are not.
    model.eval()
    with torch.no_grad():
        outputs = model.test_step(_tiny_batch(150, [(70, 90)]))
    pred = outputs[0].pred_sem_seg.data
    assert pred.shape == (1, 70, 90)
    assert 0 <= pred.min() and pred.max() < 150
    assert outputs[0].seg_logits.data.shape == (150, 70, 90)
