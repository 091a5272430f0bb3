"""`import al_plugin` alone registers the plugin into mmdet's registries."""
import subprocess
import sys

import pytest

EXPECTED = {
    'mmdet.registry.MODELS': ['MIAOD', 'MIAODHead'],
    'mmdet.registry.DATASETS': ['DigitsVOCDataset', 'DigitsCocoDataset'],
    'mmdet.registry.HOOKS': ['CheckpointCompatHook'],
    'mmengine.registry.MODEL_WRAPPERS': ['CPUDistributedDataParallel'],
    'al_plugin.registry.SPLITTERS': ['ActiveDatasetSplitter'],
    'al_plugin.registry.ADAPTERS': ['DenseHeadAdapter', 'TwoStageAdapter'],
}


@pytest.mark.parametrize('registry,names', sorted(EXPECTED.items()))
def test_import_registers(registry, names):
    module, attr = registry.rsplit('.', 1)
    # A fresh interpreter: nothing but `import al_plugin` has run.
    code = (f'import al_plugin; from {module} import {attr} as r; '
            f'print(sorted(n for n in {names!r} if r.get(n) is None))')
    out = subprocess.run([sys.executable, '-c', code],
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == '[]', f'not registered in {registry}: ' \
        f'{out.stdout}{out.stderr}'
