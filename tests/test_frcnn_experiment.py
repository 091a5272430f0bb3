"""Two-cycle active-learning experiments with the tiny Faster R-CNN on the
built-in digits set, through `tools/train.py`: entropy
(configs/entropy_faster_rcnn_digits.py) from scratch, then localization
tightness and gradient embeddings, each branched from the entropy run's
trained cycle 0 (its model selects with the other strategy and cycle 1
trains on that selection), so cycle 0 trains once for the three."""
import json

import numpy as np
import pytest

from al_plugin.engine.branching import branch_experiment
from .conftest import run_tool
from .test_resume import _data_root_options
from .test_strategy_configs import TINY, check_two_cycle_files

#: the fewest iterations that still run every path: one epoch a cycle
#: of batches of 8 (1 iteration on 8 labeled images, 2 on 12) and fewer
#: RPN proposals
FAST = TINY + [
    'train_dataloader.batch_size=8',
    'train_cfg.epochs=1',
    'train_cfg.lr_decay_epochs=[]',
    'model.train_cfg.rpn_proposal.nms_pre=200',
    'model.train_cfg.rpn_proposal.max_per_img=100',
    'model.train_cfg.rcnn.sampler.num=64',
    'model.test_cfg.rpn.nms_pre=200',
    'model.test_cfg.rpn.max_per_img=100',
]


def _train(config, work_dir, data_root, *extra, resume=None):
    args = ['tools/train.py', f'configs/{config}', '--work-dir',
            str(work_dir), '--cfg-options'] + FAST + _data_root_options(
                data_root) + list(extra)
    if resume:
        args += ['--resume', str(resume)]
    return run_tool(args)


@pytest.fixture(scope='module')
def entropy_run(tmp_path_factory, digits_root):
    """The entropy experiment (both cycles): ``(work_dir, log)``."""
    work_dir = tmp_path_factory.mktemp('frcnn_entropy')
    proc = _train('entropy_faster_rcnn_digits.py', work_dir, digits_root)
    return work_dir, proc.stdout + proc.stderr


def test_entropy_runs_two_cycles(entropy_run):
    work_dir, log = entropy_run
    sel = check_two_cycle_files(work_dir, 'EntropyStrategy', scored=True)
    assert len(sel['indices']) == 4
    assert 'EntropyStrategy selected 4 of 24' in log
    # plain label training of the two-stage model: RPN and RoI losses
    assert 'loss_rpn_cls' in log and 'loss_bbox' in log
    assert '| label] Epoch(train)' in log and '| min]' not in log


@pytest.mark.parametrize('config,strategy', [
    ('tightness_faster_rcnn_digits.py', 'LocalizationTightnessStrategy'),
    ('badge_faster_rcnn_digits.py', 'GradientEmbeddingStrategy'),
])
def test_branched_strategy_runs_two_cycles(entropy_run, tmp_path,
                                           digits_root, config, strategy):
    source, _ = entropy_run
    checkpoint = branch_experiment(str(source), 0, str(tmp_path))
    # every proposal counts (a model trained 2 iterations is unsure of
    # most), so that the images' scores come from their own boxes
    proc = _train(config, tmp_path, digits_root,
                  'custom_hooks.0.scorer_cfg.box_score_thr=0.0',
                  resume=checkpoint)
    log = proc.stdout + proc.stderr
    assert f'{strategy} selected 4 of 24' in log

    X_L = [np.load(tmp_path / f'X_L_{c}.npy') for c in (0, 1)]
    np.testing.assert_array_equal(X_L[0], np.load(source / 'X_L_0.npy'))
    sel = json.loads((tmp_path / 'selection_1.json').read_text())
    assert sel['strategy'] == strategy and len(sel['indices']) == 4
    np.testing.assert_array_equal(
        X_L[1], np.union1d(X_L[0], sel['indices']))
    assert len(X_L[1]) == 12 and X_L[1].dtype == np.int64
    assert not set(sel['indices']) & set(X_L[0])
    unlabeled = np.load(tmp_path / 'X_U_1.npy')  # as many as X_L
    assert len(unlabeled) == 12 and not set(unlabeled) & set(X_L[1])
    # scores of the picks, from the images' own outputs
    scores = np.asarray(sel['scores'])
    assert scores.shape == (4, ) and np.all(scores > 0)
    assert len(set(scores.tolist())) > 1
    if strategy == 'LocalizationTightnessStrategy':
        # 1 - min_j |T + P - 1|, highest first
        assert np.all(scores <= 1) and np.all(np.diff(scores) <= 0)
    else:  # embedding norms; k-means++ starts from the largest
        assert scores[0] == scores.max()

    results = json.loads((tmp_path / 'results.json').read_text())
    assert [r['cycle'] for r in results] == [0, 1]
    assert [r['num_labeled'] for r in results] == [8, 12]
    # cycle 0 is the source's (entropy), cycle 1 this strategy's
    assert [r['strategy'] for r in results] == ['EntropyStrategy', strategy]
    assert all('pascal_voc/mAP' in r['metrics'] for r in results)
    assert '[cycle 1 | label] Epoch(train) [2][2/2]' in log
    assert '[cycle 0 | label]' not in log  # cycle 0 was not retrained
