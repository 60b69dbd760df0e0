"""A run whose loss or weights turn NaN stops with an error and a non-zero
exit, before it saves a checkpoint of them, on every rank."""
import glob
import os.path as osp

import pytest
import torch
from helpers import (DET_DEMO_CONFIG, coco_options, load_tool, run_launcher,
                     run_tool)

from fasternet_mm.errors import ConfigValueError

pytestmark = pytest.mark.e2e  # pytest.ini: one stack only

HERE = osp.dirname(osp.abspath(__file__))
COMMON = """
custom_imports = dict(
    imports=['fasternet_mm.runtime', 'inject_nan_hook'],
    allow_failed_imports=False)
custom_hooks = [*_base_.custom_hooks,  # FiniteLossHook among them
                dict(type='InjectNaNHook', at=2, what={what!r},
                     ranks={ranks})]
train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters=3)
val_dataloader = None
val_cfg = None
val_evaluator = None
param_scheduler = []
default_hooks = dict(
    checkpoint=dict(by_epoch=False, interval=1, max_keep_ckpts=1),
    logger=dict(interval=1))
"""


def train(*args, launcher=None, env=None):
    """tools/train.py (or ``launcher``, e.g. dist_train.sh) with this
    folder's inject_nan_hook importable; the finished process."""
    options = dict(
        check=False,
        env=dict(OMP_NUM_THREADS='1', **(env or {})),
        pythonpath=[HERE])
    if launcher:
        return run_launcher(launcher, *args, **options)
    return run_tool('train.py', *args, **options)


def write_config(tmp_path, base, what, ranks=(0, )):
    path = tmp_path / 'nan.py'
    path.write_text(f'_base_ = {base!r}\n' +
                    COMMON.format(what=what, ranks=tuple(ranks)))
    return path


def det_options(root, batch_size=2):
    return [o for o in coco_options(root, batch_size) if o.startswith('train')]


def check_stopped_before_saving(proc, work_dir, what='the loss is', ranks=1):
    assert proc.returncode != 0
    # one message per rank (two ranks may interleave their lines)
    errors = proc.stderr.split(f'error: {what} not finite')[1:]
    assert len(errors) == ranks, proc.stderr[-3000:]
    assert 'at iteration 2' in errors[0]
    assert 'training stopped before saving NaN weights' in errors[0]
    assert 'iter_1.pth' in errors[0]  # the last good checkpoint, named
    # No traceback of ours (torchrun adds its own summary of failed ranks).
    assert 'finite_loss_hook.py' not in proc.stderr
    if ranks == 1:
        assert 'Traceback' not in proc.stderr
    # iteration 1's checkpoint is the last and is finite
    assert [osp.basename(p)
            for p in glob.glob(str(work_dir / '*.pth'))] == ['iter_1.pth']
    state = torch.load(work_dir / 'iter_1.pth', weights_only=False)
    assert all(v.isfinite().all() for v in state['state_dict'].values()
               if v.is_floating_point())


def test_nan_weights_after_a_finite_loss_stop_before_the_save(
        tiny_coco, tmp_path):
    """An inf gradient makes the step write NaN weights although the loss
    was finite; the next checkpoint would hold them."""
    config = write_config(tmp_path, DET_DEMO_CONFIG, 'weights')
    work_dir = tmp_path / 'work'
    proc = train(config, '--work-dir', work_dir, '--cfg-options',
                 *det_options(tiny_coco))
    assert proc.returncode == 1
    check_stopped_before_saving(proc, work_dir, 'the weights are')
    assert 'weights=nan/inf' in proc.stderr


def test_nan_on_one_rank_stops_every_rank(tiny_coco, tmp_path):
    # Only rank 1's loss is NaN; rank 0 sees finite numbers and must stop
    # too, at the same iteration, instead of waiting in the next all-reduce.
    config = write_config(tmp_path, DET_DEMO_CONFIG, 'loss', ranks=(1, ))
    work_dir = tmp_path / 'work'
    proc = train(
        config,
        '2',
        '--work-dir',
        work_dir,
        '--cfg-options',
        *det_options(tiny_coco, 1),
        launcher='dist_train.sh',
        env=dict(PORT='29521'))
    check_stopped_before_saving(proc, work_dir, ranks=2)
    assert '(1 of 2 rank(s))' in proc.stderr


def test_drop_path_rate_out_of_range_is_a_config_error(tiny_coco, tmp_path):
    train_tool = load_tool('train')
    with pytest.raises(
            ConfigValueError, match=r'drop_path_rate must be in \[0, 1\)'):
        train_tool.main([
            DET_DEMO_CONFIG, '--work-dir',
            str(tmp_path), '--cfg-options',
            'model.backbone.drop_path_rate=2.0', *coco_options(tiny_coco)
        ])
