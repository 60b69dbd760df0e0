"""The docs name only what exists: every ``fasternet_mm...`` path they name
imports (a module, or an attribute of one), and every file of the
repository they name is there."""
import glob
import importlib
import os.path as osp
import re

import pytest
from helpers import REPO_ROOT

DOCS = [osp.join(REPO_ROOT, 'README.md')] + sorted(
    glob.glob(osp.join(REPO_ROOT, 'docs', '*.md')))
TEXT = {osp.relpath(p, REPO_ROOT): open(p).read() for p in DOCS}
NAMES = sorted({(doc, name)
                for doc, text in TEXT.items()
                for name in re.findall(r'\bfasternet_mm(?:\.\w+)+', text)})
FILES = sorted({
    (doc, path.rstrip('.'))
    for doc, text in TEXT.items()
    for path in re.findall(
        r'(?<![\w/.-])(?:fasternet_mm|tools|configs|tests|docs|'
        r'requirements)/[\w/.-]+\.(?:py|sh|md|txt|png|jpg)\b', text)
})  # not upstream paths (.../mmseg/.mim/configs/...)


def test_the_docs_name_modules_and_files():
    assert len(NAMES) > 5 and len(FILES) > 20


@pytest.mark.parametrize('doc, name', NAMES)
def test_every_named_module_or_attribute_imports(doc, name):
    module, attrs = name, []
    while True:
        try:
            obj = importlib.import_module(module)
            break
        except ModuleNotFoundError:
            module, _, attr = module.rpartition('.')
            attrs.insert(0, attr)
            assert module, f'{doc} names {name}, which does not import'
    for attr in attrs:
        assert hasattr(obj, attr), f'{doc} names {name}: no {attr} there'
        obj = getattr(obj, attr)


@pytest.mark.parametrize('doc, path', FILES)
def test_every_named_file_exists(doc, path):
    assert osp.exists(osp.join(REPO_ROOT, path)), f'{doc} names {path}'
