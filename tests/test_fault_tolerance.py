"""Crash-safe experiments: atomic checkpoint files, pruned cycle checkpoints,
and runs killed with SIGKILL that ``--resume`` finishes as if never killed.

The kill tests run ``tests/configs/miaod_digits_tiny_probes.py`` (the tiny
MI-AOD experiment: 3 cycles of 4 epochs, label / min / max / label) with
``KillProbeHook`` (tests/al_probes.py) armed at one point, then the same
command with ``--resume``, and compare the files with an uninterrupted run.
"""
import errno
import glob
import json
import os
import re
import resource
import signal

import pytest
import torch
from mmengine.config import Config
from mmengine.fileio import LocalBackend, get_file_backend
from mmengine.runner import Runner

from al_plugin.engine import (AtomicLocalBackend, find_resume_checkpoint,
                              prune_checkpoints)
from .conftest import REPO, run_tool
from .test_resume import _data_root_options

CONFIG = 'tests/configs/miaod_digits_tiny_probes.py'
RANDOM_CONFIG = 'tests/configs/random_digits_tiny.py'
CYCLES = (0, 1, 2)
EPOCHS = 12  # 3 cycles x (label, min, max, label)
#: The files a selection writes: what a resumed run must reproduce exactly.
SPLIT_FILES = (
    [f'{name}_{c}.npy' for c in CYCLES for name in ('X_L', 'X_U')] +
    [f'selection_{c}.json' for c in CYCLES[1:]] +
    [f'cycle{c}/trainval_{name}_{tag}.txt' for c in CYCLES
     for name in ('X_L', 'X_U') for tag in ('07', '12')])


# -- atomic checkpoint files ---------------------------------------------
@pytest.mark.parametrize(
    'config', sorted(glob.glob(os.path.join(REPO, 'configs', '*.py'))),
    ids=os.path.basename)
def test_configs_write_checkpoints_atomically(config, tmp_path):
    cfg = Config.fromfile(config)
    args = cfg.default_hooks.checkpoint.backend_args
    backend = get_file_backend(str(tmp_path), backend_args=args)
    assert type(backend) is AtomicLocalBackend


def _write_over_limit(backend, method, path):
    """In a forked child whose writes past 1000 bytes fail (a disk filling
    up mid-write: EFBIG), write 5000 bytes to ``path`` through ``backend``.
    """
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 1
        try:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (1000, 1000))
            data = 'x' * 5000
            getattr(backend, method)(data if method == 'put_text' else
                                     data.encode(), path)
        except OSError as e:
            code = 0 if e.errno == errno.EFBIG else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, 'the write did not fail'


@pytest.mark.parametrize('method', ['put', 'put_text'])
def test_failed_write_leaves_the_old_file_and_no_temp_file(tmp_path, method):
    old = b'the previous checkpoint'
    for name in ('local', 'atomic_local'):
        (tmp_path / name).mkdir()
        path = tmp_path / name / 'epoch_1.pth'
        path.write_bytes(old)
        backend = get_file_backend(path, backend_args=dict(backend=name))
        _write_over_limit(backend, method, path)
        assert os.listdir(tmp_path / name) == ['epoch_1.pth']
    # mmengine's LocalBackend fails mid-write: a truncated file remains
    assert (tmp_path / 'local' / 'epoch_1.pth').read_bytes() == b'x' * 1000
    # ours leaves the old file as it was
    assert (tmp_path / 'atomic_local' / 'epoch_1.pth').read_bytes() == old


def test_atomic_backend_writes_and_replaces(tmp_path):
    backend = AtomicLocalBackend()
    path = tmp_path / 'sub' / 'epoch_1.pth'
    backend.put(b'first', path)
    backend.put(b'second', path)
    backend.put_text('third \u00e9', tmp_path / 'last_checkpoint')
    assert path.read_bytes() == b'second'
    assert (tmp_path / 'last_checkpoint').read_text('utf-8') == 'third \u00e9'
    assert sorted(os.listdir(tmp_path)) == ['last_checkpoint', 'sub']
    assert os.listdir(tmp_path / 'sub') == ['epoch_1.pth']


# -- which checkpoint --resume takes --------------------------------------
def _touch(path, mtime):
    path.write_bytes(b'checkpoint')
    os.utime(path, (mtime, mtime))


def test_find_resume_checkpoint(tmp_path):
    assert find_resume_checkpoint(str(tmp_path / 'missing')) is None
    assert find_resume_checkpoint(str(tmp_path)) is None
    _touch(tmp_path / 'epoch_9.pth', 100)
    _touch(tmp_path / 'cycle_1.pth', 300)
    _touch(tmp_path / 'epoch_10.pth', 200)
    _touch(tmp_path / 'al_initial_weights.pth', 400)  # not resumable
    _touch(tmp_path / 'trained_cycle_1.pth', 500)  # a branch point only
    _touch(tmp_path / 'iter_3.pth', 250)
    last = tmp_path / 'last_checkpoint'
    newest = str(tmp_path / 'cycle_1.pth')
    # no last_checkpoint, an empty one (killed while CheckpointHook rewrote
    # it), one naming a removed file: the newest checkpoint file
    assert find_resume_checkpoint(str(tmp_path)) == newest
    last.write_text('')
    assert find_resume_checkpoint(str(tmp_path)) == newest
    last.write_text(str(tmp_path / 'epoch_11.pth'))
    assert find_resume_checkpoint(str(tmp_path)) == newest
    # otherwise what it names, even if older
    last.write_text(str(tmp_path / 'epoch_9.pth') + '\n')
    assert find_resume_checkpoint(str(tmp_path)) == str(tmp_path /
                                                        'epoch_9.pth')


# -- pruning cycle checkpoints --------------------------------------------
def test_prune_checkpoints_keeps_the_newest_and_the_protected(tmp_path):
    for name in ('cycle_0.pth', 'cycle_1.pth', 'cycle_2.pth', 'cycle_10.pth',
                 'epoch_3.pth', 'cycle_x.pth'):
        (tmp_path / name).write_bytes(b'c')
    pattern = r'cycle_(\d+)\.pth'

    def left():
        return sorted(os.listdir(tmp_path))

    assert prune_checkpoints(str(tmp_path), pattern, -1) == []
    assert len(left()) == 6
    removed = prune_checkpoints(
        str(tmp_path), pattern, 2, protect=str(tmp_path / 'cycle_0.pth'))
    assert sorted(removed) == [str(tmp_path / 'cycle_1.pth')]
    # numeric order (10 > 2); other files untouched
    assert left() == ['cycle_0.pth', 'cycle_10.pth', 'cycle_2.pth',
                      'cycle_x.pth', 'epoch_3.pth']
    prune_checkpoints(str(tmp_path), pattern, 1, backend=LocalBackend())
    assert left() == ['cycle_10.pth', 'cycle_x.pth', 'epoch_3.pth']


# -- the loop's state -------------------------------------------------------
def test_loop_state_keeps_the_warmup_position(tmp_path, digits_root):
    """A run resumed in the middle of a phase goes on with the phase's
    warm-up where it was, not from its start."""
    cfg = Config.fromfile(os.path.join(REPO, RANDOM_CONFIG))
    cfg.merge_from_dict(
        dict(
            a.split('=', 1) for a in _data_root_options(digits_root)))
    cfg.work_dir = str(tmp_path)
    cfg.train_cfg.warmup_iters = 10
    runner = Runner.from_cfg(cfg)
    runner._train_loop = runner.build_train_loop(runner._train_loop)
    runner.optim_wrapper = runner.build_optim_wrapper(runner.optim_wrapper)
    loop = runner.train_loop
    loop.prepare()
    assert [s.phase for s in loop.plan] == ['label', 'label']
    loop.epoch_in_cycle = 1  # the second epoch of the 'label' phase
    loop.enter_phase(loop.plan[1])
    loop._phase_iter = 3  # as after 3 iterations of the phase
    state = loop.state_dict()
    loop._phase_iter = 0
    loop.load_state_dict(state)
    loop._apply_lr()
    base = cfg.optim_wrapper.optimizer.lr
    warmup = loop.warmup_ratio + (1 - loop.warmup_ratio) * 3 / 10
    assert runner.optim_wrapper.param_groups[0]['lr'] == pytest.approx(
        base * loop.plan[1].lr_factor * warmup)


# -- end to end: uninterrupted and killed experiments ---------------------
def _experiment(work_dir, data_root, *options, resume=False, check=True):
    args = ['tools/train.py', CONFIG, '--work-dir', str(work_dir)]
    if resume:
        args.append('--resume')
    args += ['--cfg-options'] + _data_root_options(data_root) + list(options)
    return run_tool(args, check=check)


def _trained_epochs(log):
    """The runner epochs whose training iterations the log shows."""
    return sorted({int(e) for e in re.findall(r'Epoch\(train\) +\[(\d+)\]',
                                              log)})


def _assert_complete_checkpoints(work_dir):
    """Every checkpoint file loads; no temporary file is left behind."""
    for path in work_dir.glob('*.pth'):
        torch.load(path, map_location='cpu', weights_only=True)
    assert not [p for p in work_dir.rglob('*') if p.name.endswith('.tmp')]


def _assert_same_experiment(work_dir, ref_dir):
    """The same selections, id lists and results as the reference run."""
    for name in SPLIT_FILES:
        assert (work_dir / name).read_bytes() == (ref_dir /
                                                  name).read_bytes(), name
    results = json.loads((work_dir / 'results.json').read_text())
    assert results == json.loads((ref_dir / 'results.json').read_text())
    assert [r['cycle'] for r in results] == list(CYCLES)


@pytest.fixture(scope='module')
def reference(tmp_path_factory, digits_root):
    """An uninterrupted run of the probe config: work dir and log."""
    work_dir = tmp_path_factory.mktemp('uninterrupted')
    proc = _experiment(work_dir, digits_root)
    return work_dir, proc.stdout + proc.stderr


def test_uninterrupted_run_keeps_the_newest_cycle_checkpoints(reference):
    work_dir, log = reference
    assert _trained_epochs(log) == list(range(1, EPOCHS + 1))
    # max_keep_cycle_ckpts=2 (default): cycle_0.pth was removed
    assert sorted(p.name for p in work_dir.glob('cycle_*.pth')) == [
        'cycle_1.pth', 'cycle_2.pth'
    ]
    assert (work_dir / 'last_checkpoint').read_text() == str(
        work_dir / 'cycle_2.pth')
    assert sorted(p.name for p in work_dir.glob('epoch_*.pth')) == [
        'epoch_11.pth', 'epoch_12.pth'
    ]
    _assert_complete_checkpoints(work_dir)
    results = json.loads((work_dir / 'results.json').read_text())
    assert [r['cycle'] for r in results] == list(CYCLES)


def test_max_keep_cycle_ckpts_is_validated(tmp_path, digits_root):
    proc = _experiment(tmp_path, digits_root,
                       'train_cfg.max_keep_cycle_ckpts=0', check=False)
    assert proc.returncode != 0
    assert 'train_cfg.max_keep_cycle_ckpts must be >= 1' in proc.stderr


# (kill point, probe options, what is on disk at the kill,
#  checkpoint the resumed run loads, its runner epoch)
KILLS = {
    'mid_phase': (
        # cycle 1, third epoch ('max' phase), after its first iteration
        dict(point='train_iter', cycle=1, epoch=2, after=1),
        ['selection_1.json', 'epoch_6.pth'], 'epoch_6.pth', 6),
    'between_cycles': (
        # cycle_1.pth is written, cycle 2 has not trained yet
        dict(point='cycle_start', cycle=2),
        ['selection_2.json', 'cycle_1.pth'], 'cycle_1.pth', 8),
    'scoring': (
        # cycle 0's pool scoring, after its first batch (of 6)
        dict(point='scoring', cycle=0, after=1),
        ['epoch_4.pth'], 'epoch_4.pth', 4),
    'after_selection': (
        # selection 2 committed, cycle_1.pth not written yet
        dict(point='after_cycle', cycle=1),
        ['selection_2.json', 'epoch_8.pth'], 'epoch_8.pth', 8),
}


@pytest.mark.parametrize('kill', list(KILLS))
def test_killed_run_resumes_to_the_same_experiment(tmp_path, digits_root,
                                                   reference, kill):
    probe, on_disk, checkpoint, epoch = KILLS[kill]
    options = [f'custom_hooks.1.{k}={v}' for k, v in probe.items()]
    killed = _experiment(tmp_path, digits_root, *options, check=False)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    assert json.loads((tmp_path / 'killed.json').read_text())['point'] == \
        probe['point']
    for name in on_disk:
        assert (tmp_path / name).exists(), name
    if kill == 'scoring':
        assert not (tmp_path / 'X_L_1.npy').exists()
    if kill == 'after_selection':
        assert not (tmp_path / 'cycle_1.pth').exists()
    assert (tmp_path / 'last_checkpoint').read_text() == str(
        tmp_path / checkpoint)
    _assert_complete_checkpoints(tmp_path)
    killed_epochs = _trained_epochs(killed.stdout + killed.stderr)

    # the same command with --resume (the probe has fired: it stays quiet)
    resumed = _experiment(tmp_path, digits_root, *options, resume=True)
    log = resumed.stdout + resumed.stderr
    assert f'Load checkpoint from {tmp_path / checkpoint}' in log
    assert f'resumed epoch: {epoch},' in log
    # training goes on after the checkpoint's epoch: nothing repeated or lost
    assert _trained_epochs(log) == list(range(epoch + 1, EPOCHS + 1))
    assert set(killed_epochs) | set(_trained_epochs(log)) == set(
        range(1, EPOCHS + 1))

    _assert_same_experiment(tmp_path, reference[0])
    _assert_complete_checkpoints(tmp_path)


def test_finished_run_goes_on_with_more_cycles(tmp_path, digits_root,
                                               reference):
    """``--resume`` with a longer ``train_cfg.cycles`` extends a finished
    experiment: the last cycle's selection, then the new cycles, as if the
    longer experiment had run straight through."""
    _experiment(tmp_path, digits_root, 'train_cfg.cycles=[0,1]')
    assert not (tmp_path / 'X_L_2.npy').exists()
    resumed = _experiment(tmp_path, digits_root, resume=True)
    log = resumed.stdout + resumed.stderr
    assert f'Load checkpoint from {tmp_path / "cycle_1.pth"}' in log
    assert _trained_epochs(log) == list(range(9, EPOCHS + 1))
    _assert_same_experiment(tmp_path, reference[0])
