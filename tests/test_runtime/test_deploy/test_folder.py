"""A deployed folder is data from a stranger: each damage is one error
naming the file and the fix, before any backend reads a file outside the
folder.

The table runs on a folder of tools/deployment/deploy.py (the demo Mask
R-CNN, exported once per session) where mmdeploy exports (the torch 2.1
stack), and elsewhere on a folder written here: a one-op ONNX graph (and
its OpenVINO IR where OpenVINO is installed) with a deploy.json record,
read by the same code with the installed runtimes.
"""
import importlib.util
import json
import os
import os.path as osp
import shutil

import numpy as np
import onnx
import pytest
from helpers import DET_DEMO_CONFIG, coco_options, run_tool
from onnx import TensorProto, helper

from fasternet_mm.errors import CheckpointError
from fasternet_mm.runtime.deploy.backends import Runner
from fasternet_mm.runtime.deploy.configs import input_range
from fasternet_mm.runtime.deploy.folder import load_meta

BACKENDS = ['onnxruntime'
            ] + (['openvino'] if importlib.util.find_spec('openvino') else [])
EXPORTS = importlib.util.find_spec('mmdeploy') is not None


def write_folder(folder: str, backend: str) -> str:
    """``folder``: ``output = input + c`` (one initializer) for
    ``backend``, and its record."""
    os.makedirs(folder)
    const = helper.make_tensor('c', TensorProto.FLOAT, [1], [1.])
    graph = helper.make_graph(
        [helper.make_node('Add', ['input', 'c'], ['output'])], 'g', [
            helper.make_tensor_value_info('input', TensorProto.FLOAT,
                                          ['n', 3, 'h', 'w'])
        ], [
            helper.make_tensor_value_info('output', TensorProto.FLOAT,
                                          ['n', 3, 'h', 'w'])
        ], [const])
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid('', 16)], ir_version=8)
    onnx.save(model, osp.join(folder, 'end2end.onnx'))
    if backend == 'openvino':
        import openvino as ov
        ov.save_model(
            ov.convert_model(osp.join(folder, 'end2end.onnx')),
            osp.join(folder, 'end2end.xml'))
    record = dict(
        backend=backend,
        precision='fp32',
        scope='mmseg',
        model_hash='0123456789abcdef',
        config='written by test_folder.py',
        output_names=['output'],
        input_range=input_range(backend, 32),
        dataset_meta=dict(classes=['a', 'b'], palette=[[0, 0, 0], [9, 9, 9]]))
    with open(osp.join(folder, 'deploy.json'), 'w') as f:
        json.dump(dict(fasternet_mm=record), f)
    return folder


@pytest.fixture(scope='package')
def pristine(request, tmp_path_factory):
    """backend -> the undamaged folder, made once."""
    made = {}

    def get(backend):
        if backend not in made:
            made[backend] = request.getfixturevalue('exported')(
                'det', backend, 'fp32') if EXPORTS else write_folder(
                    str(tmp_path_factory.mktemp('folder') / backend), backend)
        return made[backend]

    return get


def open_and_run(folder: str) -> None:
    """What DeployedModel does with a folder: read the record, load the
    network, run it once."""
    Runner(folder, load_meta(folder)).run(np.zeros((1, 3, 64, 64)))


def record(change):
    """A damage of deploy.json's record: ``change(record)``."""

    def damage(folder):
        path = osp.join(folder, 'deploy.json')
        with open(path) as f:
            info = json.load(f)
        change(info['fasternet_mm'])
        with open(path, 'w') as f:
            json.dump(info, f)

    return damage


def write(name, data):

    def damage(folder):
        path = osp.join(folder, name)
        if osp.isdir(path):
            shutil.rmtree(path)
        else:
            os.remove(path)
        if data == 'dir':
            os.mkdir(path)
        elif data == 'loop':
            os.symlink(name, path)
        elif data.startswith('->'):
            os.symlink(data[2:], path)
        elif data != 'missing':
            with open(path, 'wb') as f:
                f.write(data.encode())

    return damage


def cut(name):

    def damage(folder):
        path = osp.join(folder, name)
        size = osp.getsize(path)
        with open(path, 'r+b') as f:
            f.truncate(size // 2)

    return damage


def external(location):
    """One initializer of end2end.onnx read from ``location`` (a symlink
    named weights.bin where ``location`` starts with ->)."""

    def damage(folder):
        path = osp.join(folder, 'end2end.onnx')
        model = onnx.load(path)
        tensor = model.graph.initializer[0]
        tensor.ClearField('raw_data')
        tensor.ClearField('float_data')
        tensor.data_location = TensorProto.EXTERNAL
        if location.startswith('->'):
            os.symlink(location[2:], osp.join(folder, 'weights.bin'))
        entry = tensor.external_data.add()
        entry.key, entry.value = 'location', location.lstrip('->') if \
            not location.startswith('->') else 'weights.bin'
        onnx.save(model, path)

    return damage


def missing_output(r):
    if r['scope'] == 'mmdet':
        r['output_names'] = ['dets', 'labels']
    else:
        r.update(scope='mmdet', output_names=['dets', 'labels'])


DAMAGED = 'is damaged: '
RECORD_KEYS = ('model_hash', 'backend', 'input_range', 'output_names',
               'dataset_meta', 'scope', 'precision')
MISSING = {
    f'no {key}':
    (record(lambda r, k=key: r.pop(k)), f'{DAMAGED}{key} is missing')
    for key in RECORD_KEYS
}
DAMAGES = {
    **MISSING,
    'backend of another type': (record(lambda r: r.update(backend=5)),
                                f'{DAMAGED}backend must be one of'),
    'input range upside down':
    (record(lambda r: r['input_range'].update(min_hw=[4096, 4096])),
     f'{DAMAGED}input_range must be'),
    'no classes': (record(lambda r: r['dataset_meta'].update(classes=[])),
                   f'{DAMAGED}dataset_meta must be'),
    'a colour out of range':
    (record(lambda r: r['dataset_meta'].update(palette=[[0, 0, 300]])),
     f'{DAMAGED}dataset_meta must be'),
    'output_names in the wrong order':
    (record(lambda r: r.update(output_names=r['output_names'][::-1] *
                               (1 + (len(r['output_names']) == 1)))),
     f'{DAMAGED}output_names must be one of'),
    'output_names the graph lacks':
    (record(missing_output), r'its graph returns \[.*\], not the '
     r'output_names'),
    'deploy.json not JSON': (write('deploy.json', '{"fasternet_mm": '),
                             'deploy.json is not valid JSON'),
    'deploy.json empty': (write('deploy.json',
                                ''), 'deploy.json is not valid JSON'),
    'deploy.json a list': (write('deploy.json', '[1, 2]'),
                           "deploy.json has no 'fasternet_mm' record"),
    'deploy.json a folder': (write('deploy.json', 'dir'),
                             r'deploy.json is missing \(or not a file\)'),
    'deploy.json missing': (write('deploy.json', 'missing'),
                            'holds no deploy.json: it is not a folder '
                            'written by tools/deployment/deploy.py'),
    'deploy.json outside': (write('deploy.json', '->/etc/hostname'),
                            'deploy.json leads outside its folder'),
    'no file at all': (lambda folder: [
        shutil.rmtree(osp.join(folder, n))
        if osp.isdir(osp.join(folder, n)) else os.remove(osp.join(folder, n))
        for n in os.listdir(folder)
    ], 'holds no deploy.json'),
}
NETWORK_DAMAGES = {
    'onnxruntime': {
        'onnx cut short':
        (cut('end2end.onnx'), r'cannot load .*end2end.onnx: '),
        'onnx garbage': (write('end2end.onnx', 'garbage' * 100),
                         r'cannot load .*end2end.onnx: '),
        'onnx empty': (write('end2end.onnx',
                             ''), r'cannot load .*end2end.onnx: '),
        'onnx missing': (write('end2end.onnx',
                               'missing'), r'end2end.onnx is missing'),
        'onnx a folder': (write('end2end.onnx', 'dir'),
                          r'end2end.onnx is missing \(or not a file\)'),
        'onnx a symlink loop': (write('end2end.onnx',
                                      'loop'), r'end2end.onnx is missing'),
        'onnx outside': (write('end2end.onnx', '->/etc/hostname'),
                         'end2end.onnx leads outside its folder'),
        'external data up the tree': (external('../../../../etc/passwd'),
                                      'reads tensors .* from external files'),
        'external data absolute':
        (external('/etc/passwd'), 'reads tensors .* from external files'),
        'external data through a symlink':
        (external('->/etc/passwd'), 'reads tensors .* from external '
         'files'),
    },
    'openvino': {
        'xml cut short': (cut('end2end.xml'), r'cannot load .*end2end.xml: '),
        'xml garbage': (write('end2end.xml',
                              'garbage'), r'cannot load .*end2end.xml: '),
        'bin cut short': (cut('end2end.bin'), r'cannot load .*end2end.xml: '),
        'bin missing': (write('end2end.bin',
                              'missing'), 'end2end.bin is missing'),
        'bin outside':
        (write('end2end.bin',
               '->/etc/passwd'), 'end2end.bin leads outside its folder'),
    },
}
CASES = [(b, name) for b in BACKENDS
         for name in [*DAMAGES, *NETWORK_DAMAGES[b]]]


@pytest.mark.parametrize('backend, case', CASES)
def test_a_damaged_folder_is_one_error(pristine, tmp_path, backend, case):
    damage, message = {**DAMAGES, **NETWORK_DAMAGES[backend]}[case]
    folder = str(tmp_path / 'deployed')
    shutil.copytree(pristine(backend), folder, symlinks=True)
    open_and_run(folder)  # the copy works
    damage(folder)
    with pytest.raises(CheckpointError, match=message):
        open_and_run(folder)


def test_the_test_tool_says_it_in_one_line(pristine, tmp_path, tiny_coco):
    folder = str(tmp_path / 'deployed')
    shutil.copytree(pristine('onnxruntime'), folder)
    record(lambda r: r.pop('model_hash'))(folder)
    proc = run_tool(
        'test.py',
        DET_DEMO_CONFIG,
        folder,
        '--cfg-options',
        *coco_options(tiny_coco),
        check=False)
    assert proc.returncode == 1
    assert 'Traceback' not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith(
        f'error: {folder}/deploy.json is damaged: model_hash is missing')
