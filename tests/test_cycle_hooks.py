"""The hooks of a cycle's side jobs: early stop, results.json, cycle
checkpoints, and the loop registering them from its train_cfg keys."""
import json
import os

import pytest
from mmengine.config import Config
from mmengine.runner import Runner

from al_plugin.engine.hooks import (ActiveSelectionHook, CycleCheckpointHook,
                                    CycleEarlyStoppingHook, CycleResultsHook)
from .conftest import REPO
from .test_resume import _data_root_options

CONFIG = 'tests/configs/random_digits_tiny.py'


def _loop(work_dir, digits_root, custom_hook=None, **train_cfg):
    """The tiny random experiment's loop, built (its hooks registered) and
    ready to save checkpoints, without training; ``custom_hook`` is added
    to ``custom_hooks``, ``train_cfg`` to the train_cfg."""
    cfg = Config.fromfile(os.path.join(REPO, CONFIG))
    cfg.merge_from_dict(
        dict(a.split('=', 1) for a in _data_root_options(digits_root)))
    cfg.work_dir = str(work_dir)
    if custom_hook is not None:
        cfg.custom_hooks = list(cfg.custom_hooks) + [custom_hook]
    cfg.train_cfg.update(train_cfg)
    runner = Runner.from_cfg(cfg)
    runner._train_loop = runner.build_train_loop(runner._train_loop)
    runner.optim_wrapper = runner.build_optim_wrapper(runner.optim_wrapper)
    return runner.train_loop


def _record(cycle, mAP):
    return dict(cycle=cycle, metrics={'pascal_voc/mAP': mAP})


# -- early stop, on its own ------------------------------------------------
def test_stop_reason_averages_the_last_changes():
    hook = CycleEarlyStoppingHook(ap_shift=0.01, ap_range=1)
    results = [_record(0, 0.1), _record(1, 0.2)]
    assert hook.stop_reason(results[:1]) is None  # no change behind it yet
    assert hook.stop_reason(results) is None  # changed by 0.1
    results.append(_record(2, 0.205))
    assert hook.stop_reason(results).startswith(
        'pascal_voc/mAP changed by 0.0050 on average over the last 1')
    # over 2 cycles: (0.1 + 0.005) / 2 >= 0.01
    assert CycleEarlyStoppingHook(0.01, 2).stop_reason(results) is None


def test_early_stop_options_name_their_key():
    with pytest.raises(KeyError, match=r"train_cfg.early_stop: unknown keys "
                       r"\['patience'\]"):
        CycleEarlyStoppingHook.from_options(
            dict(ap_shift=0.1, ap_range=1, patience=2),
            'train_cfg.early_stop')
    with pytest.raises(ValueError, match='X.ap_range must be an int >= 1'):
        CycleEarlyStoppingHook.from_options(dict(ap_shift=0.1), 'X')
    hook = CycleEarlyStoppingHook(0.1, 1, metric='coco/bbox_mAP',
                                  cfg_key='train_cfg.early_stop')
    with pytest.raises(KeyError, match="train_cfg.early_stop.metric: "
                       "'coco/bbox_mAP' is not among"):
        hook.stop_reason([_record(0, 0.1), _record(1, 0.2)])


def test_checkpoint_options_name_their_key():
    with pytest.raises(ValueError, match='train_cfg.max_keep_cycle_ckpts '
                       'must be >= 1'):
        CycleCheckpointHook(max_keep_cycle_ckpts=0, cfg_key='train_cfg')
    with pytest.raises(ValueError, match='max_keep_trained_ckpts must be an '
                       'int >= -1'):
        CycleCheckpointHook(max_keep_trained_ckpts=-2)


# -- on a built loop --------------------------------------------------------
def test_the_loop_registers_its_hooks_in_order(tmp_path, digits_root):
    loop = _loop(tmp_path, digits_root,
                 early_stop=dict(ap_shift=0.1, ap_range=1),
                 max_keep_cycle_ckpts=3)
    order = [type(h) for h in loop.runner.hooks]
    kinds = (CycleEarlyStoppingHook, CycleResultsHook, ActiveSelectionHook,
             CycleCheckpointHook)
    positions = [order.index(kind) for kind in kinds]
    assert positions == sorted(positions)
    assert [order.count(kind) for kind in kinds] == [1, 1, 1, 1]
    hook = loop.runner.hooks[positions[-1]]
    assert (hook.max_keep_cycle_ckpts, hook.max_keep_trained_ckpts) == (3, 2)


def test_no_early_stop_hook_without_the_key(tmp_path, digits_root):
    loop = _loop(tmp_path, digits_root)
    assert not any(
        isinstance(h, CycleEarlyStoppingHook) for h in loop.runner.hooks)


def test_a_custom_hook_and_its_keys_conflict(tmp_path, digits_root):
    custom = dict(type='CycleCheckpointHook', max_keep_cycle_ckpts=1)
    with pytest.raises(ValueError, match='train_cfg.max_keep_cycle_ckpts: '
                       'options of the CycleCheckpointHook'):
        _loop(tmp_path, digits_root, custom, max_keep_cycle_ckpts=3)
    loop = _loop(tmp_path, digits_root, custom)  # its options stand
    hooks = [h for h in loop.runner.hooks
             if isinstance(h, CycleCheckpointHook)]
    assert [h.max_keep_cycle_ckpts for h in hooks] == [1]


def test_early_stop_sets_the_flag_and_skips_the_branch_point(
        tmp_path, digits_root):
    loop = _loop(tmp_path, digits_root,
                 early_stop=dict(ap_shift=0.05, ap_range=1))
    loop.results = [_record(0, 0.30)]
    loop.runner.call_hook('after_cycle_eval', cycle=0,
                          result=loop.results[-1])
    assert not loop.stop_training
    assert (tmp_path / 'trained_cycle_0.pth').is_file()
    assert json.loads((tmp_path / 'results.json').read_text()) == \
        loop.results

    loop.cycle = 1  # not selected yet: a branch point unless it stops
    loop.results.append(_record(1, 0.31))
    loop.runner.call_hook('after_cycle_eval', cycle=1,
                          result=loop.results[-1])
    assert loop.stop_training
    written = json.loads((tmp_path / 'results.json').read_text())
    assert written[-1]['early_stop'].startswith(
        'pascal_voc/mAP changed by 0.0100')
    assert not (tmp_path / 'trained_cycle_1.pth').exists()


def test_cycle_checkpoints_keep_the_newest(tmp_path, digits_root):
    loop = _loop(tmp_path, digits_root, max_keep_cycle_ckpts=2,
                 max_keep_trained_ckpts=1)
    for cycle in range(4):
        loop.cycle = cycle
        loop.results.append(_record(cycle, 0.1 * cycle))
        loop.runner.call_hook('after_cycle_eval', cycle=cycle,
                              result=loop.results[-1])
        hook = next(h for h in loop.runner.hooks
                    if isinstance(h, CycleCheckpointHook))
        hook.after_cycle(loop.runner, cycle)
    assert sorted(p.name for p in tmp_path.glob('*cycle_*.pth')) == [
        'cycle_2.pth', 'cycle_3.pth', 'trained_cycle_3.pth'
    ]
    assert (tmp_path / 'last_checkpoint').read_text() == str(
        tmp_path / 'cycle_3.pth')
