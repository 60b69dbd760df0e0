"""A checkpoint never runs code unless the user trusts it.

A real malicious checkpoint (its pickle creates a file when loaded) is fed
to every way the project loads checkpoints, from a local path and from an
http URL served on 127.0.0.1; each must refuse it with the same message and
leave no file behind. Both loading paths (torch's ``weights_only`` with our
allowlist, and the restricted unpickler used where torch cannot take one)
run on every stack.
"""
import functools
import http.server
import os
import os.path as osp
import pickle
import threading

import numpy as np
import pytest
import torch
from helpers import DET_DEMO_CONFIG, coco_options, run_tool
from mmengine.runner.checkpoint import CheckpointLoader

from fasternet_mm import FasterNet
from fasternet_mm.errors import CheckpointError
from fasternet_mm.runtime import checkpoint

REFUSED = (r"holds pickled objects that are not weights \(builtins\.exec\); "
           r'loading them could run code from the file, so it was refused\. '
           r'If you trust this file, ')


class Payload:
    """Unpickling this creates ``marker``: a stand-in for any code."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return exec, (f'open({self.marker!r}, "w").close()', )


# torch's weights_only path exists where torch takes extra safe globals in a
# scope (torch >= 2.6); the restricted unpickler runs everywhere.
LOADER_PATHS = ['restricted_unpickler'] + (
    ['torch_weights_only'] if checkpoint.torch_takes_safe_globals() else [])


@pytest.fixture(params=LOADER_PATHS)
def loader_path(request, monkeypatch):
    """Run a test through each enforcement path this torch has."""
    if request.param == 'restricted_unpickler':
        monkeypatch.setattr(checkpoint, 'torch_takes_safe_globals',
                            lambda: False)
    return request.param


@pytest.fixture
def evil(tmp_path):
    """A FasterNet-T0 state dict plus a payload, and the payload's marker."""
    marker = tmp_path / 'payload_ran'
    path = tmp_path / 'evil.pth'
    state = FasterNet('t0').state_dict()
    torch.save({'state_dict': state, 'meta': Payload(marker)}, path)
    return str(path), marker


@pytest.fixture
def served(tmp_path, monkeypatch):
    """Serve ``tmp_path/www`` on 127.0.0.1; torch's hub cache in tmp."""
    www = tmp_path / 'www'
    www.mkdir()
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch_home'))
    handler = functools.partial(
        http.server.SimpleHTTPRequestHandler, directory=str(www))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield www, f'http://127.0.0.1:{server.server_address[1]}'
    server.shutdown()
    server.server_close()


def test_malicious_local_file_is_refused(evil, loader_path):
    path, marker = evil
    with pytest.raises(
            CheckpointError,
            match=REFUSED + 'export '
            f'FASTERNET_MM_TRUSTED_CHECKPOINTS={path}'):
        CheckpointLoader.load_checkpoint(path)
    assert not marker.exists()


def test_trusted_file_is_fully_unpickled(evil, monkeypatch, loader_path):
    path, marker = evil
    monkeypatch.setenv(checkpoint.TRUST_ENV,
                       os.pathsep.join(['/nonexistent',
                                        osp.dirname(path)]))
    assert 'state_dict' in CheckpointLoader.load_checkpoint(path)
    assert marker.exists()


def test_training_checkpoint_values_load(tmp_path, loader_path):
    """What mmengine's checkpoints hold: numpy values, HistoryBuffer,
    every tensor dtype, in the legacy and the zip format."""
    from mmengine.logging import MessageHub
    hub = MessageHub('test_training_checkpoint_values_load')
    hub.update_scalar('loss', 1.5)
    hub.update_info('shape', np.array([3, 4]))
    ckpt = {
        'message_hub': hub.state_dict(),
        'meta': {
            'seed': np.int64(7),
            'ratio': np.float32(.5)
        },
        'state_dict': {
            str(d): torch.ones(2, dtype=d)
            for d in (torch.float32, torch.bfloat16, torch.float16,
                      torch.int64, torch.bool)
        },
    }
    for legacy in (False, True):
        path = tmp_path / f'train_{legacy}.pth'
        torch.save(ckpt, path, _use_new_zipfile_serialization=not legacy)
        loaded = checkpoint.safe_load(str(path))
        assert loaded['meta']['seed'] == 7
        assert loaded['message_hub']['log_scalars']['loss'].current() == 1.5
        assert loaded['message_hub']['runtime_info']['shape'].tolist() == [
            3, 4
        ]
        assert {str(t.dtype)
                for t in loaded['state_dict'].values()
                } == set(ckpt['state_dict'])


def test_plain_pickle_and_garbage_are_named_as_such(tmp_path, loader_path):
    plain = tmp_path / 'plain.pkl'
    plain.write_bytes(pickle.dumps({'weights': [1, 2]}))
    with pytest.raises(
            CheckpointError,
            match='is a plain pickle file, not a '
            'PyTorch checkpoint written by torch.save'):
        checkpoint.safe_load(str(plain))
    garbage = tmp_path / 'garbage.pth'
    garbage.write_bytes(b'not a checkpoint at all')
    with pytest.raises(
            CheckpointError, match='is not a readable PyTorch checkpoint'):
        checkpoint.safe_load(str(garbage))


def test_malicious_url_is_refused_and_trusted_via_its_local_copy(
        evil, served, monkeypatch, loader_path):
    path, marker = evil
    www, base = served
    os.rename(path, www / 'evil.pth')
    url = f'{base}/evil.pth'
    cached = osp.join(torch.hub.get_dir(), 'checkpoints', 'evil.pth')
    with pytest.raises(
            CheckpointError,
            match=REFUSED + 'export '
            f'FASTERNET_MM_TRUSTED_CHECKPOINTS={cached}'):
        CheckpointLoader.load_checkpoint(url)
    assert not marker.exists()
    monkeypatch.setenv(checkpoint.TRUST_ENV, cached)
    CheckpointLoader.load_checkpoint(url)
    assert marker.exists()


def test_url_weights_load_through_init_cfg(served):
    www, base = served
    source = FasterNet('t0')
    torch.save({'state_dict': source.state_dict()}, www / 't0.pth')
    model = FasterNet(
        't0', init_cfg=dict(type='Pretrained', checkpoint=f'{base}/t0.pth'))
    model.init_weights()
    for key, value in source.state_dict().items():
        assert torch.equal(model.state_dict()[key], value), key


def test_unreachable_url_says_how_to_use_a_local_file(served):
    _, base = served
    url = f'{base}/missing/fasternet_t0-epoch.281-val_acc1.71.9180.pth'
    with pytest.raises(
            CheckpointError,
            match=rf'could not download checkpoint {url} \(HTTPError.*put it '
            r'at .*/checkpoints/fasternet_t0-epoch.281-val_acc1.71.9180.pth, '
            r'or pass the local file instead of the URL, e.g. --cfg-options '
            r'model.backbone.init_cfg.checkpoint=/path/to/'):
        CheckpointLoader.load_checkpoint(url)


def test_every_registered_scheme_goes_through_the_safe_loader():
    ours = set(checkpoint.SCHEMES.values())
    assert {CheckpointLoader._schemes[p]
            for p in CheckpointLoader._schemes} <= ours
    for name in ('x.pth', 'https://a/x.pth', 'torchvision://resnet50',
                 'open-mmlab://resnet50_caffe', 's3://bucket/x.pth',
                 'mmcls://x', 'pavi://x'):
        assert CheckpointLoader._get_checkpoint_loader(name) in ours, name


def run(script, *args, env=None):
    proc = run_tool(script, *args, check=False, env=env)
    return proc.returncode, proc.stdout + proc.stderr


# Every entry from a file on both stacks (the loaders differ); from a URL,
# the download is the same code on both: test.py fetches on both stacks,
# every entry on the torch 2.1 one (e2e, pytest.ini).
@pytest.mark.parametrize('entry, source', [
    pytest.param(
        entry,
        source,
        id=f'{entry}-{source}',
        marks=pytest.mark.e2e if source == 'url' and entry != 'test.py' else
        ())
    for entry in ('init_cfg', 'load_from', 'resume', 'test.py',
                  'image_demo.py', 'pytorch2onnx.py', 'fasternet_deploy.py')
    for source in ('local', 'url')
])
def test_every_tool_refuses_a_malicious_checkpoint(tiny_coco, tmp_path, evil,
                                                   served, entry, source):
    """As users run them, in a fresh process, from a file and from a URL."""
    path, marker = evil
    if source == 'url':
        www, base = served
        os.rename(path, www / 'evil.pth')
        path = f'{base}/evil.pth'
    work = ['--work-dir', str(tmp_path / 'work')]
    opts = ['--cfg-options', *coco_options(tiny_coco)]
    init = [
        'model.backbone.init_cfg._delete_=True',
        'model.backbone.init_cfg.type=Pretrained',
        f'model.backbone.init_cfg.checkpoint={path}'
    ]
    image = osp.join(tiny_coco, 'val2017',
                     sorted(os.listdir(osp.join(tiny_coco, 'val2017')))[0])
    args = {
        'init_cfg': ('train.py', DET_DEMO_CONFIG, *work, *opts, *init),
        'load_from':
        ('train.py', DET_DEMO_CONFIG, *work, *opts, f'load_from={path}'),
        'resume':
        ('train.py', DET_DEMO_CONFIG, *work, '--resume', path, *opts),
        'test.py': ('test.py', DET_DEMO_CONFIG, path, *work, *opts),
        'image_demo.py': ('image_demo.py', image, DET_DEMO_CONFIG, path,
                          '--out-file', str(tmp_path / 'vis.jpg')),
        'pytorch2onnx.py': ('deployment/pytorch2onnx.py', 't0', '--checkpoint',
                            path, '--out', str(tmp_path / 'x.onnx')),
        'fasternet_deploy.py':
        ('model_converters/fasternet_deploy.py', DET_DEMO_CONFIG, path,
         str(tmp_path / 'deployed.pth')),
    }[entry]
    returncode, output = run(
        *args, env=dict(TORCH_HOME=os.environ['TORCH_HOME']))
    assert returncode == 1, output[-3000:]
    assert 'Traceback' not in output, output[-3000:]
    assert 'error: ' in output and 'so it was refused' in output, output[
        -3000:]
    assert not marker.exists()


def test_import_leaves_torch_allowlist_alone():
    """The allowlist applies inside safe_load only (a scope), never to a
    user's own torch.load calls."""
    checkpoint.torch_takes_safe_globals()
    if hasattr(torch.serialization, 'get_safe_globals'):
        ours = {id(g) for g in checkpoint.SAFE_GLOBALS}
        ours |= {id(obj) for obj, _ in checkpoint.SAFE_GLOBALS}
        assert not ours & {
            id(g)
            for g in torch.serialization.get_safe_globals()
        }


def _rewrite_zip(path, edit):
    """Rewrite the zip checkpoint ``path`` with ``edit(name, data)``."""
    import zipfile
    with zipfile.ZipFile(path) as z:
        records = [(i.filename, z.read(i)) for i in z.infolist()]
    with zipfile.ZipFile(path, 'w', zipfile.ZIP_STORED) as z:
        for name, data in records:
            z.writestr(name, edit(name, data))


SHORT = (r"is not a readable PyTorch checkpoint \(truncated, corrupt or "
         r"another format: tensor storage '\d+' claims \d+ elements \(\d+ "
         r"bytes\) but the file holds ")


def test_storage_longer_than_its_zip_record_is_refused(tmp_path, loader_path):
    """torch 2.1 would build the tensor over the 16 bytes the record holds
    and read the heap beyond them (or crash): refused, the same on every
    torch, before any tensor is built."""
    path = tmp_path / 'cut.pth'
    torch.save(FasterNet('t0').state_dict(), path)
    import zipfile
    with zipfile.ZipFile(path) as z:
        largest = max((i for i in z.infolist() if '/data/' in i.filename),
                      key=lambda i: i.file_size).filename
    _rewrite_zip(path, lambda name, data: data[:16]
                 if name == largest else data)
    with pytest.raises(CheckpointError, match=SHORT + '16 bytes for it'):
        checkpoint.safe_load(str(path))


def test_storage_longer_than_its_legacy_data_is_refused(tmp_path, loader_path):
    path = tmp_path / 'legacy.pth'
    torch.save({'w': torch.ones(1000)},
               path,
               _use_new_zipfile_serialization=False)
    raw = path.read_bytes()
    path.write_bytes(raw[:-400])
    with pytest.raises(
            CheckpointError, match=SHORT + r'1000 elements and 3600 bytes'):
        checkpoint.safe_load(str(path))


def test_malicious_legacy_file_is_refused_as_unsafe(evil, loader_path):
    """Not called 'a plain pickle' (its first pickle is torch's magic
    number; the payload is in the next)."""
    path, marker = evil
    ckpt = {'state_dict': {}, 'meta': Payload(marker)}
    torch.save(ckpt, path, _use_new_zipfile_serialization=False)
    with pytest.raises(CheckpointError, match=REFUSED):
        checkpoint.safe_load(path)
    assert not marker.exists()


def test_unknown_model_zoo_name_is_named():
    with pytest.raises(
            CheckpointError,
            match=r"open-mmlab://unknown: mmengine knows no model named "
            r"'unknown' for open-mmlab://"):
        CheckpointLoader.load_checkpoint('open-mmlab://unknown')
