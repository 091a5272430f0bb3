"""One selection pipeline (:mod:`al_plugin.engine.selection`): in a real
tiny run, ``ActiveSelectionHook``'s selection is what the public functions
give when called by hand on the checkpoint that selected, and what
``tools/query.py`` picks from a folder of the same pool images; the hook
states its contract (a train loop with a splitter) in ``before_run``."""
import importlib.util
import json
import os.path as osp
import shutil

import numpy as np
import pytest
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import Runner

from al_plugin.engine.export import load_detector
from al_plugin.engine.hooks import ActiveSelectionHook
from al_plugin.engine.selection import (build_dataset, build_strategy,
                                        pool_loader_cfg, score_indices,
                                        select)
from .conftest import REPO, run_tool
from .test_export import ONE_CYCLE, pool_paths
from .test_resume import _data_root_options

BUDGET = 4
SEED = 666  # configs/_base_/active_learning/runtime.py's randomness.seed
#: half of the budget by entropy, half at random (seed: SEED + cycle), so
#: the seeds must agree too
OPTIONS = ONE_CYCLE + ['custom_hooks.0.strategy.random_fraction=0.5']


@pytest.fixture(scope='module')
def experiment(tmp_path_factory, digits_root):
    """One cycle of configs/entropy_digits.py on the 32 digits images (8
    labeled), then the selection of 4: ``selection_1.json``."""
    work_dir = tmp_path_factory.mktemp('pipeline') / 'run'
    run_tool([
        'tools/train.py', 'configs/entropy_digits.py', '--work-dir',
        str(work_dir), '--cfg-options'
    ] + OPTIONS + _data_root_options(digits_root))
    return work_dir


def _query_tool():
    spec = importlib.util.spec_from_file_location(
        'query_tool', osp.join(REPO, 'tools', 'query.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_hook_functions_and_query_pick_the_same(experiment, digits_root,
                                                tmp_path):
    selection = json.loads((experiment / 'selection_1.json').read_text())
    labeled = np.load(experiment / 'X_L_0.npy')
    pool = np.setdiff1d(np.arange(32), labeled)
    assert selection['strategy'] == 'EntropyStrategy'
    assert len(selection['indices']) == BUDGET and len(pool) == 24
    config = str(experiment / 'entropy_digits.py')
    checkpoint = str(experiment / 'cycle_0.pth')  # the model that selected

    # the public functions by hand, without a runner
    cfg = Config.fromfile(config)
    init_default_scope('mmdet')
    hook_cfg = cfg.custom_hooks[0]
    strategy = build_strategy(hook_cfg['strategy'])
    assert strategy.random_fraction == 0.5
    loader_cfg = pool_loader_cfg(cfg)
    scored = score_indices(
        load_detector(cfg, checkpoint), loader_cfg,
        build_dataset(loader_cfg['dataset']), pool, strategy.requires,
        scorer_cfg=hook_cfg['scorer_cfg'], progress=False)
    assert scored.indices.tolist() == pool.tolist() and not scored.broken
    picked = select(strategy, scored.outputs, BUDGET, len(pool), SEED + 0)
    assert pool[picked.chosen].tolist() == selection['indices']
    assert picked.pseudo_labels == {}
    # two by score (the best two), two at random (scores recorded anyway)
    np.testing.assert_allclose(picked.scores[picked.chosen],
                               selection['scores'], rtol=1e-9)
    by_score = np.argsort(-picked.scores, kind='stable')[:2]
    assert picked.chosen[:2].tolist() == by_score.tolist()
    # another seed draws other random picks: the seed is what agrees
    other = select(strategy, scored.outputs, BUDGET, len(pool), SEED + 1)
    assert other.chosen[:2].tolist() == picked.chosen[:2].tolist()
    assert other.chosen.tolist() != picked.chosen.tolist()

    # tools/query.py on a folder of the pool images, named in pool order
    paths = pool_paths(digits_root)
    folder = tmp_path / 'pool'
    folder.mkdir()
    copies = {}
    for position, index in enumerate(pool.tolist()):
        copies[index] = str(folder / f'{position:03d}.jpg')
        shutil.copy(paths[index], copies[index])
    out = tmp_path / 'query'
    _query_tool().main([
        config, checkpoint,
        str(folder), '--budget',
        str(BUDGET), '--seed',
        str(SEED + 0), '--out',
        str(out), '--device', 'cpu'
    ])
    queried = (out / 'query_images.txt').read_text().split()
    assert queried == [copies[i] for i in selection['indices']]
    table = json.loads((out / 'query_scores.json').read_text())
    np.testing.assert_allclose([table[p]['score'] for p in queried],
                               selection['scores'], rtol=1e-9)


def _tiny_cfg(digits_root, work_dir) -> Config:
    cfg = Config.fromfile(
        osp.join(REPO, 'tests', 'configs', 'random_digits_tiny.py'))
    cfg.merge_from_dict(
        dict(o.split('=', 1) for o in _data_root_options(digits_root)))
    cfg.work_dir = str(work_dir)
    cfg.custom_hooks = [
        dict(type='ActiveSelectionHook', strategy=dict(type='RandomStrategy'))
    ]
    return cfg


def test_hook_refuses_a_loop_without_splitter(digits_root, tmp_path):
    cfg = _tiny_cfg(digits_root, tmp_path / 'plain')
    cfg.train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=1)
    cfg.param_scheduler = []
    runner = Runner.from_cfg(cfg)
    with pytest.raises(TypeError) as error:
        runner.train()
    message = str(error.value)
    assert message.startswith('ActiveSelectionHook selects after each cycle '
                              'of an ActiveLearningLoop')
    assert 'train loop is a EpochBasedTrainLoop, which has no splitter' in (
        message)
    assert runner.iter == 0  # stopped before the first iteration


def test_hook_lets_a_test_run_start(digits_root, tmp_path):
    """Outside training (``runner.test()`` also calls ``before_run``) the
    hook leaves the train loop unbuilt."""
    runner = Runner.from_cfg(_tiny_cfg(digits_root, tmp_path / 'test'))
    hook = next(h for h in runner.hooks
                if isinstance(h, ActiveSelectionHook))
    hook.before_run(runner)
    assert isinstance(runner._train_loop, dict)
