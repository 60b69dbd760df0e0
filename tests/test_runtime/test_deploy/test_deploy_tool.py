"""tools/deployment/deploy.py never deletes or hides what is at
--work-dir, and exports only a checkpoint that fits the model, with the
config's classes. The refusals come before any export work (on both
stacks); the exports themselves run where mmdeploy does."""
import importlib.util
import json
import os
import os.path as osp

import pytest
import torch
from helpers import DET_DEMO_CONFIG, REPO_ROOT, load_tool

from fasternet_mm.errors import (CheckpointError, ConfigTypeError,
                                 UserInputError)
from fasternet_mm.runtime import build_model_from_cfg, load_config
from fasternet_mm.runtime.deploy import model_hash
from fasternet_mm.runtime.deploy.export import check_target

SEG_DEMO_CONFIG = osp.join(REPO_ROOT, 'configs', 'demo',
                           'upernet_fasternet_t0_ade20k_demo.py')
CLASSES = ['circle', 'square', 'triangle', 'star']
deploy_tool = load_tool('deployment/deploy')


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory):
    """The demo Mask R-CNN's weights, with its classes, in a run folder."""
    folder = tmp_path_factory.mktemp('run')
    path = folder / 'epoch_1.pth'
    torch.save(
        dict(
            state_dict=build_model_from_cfg(DET_DEMO_CONFIG).state_dict(),
            meta=dict(dataset_meta=dict(classes=CLASSES))), path)
    (folder / 'train.log').write_text('log')
    return str(path)


def deploy(checkpoint, work_dir, *extra, config=DET_DEMO_CONFIG):
    deploy_tool.main([config, checkpoint, '--work-dir', str(work_dir), *extra])


def tree(folder):
    return sorted(
        osp.relpath(osp.join(d, f), folder) for d, _, fs in os.walk(folder)
        for f in fs)


def test_a_folder_of_other_files_is_refused_and_kept(checkpoint, tmp_path,
                                                     monkeypatch):
    user = tmp_path / 'mine'
    (user / 'sub').mkdir(parents=True)
    (user / 'notes.txt').write_text('notes')
    (user / 'sub' / 'x').write_text('x')
    with pytest.raises(
            UserInputError,
            match=r"--work-dir '.*mine' holds files that are not an export "
            r'of this model: give another folder, or add --force'):
        deploy(checkpoint, user)
    assert tree(user) == ['notes.txt', 'sub/x']
    monkeypatch.chdir(user)  # "." too
    with pytest.raises(UserInputError, match="--work-dir '.' holds files"):
        deploy(checkpoint, '.')


@pytest.mark.parametrize('extra', [[], ['--force']])
def test_the_checkpoints_own_folder_is_never_a_target(checkpoint, extra):
    folder = osp.dirname(checkpoint)
    before = tree(folder)
    for target in (folder, osp.dirname(folder)):
        with pytest.raises(
                UserInputError,
                match=r'holds the checkpoint .*: an export never writes into '
                'the folder of its checkpoint'):
            deploy(checkpoint, target, *extra)
    assert tree(folder) == before


@pytest.mark.parametrize('kind', ['file', 'symlink'])
def test_a_file_or_a_symlink_at_the_path_is_refused(checkpoint, tmp_path,
                                                    kind):
    target = tmp_path / 'out'
    if kind == 'file':
        target.write_text('data')
    else:
        (tmp_path / 'real').mkdir()
        os.symlink(tmp_path / 'real', target)
    what = 'file' if kind == 'file' else 'symbolic link'
    with pytest.raises(UserInputError, match=rf"'.*out' is a {what}"):
        deploy(checkpoint, target, '--force')
    assert sorted(os.listdir(tmp_path)) == sorted(
        ['out'] + (['real'] if kind == 'symlink' else []))


def test_an_earlier_export_of_the_same_model_may_be_replaced(tmp_path):
    earlier = tmp_path / 'earlier'
    earlier.mkdir()
    identity = model_hash(load_config(DET_DEMO_CONFIG))
    (earlier / 'deploy.json').write_text(
        json.dumps(
            dict(
                fasternet_mm=dict(
                    backend='onnxruntime',
                    precision='fp32',
                    scope='mmdet',
                    model_hash=identity,
                    output_names=['dets', 'labels', 'masks'],
                    input_range=dict(
                        min_hw=[32, 32],
                        max_hw=[64, 64],
                        max_batch=None,
                        divisor=32),
                    dataset_meta=dict(classes=CLASSES)))))
    check_target(str(earlier), '/elsewhere/x.pth', identity, force=False)
    with pytest.raises(UserInputError, match='not an export of this model'):
        check_target(str(earlier), '/elsewhere/x.pth', 'another', False)


def test_another_models_checkpoint_is_refused_naming_the_part(tmp_path):
    """As tools/test.py refuses it (the same CheckpointFitHook)."""
    other = tmp_path / 'upernet.pth'
    torch.save(
        dict(state_dict=build_model_from_cfg(SEG_DEMO_CONFIG).state_dict()),
        other)
    with pytest.raises(
            CheckpointError,
            match=r'does not fit this model: it would leave neck \(0 of '):
        deploy(str(other), tmp_path / 'out')
    assert not (tmp_path / 'out').exists()


def test_a_checkpoint_of_other_classes_is_refused(tmp_path):
    path = tmp_path / 'five.pth'
    torch.save(
        dict(
            state_dict=build_model_from_cfg(DET_DEMO_CONFIG).state_dict(),
            meta=dict(dataset_meta=dict(classes=CLASSES + ['hexagon']))), path)
    with pytest.raises(
            CheckpointError,
            match=r"was trained for the classes \['circle', .*'hexagon'\], "
            r"the config names \['circle', 'square', 'triangle', 'star'\]"):
        deploy(str(path), tmp_path / 'out')


def test_cfg_options_that_break_the_config_are_one_error(checkpoint, tmp_path):
    with pytest.raises(ConfigTypeError, match=r'model is a dict'):
        deploy(checkpoint, tmp_path / 'out', '--cfg-options', 'model=1')


@pytest.mark.skipif(
    importlib.util.find_spec('mmdeploy') is None,
    reason='exports run on the torch 2.1 stack (mmdeploy 1.3.1)')
def test_force_writes_the_export_beside_other_files(checkpoint, tmp_path):
    user = tmp_path / 'mine'
    user.mkdir()
    (user / 'notes.txt').write_text('notes')
    (user / 'deploy.json').write_text('an old file of the same name')
    deploy(checkpoint, user, '--force', '--precision', 'fp32')
    files = tree(user)
    assert {'notes.txt', 'end2end.onnx', 'deploy.json'} <= set(files)
    assert (user / 'notes.txt').read_text() == 'notes'
    with open(user / 'deploy.json') as f:
        record = json.load(f)['fasternet_mm']
    assert record['dataset_meta']['classes'] == CLASSES
    assert not [n for n in os.listdir(tmp_path) if n.startswith('.')]
    deploy(checkpoint, user)  # now an earlier export of this model
