"""Deploy configs, precision choice, input range and the refusals."""
import pytest
import torch
from mmengine.config import Config
from torch.torch_version import TorchVersion

from fasternet_mm.errors import UserInputError
from fasternet_mm.runtime.deploy import configs, export
from fasternet_mm.runtime.deploy.backends import require_tensorrt


def test_detector_outputs_follow_the_model():
    masks = Config(
        dict(
            default_scope='mmdet',
            model=dict(
                type='MaskRCNN',
                roi_head=dict(mask_head=dict(type='FCNMaskHead')))))
    boxes = Config(
        dict(
            default_scope='mmdet',
            model=dict(type='RetinaNet', bbox_head=dict(type='RetinaHead'))))
    rtm = Config(
        dict(
            default_scope='mmdet',
            model=dict(
                type='RTMDet', bbox_head=dict(type='RTMDetInsSepBNHead'))))
    seg = Config(
        dict(default_scope='mmseg', model=dict(type='EncoderDecoder')))
    names = lambda c: configs.deploy_config(  # noqa: E731
        c, 'onnxruntime', 'fp32').onnx_config.output_names
    assert names(masks) == names(rtm) == ['dets', 'labels', 'masks']
    assert names(boxes) == ['dets', 'labels']
    assert names(seg) == ['output']
    assert configs.model_hash(masks) != configs.model_hash(boxes)


def test_precision_auto_is_the_fastest_sound_one(monkeypatch):
    assert export.resolve_precision('onnxruntime', 'auto')[0] == 'fp32'
    assert export.resolve_precision('onnxruntime', 'int8')[0] == 'int8'
    assert export.resolve_precision('tensorrt', 'auto')[0] == 'fp16'
    monkeypatch.setattr('fasternet_mm.runtime.deploy.inference.cpu_flags',
                        lambda: ['avx512_bf16'])
    assert export.resolve_precision('openvino', 'auto')[0] == 'bf16'
    assert export.resolve_precision('openvino', 'fp32')[0] == 'fp32'
    monkeypatch.setattr('fasternet_mm.runtime.deploy.inference.cpu_flags',
                        lambda: [])
    assert export.resolve_precision('openvino', 'auto')[0] == 'fp32'
    with pytest.raises(UserInputError, match='no native bfloat16'):
        export.resolve_precision('openvino', 'bf16')


@pytest.mark.parametrize('backend,precision,message', [
    ('onnxruntime', 'bf16', 'openvino'),
    ('openvino', 'fp16', 'tensorrt'),
])
def test_unsupported_precisions_are_refused(backend, precision, message):
    with pytest.raises(UserInputError, match=message):
        export.resolve_precision(backend, precision)


def test_input_outside_the_exported_range_is_refused():
    meta = dict(input_range=configs.input_range('onnxruntime', 32))
    configs.check_input((2, 3, 64, 96), meta)
    for shape, why in (((1, 3, 4096, 64), 'outside'), ((1, 3, 64, 100),
                                                       'multiple of 32')):
        with pytest.raises(UserInputError, match=why):
            configs.check_input(shape, meta)
    trt = dict(input_range=configs.input_range('tensorrt', 32))
    with pytest.raises(UserInputError, match='batch 2'):
        configs.check_input((2, 3, 800, 1344), trt)


@pytest.mark.skipif(torch.cuda.is_available(), reason='a GPU is present')
def test_tensorrt_without_package_or_gpu_names_the_fix():
    with pytest.raises(UserInputError, match='pip install tensorrt|CUDA GPU'):
        require_tensorrt()


@pytest.mark.skipif(
    TorchVersion(torch.__version__) < (2, 2),
    reason='this stack (torch 2.1) exports')
def test_export_on_a_newer_torch_names_the_supported_stack():
    with pytest.raises(UserInputError, match='torch 2.1 stack'):
        export.require_mmdeploy()
