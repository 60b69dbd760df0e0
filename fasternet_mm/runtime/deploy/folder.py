"""An exported folder, read as data from a stranger.

Folders are downloaded and shared like checkpoints. Before a backend opens
one, :func:`load_meta` validates our record in its ``deploy.json`` against
one schema (:func:`check_record`), and :func:`network_files` resolves every
file the network is read from inside the folder, after symlinks; an ONNX
graph may name no external data (our export writes none), so a backend
never reads a file outside the folder. Every problem is one
:class:`CheckpointError` naming the file and the fix.
"""
import json
import os.path as osp
from typing import List, Optional

from mmengine.config import Config

from ...errors import CheckpointError
from .configs import BACKENDS, META_KEY, model_hash

NETWORK_FILES = {
    'onnxruntime': ['end2end.onnx'],
    'openvino': ['end2end.xml', 'end2end.bin'],
    'tensorrt': ['end2end.engine'],
}
# What each kind of model's graph returns, in order.
OUTPUT_NAMES = {
    'mmdet': (['dets', 'labels'], ['dets', 'labels', 'masks']),
    'mmseg': (['output'], ),
}
EXPORT_AGAIN = 'export the model again with tools/deployment/deploy.py'


def _is_int(v, low=1) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= low


def _is_size(v) -> bool:
    return isinstance(v, list) and len(v) == 2 and all(map(_is_int, v))


def _is_range(r) -> bool:
    return isinstance(r, dict) and _is_size(r.get('min_hw')) and _is_size(
        r.get('max_hw')) and all(
            a <= b for a, b in zip(r['min_hw'], r['max_hw'])) and (
                r.get('max_batch') is None or _is_int(r['max_batch'])) and \
        _is_int(r.get('divisor'))


def _is_dataset_meta(m) -> bool:
    classes, palette = (m.get('classes'),
                        m.get('palette', [])) if isinstance(m, dict) else ([],
                                                                           0)
    return isinstance(classes, list) and len(classes) > 0 and all(
        isinstance(c, str)
        for c in classes) and isinstance(palette, list) and all(
            isinstance(c, list) and len(c) == 3 and all(
                _is_int(v, 0) and v < 256 for v in c) for c in palette)


# key -> (check, what it must be)
SCHEMA = {
    'backend': (lambda v: v in BACKENDS, f'one of {list(BACKENDS)}'),
    'precision': (lambda v: v in ('fp32', 'bf16', 'fp16', 'int8'),
                  "one of ['fp32', 'bf16', 'fp16', 'int8']"),
    'scope': (lambda v: v in OUTPUT_NAMES, "'mmdet' or 'mmseg'"),
    'model_hash':
    (lambda v: isinstance(v, str) and len(v) > 0, 'a non-empty string'),
    'input_range': (_is_range, 'dict(min_hw=[H, W], max_hw=[H, W] not below '
                    'them, max_batch=None or N, divisor=N), N >= 1'),
    'dataset_meta':
    (_is_dataset_meta, 'dict(classes=[names], palette=[[r, g, b], ...])'),
    'output_names': (lambda v: True, 'the graph\'s outputs'),  # by scope
}


def check_record(record, path: str) -> dict:
    """``record`` (our entry of deploy.json at ``path``) if it fits
    :data:`SCHEMA`; otherwise an error listing every problem."""
    if not isinstance(record, dict):
        raise CheckpointError(
            f'{path} has no {META_KEY!r} record of tools/deployment/deploy.py '
            f'(found {type(record).__name__}); {EXPORT_AGAIN}')
    problems = [
        f'{key} is missing' if key not in record else
        f'{key} must be {what}, not {record[key]!r:.80}'
        for key, (check, what) in SCHEMA.items()
        if key not in record or not check(record[key])
    ]
    names = OUTPUT_NAMES.get(record.get('scope'), ())
    if 'output_names' in record and names and \
            record['output_names'] not in names:
        problems.append(
            f'output_names must be one of {list(names)} for '
            f'{record["scope"]}, not {record["output_names"]!r:.80}')
    if problems:
        raise CheckpointError(f'{path} is damaged: {"; ".join(problems)}; '
                              f'{EXPORT_AGAIN}')
    return record


def inside(folder: str, name: str) -> str:
    """The real path of ``folder/name``: an existing file inside the real
    ``folder`` (no symlink or ``..`` leads out)."""
    path = osp.join(folder, name)
    real = osp.realpath(path)
    if not real.startswith(osp.join(osp.realpath(folder), '')):
        raise CheckpointError(
            f'{path} leads outside its folder (to {real}); a deployed folder '
            f'reads only its own files: {EXPORT_AGAIN}')
    if not osp.isfile(real):
        raise CheckpointError(
            f'{path} is missing (or not a file): the folder is incomplete; '
            f'{EXPORT_AGAIN}')
    return real


def is_deployed_dir(path: str) -> bool:
    """Whether ``path`` is taken as a folder of ``tools/deployment/deploy.py``
    (any folder: :func:`load_meta` checks it)."""
    return osp.isdir(path)


def load_meta(deploy_dir: str, cfg: Optional[Config] = None) -> dict:
    """Our record in ``deploy_dir``/deploy.json, validated, and checked to
    come from ``cfg``'s model where given."""
    if not osp.isdir(deploy_dir):
        raise CheckpointError(f'{deploy_dir!r} is not a folder')
    if not osp.lexists(osp.join(deploy_dir, 'deploy.json')):
        raise CheckpointError(
            f'{deploy_dir!r} holds no deploy.json: it is not a folder written '
            f'by tools/deployment/deploy.py; {EXPORT_AGAIN}')
    path = inside(deploy_dir, 'deploy.json')
    try:
        with open(path, encoding='utf-8') as f:
            info = json.load(f)
    except (ValueError, UnicodeDecodeError) as e:
        raise CheckpointError(f'{path} is not valid JSON ({e}); '
                              f'{EXPORT_AGAIN}') from None
    meta = check_record(
        info.get(META_KEY) if isinstance(info, dict) else info, path)
    if cfg is not None and meta['model_hash'] != model_hash(cfg):
        raise CheckpointError(
            f'{deploy_dir!r} was exported from another model config '
            f'({meta.get("config")}, model hash {meta["model_hash"]}; this '
            f"config's is {model_hash(cfg)}): test it with the config it was "
            'exported from, or export this one')
    return meta


def _tensors(graph):
    """Every tensor of an ONNX graph: initializers, node attributes, and
    those of subgraphs."""
    yield from graph.initializer
    for sparse in graph.sparse_initializer:
        yield from (sparse.values, sparse.indices)
    for node in graph.node:
        for a in node.attribute:
            yield from [a.t] + list(a.tensors)
            for sub in [a.g] + list(a.graphs):
                yield from _tensors(sub)


def network_files(deploy_dir: str, meta: dict) -> List[str]:
    """The real paths of the network's files, each inside the folder; an
    ONNX graph that names external data is refused."""
    paths = [inside(deploy_dir, n) for n in NETWORK_FILES[meta['backend']]]
    if meta['backend'] == 'onnxruntime':
        import onnx
        try:
            graph = onnx.load(paths[0], load_external_data=False).graph
        except Exception as e:  # noqa: B902  (protobuf's DecodeError, ...)
            raise CheckpointError(
                f'cannot load {osp.join(deploy_dir, "end2end.onnx")}: not an '
                f'ONNX model ({type(e).__name__}: {e}); {EXPORT_AGAIN}'
            ) from None
        external = [
            t.name for t in _tensors(graph)
            if t.data_location == onnx.TensorProto.EXTERNAL
        ]
        if external:
            raise CheckpointError(
                f'{osp.join(deploy_dir, "end2end.onnx")} reads tensors '
                f'{external[:3]} from external files, which deploy.py never '
                f'writes: refused (a graph could read any file so); '
                f'{EXPORT_AGAIN}')
    return paths
