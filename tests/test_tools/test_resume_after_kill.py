"""A training run killed with SIGKILL resumes with ``--resume`` (auto)
from its last checkpoint and loses nothing."""
import glob
import hashlib
import os.path as osp
import signal
import subprocess
import sys
import time

import torch
from helpers import (DET_DEMO_CONFIG, REPO_ROOT, coco_options, run_tool,
                     tool_env)

HERE = osp.dirname(osp.abspath(__file__))
MAX_ITERS = 16
CONFIG = f"""_base_ = {DET_DEMO_CONFIG!r}
custom_imports = dict(
    imports=['fasternet_mm.runtime', 'dump_state_hook'],
    allow_failed_imports=False)
custom_hooks = [*_base_.custom_hooks, dict(type='DumpStateHook')]
train_cfg = dict(
    _delete_=True, type='IterBasedTrainLoop', max_iters={MAX_ITERS})
val_dataloader = None
val_cfg = None
val_evaluator = None
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0,
         end={MAX_ITERS})
]
default_hooks = dict(
    checkpoint=dict(by_epoch=False, interval=2, max_keep_ckpts=-1),
    logger=dict(interval=1))
"""


def sha256(path):
    with open(path, 'rb') as f:
        return hashlib.sha256(f.read()).hexdigest()


def train_args(config, work_dir, root, *extra):
    return [
        str(config),
        '--work-dir',
        str(work_dir),
        *extra,
        '--cfg-options',
        *[
            o for o in coco_options(root)
            if o.startswith('train')  # no validation in this config
        ]
    ]


def equal_tensors(a, b):
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(
            equal_tensors(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(map(equal_tensors, a, b))
    if torch.is_tensor(a):
        return torch.equal(a, b)
    return a == b


def test_sigkill_then_resume_auto_continues_without_loss(tiny_coco, tmp_path):
    config = tmp_path / 'resume.py'
    config.write_text(CONFIG)
    work_dir = tmp_path / 'work'
    # Started (and killed) by hand: run_tool waits for the end.
    first = subprocess.Popen([
        sys.executable,
        osp.join(REPO_ROOT, 'tools', 'train.py'),
        *train_args(config, work_dir, tiny_coco)
    ],
                             cwd=REPO_ROOT,
                             env=tool_env(HERE),
                             stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while not (work_dir / 'last_checkpoint').exists():
        assert first.poll() is None, 'training ended before a checkpoint'
        assert time.time() < deadline
        time.sleep(0.05)
    first.send_signal(signal.SIGKILL)
    first.wait()
    assert first.returncode == -signal.SIGKILL

    saved = (work_dir / 'last_checkpoint').read_text().strip()
    ckpt = torch.load(saved, weights_only=False)
    saved_iter = ckpt['meta']['iter']
    assert 2 <= saved_iter < MAX_ITERS
    first_logs = {
        p: open(p, 'rb').read()
        for p in glob.glob(str(work_dir / '*' / '*.log'))
    }
    assert len(first_logs) == 1
    ckpts = {p: sha256(p) for p in glob.glob(str(work_dir / 'iter_*.pth'))}

    out = run_tool(
        'train.py',
        *train_args(config, work_dir, tiny_coco, '--resume'),
        pythonpath=[HERE])
    assert f'resumed epoch: 0, iter: {saved_iter}' in out

    resumed = torch.load(work_dir / 'before_train_rank0.pth')
    assert resumed['iter'] == saved_iter
    assert equal_tensors(resumed['optimizer'], ckpt['optimizer'])
    assert resumed['optimizer']['state'], 'AdamW moments were not restored'
    assert equal_tensors(resumed['schedulers'], ckpt['param_schedulers'])
    assert torch.load(work_dir / 'after_train_rank0.pth')['iter'] == MAX_ITERS
    assert (work_dir / 'last_checkpoint'
            ).read_text().strip().endswith(f'iter_{MAX_ITERS}.pth')

    # Nothing of the first run is lost or altered: its log, its checkpoints
    # (the resumed run rewrites later ones, never the one it resumed from).
    for path, content in first_logs.items():
        assert open(path, 'rb').read() == content
    assert sha256(saved) == ckpts[saved]
    for path in ckpts:  # a later one may have been cut off by the kill
        if int(osp.basename(path)[5:-4]) <= saved_iter:
            assert sha256(path) == ckpts[path]
    assert len(glob.glob(str(work_dir / '*' / '*.log'))) == 2
