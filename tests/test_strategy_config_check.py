"""Misspelt strategy names and options fail at config load, listing what
exists."""
import glob
import os.path as osp
import re

import pytest
from mmengine.config import Config

from al_plugin.engine import (ActiveSelectionHook, build_runner,
                              check_selection_hooks)
from al_plugin.registry import STRATEGIES
from al_plugin.strategies import (BaseStrategy, EntropyStrategy,
                                  check_strategy_cfg, init_options)
from .conftest import REPO, run_tool


def registered(package=''):
    """The registered strategy names (of classes from ``package``), sorted
    and joined as the messages list them."""
    return ', '.join(
        sorted(name for name, cls in STRATEGIES.module_dict.items()
               if cls.__module__.startswith(package)))


def test_unknown_name_lists_the_registered_names():
    with pytest.raises(KeyError) as err:
        check_strategy_cfg(dict(type='EntropyStrategey'), 'my.strategy')
    message = err.value.args[0]
    assert "'EntropyStrategey' in my.strategy" in message
    assert "did you mean 'EntropyStrategy'" in message
    assert message.endswith(f'registered strategies: {registered()}')
    assert ('CoreSetStrategy, EntropyStrategy, GaussianMixtureStrategy, '
            'GradientEmbeddingStrategy, HybridStrategy') in message


def test_options_follow_kwargs_to_the_base_class():
    # EntropyStrategy(**kw) -> BoxUncertaintyStrategy(reduction, **kw)
    # -> BaseStrategy(random_fraction, seed), which takes no **kwargs
    assert init_options(EntropyStrategy) == ([], {
        'reduction': 'max',
        'random_fraction': 0.0,
        'seed': 0
    })


def test_unknown_option_names_strategy_key_and_accepted_options():
    cfg = dict(type='EntropyStrategy', reductoin='sum', seed=1)
    with pytest.raises(TypeError) as err:
        check_strategy_cfg(cfg)
    assert str(err.value) == (
        "EntropyStrategy (strategy) got unknown option(s) 'reductoin' "
        "(did you mean 'reduction'?); accepted options: reduction='max', "
        'random_fraction=0.0, seed=0')


class _NeedsThreshold(BaseStrategy):
    """A strategy with a required option, passed to the base by **kwargs."""

    def __init__(self, thr, *, margin=0.1, **kwargs):
        super().__init__(**kwargs)


def test_missing_required_option():
    with pytest.raises(TypeError) as err:
        check_strategy_cfg(dict(type=_NeedsThreshold, seed=3))
    assert str(err.value) == (
        "_NeedsThreshold (strategy) is missing required option(s) 'thr'; "
        'accepted options: thr, margin=0.1, random_fraction=0.0, seed=0')
    check_strategy_cfg(dict(type=_NeedsThreshold, thr=0.5, margin=0.2))


@pytest.mark.parametrize('sub,bad,match', [
    ('uncertainty', dict(type='Entropy'), r"'Entropy' in s\.uncertainty"),
    ('diversity', dict(type='CoreSetStrategy', chunk=8),
     r"CoreSetStrategy \(s\.diversity\) got unknown option\(s\) 'chunk' "
     r"\(did you mean 'chunk_size'\?\)"),
    ('diversity', 'CoreSetStrategy', r's\.diversity must be a dict'),
])
def test_nested_hybrid_configs_are_checked(sub, bad, match):
    cfg = dict(type='HybridStrategy', top_n_factor=2)
    check_strategy_cfg(cfg, 's')
    cfg[sub] = bad
    with pytest.raises((KeyError, TypeError), match=match):
        check_strategy_cfg(cfg, 's')


def test_selection_hooks_in_a_config():
    hooks = [
        dict(type='CheckpointCompatHook'),
        dict(type='ActiveSelectionHook', strategy=dict(type='RandomStrategy'))
    ]
    check_selection_hooks(dict(custom_hooks=hooks))
    hooks[1]['strategy']['seeed'] = 1
    with pytest.raises(TypeError, match=re.escape(
            'RandomStrategy (custom_hooks[1].strategy) got unknown')):
        check_selection_hooks(dict(custom_hooks=hooks))
    hooks[1] = dict(type='ActiveSelectionHook', priority='LOW')
    with pytest.raises(TypeError, match=re.escape(
            "ActiveSelectionHook (custom_hooks[1]) is missing required "
            "option(s) 'strategy'")):
        check_selection_hooks(dict(custom_hooks=hooks))
    # option values are checked by building the (model-free) strategy
    hooks[1] = dict(
        type='ActiveSelectionHook',
        strategy=dict(type='SelfSupervisedMiningStrategy', mode='median'))
    with pytest.raises(ValueError, match=re.escape(
            "custom_hooks[1]: mode must be one of ('topk', 'threshold')")):
        check_selection_hooks(dict(custom_hooks=hooks))


def test_the_hook_itself_checks_its_strategy():
    # what users of mmdet's own tools/train.py see, when the Runner
    # builds the hook
    with pytest.raises(KeyError, match='registered strategies: .*'
                       'CoreSetStrategy, EntropyStrategy, '
                       'GaussianMixtureStrategy, GradientEmbeddingStrategy, '
                       'HybridStrategy'):
        ActiveSelectionHook(strategy=dict(type='NoSuchStrategy'))


# configs/*.py: in test_configs.py
OTHER_CONFIGS = sorted(
    glob.glob(osp.join(REPO, 'projects', '*', 'configs', '*.py')) +
    glob.glob(osp.join(REPO, 'tests', 'configs', '*.py')))


@pytest.mark.parametrize(
    'path', OTHER_CONFIGS, ids=lambda p: osp.relpath(p, REPO))
def test_project_and_test_configs_pass(path):
    cfg = Config.fromfile(path)
    check_selection_hooks(cfg)


@pytest.mark.parametrize('tool', ['tools/train.py', 'tools/test.py'])
def test_tool_fails_before_the_work_dir(tmp_path, tool):
    work_dir = tmp_path / 'work_dir'
    args = [tool, 'tests/configs/random_digits_tiny.py']
    if tool == 'tools/test.py':
        args.append(str(tmp_path / 'no_such_checkpoint.pth'))
    proc = run_tool(
        args + [
            '--work-dir',
            str(work_dir), '--cfg-options',
            'custom_hooks.0.strategy.type=NoSuchStrategy'
        ],
        check=False,
        timeout=120)
    assert proc.returncode != 0
    assert ("unknown strategy 'NoSuchStrategy' in custom_hooks[0].strategy;"
            in proc.stderr)
    # all built-in names (the config imports no project), sorted
    listed = re.search(r'registered strategies: ([\w, ]+)', proc.stderr)
    assert listed[1] == registered('al_plugin.')
    assert not work_dir.exists()  # the Runner would have made it


def test_misspelt_scorer_option_names_it_and_the_accepted_ones():
    hooks = [
        dict(
            type='ActiveSelectionHook',
            strategy=dict(type='EntropyStrategy'),
            scorer_cfg=dict(max_boxes=10, box_score_tr=0.1))
    ]
    with pytest.raises(TypeError) as err:
        check_selection_hooks(dict(custom_hooks=hooks))
    assert str(err.value) == (
        "ActiveSelectionHook.scorer_cfg (custom_hooks[0]) got unknown "
        "option(s) 'box_score_tr' (did you mean 'box_score_thr'?); accepted "
        'options: k=10000, max_boxes=100, box_score_thr=0.05, '
        'grad_dims=1024')
    # any output's option is accepted whatever the strategy: MI-AOD's `k`
    # stays valid in a config that switches to entropy
    hooks[0]['scorer_cfg'] = dict(k=100, max_boxes=10)
    check_selection_hooks(dict(custom_hooks=hooks))
    # what mmdet's own tools see, when the Runner builds the hook
    with pytest.raises(TypeError, match=re.escape(
            "ActiveSelectionHook.scorer_cfg got unknown option(s) 'top_k'; "
            'accepted options: k=10000,')):
        ActiveSelectionHook(strategy=dict(type='InstanceUncertaintyStrategy'),
                            scorer_cfg=dict(top_k=5))
    with pytest.raises(TypeError, match='must be a dict'):
        ActiveSelectionHook(strategy=dict(type='RandomStrategy'),
                            scorer_cfg=[('k', 5)])


def test_train_fails_on_a_misspelt_scorer_option_before_the_work_dir(
        tmp_path):
    work_dir = tmp_path / 'work_dir'
    proc = run_tool([
        'tools/train.py', 'tests/configs/miaod_digits_tiny.py', '--work-dir',
        str(work_dir), '--cfg-options', 'custom_hooks.0.scorer_cfg.K=5'
    ], check=False, timeout=120)
    assert proc.returncode != 0
    assert ("ActiveSelectionHook.scorer_cfg (custom_hooks[0]) got unknown "
            "option(s) 'K' (did you mean 'k'?); accepted options: "
            'k=10000, max_boxes=100, box_score_thr=0.05') in proc.stderr
    assert not work_dir.exists()


def test_the_run_gets_the_hook_the_check_built(tmp_path):
    """tools/train.py and tools/test.py: the selection hook (and so its
    strategy) is built once, at config load, and the Runner runs that
    object; the config it dumps keeps the hook config as written."""
    cfg = Config.fromfile(osp.join(REPO, 'tests', 'configs',
                                   'random_digits_tiny.py'))
    cfg.work_dir = str(tmp_path / 'work_dir')
    cfg.custom_hooks = [
        dict(type='CheckpointCompatHook'),
        dict(type='ActiveSelectionHook', priority='VERY_LOW',
             strategy=dict(type='EntropyStrategy', reduction='sum'))
    ]
    hooks = check_selection_hooks(cfg)
    assert list(hooks) == [1]
    built = hooks[1]
    assert built.strategy.reduction == 'sum' and built.priority == 'VERY_LOW'
    runner = build_runner(cfg, hooks)
    selection = [h for h in runner.hooks
                 if isinstance(h, ActiveSelectionHook)]
    assert len(selection) == 1 and selection[0] is built
    assert runner.hooks[-1] is built  # its priority, as in the config
    dumped = Config.fromfile(str(tmp_path / 'work_dir' /
                                 'random_digits_tiny.py'))
    assert dumped.custom_hooks == cfg.custom_hooks
    assert runner.cfg.custom_hooks == cfg.custom_hooks
    # without built hooks it is Runner.from_cfg: a hook of its own
    cfg.work_dir = str(tmp_path / 'plain')
    again = build_runner(cfg)
    own = next(h for h in again.hooks if isinstance(h, ActiveSelectionHook))
    assert own is not built and own.strategy.reduction == 'sum'
    with pytest.raises(IndexError, match=r'hooks\[5\]: the config has 2'):
        build_runner(cfg, {5: built})
