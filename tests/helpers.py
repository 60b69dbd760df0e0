"""What the tests share: paths, running the tools, demo-set options.

pytest puts this folder on ``sys.path`` (``conftest.py`` lives here), so
test modules ``from helpers import ...``; fixtures live in conftest.py.
"""
import os
import os.path as osp
import subprocess
import sys

import numpy as np
import torch
from torch.nn.modules.batchnorm import _BatchNorm

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG_DIR = osp.join(REPO_ROOT, 'configs')


def load_tool(name):
    """Import ``tools/<name>.py`` (tools are scripts, not a package)."""
    import importlib.util
    path = osp.join(REPO_ROOT, 'tools', f'{name}.py')
    spec = importlib.util.spec_from_file_location(f'tools_{name}', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def tool_env(*paths, **extra):
    """The environment for a tool's process: this checkout first on the
    path (not another checkout's editable install), then ``paths`` (e.g. a
    test folder whose hooks a config imports), warnings off; ``PYTHON`` is
    this interpreter, for the shell launchers (tools/dist_*.sh, the demos).
    """
    path = os.pathsep.join(
        filter(None, [REPO_ROOT, *paths,
                      os.environ.get('PYTHONPATH')]))
    env = dict(
        os.environ,
        PYTHONPATH=path,
        PYTHONWARNINGS='ignore',
        PYTHON=sys.executable)
    env.update(extra)
    return env


# Seconds; a tool that runs longer has hung (a deadlocked rank, a worker
# that never returns): the test fails instead of the session hanging. The
# longest runs (the demo scripts) take a few minutes on 2 busy CPU cores.
TOOL_TIMEOUT = 900


def _run(cmd, check, env, pythonpath):
    """Run ``cmd`` from the checkout's root in :func:`tool_env` (``env``
    adds variables, ``pythonpath`` folders); with ``check`` a non-zero exit
    fails the test with the output's end. The ``CompletedProcess``."""
    proc = subprocess.run([str(c) for c in cmd],
                          cwd=REPO_ROOT,
                          capture_output=True,
                          text=True,
                          env=tool_env(*pythonpath, **(env or {})),
                          timeout=TOOL_TIMEOUT)
    if check:
        assert proc.returncode == 0, (f'exit {proc.returncode}\n' +
                                      proc.stdout[-3000:] +
                                      proc.stderr[-3000:])
    return proc


def run_tool(script, *args, check=True, env=None, pythonpath=()):
    """Run ``tools/<script>`` as users do, in a fresh process.

    By default a non-zero exit fails the test with the output, and the
    result is stdout and stderr together; ``check=False`` returns the
    ``subprocess.CompletedProcess`` whatever the exit status, for tests of
    failing runs. ``env``: more environment variables (see
    :func:`tool_env`); ``pythonpath``: folders the process imports from,
    e.g. a test folder with hooks that a test config names.
    (In one process, mmengine's instance registry would hand a test run the
    training run's visualizer, named 'visualizer' by the configs.)
    """
    proc = _run([sys.executable,
                 osp.join(REPO_ROOT, 'tools', script), *args], check, env,
                pythonpath)
    return proc.stdout + proc.stderr if check else proc


def run_upstream_tool(package,
                      script,
                      *args,
                      check=True,
                      env=None,
                      pythonpath=()):
    """Run ``package``'s own ``tools/<script>`` (``mmdet`` / ``mmseg``, as
    installed with its ``.mim`` tools) as :func:`run_tool` runs ours; skips
    the test where the package was installed without its tools."""
    import importlib

    import pytest
    tool = osp.join(
        osp.dirname(importlib.import_module(package).__file__), '.mim',
        'tools', script)
    if not osp.isfile(tool):
        pytest.skip(f'{package} is installed without its tools')
    proc = _run([sys.executable, tool, *args], check, env, pythonpath)
    return proc.stdout + proc.stderr if check else proc


def run_launcher(script, *args, check=True, env=None, pythonpath=()):
    """Run the shell launcher ``tools/<script>`` (``dist_train.sh``,
    ``dist_test.sh``, ``demo/det_demo.sh``) with bash, as users do; it
    starts ``$PYTHON``, this interpreter. Returns as :func:`run_tool`."""
    proc = _run(['bash', osp.join(REPO_ROOT, 'tools', script), *args], check,
                env, pythonpath)
    return proc.stdout + proc.stderr if check else proc


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


def randomise_norms(model, seed=0):
    """Non-trivial BatchNorm statistics and affine in ``model`` (so folding
    a norm changes the weights); returns the model."""
    gen = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, _BatchNorm):
            n = m.num_features
            m.weight.data.copy_(torch.rand(n, generator=gen) + .5)
            m.bias.data.copy_(torch.rand(n, generator=gen) - .5)
            m.running_mean.copy_(torch.rand(n, generator=gen) - .5)
            m.running_var.copy_(torch.rand(n, generator=gen) * 1.5 + .5)
    return model


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


def ade_options(root):
    """``--cfg-options`` pointing the segmentation demo config at ``root``,
    data loaded in the main process."""
    return [
        f'{s}_dataloader.{k}' for s in ('train', 'val', 'test')
        for k in (f'dataset.data_root={root}', 'num_workers=0',
                  'persistent_workers=False')
    ]


def parse_options(options):
    """``--cfg-options`` strings as the tools parse them (mmengine's
    ``DictAction``: numbers and booleans typed), for in-process calls."""
    import argparse

    from mmengine.config import DictAction
    parser = argparse.ArgumentParser()
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args(['--cfg-options', *options]).cfg_options


def box_iou(a, b):
    """Intersection over union of two (x1, y1, x2, y2) boxes."""
    lt, rb = np.maximum(a[:2], b[:2]), np.minimum(a[2:], b[2:])
    inter = np.prod(np.clip(rb - lt, 0, None))
    area = lambda x: np.prod(x[2:] - x[:2])  # noqa: E731
    return inter / max(area(a) + area(b) - inter, 1e-9)


def assert_twin_instances(ref, got, score_thr=0.1, image=None):
    """Every detection of ``ref`` (an InstanceData) scoring ``score_thr`` or
    more has a twin among ``got``'s: its label, a box of IoU > 0.99, a
    score within 0.01 and, where ``ref`` has masks, a mask within a few
    pixels. ``image`` names the image in failures. Returns how many
    detections were compared."""
    import torch
    assert ('masks' in ref) == ('masks' in got), (image, got.keys())
    compared = 0
    for j in torch.nonzero(ref.scores >= score_thr)[:, 0].tolist():
        same = torch.nonzero(got.labels == ref.labels[j])[:, 0].tolist()
        ious = [
            box_iou(ref.bboxes[j].numpy(), got.bboxes[k].numpy()) for k in same
        ]
        assert ious and max(ious) > 0.99, (image, j, ious)
        k = same[int(np.argmax(ious))]
        diff = abs(float(ref.scores[j] - got.scores[k]))
        assert diff < 0.01, (image, j, diff)
        if 'masks' in ref:
            ref_mask = torch.as_tensor(ref.masks[j]).bool()
            got_mask = torch.as_tensor(got.masks[k]).bool()
            assert ref_mask.shape == got_mask.shape, (image, j)
            changed = (ref_mask ^ got_mask).sum().item()
            union = (ref_mask | got_mask).sum().item()
            # a box shifted by a fraction of a pixel may move a pixel
            assert changed <= max(2, 0.05 * union), (image, j, changed, union)
        compared += 1
    return compared


def assert_deployed_twins(model, deployed, dataset, score_thr=0.1):
    """Per image of ``dataset``, :func:`assert_twin_instances` of the
    PyTorch ``model``'s detections against the ``deployed`` model's (a
    DeployedModel). Returns how many detections were compared."""
    import copy

    import torch
    from mmengine.dataset import pseudo_collate
    compared = 0
    for i in range(len(dataset)):
        data = pseudo_collate([dataset[i]])
        with torch.no_grad():
            ref = model.test_step(copy.deepcopy(data))[0].pred_instances
        got = deployed.test_step(copy.deepcopy(data))[0].pred_instances
        compared += assert_twin_instances(ref, got, score_thr, i)
    return compared
