"""mmdeploy deploy configs, built from a model config, and what a folder
records about its export.

mmdeploy ships its deploy configs in its repository only (not in the
wheel); these are its ``{detection,instance-seg}_{onnxruntime,openvino,
tensorrt}_dynamic`` and ``segmentation_*_dynamic`` configs as dicts, with
the output names the model has.
"""
import hashlib
import json

from mmengine.config import Config

from ...errors import UserInputError

BACKENDS = ('onnxruntime', 'openvino', 'tensorrt')
PRECISIONS = ('auto', 'fp32', 'bf16', 'fp16', 'int8')
# Image sizes (H, W) a dynamic export is stated for; sizes must also be
# multiples of the model's padding divisor (32 for FasterNet).
MIN_SIZE, MAX_SIZE = 32, 2048
# TensorRT builds one optimisation profile (mmdeploy's dynamic configs).
TRT_SHAPES = dict(
    min_shape=[1, 3, 320, 320],
    opt_shape=[1, 3, 800, 1344],
    max_shape=[1, 3, 1344, 1344])
META_KEY = 'fasternet_mm'  # our record in deploy.json
DEPLOY_CFG = 'deploy_cfg.py'  # the folder's mmdeploy deploy config


def predicts_masks(model_cfg) -> bool:
    """Whether a detector config has a mask branch (instance masks)."""
    if isinstance(model_cfg, dict):
        kind = str(model_cfg.get('type', ''))
        return 'mask_head' in model_cfg or kind.endswith(
            ('InsHead', 'InsSepBNHead')) or any(
                predicts_masks(v) for v in model_cfg.values())
    if isinstance(model_cfg, (list, tuple)):
        return any(predicts_masks(v) for v in model_cfg)
    return False


def model_hash(cfg: Config) -> str:
    """The identity of a config's model (architecture and test settings)."""
    text = json.dumps(cfg.model.to_dict(), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _backend_config(backend: str, precision: str) -> dict:
    if backend == 'tensorrt':
        return dict(
            type='tensorrt',
            common_config=dict(
                fp16_mode=precision == 'fp16', max_workspace_size=1 << 30),
            model_inputs=[dict(input_shapes=dict(input=TRT_SHAPES))])
    if backend == 'openvino':
        return dict(
            type='openvino',
            model_inputs=[dict(opt_shapes=dict(input=[1, 3, 800, 1344]))])
    return dict(type='onnxruntime')


def deploy_config(cfg: Config, backend: str, precision: str) -> Config:
    """mmdeploy's dynamic-shape deploy config for ``cfg``'s model."""
    dynamic = {0: 'batch', 2: 'height', 3: 'width'}
    if cfg.default_scope == 'mmseg':
        # Logits, not argmax: the class map is taken after resizing the
        # logits to the image, as MMSegmentation does.
        outputs = ['output']
        codebase = dict(type='mmseg', task='Segmentation', with_argmax=False)
        axes = dict(output=dynamic)
    else:
        outputs = ['dets', 'labels']
        axes = dict(
            dets={
                0: 'batch',
                1: 'num_dets'
            },
            labels={
                0: 'batch',
                1: 'num_dets'
            })
        if predicts_masks(cfg.model):
            outputs.append('masks')
            axes['masks'] = {
                0: 'batch',
                1: 'num_dets',
                2: 'height',
                3: 'width'
            }
        codebase = dict(
            type='mmdet',
            task='ObjectDetection',
            model_type='end2end',
            post_processing=dict(
                score_threshold=0.05,
                confidence_threshold=0.005,
                iou_threshold=0.5,
                max_output_boxes_per_class=200,
                pre_top_k=5000,
                keep_top_k=100,
                background_label_id=-1,
                export_postprocess_mask=False))
    # opset 16: its RoiAlign has mmcv's aligned mode (half_pixel); at
    # opset 11 mmdeploy shifts the RoIs by hand and RoiAlign widens a RoI
    # narrower than a feature pixel to one pixel.
    onnx_config = dict(
        type='onnx',
        export_params=True,
        keep_initializers_as_inputs=False,
        opset_version=16,
        save_file='end2end.onnx',
        input_names=['input'],
        output_names=outputs,
        input_shape=None,
        optimize=True,
        dynamic_axes=dict(input=dynamic, **axes))
    return Config(
        dict(
            onnx_config=onnx_config,
            codebase_config=codebase,
            backend_config=_backend_config(backend, precision)))


def input_range(backend: str, divisor: int) -> dict:
    """The input shapes an export accepts (stated in deploy.json)."""
    if backend == 'tensorrt':
        return dict(
            min_hw=TRT_SHAPES['min_shape'][2:],
            max_hw=TRT_SHAPES['max_shape'][2:],
            max_batch=TRT_SHAPES['max_shape'][0],
            divisor=divisor)
    return dict(
        min_hw=[MIN_SIZE, MIN_SIZE],
        max_hw=[MAX_SIZE, MAX_SIZE],
        max_batch=None,
        divisor=divisor)


def check_input(shape, meta: dict) -> None:
    """An input of ``shape`` (N, C, H, W) must lie in the exported range."""
    rng = meta['input_range']
    n, _, h, w = shape
    (hmin, wmin), (hmax, wmax) = rng['min_hw'], rng['max_hw']
    problems = []
    if not (hmin <= h <= hmax and wmin <= w <= wmax):
        problems.append(f'{h}x{w} is outside {hmin}x{wmin} .. {hmax}x{wmax}')
    if rng['divisor'] > 1 and (h % rng['divisor'] or w % rng['divisor']):
        problems.append(f'{h}x{w} is not a multiple of {rng["divisor"]}')
    if rng['max_batch'] is not None and n > rng['max_batch']:
        problems.append(f'batch {n} is over {rng["max_batch"]}')
    if problems:
        raise UserInputError(
            f'input {n}x3x{h}x{w} does not fit the exported model '
            f'({"; ".join(problems)}); resize the images in the test '
            'pipeline, or export again')
