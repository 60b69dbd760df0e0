"""A checkpoint never runs code, from any scheme, on either torch.

A real malicious checkpoint (its pickle creates a file when loaded) is fed
to mmengine's CheckpointLoader from a local path and from an http URL
served on 127.0.0.1, and to every tool that loads one; each refuses it
and leaves no file behind. Both enforcement paths (torch's ``weights_only``
loader with our allowlist, and the restricted unpickler of torch < 2.6) run
where this torch has them.
"""
import functools
import http.server
import os
import os.path as osp
import threading
import zipfile

import numpy as np
import pytest
import torch
from helpers import DET_DEMO_CONFIG, coco_options, load_tool, run_tool
from mmengine.runner.checkpoint import CheckpointLoader

from fasternet_mm import FasterNet
from fasternet_mm.errors import CheckpointError
from fasternet_mm.runtime import checkpoint

REFUSED = (
    r"holds pickled objects that are not weights \((builtins\.)?exec\); "
    r'loading them could run code from the file, so it was refused\. '
    r'If you trust this file, set TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1')


class Payload:
    """Unpickling this creates ``marker``: a stand-in for any code."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return exec, (f'open({self.marker!r}, "w").close()', )


@pytest.fixture(
    params=['restricted_unpickler'] +
    (['torch_weights_only'] if checkpoint.TORCH_WEIGHTS_ONLY else []))
def loader_path(request, monkeypatch):
    """Run a test through each enforcement path this torch has."""
    if request.param == 'restricted_unpickler':
        monkeypatch.setattr(checkpoint, 'TORCH_WEIGHTS_ONLY', False)
    return request.param


@pytest.fixture
def evil(tmp_path):
    """A FasterNet-T0 state dict plus a payload, and the payload's marker."""
    marker = tmp_path / 'payload_ran'
    path = tmp_path / 'evil.pth'
    torch.save(
        {
            'state_dict': FasterNet('t0').state_dict(),
            'meta': Payload(marker)
        }, path)
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
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield www, f'http://127.0.0.1:{server.server_address[1]}'
    server.shutdown()
    server.server_close()


def test_malicious_local_file_is_refused_unless_torch_trusts_all(
        evil, loader_path, monkeypatch):
    path, marker = evil
    with pytest.raises(CheckpointError, match=REFUSED):
        CheckpointLoader.load_checkpoint(path)
    assert not marker.exists()
    monkeypatch.setenv(checkpoint.TRUST_ENV, '1')
    assert 'state_dict' in CheckpointLoader.load_checkpoint(path)
    assert marker.exists()


def test_malicious_legacy_format_file_is_refused(evil, loader_path):
    path, marker = evil
    torch.save({'meta': Payload(marker)},
               path,
               _use_new_zipfile_serialization=False)
    with pytest.raises(CheckpointError, match=REFUSED):
        checkpoint.safe_load(path)
    assert not marker.exists()


def test_training_checkpoint_values_load(tmp_path, loader_path):
    """What mmengine's checkpoints hold: numpy values, HistoryBuffer,
    every tensor dtype, in the legacy and the zip format."""
    from mmengine.logging import MessageHub
    hub = MessageHub('test_training_checkpoint_values_load')
    hub.update_scalar('loss', 1.5)
    hub.update_info('shape', np.array([3, 4]))
    dtypes = (torch.float32, torch.bfloat16, torch.float16, torch.int64,
              torch.bool)
    ckpt = {
        'message_hub': hub.state_dict(),
        'meta': dict(seed=np.int64(7), ratio=np.float32(.5)),
        'state_dict': {
            str(d): torch.ones(2, dtype=d)
            for d in dtypes
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
        assert set(loaded['state_dict']) == set(ckpt['state_dict'])


@pytest.mark.skipif(
    not checkpoint.TORCH_WEIGHTS_ONLY, reason='torch < 2.6 has no default')
def test_torchs_own_loader_reads_training_checkpoints_once_imported(tmp_path):
    """MMDetection's own test.py reads what its train.py wrote: mmengine's
    loaders call torch.load with torch's default (weights only)."""
    from mmengine.logging import MessageHub
    hub = MessageHub('test_torchs_own_loader')
    hub.update_scalar('loss', 1.5)
    torch.save({'message_hub': hub.state_dict()}, tmp_path / 'e.pth')
    loaded = torch.load(tmp_path / 'e.pth')
    assert loaded['message_hub']['log_scalars']['loss'].current() == 1.5


def test_garbage_and_cut_short_records_are_unreadable(tmp_path, loader_path):
    """torch 2.1 would build a tensor over a zip record shorter than its
    storage claims, reading the heap beyond it: refused on every torch."""
    garbage = tmp_path / 'garbage.pth'
    garbage.write_bytes(b'not a checkpoint at all')
    cut = tmp_path / 'cut.pth'
    torch.save({'w': torch.ones(1000)}, cut)
    with zipfile.ZipFile(cut) as z:
        records = [(i.filename, z.read(i)) for i in z.infolist()]
    with zipfile.ZipFile(cut, 'w', zipfile.ZIP_STORED) as z:
        for name, data in records:
            z.writestr(name, data[:16] if '/data/' in name else data)
    legacy = tmp_path / 'legacy.pth'
    torch.save({'w': torch.ones(1000)},
               legacy,
               _use_new_zipfile_serialization=False)
    legacy.write_bytes(legacy.read_bytes()[:-400])
    for path, reason in ((garbage, ''), (cut, r'.*16'), (legacy, '.*EOF')):
        with pytest.raises(
                CheckpointError,
                match=r'is not a readable PyTorch checkpoint \(truncated, '
                r'corrupt or another format' + reason):
            checkpoint.safe_load(str(path))


@pytest.mark.skipif(
    checkpoint.TORCH_WEIGHTS_ONLY, reason='torch >= 2.6 uses its own loader')
def test_torchs_private_allowlist_is_there():
    """The restricted unpickler reads torch's private allowlist (torch <
    2.6): this fails when a torch moves it."""
    from torch._weights_only_unpickler import _get_allowed_globals
    assert 'torch._utils._rebuild_tensor_v2' in _get_allowed_globals()


def test_a_malicious_url_is_refused_and_the_download_kept(
        evil, served, loader_path):
    path, marker = evil
    www, base = served
    os.rename(path, www / 'evil.pth')
    with pytest.raises(CheckpointError, match=REFUSED):
        CheckpointLoader.load_checkpoint(f'{base}/evil.pth')
    assert not marker.exists()
    assert osp.isfile(osp.join(torch.hub.get_dir(), 'checkpoints', 'evil.pth'))


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


def test_every_other_scheme_is_refused_or_read_safely(evil, monkeypatch):
    """Model-zoo names resolve to URLs (then as above); s3 / petrel bytes go
    through safe_load; pavi and mmcls are refused."""
    path, marker = evil
    with pytest.raises(CheckpointError, match='mmengine knows no URL'):
        CheckpointLoader.load_checkpoint('open-mmlab://unknown')
    for name in ('pavi://x', 'mmcls://resnet50'):
        with pytest.raises(CheckpointError, match='are not read safely here'):
            CheckpointLoader.load_checkpoint(name)

    class Bucket:

        def get(self, filepath):
            with open(path, 'rb') as f:
                return f.read()

    monkeypatch.setattr(checkpoint, 'get_file_backend',
                        lambda *a, **k: Bucket())
    with pytest.raises(CheckpointError, match=REFUSED):
        CheckpointLoader.load_checkpoint('s3://bucket/evil.pth')
    assert not marker.exists()


@pytest.mark.parametrize('entry', [
    'init_cfg', 'load_from', 'resume', 'test.py', 'image_demo.py',
    'pytorch2onnx.py', 'fasternet_deploy.py'
])
def test_every_tool_refuses_a_malicious_checkpoint(tiny_coco, tmp_path, evil,
                                                   entry):
    path, marker = evil
    work = ['--work-dir', str(tmp_path / 'work')]
    opts = ['--cfg-options', *coco_options(tiny_coco)]
    init = [
        'model.backbone.init_cfg._delete_=True',
        'model.backbone.init_cfg.type=Pretrained',
        f'model.backbone.init_cfg.checkpoint={path}'
    ]
    image = osp.join(tiny_coco, 'val2017', '000000000001.png')
    tool, *args = {
        'init_cfg': ('train', DET_DEMO_CONFIG, *work, *opts, *init),
        'load_from':
        ('train', DET_DEMO_CONFIG, *work, *opts, f'load_from={path}'),
        'resume': ('train', DET_DEMO_CONFIG, *work, '--resume', path, *opts),
        'test.py': ('test', DET_DEMO_CONFIG, path, *work, *opts),
        'image_demo.py': ('image_demo', image, DET_DEMO_CONFIG, path,
                          '--out-file', str(tmp_path / 'vis.jpg')),
        'pytorch2onnx.py': ('deployment/pytorch2onnx', 't0', '--checkpoint',
                            path, '--out', str(tmp_path / 'x.onnx')),
        'fasternet_deploy.py':
        ('model_converters/fasternet_deploy', DET_DEMO_CONFIG, path,
         str(tmp_path / 'deployed.pth')),
    }[entry]
    with pytest.raises(CheckpointError, match='so it was refused'):
        load_tool(tool).main(args)
    assert not marker.exists()


def test_the_refusal_is_one_error_line(evil, tmp_path):
    """As users run a tool: no traceback."""
    path, marker = evil
    proc = run_tool(
        'model_converters/fasternet_deploy.py',
        DET_DEMO_CONFIG,
        path,
        str(tmp_path / 'out.pth'),
        check=False)
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert 'Traceback' not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith('error: ')
    assert not marker.exists()
