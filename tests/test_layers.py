"""The two layers: ``import fasternet_mm`` registers models and changes
nothing else; :mod:`fasternet_mm.runtime` builds on it, never the reverse,
and no import cycle exists (function-local imports, which would hide one,
are used only for leaf modules of optional dependencies)."""
import ast
import os
import os.path as osp
import subprocess
import sys

from helpers import REPO_ROOT, tool_env

PACKAGE = osp.join(REPO_ROOT, 'fasternet_mm')

# Run in a fresh process: the upstream modules the model layer imports are
# imported first (they register their own hooks), then the state that
# fasternet_mm must leave alone is compared around the import.
PROBE = """
import sys
import mmcv.cnn, mmengine.model, mmengine.runner, mmdet.registry, \\
    mmseg.registry, torch
from mmengine.registry import HOOKS, TRANSFORMS
from mmengine.runner.checkpoint import CheckpointLoader


def state():
    safe = getattr(torch.serialization, 'get_safe_globals', lambda: [])
    return (dict(CheckpointLoader._schemes), sorted(HOOKS.module_dict),
            sorted(TRANSFORMS.module_dict), list(safe()))


before = state()
import {module}
after = state()
names = ('checkpoint schemes', 'hooks', 'transforms', 'torch safe globals')
print([n for n, b, a in zip(names, before, after) if b != a])
print(sorted(m for m in sys.modules if m.startswith('fasternet_mm.')))
"""


def probe(module):
    proc = subprocess.run([sys.executable, '-c',
                           PROBE.format(module=module)],
                          capture_output=True,
                          text=True,
                          env=tool_env())
    assert proc.returncode == 0, proc.stderr[-3000:]
    changed, modules = proc.stdout.strip().splitlines()[-2:]
    return eval(changed), eval(modules)


def test_importing_the_package_only_registers_models():
    changed, modules = probe('fasternet_mm')
    assert changed == []
    assert not [m for m in modules if m.startswith('fasternet_mm.runtime')]


def test_importing_the_runtime_installs_the_loaders_and_the_hooks():
    changed, _ = probe('fasternet_mm.runtime')
    assert 'checkpoint schemes' in changed and 'hooks' in changed


def imports_of(path):
    """``(module, imported module, at top level)`` for each import of a
    fasternet_mm module in the file at ``path``."""
    rel = osp.relpath(path, REPO_ROOT)[:-3].replace(os.sep, '.')
    module = rel[:-len('.__init__')] if rel.endswith('__init__') else rel
    package = module if path.endswith('__init__.py') else \
        module.rsplit('.', 1)[0]
    tree = ast.parse(open(path).read())
    # imports inside a function (module-level try/if blocks are top level)
    local = {
        id(n)
        for f in ast.walk(tree)
        if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
        for n in ast.walk(f)
    }
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ''
            if node.level:
                parts = package.split('.')
                up = parts[:len(parts) - node.level + 1]
                base = '.'.join(up + ([base] if base else []))
            # ``from . import x`` imports the submodule x (its package
            # only as a parent); ``from .m import f`` imports m
            subs = [f'{base}.{a.name}' for a in node.names]
            names = [n for n in subs if n in KNOWN] or [base]
        else:
            continue
        for name in names:
            if name.split('.')[0] == 'fasternet_mm':
                found.append((module, name, id(node) not in local))
    return found


def all_imports():
    """Every import of a fasternet_mm module by a fasternet_mm module."""
    result = []
    for root, _, files in os.walk(PACKAGE):
        for f in files:
            if f.endswith('.py'):
                result += imports_of(osp.join(root, f))
    return result


def modules():
    out = set()
    for root, _, files in os.walk(PACKAGE):
        for f in files:
            if f.endswith('.py'):
                rel = osp.relpath(osp.join(root, f), REPO_ROOT)[:-3]
                rel = rel.replace(os.sep, '.')
                out.add(rel[:-len('.__init__')] if rel.endswith('__init__'
                                                                ) else rel)
    return out


KNOWN = modules()


def test_the_model_layer_never_imports_the_runtime():
    bad = [(m, n) for m, n, _ in all_imports()
           if not m.startswith('fasternet_mm.runtime')
           and n.startswith('fasternet_mm.runtime')]
    assert bad == []


def test_no_function_local_imports_of_the_package():
    """Except of a module that imports nothing of the package (one that
    holds an optional dependency, such as mmdeploy's rewriters): a leaf
    cannot close a cycle."""
    imports = all_imports()
    importers = {m for m, _, _ in imports}
    assert [(m, n) for m, n, top in imports
            if not top and n in importers] == []


def test_no_import_cycle():
    known = KNOWN
    graph = {}
    for m, n, _ in all_imports():
        if n in known and n != m:
            graph.setdefault(m, set()).add(n)
    # A package's __init__ importing its own submodules is how packages
    # are built; a submodule importing its package back is a cycle.
    state, cycles = {}, []

    def visit(node, path):
        state[node] = 'open'
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 'open':
                cycles.append(path[path.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = 'done'

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert cycles == []
