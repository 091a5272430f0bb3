"""The dual loop's phases freeze exactly what the spec says."""
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

from al_plugin.engine.loops.miaod_loop import miaod_phases
from .test_miaod_experiment import CONFIG


@pytest.fixture
def loop(tmp_path, digits_root):
    cfg = Config.fromfile(CONFIG)
    root = f'{digits_root}/VOCdevkit/'
    for d in cfg.train_dataloader.dataset.datasets:
        d.data_root = root
    cfg.val_dataloader.dataset.data_root = root
    cfg.test_dataloader.dataset.data_root = root
    cfg.work_dir = str(tmp_path)
    runner = Runner.from_cfg(cfg)
    runner._train_loop = runner.build_train_loop(runner._train_loop)
    runner.optim_wrapper = runner.build_optim_wrapper(runner.optim_wrapper)
    loop = runner.train_loop
    loop.prepare()
    loop.build_cycle_loaders()
    return loop


def _params(model):
    return {n: p.detach().clone() for n, p in model.named_parameters()}


def _changed(model, before):
    return {
        n
        for n, p in model.named_parameters() if not torch.equal(p, before[n])
    }


def _one_step(loop, phase):
    k = [s.phase for s in loop.plan].index(phase)
    loop.epoch_in_cycle = k
    loop.enter_phase(loop.plan[k])
    assert not loop.runner.optim_wrapper.optimizer.state  # fresh momentum
    before = _params(loop.model)
    labeled = next(iter(loop.labeled_loader))
    unlabeled = next(iter(loop.unlabeled_loader))
    assert all(s.metainfo['unlabeled'] for s in unlabeled['data_samples'])
    assert not any(s.metainfo['unlabeled'] for s in labeled['data_samples'])
    if phase == 'label':
        outputs = loop.train_step(labeled)
    else:
        loop.model.set_unlabeled_step(phase)
        outputs = loop.train_step((labeled, unlabeled))
    assert all(torch.isfinite(v) for v in outputs.values())
    return _changed(loop.model, before), outputs


def test_max_step_changes_only_f1_f2(loop):
    adversarial = {n for n, _ in loop.model.adversarial_parameters()}
    changed, outputs = _one_step(loop, 'max')
    assert 'u_loss_wave_dis_minus' in outputs
    assert changed and changed <= adversarial
    assert {n for n in adversarial if n.endswith('cls.weight')} <= changed


def test_min_step_leaves_f1_f2_unchanged(loop):
    adversarial = {n for n, _ in loop.model.adversarial_parameters()}
    changed, outputs = _one_step(loop, 'min')
    assert 'u_loss_wave_dis' in outputs
    assert not changed & adversarial
    assert any(n.startswith('backbone.') for n in changed)
    assert any('f_mil' in n for n in changed)


def test_label_step_trains_everything(loop):
    adversarial = {n for n, _ in loop.model.adversarial_parameters()}
    changed, _ = _one_step(loop, 'label')
    assert adversarial & changed
    assert any(n.startswith('backbone.') for n in changed)


def test_model_reinitialised_every_cycle(loop):
    initial = _params(loop.model)
    _one_step(loop, 'label')
    assert _changed(loop.model, initial)
    loop._reset_model()
    assert not _changed(loop.model, initial)


def test_plan_is_the_reference_schedule(loop):
    assert miaod_phases(2, [3, 1]) == (['label'] * 3 + ['min', 'max'] +
                                       ['label'] * 3 + ['min', 'max'] +
                                       ['label'] * 3)
    # the tiny config: epoch=1, epoch_ratio=[1, 1]; lr x0.1 for the last
    assert [s.phase for s in loop.plan] == ['label', 'min', 'max', 'label']
    assert np.allclose([s.lr_factor for s in loop.plan], [1, 1, 1, 0.1])


def test_warm_start_keeps_the_previous_cycles_weights(loop):
    initial = _params(loop.model)
    _one_step(loop, 'label')
    trained = _params(loop.model)
    loop.reset_weights = False
    loop._reset_model()  # cycle 0 still starts from the initial weights
    assert not _changed(loop.model, initial)
    _one_step(loop, 'label')
    trained = _params(loop.model)
    loop.cycle = 1
    loop._reset_model()  # cycle 1 fine-tunes cycle 0's model
    assert not _changed(loop.model, trained)
    assert not loop.runner.optim_wrapper.optimizer.state
