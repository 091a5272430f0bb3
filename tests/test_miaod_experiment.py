"""End to end: `tools/train.py` runs a tiny MI-AOD experiment."""
import json

import numpy as np
import pytest

from .conftest import run_tool
from .test_resume import _data_root_options

CONFIG = 'tests/configs/miaod_digits_tiny.py'
POOL = 32


def _experiment(work_dir, data_root, *extra, resume=False, config=CONFIG):
    args = ['tools/train.py', config, '--work-dir', str(work_dir)]
    if resume:
        args.append('--resume')
    return run_tool(args + ['--cfg-options'] +
                    _data_root_options(data_root) + list(extra))


def _load(work_dir, name):
    return np.load(work_dir / name)


@pytest.fixture(scope='module')
def straight(tmp_path_factory, digits_root):
    """The whole 3-cycle experiment in one run: ``(work_dir, log)``."""
    work_dir = tmp_path_factory.mktemp('miaod_straight')
    proc = _experiment(work_dir, digits_root)
    return work_dir, proc.stdout + proc.stderr


def test_two_selections_write_the_split_files(straight):
    work_dir, log = straight
    sizes = []
    for c in range(3):
        X_L, X_U = _load(work_dir, f'X_L_{c}.npy'), _load(
            work_dir, f'X_U_{c}.npy')
        assert X_L.dtype == np.int64 and np.all(np.diff(X_L) > 0)
        assert X_L.min() >= 0 and X_L.max() < POOL
        assert len(X_U) == len(X_L)
        sizes.append(len(X_L))
        ids = []
        for tag in ('07', '12'):
            path = work_dir / f'cycle{c}' / f'trainval_X_L_{tag}.txt'
            ids += path.read_text().split()
        assert len(ids) == len(X_L)
    assert sizes == [8, 12, 16]  # |X_L_1| = |X_L_0| + X_S_size
    for c in (1, 2):
        prev, cur = _load(work_dir, f'X_L_{c - 1}.npy'), _load(
            work_dir, f'X_L_{c}.npy')
        assert set(prev) < set(cur)
        sel = json.loads((work_dir / f'selection_{c}.json').read_text())
        new = sorted(set(cur) - set(prev))
        assert sorted(sel['indices']) == new
        assert sel['strategy'] == 'InstanceUncertaintyStrategy'
        assert len(sel['scores']) == 4
        # the selected images were in the pool, never in X_L
        assert not set(sel['indices']) & set(prev)
    results = json.loads((work_dir / 'results.json').read_text())
    assert [r['cycle'] for r in results] == [0, 1, 2]
    assert [r['num_labeled'] for r in results] == [8, 12, 16]
    assert all('pascal_voc/mAP' in r['metrics'] for r in results)
    # the base config's ClasswiseVOCMetric: every class by name, per cycle
    classes = [str(d) for d in range(10)]
    assert all(sorted(r['per_class_AP']['pascal_voc/AP50']) == classes
               for r in results)
    for phase in ('label', 'min', 'max'):
        assert f'| {phase}] Epoch(train)' in log
    assert not (work_dir / 'X_L_3.npy').exists()  # no selection after last


def test_resume_after_cycle_0_gives_the_same_selection(tmp_path, digits_root,
                                                       straight):
    straight_dir, _ = straight
    resumed = tmp_path / 'resumed'
    _experiment(resumed, digits_root, 'train_cfg.cycles=[0]')
    assert not (resumed / 'X_L_1.npy').exists()
    proc = _experiment(resumed, digits_root, resume=True)
    assert 'resumed epoch' in proc.stdout + proc.stderr
    for c in (1, 2):
        np.testing.assert_array_equal(_load(resumed, f'X_L_{c}.npy'),
                                      _load(straight_dir, f'X_L_{c}.npy'))
    results = json.loads((resumed / 'results.json').read_text())
    assert [r['cycle'] for r in results] == [0, 1, 2]
