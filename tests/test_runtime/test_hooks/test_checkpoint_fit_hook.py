"""A checkpoint loads only if it fits the model part by part (no neck or
head left at random initialisation), exactly when a run resumes, and with
finite weights; anything else is an error that names what does not fit."""
import os.path as osp
import re

import pytest
import torch
from helpers import DET_DEMO_CONFIG, REPO_ROOT, coco_options, load_tool

from fasternet_mm.errors import CheckpointError
from fasternet_mm.runtime import build_model_from_cfg
from fasternet_mm.runtime.checkpoint import check_fit, state_dict_of

SEG_DEMO_CONFIG = osp.join(REPO_ROOT, 'configs', 'demo',
                           'upernet_fasternet_t0_ade20k_demo.py')


@pytest.fixture(scope='module')
def detector():
    return build_model_from_cfg(DET_DEMO_CONFIG)


@pytest.fixture(scope='module')
def upernet_state():
    """A UperNet-T0 checkpoint: its backbone fits the detector's."""
    return build_model_from_cfg(SEG_DEMO_CONFIG).state_dict()


def test_a_checkpoint_of_another_model_with_the_same_backbone_is_refused(
        detector, upernet_state):
    """It matches most tensors (the backbone), none of the neck or heads."""
    with pytest.raises(
            CheckpointError,
            match=r"checkpoint 'upernet.pth' does not fit this model: it "
            r'would leave neck \(0 of \d+ tensors\), rpn_head \(0 of \d+ '
            r'tensors\), roi_head \(0 of \d+ tensors\) at their random '
            r'initialisation.*'
            r"model.backbone.init_cfg=dict\(type='Pretrained'.*"
            r"allow_missing=\('neck', ...\)"):
        check_fit(detector, upernet_state, 'upernet.pth')


def test_leaving_parts_at_their_init_on_purpose(detector, upernet_state):
    check_fit(
        detector,
        upernet_state,
        'upernet.pth',
        allow_missing=('neck', 'rpn_head', 'roi_head'))


def test_fine_tuning_with_other_classes_still_loads(detector):
    """load_from with another num_classes: the heads fit but for the
    class-specific layers (mmengine skips those, with a warning)."""
    other = build_model_from_cfg(
        DET_DEMO_CONFIG, {
            'model.roi_head.bbox_head.num_classes': 7,
            'model.roi_head.mask_head.num_classes': 7
        })
    check_fit(detector, other.state_dict(), 'coco.pth')


def test_resuming_with_another_shape_names_the_tensors(detector):
    state = dict(detector.state_dict())
    key = 'roi_head.bbox_head.fc_cls.weight'
    state[key] = torch.zeros(6, state[key].shape[1])
    with pytest.raises(
            CheckpointError,
            match=rf"checkpoint 'epoch_1.pth' does not match this model "
            rf'exactly: with another shape or type: \[.{re.escape(key)}: '
            r'checkpoint \(6, 256\) vs model \(5, 256\).*to start from these '
            r"weights in a changed model, use load_from='epoch_1.pth' "
            r'without --resume'):
        check_fit(detector, state, 'epoch_1.pth', exact=True)
    check_fit(detector, state, 'epoch_1.pth')  # load_from: fine-tuning


def test_non_finite_weights_are_refused(detector):
    state = dict(detector.state_dict())
    state['neck.lateral_convs.0.conv.weight'] = torch.full_like(
        state['neck.lateral_convs.0.conv.weight'], float('nan'))
    with pytest.raises(
            CheckpointError,
            match=r"checkpoint 'nan.pth': 1 tensor\(s\) hold NaN or inf "
            r"values, e.g. \['neck.lateral_convs.0.conv.weight'\]; it was "
            r'saved by a run that diverged'):
        check_fit(detector, state, 'nan.pth')


@pytest.mark.parametrize('checkpoint, message', [
    ([1, 2], r'holds a list, not a state dict'),
    ({
        'state_dict': [torch.zeros(1)]
    }, r'expected a state dict .* got a list'),
    ({
        0: torch.zeros(1),
        'a': torch.zeros(1)
    }, r'1 key\(s\) of its state dict are not tensor names \(strings\), '
     r'e.g. \[0\]'),
])
def test_checkpoints_that_are_no_state_dict_are_named(checkpoint, message):
    with pytest.raises(CheckpointError, match=message):
        state_dict_of(checkpoint, 'x.pth')


def test_non_tensor_values_are_named(detector):
    state = dict(detector.state_dict())
    state['roi_head.bbox_head.fc_cls.weight'] = 'not a tensor'
    with pytest.raises(
            CheckpointError,
            match=r"roi_head.bbox_head.fc_cls.weight: a str in the "
            'checkpoint'):
        check_fit(detector, state, 'x.pth', exact=True)
    # FasterNet's own loader names a backbone value that is no tensor
    state = dict(detector.state_dict())
    state['backbone.patch_embed.proj.weight'] = [1, 2]
    check_fit(detector, state, 'x.pth')
    with pytest.raises(CheckpointError, match=r'1 value\(s\) are not tensors'):
        detector.load_state_dict(state)


def test_an_official_layout_backbone_fits(detector, golden_dir):
    """Its keys are converted, once, as FasterNet loads them."""
    golden = torch.load(
        osp.join(golden_dir, 'fasternet_t0_det.pt'), weights_only=False)
    state = {f'backbone.{k}': v for k, v in golden['state_dict'].items()}
    heads = {
        k: v
        for k, v in detector.state_dict().items()
        if not k.startswith('backbone.')
    }
    check_fit(detector, {**state, **heads}, 'official.pth')
    with pytest.raises(CheckpointError, match=r'backbone \(0 of'):
        check_fit(detector, heads, 'heads.pth')


def test_test_tool_refuses_the_checkpoint_of_another_model(
        tiny_coco, tmp_path, upernet_state):
    """tools/test.py would evaluate random heads and exit 0."""
    path = tmp_path / 'upernet.pth'
    torch.save({'state_dict': upernet_state}, path)
    with pytest.raises(CheckpointError, match='rpn_head .0 of'):
        load_tool('test').main([
            DET_DEMO_CONFIG,
            str(path), '--work-dir',
            str(tmp_path), '--cfg-options', *coco_options(tiny_coco)
        ])


def test_resume_after_changing_num_classes_is_refused_at_load(
        tiny_coco, tmp_path, detector):
    """Not 'size of tensor a (5) must match (6)' at the first step."""
    other = build_model_from_cfg(
        DET_DEMO_CONFIG, {
            'model.roi_head.bbox_head.num_classes': 5,
            'model.roi_head.mask_head.num_classes': 5
        })
    path = tmp_path / 'epoch_1.pth'
    torch.save(
        dict(
            meta=dict(epoch=1, iter=2),
            state_dict=other.state_dict(),
            optimizer={},
            message_hub={}), path)
    with pytest.raises(
            CheckpointError, match='does not match this model exactly'):
        load_tool('train').main([
            DET_DEMO_CONFIG, '--work-dir',
            str(tmp_path / 'work'), '--resume',
            str(path), '--cfg-options', *coco_options(tiny_coco)
        ])
