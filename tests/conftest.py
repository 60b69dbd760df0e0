import os
import os.path as osp

import pytest

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
GOLDEN_DIR = os.environ.get('FASTERNET_MM_GOLDEN',
                            osp.join(REPO_ROOT, '..', 'shared', 'golden'))


@pytest.fixture(scope='session')
def golden_dir():
    if not osp.isdir(GOLDEN_DIR):
        pytest.fail(f'golden data not found at {GOLDEN_DIR}; set '
                    'FASTERNET_MM_GOLDEN to the folder holding the .pt files')
    return GOLDEN_DIR


def load_tool(name):
    """Import ``tools/<name>.py`` (tools are scripts, not a package)."""
    import importlib.util
    path = osp.join(REPO_ROOT, 'tools', f'{name}.py')
    spec = importlib.util.spec_from_file_location(f'tools_{name}', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_tool(script, *args):
    """Run ``tools/<script>`` as users do, in a fresh process.

    Returns stdout and stderr; a non-zero exit fails the test with both.
    (In one process, mmengine's instance registry would hand a test run the
    training run's visualizer, named 'visualizer' by the configs.)
    """
    import subprocess
    import sys
    proc = subprocess.run(
        [sys.executable,
         osp.join(REPO_ROOT, 'tools', script), *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        env=dict(os.environ, PYTHONWARNINGS='ignore'))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout + proc.stderr


# The authors' release (../shared/docs/fasternet-reference.md): the configs
# point their backbones' init_cfg at these URLs. Tests never download them.
RELEASE_URL = 'https://github.com/JierunChen/FasterNet/releases/download/v1.0/'
OFFICIAL_WEIGHTS = {
    't0': 'fasternet_t0-epoch.281-val_acc1.71.9180.pth',
    't1': 'fasternet_t1-epoch.291-val_acc1.76.2180.pth',
    't2': 'fasternet_t2-epoch.289-val_acc1.78.8860.pth',
    's': 'fasternet_s-epoch.299-val_acc1.81.2840.pth',
    'm': 'fasternet_m-epoch.291-val_acc1.82.9620.pth',
    'l': 'fasternet_l-epoch.299-val_acc1.83.5060.pth',
}


def official_url(arch):
    """The release URL of the ImageNet-1K weights of ``arch``."""
    return RELEASE_URL + OFFICIAL_WEIGHTS[arch]


DET_DEMO_CONFIG = osp.join(REPO_ROOT, 'configs', 'demo',
                           'mask_rcnn_fasternet_t0_coco_demo.py')


def coco_options(root, batch_size=2):
    """``--cfg-options`` pointing the detection demo config at ``root``."""
    opts = [f'train_dataloader.batch_size={batch_size}']
    for split in ('train', 'val', 'test'):
        opts += [
            f'{split}_dataloader.dataset.data_root={root}/',
            f'{split}_dataloader.num_workers=0',
            f'{split}_dataloader.persistent_workers=False',
        ]
    ann = f'{root}/annotations/instances_val2017.json'
    return opts + [
        f'val_evaluator.ann_file={ann}', f'test_evaluator.ann_file={ann}'
    ]


@pytest.fixture(scope='session')
def tiny_coco(tmp_path_factory):
    """A 6 + 3 image COCO-format set of 64x64 synthetic scenes."""
    from fasternet_mm.demo import make_coco_demo
    root = str(tmp_path_factory.mktemp('coco_tiny'))
    make_coco_demo(root, num_train=6, num_val=3, img_size=64, progress=False)
    return root
