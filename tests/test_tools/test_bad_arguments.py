"""Bad command-line arguments get one error naming the argument.

Each case calls a tool's ``main(argv)`` in-process: argparse's usage error
(exit status 2, ``error: argument ...``) for a value it can check alone
(fasternet_mm.runtime.cli), a ``UserInputError`` for one that needs the
config or the model.
"""
import errno
import glob
import os
import os.path as osp

import pytest
import torch
from helpers import DET_DEMO_CONFIG, REPO_ROOT, coco_options, load_tool

from fasternet_mm.errors import (CheckpointError, ConfigTypeError,
                                 ConfigValueError, UserInputError)
from fasternet_mm.runtime import build_model_from_cfg

SEG_DEMO_CONFIG = osp.join(REPO_ROOT, 'configs', 'demo',
                           'upernet_fasternet_t0_ade20k_demo.py')


def usage_error(capsys, main, argv):
    """The message of argparse's usage error for ``main(argv)``."""
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2
    return capsys.readouterr().err.strip().splitlines()[-1]


@pytest.fixture(scope='module')
def det_checkpoint(tmp_path_factory):
    path = tmp_path_factory.mktemp('ckpt') / 'epoch_1.pth'
    model = build_model_from_cfg(DET_DEMO_CONFIG)
    torch.save(dict(state_dict=model.state_dict(), meta={}), path)
    return str(path)


@pytest.fixture
def image(tiny_coco):
    return sorted(glob.glob(osp.join(tiny_coco, 'val2017', '*')))[0]


# --- tools/train.py, tools/test.py: --cfg-options -------------------------


def train(root, work_dir, *options, extra=()):
    load_tool('train').main([
        DET_DEMO_CONFIG, '--work-dir',
        str(work_dir), *extra, '--cfg-options', *coco_options(root), *options
    ])


@pytest.mark.parametrize('tool', ['train', 'test'])
def test_cfg_option_that_is_not_key_value(capsys, tool, det_checkpoint):
    argv = [DET_DEMO_CONFIG] + ([det_checkpoint] if tool == 'test' else [])
    assert usage_error(
        capsys,
        load_tool(tool).main, argv + ['--cfg-options', 'max_epochs']).endswith(
            "error: argument --cfg-options: 'max_epochs' is not KEY=VALUE "
            '(e.g. train_cfg.max_epochs=12)')


@pytest.mark.parametrize('option, error, message', [
    ('train_cfg.max_epochs=abc', ConfigTypeError,
     r"--cfg-options train_cfg.max_epochs=abc: train_cfg.max_epochs is an "
     r"integer in the config \(6\), got 'abc'"),
    ('train_cfg.max_epochs=1.5', ConfigTypeError,
     r'max_epochs is an integer in the config \(6\), got 1.5'),
    ('optim_wrapper.optimizer.lr=nan', ConfigValueError,
     r'--cfg-options optim_wrapper.optimizer.lr=nan: nan is not a usable '
     r'setting \(not a finite number\)'),
    ('model=1', ConfigTypeError,
     r'--cfg-options model=1: model is a dict in the config; set the keys '
     r'inside it \(e.g. model.KEY=VALUE\) instead'),
    ('train_pipeline=x', ConfigTypeError, r'train_pipeline is a list'),
])
def test_cfg_option_of_the_wrong_kind(tiny_coco, tmp_path, option, error,
                                      message):
    with pytest.raises(error, match=message):
        train(tiny_coco, tmp_path, option)


@pytest.mark.parametrize(
    'setting', ['auto_scale_lr=None', 'auto_scale_lr.base_batch_size=0'])
def test_auto_scale_lr_without_a_positive_base(tiny_coco, tmp_path, setting):
    with pytest.raises(
            UserInputError,
            match=r'--auto-scale-lr needs auto_scale_lr=dict\(base_batch_size'
            r'=N\) with N > 0 in the config'):
        train(tiny_coco, tmp_path, setting, extra=['--auto-scale-lr'])


# --- tools/deployment/pytorch2onnx.py -------------------------------------

onnx_tool = load_tool('deployment/pytorch2onnx')


@pytest.mark.parametrize('argv, message', [
    (['--shape', '0', '0'], "argument --shape: 0 is not a multiple of 32 in "
     r'[32, 8192]'),
    (['--shape', '-64', '64'], 'argument --shape: -64 is not a multiple'),
    (['--shape', '100000', '64'], 'argument --shape: 100000 is not'),
    (['--shape', 'a', '64'], "argument --shape: 'a' is not an integer"),
    (['--verify-shape', '16', '16'], 'argument --verify-shape: 16 is not'),
    (['--verify-shape', '16'], 'argument --verify-shape: expected 2 '
     'arguments'),
])
def test_onnx_export_shapes(capsys, argv, message):
    assert message in usage_error(capsys, onnx_tool.main, ['t0', *argv])


def test_onnx_opset_the_exporter_lacks(tmp_path):
    out = tmp_path / 'x.onnx'
    with pytest.raises(
            ConfigValueError,
            match=r'--opset 3: Unsupported (ONNX opset version|'
            r"onnx_opset_version): 3 \(by torch .*'s exporter\)"):
        onnx_tool.main(['t0', '--opset', '3', '--out', str(out)])
    assert not out.exists()


def test_onnx_export_into_a_missing_folder(tmp_path):
    out = tmp_path / 'new' / 'folder' / 't0.onnx'
    onnx_tool.main([
        't0', '--out',
        str(out), '--shape', '64', '64', '--verify-shape', '64', '64'
    ])
    assert out.stat().st_size > 1000
    assert os.listdir(out.parent) == ['t0.onnx']  # no temporary file left


# --- tools/analysis_tools/get_flops.py ------------------------------------


def test_get_flops_of_an_unknown_model():
    with pytest.raises(
            ConfigValueError, match="'x' is neither a FasterNet "
            'preset'):
        load_tool('analysis_tools/get_flops').main(['x'])


# --- tools/image_demo.py --------------------------------------------------

demo_tool = load_tool('image_demo')


@pytest.mark.parametrize('case, message', [
    ('not an image', "argument img: '{config}' is not an image that OpenCV "
     'can read (e.g. .jpg, .png)'),
    ('image URL', "argument img: 'http://127.0.0.1:9/x.jpg': no such file"),
    ('no extension', "argument --out-file: 'result': the file name must end "
     'in an image extension (.jpg, .jpeg, .png, .bmp, .tif, .tiff, .webp), '
     'which selects the format'),
    ('cuda', 'argument --device: cuda: this machine has 0 CUDA device(s); '
     'use --device cpu'),
    ('score nan', 'argument --score-thr: nan is not a score in [0, 1]'),
    ('score 1.5', 'argument --score-thr: 1.5 is not a score in [0, 1]'),
])
def test_image_demo_arguments(capsys, image, det_checkpoint, case, message):
    if case == 'cuda' and torch.cuda.is_available():
        pytest.skip('this machine has a GPU')
    img = {
        'not an image': DET_DEMO_CONFIG,
        'image URL': 'http://127.0.0.1:9/x.jpg'
    }.get(case, image)
    argv = [img, DET_DEMO_CONFIG, det_checkpoint]
    argv += {
        'no extension': ['--out-file', 'result'],
        'cuda': ['--device', 'cuda'],
        'score nan': ['--score-thr', 'nan'],
        'score 1.5': ['--score-thr', '1.5'],
    }.get(case, [])
    assert usage_error(capsys, demo_tool.main,
                       argv).endswith('error: ' +
                                      message.format(config=DET_DEMO_CONFIG))


@pytest.mark.parametrize('how', ['same path', 'symlink'])
def test_image_demo_never_draws_over_its_input(tmp_path, image, det_checkpoint,
                                               how):
    img = tmp_path / 'in.png'
    img.write_bytes(open(image, 'rb').read())
    out = img
    if how == 'symlink':
        out = tmp_path / 'out.png'
        os.symlink(img, out)
    before = img.read_bytes()
    with pytest.raises(UserInputError, match=r'the output .* is the input'):
        demo_tool.main([
            str(img), DET_DEMO_CONFIG, det_checkpoint, '--out-file',
            str(out)
        ])
    assert img.read_bytes() == before


def test_image_demo_of_a_segmentation_config(image, det_checkpoint):
    with pytest.raises(
            UserInputError,
            match=r'is not a detection config .*tools/test.py '
            '--show-dir'):
        demo_tool.main([image, SEG_DEMO_CONFIG, det_checkpoint])


# --- tools/model_converters/fasternet_deploy.py ---------------------------

deploy_tool = load_tool('model_converters/fasternet_deploy')


@pytest.mark.parametrize('how', ['same path', 'symlink', 'hard link'])
def test_converter_refuses_to_write_over_its_input(tmp_path, det_checkpoint,
                                                   how):
    ckpt = tmp_path / 'epoch_1.pth'
    ckpt.write_bytes(open(det_checkpoint, 'rb').read())
    out = ckpt
    if how != 'same path':
        out = tmp_path / 'deployed.pth'
        (os.symlink if how == 'symlink' else os.link)(ckpt, out)
    size = ckpt.stat().st_size
    with pytest.raises(
            UserInputError,
            match=r'the output .* is the input .*: writing it would destroy '
            'the input; give the output another file name'):
        deploy_tool.main([DET_DEMO_CONFIG, str(ckpt), str(out)])
    assert ckpt.stat().st_size == size


def test_converter_writes_atomically(tmp_path, det_checkpoint, monkeypatch):
    out = tmp_path / 'deployed.pth'
    out.write_bytes(b'previous')

    def fail(src, dst):
        raise OSError(errno.ENOSPC, 'No space left on device')

    monkeypatch.setattr('fasternet_mm.runtime.fileio.os.replace', fail)
    with pytest.raises(UserInputError, match='No space left on device'):
        deploy_tool.main([DET_DEMO_CONFIG, det_checkpoint, str(out)])
    assert out.read_bytes() == b'previous'
    assert os.listdir(tmp_path) == ['deployed.pth']
    monkeypatch.undo()
    deploy_tool.main([DET_DEMO_CONFIG, det_checkpoint, str(out)])
    assert 'state_dict' in torch.load(str(out), weights_only=False)


def test_converter_refuses_a_checkpoint_of_another_model(tmp_path):
    other = tmp_path / 'upernet.pth'
    torch.save(
        {'state_dict': build_model_from_cfg(SEG_DEMO_CONFIG).state_dict()},
        other)
    with pytest.raises(
            CheckpointError, match=r'does not match this model exactly: '):
        deploy_tool.main(
            [DET_DEMO_CONFIG,
             str(other),
             str(tmp_path / 'out.pth')])
    assert not (tmp_path / 'out.pth').exists()


# --- tools/deployment/deploy.py -------------------------------------------


@pytest.mark.parametrize('count,why', [('0', '0 is not a positive count'),
                                       ('x', "'x' is not an integer")])
def test_deploy_calibration_count_must_be_positive(capsys, det_checkpoint,
                                                   tmp_path, count, why):
    assert usage_error(capsys,
                       load_tool('deployment/deploy').main, [
                           DET_DEMO_CONFIG, det_checkpoint, '--precision',
                           'int8', '--calib-images', count, '--work-dir',
                           str(tmp_path / 'out')
                       ]).endswith(f'error: argument --calib-images: {why}')
    assert not (tmp_path / 'out').exists()


def test_deploy_missing_checkpoint_is_a_usage_error(capsys, tmp_path):
    assert usage_error(
        capsys,
        load_tool('deployment/deploy').main,
        [DET_DEMO_CONFIG, 'nope.pth', '--work-dir',
         str(tmp_path / 'out')
         ]).endswith("error: argument checkpoint: 'nope.pth': no such file")
