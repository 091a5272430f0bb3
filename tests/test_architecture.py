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


def import_nodes(path, source=None, here=None):
    """``(package, node)`` of every import statement of the file at
    ``path`` (or of ``source``, the text of module ``here``), at any depth;
    ``package`` is what its relative imports start from."""
    if source is None:
        with open(path, encoding='utf-8') as f:
            source = f.read()
        here = module_name(path)
    package = here if path.endswith('__init__.py') else here.rpartition(
        '.')[0]
    for node in ast.walk(ast.parse(source, path)):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield package, node


def private_imports(path, source=None, here=None):
    """``(line, module, name)`` of every private name the file at ``path``
    (or ``source``, the text of module ``here``) imports from another module
    of the package."""
    if here is None:
        here = module_name(path)
    found = []
    for package, node in import_nodes(path, source, here):
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


#: The package map (``../shared/docs/ARCHITECTURE.md``, README's layout):
#: each room of ``al_plugin/`` and the rooms it may import. The package face
#: (``__init__``, ``registration``, ``registry``, ``utils``, ``version``) is
#: importable by every room. Direction: service -> engine -> (evaluation,
#: models, strategies, datasets) -> work_dir.
FACE = ('__init__', 'registration', 'registry', 'utils', 'version')
ROOMS = {
    'strategies': (),
    'models': (),
    'datasets': ('work_dir', ),
    'work_dir': (),
    'evaluation': ('datasets', 'work_dir'),
    'engine': ('datasets', 'evaluation', 'models', 'strategies', 'work_dir'),
    'service': ('datasets', 'engine', 'evaluation', 'strategies',
                'work_dir'),
}


def room_of(module: str) -> str:
    """The room of ``al_plugin.<room>[.…]`` (``__init__`` for the
    package itself)."""
    parts = module.split('.')
    return parts[1] if len(parts) > 1 else '__init__'


def imported_rooms(path, source=None, here=None) -> set:
    """The rooms of ``al_plugin`` the file at ``path`` (or ``source``, the
    text of module ``here``) imports, at any depth of the file (imports
    inside functions count)."""
    rooms = set()
    for package, node in import_nodes(path, source, here):
        if isinstance(node, ast.Import):
            rooms.update(
                room_of(alias.name) for alias in node.names
                if alias.name.split('.')[0] == 'al_plugin')
        elif isinstance(node, ast.ImportFrom):
            module = absolute(package, node.level, node.module)
            if module.split('.')[0] != 'al_plugin':
                continue
            if module == 'al_plugin':  # from al_plugin import work_dir
                rooms.update(alias.name for alias in node.names)
            else:
                rooms.add(room_of(module))
    return rooms


def test_the_rooms_are_the_package_maps():
    """Every folder and module of ``al_plugin/`` is a room of the map or
    the package face; a new one is a change to the map."""
    found = {
        name[:-len('.py')] if name.endswith('.py') else name
        for name in os.listdir(PACKAGE)
        if name.endswith('.py') or osp.isfile(
            osp.join(PACKAGE, name, '__init__.py'))
    }
    assert found == set(ROOMS) | set(FACE)


@pytest.mark.parametrize('room', sorted(ROOMS))
def test_a_room_imports_only_what_the_map_allows(room):
    allowed = set(ROOMS[room]) | set(FACE) | {room}
    folder = osp.join('al_plugin', room)
    paths = (python_files(folder) if osp.isdir(osp.join(ROOT, folder))
             else [osp.join(PACKAGE, f'{room}.py')])
    offences = [
        f'{osp.relpath(path, ROOT)} imports al_plugin.{other}'
        for path in paths for other in sorted(imported_rooms(path) - allowed)
    ]
    assert not offences, '\n'.join(offences)


def test_room_check_finds_an_upward_import():
    """The check above can fail: an import of the engine from a strategy,
    also inside a function or through ``from al_plugin import``, is seen."""
    source = ('import numpy\n'
              'from ..registry import STRATEGIES\n'
              'from al_plugin import work_dir\n'
              'def f():\n'
              '    from al_plugin.engine.selection import select\n')
    assert imported_rooms('al_plugin/strategies/probe.py', source,
                          'al_plugin.strategies.probe') == {
                              'registry', 'work_dir', 'engine'}
