"""The package face (issue 15): ``import al_plugin`` registers everything
lazily; the pure-numpy parts import neither torch nor matplotlib."""
import subprocess
import sys

import pytest

#: modules the light imports must not load (drawing, torch, mmdet)
HEAVY = ('matplotlib', 'cv2', 'torch', 'mmdet', 'mmcv')


def imported_modules(code: str) -> set:
    """The modules a fresh interpreter imports running ``code``, read from
    ``-X importtime`` (one line per module, the name last)."""
    out = subprocess.run([sys.executable, '-X', 'importtime', '-c', code],
                         capture_output=True, text=True, check=True)
    return {
        line.rsplit('|', 1)[1].strip()
        for line in out.stderr.splitlines()
        if line.startswith('import time:') and '|' in line
    }


def heavy(modules: set) -> list:
    return sorted(m for m in modules if m.split('.')[0] in HEAVY)


def test_importtime_check_sees_heavy_imports():
    """The check can fail: a module that imports matplotlib is seen."""
    assert 'matplotlib' in heavy(imported_modules('import matplotlib'))


@pytest.mark.parametrize('module', [
    'al_plugin', 'al_plugin.strategies', 'al_plugin.utils',
    'al_plugin.work_dir', 'al_plugin.evaluation',
    'al_plugin.evaluation.curves', 'al_plugin.evaluation.analysis'
])
def test_light_imports(module):
    """No drawing (matplotlib, cv2), torch or mmdet module is imported."""
    found = heavy(imported_modules(f'import {module}'))
    assert not found, f'import {module} imports {found[:10]}'


def test_strategies_registered_without_mmdet():
    """A strategy lookup imports the strategies, not the detection side
    (mmengine's registry logs each lookup, and its logger imports torch)."""
    code = ('import al_plugin; '
            'from al_plugin.registry import STRATEGIES; '
            "assert STRATEGIES.get('EntropyStrategy') is not None; "
            "assert STRATEGIES.get('CoreSetStrategy') is not None")
    found = [m for m in heavy(imported_modules(code))
             if m.split('.')[0] != 'torch']
    assert not found, found[:10]


# (registry module, registry, names) looked up after `import al_plugin` alone
LOOKUPS = [
    ('mmdet.registry', 'HOOKS', ['ActiveLearningVisualizationHook',
                                 'ALVisualizationHook', 'ActiveSelectionHook',
                                 'ActiveLearningStateHook']),
    ('mmdet.registry', 'LOOPS', ['ActiveLearningLoop', 'MIAODTrainLoop']),
    ('mmdet.registry', 'MODELS', ['MIAOD', 'MIAODHead']),
    ('mmdet.registry', 'DATASETS', ['DigitsVOCDataset', 'ImageFolderDataset']),
    ('mmdet.registry', 'LOG_PROCESSORS', ['ActiveLearningLogProcessor']),
    ('mmengine.registry', 'MODEL_WRAPPERS', ['CPUDistributedDataParallel']),
]


@pytest.mark.parametrize('order', ['plugin first', 'registry first'])
@pytest.mark.parametrize('module,registry,names', LOOKUPS,
                         ids=[r for _, r, _ in LOOKUPS])
def test_import_registers(module, registry, names, order):
    """``import al_plugin`` registers whether the registry module is
    imported after it (found by the import hook) or before it."""
    imports = [f'from {module} import {registry} as r', 'import al_plugin']
    if order == 'plugin first':
        imports.reverse()
    code = '; '.join(imports) + (
        f'; print(sorted(n for n in {names!r} if r.get(n) is None))')
    out = subprocess.run([sys.executable, '-c', code],
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == '[]', \
        f'not registered in {registry}: {out.stdout}{out.stderr}'


def test_registers_into_a_registry_used_before():
    """A registry that has already imported its locations does not look
    again: then the plugin's components are imported at once."""
    code = ('from mmdet.registry import HOOKS; '
            "assert HOOKS.get('CheckpointHook') is not None; "
            'import al_plugin; '
            "print(HOOKS.get('ALVisualizationHook') is not None)")
    out = subprocess.run([sys.executable, '-c', code],
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == 'True', out.stderr


def test_old_hook_name_builds_the_same_hook():
    from mmdet.registry import HOOKS

    import al_plugin  # noqa: F401
    assert HOOKS.get('ALVisualizationHook') is HOOKS.get(
        'ActiveLearningVisualizationHook')


def test_subpackages_as_attributes():
    import al_plugin
    assert al_plugin.engine.ActiveLearningLoop.__name__ == \
        'ActiveLearningLoop'
    with pytest.raises(AttributeError, match='no attribute'):
        al_plugin.not_a_subpackage  # noqa: B018
