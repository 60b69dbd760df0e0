"""Export a whole detector or segmentor for ONNX Runtime, OpenVINO or
TensorRT, in mmdeploy's folder layout.

    python tools/deployment/deploy.py configs/mask_rcnn_fasternet_s.py \
        epoch_12.pth --backend openvino --work-dir work_dirs/mrcnn_ov

The folder (end2end.onnx or end2end.xml/.bin, deploy.json, pipeline.json,
detail.json) is read by mmdeploy's SDK, and by our tools where a checkpoint
goes: ``tools/test.py CONFIG DIR``, ``tools/image_demo.py IMG CONFIG DIR``.
Runs on the torch 2.1 stack (mmdeploy 1.3.1); see docs/deployment.md.
"""
import argparse

from fasternet_mm.errors import run_tool
from fasternet_mm.runtime.cli import CfgOptions, existing_file, positive_int
from fasternet_mm.runtime.deploy import BACKENDS, PRECISIONS, export_model


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Export a whole model (network, box decoding, NMS, '
        'masks; class maps for segmentors)')
    parser.add_argument('config', help='config file (mmdet:: / mmseg:: too)')
    parser.add_argument(
        'checkpoint', type=existing_file, help='checkpoint file')
    parser.add_argument('--backend', choices=BACKENDS, default='onnxruntime')
    parser.add_argument(
        '--precision',
        choices=PRECISIONS,
        default='auto',
        help='auto (default): the fastest sound non-int8 precision of the '
        'backend on this machine (OpenVINO: bf16 where the CPU computes it '
        'natively, else fp32; ONNX Runtime: fp32; TensorRT: fp16); int8: '
        'post-training quantization (OpenVINO: NNCF; ONNX Runtime: its '
        'static QDQ quantizer)')
    parser.add_argument(
        '--calib-images',
        type=positive_int,
        default=32,
        help='int8: calibration images drawn from the training set')
    parser.add_argument(
        '--work-dir',
        required=True,
        help='output folder: a new one, or an earlier export of this model')
    parser.add_argument(
        '--force',
        action='store_true',
        help='write into a --work-dir that holds other files: the files an '
        'export writes are replaced, the others kept')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=CfgOptions,
        help='override config settings, e.g. the training set that int8 '
        'calibrates on: train_dataloader.dataset.data_root=data/coco/')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    meta = export_model(
        args.config,
        args.checkpoint,
        args.work_dir,
        args.backend,
        args.precision,
        args.calib_images,
        args.cfg_options,
        force=args.force)
    print(f'exported {args.config} to {args.work_dir} ({meta["backend"]}, '
          f'{meta["chosen"]})')


if __name__ == '__main__':
    run_tool(main)
