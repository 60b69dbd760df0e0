"""Bad input gets an error that names the problem and the fix.

Each case goes through ``tools/train.py`` or ``tools/test.py`` with the
detection demo config on a tiny generated set; one case per tool also runs
the script itself to check that the user sees the message, not a traceback.
"""
import json
import os.path as osp
import shutil

import pytest
import torch
from helpers import (DET_DEMO_CONFIG, REPO_ROOT, coco_options, load_tool,
                     run_tool)

from fasternet_mm.errors import UserInputError

train_tool = load_tool('train')
test_tool = load_tool('test')


def train(root, work_dir, *options, extra=()):
    train_tool.main([
        DET_DEMO_CONFIG, '--work-dir',
        str(work_dir), *extra, '--cfg-options', 'train_cfg.max_epochs=1',
        *coco_options(root), *options
    ])


@pytest.fixture
def coco_copy(tiny_coco, tmp_path):
    root = tmp_path / 'coco'
    shutil.copytree(tiny_coco, root)
    return root


@pytest.fixture(scope='module')
def foreign_checkpoint(tmp_path_factory):
    """A plain state dict of a model that is not this detector."""
    path = tmp_path_factory.mktemp('ckpt') / 'resnet_like.pth'
    torch.save(
        {
            'conv1.weight': torch.zeros(64, 3, 7, 7),
            'fc.weight': torch.zeros(10, 2048)
        }, path)
    return str(path)


@pytest.fixture(scope='module')
def truncated_checkpoint(foreign_checkpoint, tmp_path_factory):
    path = tmp_path_factory.mktemp('ckpt') / 'truncated.pth'
    with open(foreign_checkpoint, 'rb') as f:
        path.write_bytes(f.read()[:300])
    return str(path)


@pytest.mark.parametrize('option, message', [
    ('model.backbone.depth=50',
     r"FasterNet got unexpected argument\(s\) \['depth'\]; valid arguments "
     r"are \['arch', .* These look inherited from a ResNet base config"),
    ('model.backbone.arch=xl',
     r"Unknown FasterNet arch 'xl'; valid archs are \['t0', 't1', 't2', 's'"),
    ('model.backbone.out_indices=[0,5]',
     r'out_indices must be distinct stage indices in \[0, 1, 2, 3\]'),
    ('model.data_preprocessor.pad_size_divisor=1',
     r'pad_size_divisor is 1: images of a size not divisible by 32 .* set '
     r'pad_size_divisor=32'),
])
def test_bad_config_value(tiny_coco, tmp_path, option, message):
    with pytest.raises(UserInputError, match=message):
        train(tiny_coco, tmp_path, option)


def test_cfg_option_that_cannot_merge(tiny_coco, tmp_path):
    with pytest.raises(
            UserInputError,
            match=r'--cfg-options cannot be applied: init_cfg='):
        train(tiny_coco, tmp_path, 'model.backbone.init_cfg.type=Pretrained')


def test_missing_data_root_names_path_and_readme_section(tmp_path):
    missing = str(tmp_path / 'no_such_coco')
    with pytest.raises(
            UserInputError,
            match=rf"train data root '{missing}/' does not exist"
            r".*README section 'Datasets'"):
        train(missing, tmp_path)


@pytest.mark.parametrize('content, message', [
    ('images,annotations\n1,2\n', r'JSONDecodeError: Expecting value'),
    ('{"images": [], "annotations": []}', r"KeyError: 'categories'"),
    ('{"images": [', r'JSONDecodeError: Expecting value'),
    ('{"images": [], "annotations": [], "categories": []}',
     r'the dataset has no sample'),
])
def test_bad_annotation_file(coco_copy, tmp_path, content, message):
    """mmdet's own parse finds what is wrong; the tool names the file."""
    (coco_copy / 'annotations' /
     'instances_train2017.json').write_text(content)
    with pytest.raises(UserInputError, match=message):
        train(str(coco_copy), tmp_path)


def test_annotations_all_filtered_is_an_empty_dataset(coco_copy, tmp_path):
    ann = coco_copy / 'annotations' / 'instances_train2017.json'
    coco = json.loads(ann.read_text())
    coco['annotations'] = []
    ann.write_text(json.dumps(coco))
    with pytest.raises(
            UserInputError,
            match='the dataset has no sample .*check its files and its '
            'filter_cfg'):
        train(str(coco_copy), tmp_path)


def test_empty_segmentation_dataset(tmp_path):
    from fasternet_mm.demo import make_ade20k_demo
    root = tmp_path / 'ade'
    make_ade20k_demo(
        str(root), num_train=1, num_val=1, img_size=64, progress=False)
    for img in (root / 'images' / 'training').iterdir():
        img.unlink()
    config = osp.join(REPO_ROOT, 'configs', 'demo',
                      'upernet_fasternet_t0_ade20k_demo.py')
    with pytest.raises(
            UserInputError,
            match=r"train img_path folder '.*images/training' is empty"):
        train_tool.main([
            config, '--work-dir',
            str(tmp_path / 'work'), '--cfg-options',
            f'train_dataloader.dataset.data_root={root}',
            f'val_dataloader.dataset.data_root={root}'
        ])


@pytest.mark.parametrize('kind', ['truncated', 'foreign'])
def test_bad_backbone_init_checkpoint(tiny_coco, tmp_path, kind,
                                      truncated_checkpoint,
                                      foreign_checkpoint):
    path, message = {
        'truncated':
        (truncated_checkpoint, 'is not a readable PyTorch checkpoint'),
        'foreign': (foreign_checkpoint,
                    r'key\(s\) fit no FasterNet parameter: conv1.weight'),
    }[kind]
    with pytest.raises(UserInputError, match=message):
        train(tiny_coco, tmp_path, 'model.backbone.init_cfg._delete_=True',
              'model.backbone.init_cfg.type=Pretrained',
              f'model.backbone.init_cfg.checkpoint={path}')


@pytest.mark.parametrize('kind', ['truncated', 'foreign'])
def test_bad_load_from_checkpoint(tiny_coco, tmp_path, kind,
                                  truncated_checkpoint, foreign_checkpoint):
    path, message = {
        'truncated':
        (truncated_checkpoint, 'is not a readable PyTorch checkpoint'),
        'foreign':
        (foreign_checkpoint,
         r'does not fit this model: it would leave backbone \(0 of'),
    }[kind]
    with pytest.raises(UserInputError, match=message):
        train(tiny_coco, tmp_path, f'load_from={path}')


@pytest.mark.parametrize('kind', ['truncated', 'foreign'])
def test_bad_resume_checkpoint(tiny_coco, tmp_path, kind, truncated_checkpoint,
                               foreign_checkpoint):
    path, message = {
        'truncated':
        (truncated_checkpoint, 'is not a readable PyTorch checkpoint'),
        'foreign': (foreign_checkpoint,
                    r"not a training checkpoint of mmengine \(it lacks "
                    r"\['meta', 'state_dict', 'optimizer', 'message_hub'\]"),
    }[kind]
    with pytest.raises(UserInputError, match=message):
        train(tiny_coco, tmp_path, extra=['--resume', path])


def test_test_tool_rejects_foreign_checkpoint(tiny_coco, tmp_path,
                                              foreign_checkpoint):
    with pytest.raises(UserInputError, match='does not fit this model'):
        test_tool.main([
            DET_DEMO_CONFIG, foreign_checkpoint, '--work-dir',
            str(tmp_path), '--cfg-options', *coco_options(tiny_coco)
        ])


@pytest.mark.parametrize('tool', ['train', 'test'])
def test_scripts_print_the_error_without_traceback(tmp_path, tool,
                                                   foreign_checkpoint):
    missing = str(tmp_path / 'nowhere')
    args = [DET_DEMO_CONFIG] + ([foreign_checkpoint] if tool == 'test' else [])
    proc = run_tool(
        f'{tool}.py',
        *args,
        '--work-dir',
        str(tmp_path / 'work'),
        '--cfg-options',
        *coco_options(missing),
        check=False)
    assert proc.returncode == 1
    assert 'Traceback' not in proc.stderr
    split = 'train' if tool == 'train' else 'test'
    assert proc.stderr.strip().endswith(
        f"error: {split} data root '{missing}/' does not exist (from "
        f"{split}_dataloader.dataset.data_root); see the README section "
        "'Datasets' for the expected layout, or run 'make demo' / "
        "'make demo-seg' for the embedded demo sets")


def test_tta_of_an_instance_segmentation_model_is_refused(
        tiny_coco, tmp_path, foreign_checkpoint):
    with pytest.raises(
            UserInputError,
            match=r"--tta: MMDetection's DetTTAModel merges boxes only"):
        test_tool.main([
            DET_DEMO_CONFIG, foreign_checkpoint, '--tta', '--work-dir',
            str(tmp_path), '--cfg-options', *coco_options(tiny_coco)
        ])
