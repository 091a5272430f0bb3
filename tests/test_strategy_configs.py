"""Every strategy config runs a tiny 2-cycle experiment through
`tools/train.py` and writes valid files."""
import json

import numpy as np
import pytest

from .conftest import run_tool
from .test_resume import _data_root_options

#: the tiny sizes of tests/configs/random_digits_tiny.py, as overrides that
#: apply to any config inheriting configs/random_digits.py's bases
TINY = [
    'train_dataloader.batch_size=4',
    'train_dataloader.num_workers=0',
    'train_dataloader.persistent_workers=False',
    'train_dataloader.batch_sampler=None',
    'val_dataloader.batch_size=4',
    'val_dataloader.num_workers=0',
    'val_dataloader.persistent_workers=False',
    'test_dataloader.num_workers=0',
    'test_dataloader.persistent_workers=False',
    'train_cfg.cycles=[0,1]',
    'train_cfg.epochs=2',
    'train_cfg.lr_decay_epochs=[1]',
    'train_cfg.splitter.X_L_0_size=8',
    'train_cfg.splitter.X_S_size=4',
    'default_hooks.logger.interval=1',
    'default_hooks.visualization.draw=False',
]

#: config -> (strategy class, whether it records scores)
CONFIGS = {
    'random_digits.py': ('RandomStrategy', False),
    'entropy_digits.py': ('EntropyStrategy', True),
    'least_confidence_digits.py': ('LeastConfidenceStrategy', True),
    'margin_digits.py': ('MarginStrategy', True),
    'coreset_digits.py': ('CoreSetStrategy', False),
    'kmeans_digits.py': ('KMeansStrategy', False),
    'hybrid_digits.py': ('HybridStrategy', True),
    'localization_digits.py': ('LocalizationStabilityStrategy', True),
    'mining_digits.py': ('SelfSupervisedMiningStrategy', True),
    'mining_threshold_digits.py': ('SelfSupervisedMiningStrategy', True),
    'mining_pseudo_digits.py': ('SelfSupervisedMiningStrategy', True),
    'ratio_digits.py': ('RatioStrategy', True),
    'vae_digits.py': ('VAEReconstructionStrategy', True),
    'gmm_digits.py': ('GaussianMixtureStrategy', True),
    'badge_digits.py': ('GradientEmbeddingStrategy', True),
}
# the *_faster_rcnn_digits.py configs: tests/test_frcnn_experiment.py


def run_tiny(config, work_dir, data_root, *extra):
    return run_tool(['tools/train.py', config, '--work-dir',
                     str(work_dir), '--cfg-options'] + TINY +
                    _data_root_options(data_root) + list(extra))


def check_two_cycle_files(work_dir, strategy, scored, budget=4):
    """X_L / X_U / selection / results files of a 2-cycle run on the
    32-image pool (8 labeled first); returns the selection record."""
    X_L = [np.load(work_dir / f'X_L_{c}.npy') for c in (0, 1)]
    for c, labeled in enumerate(X_L):
        assert labeled.dtype == np.int64 and np.all(np.diff(labeled) > 0)
        assert 0 <= labeled.min() and labeled.max() < 32
        assert len(np.load(work_dir / f'X_U_{c}.npy')) == len(labeled)
    assert len(X_L[0]) == 8
    sel = json.loads((work_dir / 'selection_1.json').read_text())
    new = sorted(set(X_L[1]) - set(X_L[0]))
    assert set(X_L[0]) <= set(X_L[1])
    assert sorted(sel['indices']) == new and len(new) <= budget
    assert sel['strategy'] == strategy
    assert (sel['scores'] is not None) == scored
    if scored:
        assert len(sel['scores']) == len(new)
    results = json.loads((work_dir / 'results.json').read_text())
    assert [r['cycle'] for r in results] == [0, 1]
    assert [r['num_labeled'] for r in results] == [8, len(X_L[1])]
    assert [r['strategy'] for r in results] == [strategy] * 2
    assert all('pascal_voc/mAP' in r['metrics'] for r in results)
    assert not (work_dir / 'X_L_2.npy').exists()
    return sel


@pytest.mark.parametrize('config', sorted(CONFIGS))
def test_strategy_config_runs_two_cycles(tmp_path, digits_root, config):
    strategy, scored = CONFIGS[config]
    proc = run_tiny(f'configs/{config}', tmp_path, digits_root)
    sel = check_two_cycle_files(tmp_path, strategy, scored)
    if 'threshold' not in config:
        assert len(sel['indices']) == 4  # topk strategies fill the budget
    log = proc.stdout + proc.stderr
    assert f'{strategy} selected {len(sel["indices"])} of 24' in log
    assert '| label] Epoch(train)' in log and '| min]' not in log


def test_mining_pseudo_labels_join_the_next_cycles_training(
        tmp_path, digits_root):
    # an untrained model: keep every detection, and make every box certain
    proc = run_tiny('configs/mining_pseudo_digits.py', tmp_path, digits_root,
                    'model.test_cfg.score_thr=0.0',
                    'custom_hooks.0.strategy.certain_thr=0.0',
                    'custom_hooks.0.strategy.uncertain_thr=0.0')
    check_two_cycle_files(tmp_path, 'SelfSupervisedMiningStrategy', True)
    pseudo = json.loads((tmp_path / 'pseudo_labels_1.json').read_text())
    X_L_1 = np.load(tmp_path / 'X_L_1.npy')
    indices = [r['index'] for r in pseudo['images']]
    # every image left in the pool (32 - 12) is pseudo-labeled, none of X_L
    assert len(indices) == 20 and not set(indices) & set(X_L_1)
    for record in pseudo['images']:
        assert len(record['bboxes']) == len(record['labels']) > 0
        assert all(0 <= label < 10 for label in record['labels'])
        assert all(len(box) == 4 for box in record['bboxes'])
    results = json.loads((tmp_path / 'results.json').read_text())
    assert [r['num_pseudo_labeled'] for r in results] == [0, 20]
    log = proc.stdout + proc.stderr
    assert 'cycle 1: 12 labeled + 20 pseudo-labeled' in log
    # cycle 1 trains on 12 + 20 images: 8 iterations of 4 an epoch
    assert 'Epoch(train) [3][8/8]' in log
