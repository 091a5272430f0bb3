"""projects/example_strategy: class-balanced entropy on hand-made arrays,
and its config end to end through tools/train.py."""
import glob
import math
import os.path as osp
import re

import numpy as np
import pytest

from al_plugin.registry import STRATEGIES
from al_plugin.strategies import EntropyStrategy, check_strategy_cfg
from projects.example_strategy.class_balanced import \
    ClassBalancedEntropyStrategy
from .conftest import REPO
from .test_strategies import per_image, select
from .test_strategy_configs import check_two_cycle_files, run_tiny

CONFIG = 'projects/example_strategy/configs/class_balanced_entropy_digits.py'


def entropy(*probs):
    return -sum(p * math.log(p) for p in probs if p > 0)


def long_tailed_pool():
    """Class 0 predicted in 4 boxes, class 1 in 1: w = (0.7, 1.75)."""
    return dict(
        class_probs=per_image(
            [[0.9, 0.1]] * 3,  # frequent class, fairly certain
            [[0.2, 0.8]],  # the rare class
            [[0.6, 0.4]],  # frequent class, the most uncertain box
            np.zeros((0, 2)),  # no boxes
        ))


def test_rare_class_boxes_come_first():
    outputs = long_tailed_pool()
    strategy = ClassBalancedEntropyStrategy()
    images, num_classes = strategy.normalised(outputs['class_probs'])
    # (n + C s) / (C (n_c + s)) = 7 / (2 * 5), 7 / (2 * 2)
    np.testing.assert_allclose(
        strategy.class_weights(images, num_classes), [0.7, 1.75])
    positions, scores = select(strategy, outputs, 2, 4)
    np.testing.assert_allclose(scores, [
        0.7 * entropy(0.9, 0.1), 1.75 * entropy(0.2, 0.8),
        0.7 * entropy(0.6, 0.4), 0.0
    ])
    assert positions == [1, 2]
    # plain entropy prefers the frequent class's most uncertain box
    assert select(EntropyStrategy(), outputs, 2, 4)[0] == [2, 1]


def test_power_zero_is_plain_entropy():
    # unnormalised (sigmoid-like) rows and an all-zero row included
    outputs = dict(
        class_probs=per_image([[0.2, 0.2, 0.1]], [[0.5, 0.1, 0.0]] * 2,
                              [[0.0, 0.0, 0.0], [0.1, 0.3, 0.3]]))
    for reduction in ('max', 'mean', 'sum'):
        np.testing.assert_allclose(
            ClassBalancedEntropyStrategy(
                power=0, reduction=reduction).score(outputs),
            EntropyStrategy(reduction=reduction).score(outputs))


def test_smoothing_and_power_shape_the_weights():
    images = [np.array([[1.0, 0.0, 0.0]] * 8 + [[0.0, 1.0, 0.0]] * 2)]
    # counts (8, 2, 0): shares (8 + s, 2 + s, s) / (10 + 3 s)
    weights = ClassBalancedEntropyStrategy(smoothing=1.0).class_weights(
        images, 3)
    np.testing.assert_allclose(weights, [13 / 27, 13 / 9, 13 / 3])
    squared = ClassBalancedEntropyStrategy(
        power=2, smoothing=1.0).class_weights(images, 3)
    np.testing.assert_allclose(squared, weights**2)
    # a large pseudo-count flattens the weights towards 1
    flat = ClassBalancedEntropyStrategy(smoothing=1e6).class_weights(
        images, 3)
    np.testing.assert_allclose(flat, 1.0, atol=1e-5)
    # all-zero rows and empty images count for no class
    empty = [np.zeros((0, 3)), np.zeros((2, 3))]
    np.testing.assert_allclose(
        ClassBalancedEntropyStrategy().class_weights(empty, 3), 1.0)


def test_empty_pool_and_bad_inputs():
    strategy = ClassBalancedEntropyStrategy()
    empty = dict(class_probs=per_image(np.zeros((0, 4)), []))
    np.testing.assert_array_equal(strategy.score(empty), [0.0, 0.0])
    with pytest.raises(ValueError, match='same C'):
        strategy.score(
            dict(class_probs=per_image([[0.5, 0.5]], [[0.2, 0.3, 0.5]])))
    with pytest.raises(ValueError, match='smoothing > 0'):
        ClassBalancedEntropyStrategy(smoothing=0)
    with pytest.raises(ValueError, match="'max', 'mean', 'sum'"):
        ClassBalancedEntropyStrategy(reduction='median')


def test_registered_with_all_its_options():
    cfg = dict(
        type='ClassBalancedEntropyStrategy',
        power=0.5,
        smoothing=2.0,
        reduction='sum',
        random_fraction=0.25,
        seed=1)
    check_strategy_cfg(cfg)  # options through **kwargs, two levels up
    strategy = STRATEGIES.build(cfg)
    assert isinstance(strategy, ClassBalancedEntropyStrategy)
    assert strategy.requires == ('class_probs', )
    assert (strategy.power, strategy.reduction) == (0.5, 'sum')
    with pytest.raises(TypeError, match="'powr' \\(did you mean 'power'"):
        check_strategy_cfg(dict(type='ClassBalancedEntropyStrategy', powr=2))


def test_project_config_runs_through_train_py(tmp_path, digits_root):
    # the project's config (custom_imports and strategy) at the tiny sizes
    # every strategy config is tested with
    run_tiny(CONFIG, tmp_path, digits_root)
    sel = check_two_cycle_files(tmp_path, 'ClassBalancedEntropyStrategy',
                                scored=True)
    assert len(sel['indices']) == 4
    assert sel['scores'] == sorted(sel['scores'], reverse=True)


def test_the_package_never_imports_projects():
    pattern = re.compile(r'^\s*(from|import)\s+projects\b', re.M)
    offenders = [
        path for path in glob.glob(
            osp.join(REPO, 'al_plugin', '**', '*.py'), recursive=True)
        if pattern.search(open(path).read())
    ]
    assert offenders == []
    assert pattern.search('from projects.example_strategy import x')
