"""Loop options of a whole experiment: early stop, longer first cycle."""
import json

import pytest

from .conftest import run_tool
from .test_resume import _data_root_options

CONFIG = 'tests/configs/random_digits_tiny.py'


def _train(work_dir, digits_root, *options, check=True):
    return run_tool(['tools/train.py', CONFIG, '--work-dir',
                     str(work_dir), '--cfg-options'] +
                    _data_root_options(digits_root) + list(options),
                    check=check)


def _iters_per_cycle(work_dir):
    """Training iterations logged in each cycle (logger interval 1)."""
    log = next(work_dir.glob('*/*.log')).read_text()
    counts = {}
    for line in log.splitlines():
        if 'Epoch(train)' in line and '[cycle ' in line:
            cycle = int(line.split('[cycle ')[1].split()[0])
            counts[cycle] = counts.get(cycle, 0) + 1
    return counts


def test_early_stop_and_first_cycle_repeat(tmp_path, digits_root):
    # ap_shift 2.0 > any change of an mAP in [0, 1]: stops after the first
    # cycle that has `ap_range` changes behind it, without selecting
    _train(tmp_path, digits_root, 'train_cfg.cycles=[0,1,2,3]',
           'train_cfg.early_stop.ap_shift=2.0',
           'train_cfg.early_stop.ap_range=1', 'train_cfg.X_L_0_repeat=3',
           'train_cfg.reset_weights=False')
    results = json.loads((tmp_path / 'results.json').read_text())
    assert [r['cycle'] for r in results] == [0, 1]
    assert 'early_stop' not in results[0]
    assert 'pascal_voc/mAP changed by' in results[1]['early_stop']
    assert (tmp_path / 'X_L_1.npy').exists()
    assert not (tmp_path / 'X_L_2.npy').exists()
    log = next(tmp_path.glob('*/*.log')).read_text()
    assert 'early stop after cycle 1' in log
    # 8 labeled x 3 passes / batch 4 = 6 iterations an epoch in cycle 0,
    # (8 + 4) / 4 = 3 in cycle 1; 2 epochs each
    assert _iters_per_cycle(tmp_path) == {0: 12, 1: 6}


@pytest.mark.parametrize('option, message', [
    ('train_cfg.early_stop.ap_range=0', 'ap_range must be an int >= 1'),
    ('train_cfg.early_stop.patience=2', "unknown keys ['patience']"),
])
def test_bad_early_stop_names_the_key(tmp_path, digits_root, option,
                                      message):
    proc = _train(tmp_path, digits_root, 'train_cfg.early_stop.ap_shift=0.1',
                  option, check=False)
    assert proc.returncode != 0
    assert message in proc.stderr
