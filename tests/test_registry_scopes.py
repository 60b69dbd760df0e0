"""A detector and a segmentor with FasterNet in one Python session.

MMDetection and MMSegmentation each have a ``MODELS`` registry, and
mmengine's default scope picks the one ``type=...`` strings resolve in. The
tools set it from the config's ``default_scope``; code that builds models
itself sets it with ``init_default_scope`` before each build, as these
tests do. FasterNet is registered in both registries.
"""
import os.path as osp

import pytest
import torch
from helpers import REPO_ROOT
from mmengine.config import Config
from mmengine.registry import DefaultScope, init_default_scope

from fasternet_mm import FasterNet

SEG_CONFIG = osp.join(REPO_ROOT, 'configs', 'upernet_fasternet_t0_ade20k.py')
# A Mask R-CNN on MMDetection's installed base, independent of the shipped
# detection configs.
DET_CONFIG = """
_base_ = 'mmdet::_base_/models/mask-rcnn_r50_fpn.py'
default_scope = 'mmdet'
model = dict(
    backbone=dict(_delete_=True, type='FasterNet', arch='t0'),
    neck=dict(in_channels=[40, 80, 160, 320]))
"""


@pytest.fixture(scope='module')
def det_cfg(tmp_path_factory):
    path = tmp_path_factory.mktemp('det') / 'mask_rcnn_fasternet_t0_min.py'
    path.write_text(DET_CONFIG)
    return Config.fromfile(str(path))


@pytest.fixture(scope='module')
def seg_cfg():
    cfg = Config.fromfile(SEG_CONFIG)
    cfg.model.backbone.init_cfg = None
    return cfg


def build_det(cfg):
    from mmdet.registry import MODELS
    init_default_scope('mmdet')
    return MODELS.build(cfg.model)


def build_seg(cfg):
    from mmseg.registry import MODELS
    init_default_scope('mmseg')
    return MODELS.build(cfg.model)


def test_fasternet_is_registered_in_both_codebases():
    from mmdet.registry import MODELS as DET_MODELS
    from mmengine.registry import MODELS as ROOT_MODELS
    from mmseg.registry import MODELS as SEG_MODELS
    assert ROOT_MODELS.get('FasterNet') is FasterNet
    for name in ('FasterNet', 'mmdet.FasterNet'):
        assert DET_MODELS.get(name) is FasterNet
    for name in ('FasterNet', 'mmseg.FasterNet'):
        assert SEG_MODELS.get(name) is FasterNet


def test_detector_then_segmentor_then_detector(det_cfg, seg_cfg):
    from mmdet.models.detectors import MaskRCNN
    from mmseg.models.segmentors import EncoderDecoder
    detector = build_det(det_cfg)
    segmentor = build_seg(seg_cfg)
    again = build_det(det_cfg)
    assert isinstance(detector, MaskRCNN) and isinstance(again, MaskRCNN)
    assert isinstance(segmentor, EncoderDecoder)
    for model in (detector, segmentor, again):
        assert isinstance(model.backbone, FasterNet)
    # Each model got its own codebase's parts, not the other's.
    assert type(detector.data_preprocessor).__module__.startswith('mmdet.')
    assert type(segmentor.data_preprocessor).__module__.startswith('mmseg.')

    x = torch.rand(1, 3, 64, 64)
    detector.eval(), segmentor.eval()
    with torch.no_grad():
        det_feats = detector.extract_feat(x)
        seg_logits = segmentor.encode_decode(
            x, [dict(img_shape=(64, 64), ori_shape=(64, 64))])
    assert len(det_feats) == 5  # FPN levels
    assert seg_logits.shape == (1, 150, 64, 64)


def test_each_registry_builds_its_own_parts_under_the_other_scope(
        det_cfg, seg_cfg):
    """A codebase's ``MODELS.build`` picks its own loss, preprocessor...

    even while the other codebase is the default scope (both have a
    ``CrossEntropyLoss``, with different arguments).
    """
    from mmdet.registry import MODELS as DET_MODELS
    from mmseg.registry import MODELS as SEG_MODELS
    init_default_scope('mmdet')
    segmentor = SEG_MODELS.build(seg_cfg.model)
    assert DefaultScope.get_current_instance().scope_name == 'mmdet'
    init_default_scope('mmseg')
    detector = DET_MODELS.build(det_cfg.model)
    with DefaultScope.overwrite_default_scope('mmdet'):
        assert DefaultScope.get_current_instance().scope_name == 'mmdet'
    assert DefaultScope.get_current_instance().scope_name == 'mmseg'
    seg_loss = type(segmentor.decode_head.loss_decode)
    det_loss = type(detector.roi_head.bbox_head.loss_cls)
    assert seg_loss.__name__ == det_loss.__name__ == 'CrossEntropyLoss'
    assert seg_loss.__module__.startswith('mmseg.')
    assert det_loss.__module__.startswith('mmdet.')
    assert type(detector.data_preprocessor).__module__.startswith('mmdet.')
    assert isinstance(segmentor.backbone, FasterNet)
    assert isinstance(detector.backbone, FasterNet)
