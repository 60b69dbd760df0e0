"""The ADE20K-format demo set: layout, labels, determinism, mmseg loading."""
import glob
import importlib.util
import os
import os.path as osp

import cv2
import numpy as np
import pytest
from helpers import REPO_ROOT
from mmengine.config import Config

from fasternet_mm.demo import (ADE20K_DEMO_CLASSES, ade20k_demo_exists,
                               ade20k_demo_metainfo, make_ade20k_demo)

DEMO_CONFIG = osp.join(REPO_ROOT, 'configs', 'demo',
                       'upernet_fasternet_t0_ade20k_demo.py')


def _files(root, kind, split, ext):
    return sorted(glob.glob(osp.join(root, kind, split, f'*.{ext}')))


@pytest.fixture(scope='module')
def demo_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('ade20k_demo'))
    make_ade20k_demo(
        root, num_train=6, num_val=3, img_size=64, seed=3, progress=False)
    return root


def test_layout_is_ade20k(demo_root):
    for split, num in (('training', 6), ('validation', 3)):
        imgs = _files(demo_root, 'images', split, 'jpg')
        anns = _files(demo_root, 'annotations', split, 'png')
        assert len(imgs) == len(anns) == num
        assert [osp.basename(p)[:-4] for p in imgs] == \
            [osp.basename(p)[:-4] for p in anns]
    assert osp.basename(_files(demo_root, 'images', 'training', 'jpg')[0]) \
        == 'ADE_train_00000001.jpg'


def test_label_maps_use_ade20k_indices(demo_root):
    """0 is ADE20K's "unlabeled"; the demo labels every pixel 1..5."""
    seen = set()
    for path in _files(demo_root, 'annotations', 'training', 'png'):
        label = cv2.imread(path, cv2.IMREAD_UNCHANGED)
        assert label.dtype == np.uint8 and label.shape == (64, 64)
        values = set(np.unique(label).tolist())
        assert values <= set(range(1, len(ADE20K_DEMO_CLASSES) + 1))
        assert 1 in values and len(values) >= 2  # background and a shape
        seen |= values
    assert len(seen) >= 3
    img = cv2.imread(_files(demo_root, 'images', 'training', 'jpg')[0])
    assert img.shape == (64, 64, 3)


def test_same_seed_same_files_other_seed_other_files(demo_root, tmp_path):
    again, other = str(tmp_path / 'again'), str(tmp_path / 'other')
    # More images than the fixture: image i does not depend on the set size.
    make_ade20k_demo(
        again, num_train=8, num_val=3, img_size=64, seed=3, progress=False)
    make_ade20k_demo(
        other, num_train=6, num_val=3, img_size=64, seed=4, progress=False)
    for kind, split, ext in (('images', 'training',
                              'jpg'), ('annotations', 'training', 'png'),
                             ('annotations', 'validation', 'png')):
        for path in _files(demo_root, kind, split, ext):
            rel = osp.relpath(path, demo_root)
            with open(path, 'rb') as a, open(osp.join(again, rel), 'rb') as b:
                assert a.read() == b.read(), rel
    first = osp.join('annotations', 'training', 'ADE_train_00000001.png')
    with open(osp.join(demo_root, first), 'rb') as a, \
            open(osp.join(other, first), 'rb') as b:
        assert a.read() != b.read()


def test_exists_only_for_a_complete_set(demo_root, tmp_path):
    assert ade20k_demo_exists(demo_root)
    assert not ade20k_demo_exists(str(tmp_path / 'missing'))
    cut = str(tmp_path / 'cut')
    make_ade20k_demo(cut, num_train=2, num_val=1, img_size=32, progress=False)
    os.remove(_files(cut, 'images', 'validation', 'jpg')[0])
    assert not ade20k_demo_exists(cut)


@pytest.mark.parametrize(
    'kwargs',
    [dict(num_train=0), dict(num_val=0),
     dict(img_size=16)])
def test_rejects_bad_sizes(tmp_path, kwargs):
    with pytest.raises(ValueError):
        make_ade20k_demo(str(tmp_path), progress=False, **kwargs)


def test_cli_writes_then_keeps_the_set(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location(
        'make_demo_data',
        osp.join(REPO_ROOT, 'tools', 'misc', 'make_demo_data.py'))
    cli = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cli)
    main = cli.main
    root = str(tmp_path / 'cli')
    main([
        'ade20k', root, '--num-train', '2', '--num-val', '1', '--img-size',
        '32', '--no-progress'
    ])
    assert 'wrote 2 train + 1 val images' in capsys.readouterr().out
    main(['ade20k', root])
    assert 'exists, keeping it' in capsys.readouterr().out
    assert len(_files(root, 'images', 'training', 'jpg')) == 2


def test_demo_config_loads_the_set_with_mmseg(demo_root):
    """mmseg's dataset, with reduce_zero_label, yields classes 0..4."""
    from mmengine.registry import init_default_scope
    from mmseg.registry import DATASETS

    import fasternet_mm  # noqa: F401
    init_default_scope('mmseg')
    cfg = Config.fromfile(DEMO_CONFIG)
    assert cfg.metainfo['classes'] == ade20k_demo_metainfo()['classes']
    assert cfg.metainfo['palette'] == ade20k_demo_metainfo()['palette']
    for split, num in (('train', 6), ('val', 3)):
        ds_cfg = cfg[f'{split}_dataloader'].dataset
        ds_cfg.data_root = demo_root
        dataset = DATASETS.build(ds_cfg)
        assert len(dataset) == num
        assert dataset.metainfo['classes'] == ADE20K_DEMO_CLASSES
        sample = dataset[0]
        gt = sample['data_samples'].gt_sem_seg.data
        values = set(gt.unique().tolist())
        assert values - {255} <= set(range(len(ADE20K_DEMO_CLASSES)))
        assert 0 in values  # the background, no longer ignored
