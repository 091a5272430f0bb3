"""The package's shape (issue 15): small modules and classes, public names
across modules, a loop module that holds cycles and phases only."""
import ast
import os
import os.path as osp

import pytest

ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..'))
PACKAGE = osp.join(ROOT, 'al_plugin')
#: code that imports the package: its names must be public too
USERS = ('tools', 'benchmarks', 'projects')
MAX_MODULE_LINES = 400
MAX_CLASS_LINES = 300


def python_files(*folders):
    for folder in folders:
        for dirpath, _, names in os.walk(osp.join(ROOT, folder)):
            for name in sorted(names):
                if name.endswith('.py'):
                    yield osp.join(dirpath, name)


def parse(path):
    with open(path, encoding='utf-8') as f:
        return ast.parse(f.read(), path)


def module_name(path):
    rel = osp.relpath(path, ROOT)[:-len('.py')].split(os.sep)
    if rel[-1] == '__init__':
        rel = rel[:-1]
    return '.'.join(rel)


def absolute(package, level, node_module):
    """The absolute module name of an ``ImportFrom`` in ``package``."""
    if not level:
        return node_module or ''
    parts = package.split('.')
    base = parts[:len(parts) - level + 1]
    return '.'.join(base + ([node_module] if node_module else []))


def private_imports(path, source=None, here=None):
    """``(line, module, name)`` of every private name the file at ``path``
    (or ``source``, the text of module ``here``) imports from another module
    of the package."""
    found = []
    if source is None:
        with open(path, encoding='utf-8') as f:
            source = f.read()
        here = module_name(path)
    package = here if path.endswith('__init__.py') else here.rpartition(
        '.')[0]
    for node in ast.walk(ast.parse(source, path)):
        if not isinstance(node, ast.ImportFrom):
            continue
        source = absolute(package, node.level, node.module)
        if not source.startswith('al_plugin') or source == here:
            continue
        for alias in node.names:
            if alias.name.startswith('_') and not alias.name.startswith('__'):
                found.append((node.lineno, source, alias.name))
    return found


def test_no_private_name_crosses_a_module():
    offences = [
        f'{osp.relpath(path, ROOT)}:{line} imports {name} from {source}'
        for path in python_files('al_plugin', *USERS)
        for line, source, name in private_imports(path)
    ]
    assert not offences, '\n'.join(offences)


def test_private_import_check_finds_one():
    """The check above can fail: private imports are found, relative ones
    resolved, an import inside the same module or of a dunder is not."""
    source = ('from ..scoring import _hidden\n'
              'from .selection import public, _helper\n'
              'from al_plugin.utils import _other, __version__\n'
              'from al_plugin.engine.probe import _mine\n')
    found = private_imports('al_plugin/engine/probe.py', source,
                            'al_plugin.engine.probe')
    assert [(s, n) for _, s, n in found] == [
        ('al_plugin.scoring', '_hidden'),
        ('al_plugin.engine.selection', '_helper'),
        ('al_plugin.utils', '_other'),
    ]


@pytest.mark.parametrize('path', list(python_files('al_plugin')),
                         ids=lambda p: osp.relpath(p, PACKAGE))
def test_module_and_class_sizes(path):
    with open(path, encoding='utf-8') as f:
        lines = len(f.read().splitlines())
    assert lines <= MAX_MODULE_LINES, (
        f'{osp.relpath(path, ROOT)} has {lines} lines (at most '
        f'{MAX_MODULE_LINES})')
    for node in ast.walk(parse(path)):
        if isinstance(node, ast.ClassDef):
            size = node.end_lineno - node.lineno + 1
            assert size <= MAX_CLASS_LINES, (
                f'{osp.relpath(path, ROOT)}: class {node.name} has {size} '
                f'lines (at most {MAX_CLASS_LINES})')
