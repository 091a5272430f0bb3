"""Label efficiency on a built-in digits pool (issues 7, 14 and 18).

Random, entropy, core-set, self-supervised mining (its selection; no pseudo
labels) and MI-AOD, each over the same seeds (default 0 1 2), 5 cycles
(``--cycles``) with the same budgets: 500 labeled first, 100 more a cycle,
of a 4000-image pool, through ``tools/compare.py``. ``--pool digits`` is
the default pool (``data/digits_det``); ``--pool redundant`` the pool of
bursts of ``tools/make_digits_redundant.py`` (``data/digits_redundant``,
through the configs' four ``data_root`` keys; the test split is the same).

Protocol (every strategy runs its own config from ``configs/``):

- **Testbed**: the configs' backbone init, glyph-pretrained weights
  (``data/pretrained``, the analogue of ImageNet init); ``pretrained`` in
  the output is read from the configs' ``model.backbone.init_cfg``.
- **Schedule**, the same for all: ``reset_weights=False``, a cycle
  fine-tunes the previous cycle's model (warm start). The reference
  retrains from its initial weights every cycle; on 2 CPU cores that would
  cost cycle 0's training in every cycle, so this is a compression, and
  it favours no strategy. Cycle 0: ``X_L_0_repeat=4``, 4 passes over the
  500 images an epoch, 2000 iterations of batch 8. The label loop runs its
  config's schedule (8 epochs, lr x0.1 in the last); MI-AOD ``epoch=1,
  epoch_ratio=[3, 1], X_L_repeat=1, X_U_repeat=1``, the reference's shape
  (3 label epochs, then min, max, 3 label epochs): the same 8 epochs of
  labeled batches, 2 of them each followed by an unlabeled batch.
- **Curves**: per seed, random runs every cycle; entropy, core-set and
  mining branch from random's cycle-0 model (``compare.py --branch-from``:
  the same X_L_0 and cycle-0 model a straight run of that seed trains,
  without training it again); MI-AOD runs straight (its cycle 0 trains its
  own model). ``map_per_cycle``, ``boxes_per_cycle`` (labeled boxes, the
  annotation cost), ``label_fraction_to_match_random`` and
  ``gain_over_random`` (each strategy minus random, paired by seed).
- **Branched comparison** (``paired_selection_gain``): from random's
  cycle-1 model of each seed, random, entropy, core-set and mining each
  pick once and train cycle 2; each strategy's cycle-2 metric minus
  random's in the same seed is what its selection alone adds. MI-AOD's
  picks are judged for its own model: from MI-AOD's cycle-1 model, MI-AOD
  picks against random picks (``miaod_random``: the MI-AOD config with
  ``RandomStrategy``), paired the same way.
- **Validation runs** (``validation_map``): ``tools/validate_splits.py``
  retrains ``configs/retinanet_digits.py`` (plain RetinaNet, pretrained
  backbone) from its initial weights on each strategy's final labeled set
  (last cycle), 3 repeats, for the runs of ``--validation-seeds`` (default
  0): trained like cycle 0, about 2000 iterations (``--validation-iters``)
  of batch 8 without warm-up and lr x0.1 for the last eighth of the epochs.
  It judges MI-AOD's picks apart from MI-AOD's detector.

``--stage`` runs a part (``curves``, ``branch``, ``validate``, ``summary``);
the default ``all`` goes seed by seed (that seed's curves, then its
branched comparison), the validation runs once their seeds have curves,
then the summary. Everything resumes: ``compare.py`` skips finished runs
and continues unfinished ones, ``validate_splits.py`` keeps finished
trainings; ``summary`` reports whatever finished, with the seeds (``n``)
of every entry. ``--jobs 2`` runs two trainings at a time, each with
``--threads`` (default: cores / jobs) threads.

A machine that comes back empty loses nothing finished: after every call of
a tool the finished runs' records (results, X_L files, compare.json, the
validation reports; no checkpoint) are copied into ``--records`` (default
``benchmarks/runs/label_efficiency_v2/<pool>``, kept in the repository,
:mod:`benchmarks.run_records`) and restored from there at the start, on
the same testbed only (digests of the pretrained weights and the pool's
annotations in ``testbed.json``; another is refused). A
branched step whose source was restored without its cycle model trains
that source again up to the cycle and checks that it reproduces the
recorded run (same X_L and mAP) before branching from it.

Runs go to ``--work-dir`` (default
``work_dirs/benchmarks/label_efficiency_v2/<pool>``): the curves in
``<strategy>/seed<S>`` with ``compare.json``, the branched comparisons in
``branch_cycle<C>/`` and ``branch_cycle<C>_miaod/``, the validation runs in
``validate/<strategy>/``. Writes ``benchmarks/results/label_efficiency.json``
(``label_efficiency_redundant.json`` for the redundant pool), the same as
markdown tables (``.md``, for RESULTS.md) and its plots:
the curves (``.png``, ``.svg``), the gain over random (``_gain``) and the
curves against labeled boxes (``_boxes``).

    .venv/bin/python benchmarks/label_efficiency.py [--pool redundant] \\
        [--seeds 0 1 2] [--stage all] [--jobs 2]
"""
import argparse
import copy
import datetime
import functools
import glob
import json
import math
import os
import os.path as osp
import shutil
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Dict, List, NamedTuple, Optional, Sequence

import numpy as np

ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..'))
sys.path.insert(0, ROOT)

# appended: tools/ holds train.py, test.py... that must not shadow anything
sys.path.append(osp.join(ROOT, 'tools'))

from al_plugin.evaluation.curves import (  # noqa: E402
    curves, fraction_to_reach, metric_value, paired_differences, rows_of_run)
from al_plugin.utils import atomic_open, atomic_write_json  # noqa: E402
from al_plugin.work_dir import (INITIAL_WEIGHTS,  # noqa: E402
                                find_cycles, id_list_file,
                                load_indices, load_results,
                                trained_checkpoint, write_id_list)
from benchmarks import run_records  # noqa: E402
from benchmarks.machine import machine  # noqa: E402

#: pool -> VOCdevkit root given to the configs (None: the configs' own)
POOLS = {'digits': None, 'redundant': 'data/digits_redundant/VOCdevkit/'}
#: the config keys that name a digits config's data
DATA_ROOT_KEYS = ('train_dataloader.dataset.datasets.0.data_root',
                  'train_dataloader.dataset.datasets.1.data_root',
                  'val_dataloader.dataset.data_root',
                  'test_dataloader.dataset.data_root')
#: strategy name -> config, label-training loop
LABEL_LOOP = {
    'random': 'configs/random_digits.py',
    'entropy': 'configs/entropy_digits.py',
    'coreset': 'configs/coreset_digits.py',
    'mining': 'configs/mining_digits.py',
}
MIAOD = {'miaod': 'configs/miaod_digits.py'}
#: strategies whose curve runs branch from random's cycle-0 model
BRANCHED_CURVES = ('entropy', 'coreset', 'mining')
#: MI-AOD's own model picking at random: the baseline of its branched
#: comparison
MIAOD_RANDOM = 'miaod_random'
MIAOD_RANDOM_OPTIONS = ['custom_hooks.0.strategy.type=RandomStrategy']
#: the plain detector of the validation runs
VALIDATION_CONFIG = 'configs/retinanet_digits.py'
#: the schedule every active-learning run shares (cycles apart)
COMMON = [
    'train_cfg.splitter.X_L_0_size=500',
    'train_cfg.splitter.X_S_size=100',
    'train_cfg.reset_weights=False',
    'train_cfg.X_L_0_repeat=4',
]
#: the label loop keeps its config's schedule: 8 epochs, lr x0.1 in the last
LABEL_LOOP_OPTIONS = []
MIAOD_OPTIONS = [
    'train_cfg.epoch=1', 'train_cfg.epoch_ratio=[3,1]',
    'train_cfg.X_L_repeat=1', 'train_cfg.X_U_repeat=1'
]
#: a source run keeps every cycle's trained model (branches start there)
KEEP_TRAINED = ['train_cfg.max_keep_trained_ckpts=-1']
STAGES = ('curves', 'branch', 'validate', 'summary')
#: train_cfg keys recorded as the schedule of a strategy
SCHEDULE_KEYS = ('type', 'cycles', 'epochs', 'epoch', 'epoch_ratio',
                 'X_L_repeat', 'X_L_0_repeat', 'X_U_repeat', 'reset_weights',
                 'lr_decay_epochs', 'lr_decay', 'warmup_iters')
VALIDATION_SETTINGS = 'benchmark_validation.json'
#: held while the records are kept
KEEPING = threading.Lock()


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--pool', choices=list(POOLS), default='digits')
    parser.add_argument('--stage', choices=STAGES + ('all', ),
                        default='all')
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    parser.add_argument('--cycles', type=int, nargs='+',
                        default=[0, 1, 2, 3, 4])
    parser.add_argument(
        '--branch-cycle', type=int, default=1,
        help='the cycle whose trained model every strategy of the branched '
        'comparison picks with')
    parser.add_argument(
        '--work-dir',
        help='default: work_dirs/benchmarks/label_efficiency_v2/<pool>')
    parser.add_argument(
        '--data-root',
        help='VOCdevkit root of the pool (default: the configs\' for '
        'digits, data/digits_redundant/VOCdevkit/ for redundant)')
    parser.add_argument(
        '--out', default=osp.join(ROOT, 'benchmarks/results'),
        help='where label_efficiency[_redundant].{json,png,svg} go')
    parser.add_argument(
        '--extra', nargs='*', default=[],
        help='more key=value overrides of every active-learning run')
    parser.add_argument('--validation-seeds', type=int, nargs='+',
                        default=[0],
                        help='seeds whose final labeled sets are retrained')
    parser.add_argument('--validation-repeats', type=int, default=3)
    parser.add_argument('--validation-iters', type=int, default=2000,
                        help='training iterations of a validation run')
    parser.add_argument(
        '--validation-extra', nargs='*', default=[],
        help='more key=value overrides of the validation runs')
    parser.add_argument(
        '--records',
        help='where the finished runs\' records are kept and restored from '
        '(benchmarks/run_records.py; default: '
        'benchmarks/runs/label_efficiency_v2/<pool>; "" for none)')
    parser.add_argument('--jobs', type=int, default=1,
                        help='trainings at a time')
    parser.add_argument('--threads', type=int,
                        help='OMP_NUM_THREADS of a training (default: '
                        'cores / jobs)')
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error(f'--jobs must be >= 1, got {args.jobs}')
    if args.threads is None:
        args.threads = max(1, (os.cpu_count() or 1) // args.jobs)
    if args.threads < 1:
        parser.error(f'--threads must be >= 1, got {args.threads}')
    if args.cycles != sorted(set(args.cycles)) or args.cycles[0] != 0:
        parser.error(f'--cycles must rise from 0, got {args.cycles}')
    if args.branch_cycle + 1 not in args.cycles:
        parser.error(f'--branch-cycle {args.branch_cycle}: --cycles '
                     f'{args.cycles} has no cycle after it')
    if args.validation_repeats < 1 or args.validation_iters < 1:
        parser.error('--validation-repeats and --validation-iters must be '
                     '>= 1')
    if args.work_dir is None:
        args.work_dir = osp.join('work_dirs/benchmarks/label_efficiency_v2',
                                 args.pool)
    if args.data_root is None:
        args.data_root = POOLS[args.pool]
    if args.records is None:
        args.records = osp.join(ROOT, 'benchmarks/runs/label_efficiency_v2',
                                args.pool)
    return args


# -- the runs ----------------------------------------------------------------
class Step(NamedTuple):
    """One ``tools/compare.py`` call: ``configs`` (name -> config) over
    ``seeds`` with ``options``, runs in ``work_dir/<name>/seed<S>``; a
    branched one starts from ``branch = (source dir, cycle)``; the gains
    compare.py prints are over ``baseline``."""
    stage: str
    configs: Dict[str, str]
    seeds: List[int]
    options: List[str]
    work_dir: str
    branch: Optional[tuple] = None
    baseline: str = 'random'


def cycles_option(cycles: Sequence[int]) -> str:
    return f'train_cfg.cycles=[{",".join(map(str, cycles))}]'


def pool_options(data_root: Optional[str]) -> List[str]:
    """The overrides that point a digits config at ``data_root``."""
    if data_root is None:
        return []
    return [f'{key}={data_root}' for key in DATA_ROOT_KEYS]


def branch_dirs(work_dir: str, cycle: int) -> Dict[str, str]:
    """Work dirs of the branched comparisons: the label loop's (from
    random's model) and MI-AOD's (from its own)."""
    base = osp.join(work_dir, f'branch_cycle{cycle}')
    return {'label_loop': base, 'miaod': base + '_miaod'}


def plan_steps(args) -> List[Step]:
    """The ``compare.py`` calls of the ``curves`` and ``branch`` stages, in
    order (a branch's source runs before it)."""
    pool = pool_options(args.data_root)
    extra = list(args.extra)
    curve = [cycles_option(args.cycles)] + COMMON
    short = [cycles_option([c for c in args.cycles
                            if c <= args.branch_cycle + 1])] + COMMON
    seeds = list(args.seeds)
    wd = args.work_dir
    branches = branch_dirs(wd, args.branch_cycle)
    return [
        Step('curves', {'random': LABEL_LOOP['random']}, seeds,
             curve + LABEL_LOOP_OPTIONS + KEEP_TRAINED + pool + extra, wd),
        Step('curves', {n: LABEL_LOOP[n] for n in BRANCHED_CURVES}, seeds,
             curve + LABEL_LOOP_OPTIONS + pool + extra, wd,
             (osp.join(wd, 'random'), 0)),
        Step('curves', dict(MIAOD), seeds,
             curve + MIAOD_OPTIONS + KEEP_TRAINED + pool + extra, wd),
        Step('branch', dict(LABEL_LOOP), seeds,
             short + LABEL_LOOP_OPTIONS + pool + extra,
             branches['label_loop'],
             (osp.join(wd, 'random'), args.branch_cycle)),
        Step('branch', {MIAOD_RANDOM: MIAOD['miaod']}, seeds,
             short + MIAOD_OPTIONS + MIAOD_RANDOM_OPTIONS + pool + extra,
             branches['miaod'],
             (osp.join(wd, 'miaod'), args.branch_cycle), MIAOD_RANDOM),
        Step('branch', dict(MIAOD), seeds,
             short + MIAOD_OPTIONS + pool + extra, branches['miaod'],
             (osp.join(wd, 'miaod'), args.branch_cycle), MIAOD_RANDOM),
    ]


def compare_command(step: Step, jobs: int) -> List[str]:
    """The ``tools/compare.py`` command line of ``step``."""
    cmd = [
        sys.executable,
        osp.join(ROOT, 'tools/compare.py'), *step.configs.values(),
        '--names', *step.configs, '--seeds', *map(str, step.seeds),
        '--work-dir', step.work_dir, '--jobs', str(jobs)
    ]
    if step.branch is not None:
        cmd += ['--branch-from', step.branch[0], '--branch-cycle',
                str(step.branch[1])]
    return cmd + ['--baseline', step.baseline, '--cfg-options',
                  *step.options]


def child_env(threads: int) -> dict:
    return dict(os.environ, OMP_NUM_THREADS=str(threads),
                MKL_NUM_THREADS=str(threads))


def source_step(step: Step, steps: Sequence[Step]) -> Step:
    """The curves step that runs the source of the branched ``step``."""
    name = osp.basename(osp.normpath(step.branch[0]))
    return next(s for s in steps if s.stage == 'curves'
                and s.branch is None and name in s.configs)


def regenerate_source(source: Step, name: str, seed: int, cycle: int,
                      args) -> str:
    """Train ``name``'s run of ``seed`` again up to ``cycle`` (its records
    were restored, its checkpoints are gone) in ``<work dir>_regenerated``;
    check that it reproduces the recorded run (training is deterministic at
    a fixed seed and thread count): the same ``X_L`` and metric in every
    cycle up to ``cycle``. Returns the regenerated run's work dir."""
    root = args.work_dir.rstrip('/') + '_regenerated'
    options = [o for o in source.options
               if not o.startswith('train_cfg.cycles=')]
    step = source._replace(
        configs={name: source.configs[name]}, seeds=[seed],
        options=[cycles_option([c for c in args.cycles if c <= cycle])] +
        options, work_dir=osp.join(root, f'cycle{cycle}'))
    run_steps([step], args, keep=False)
    again = osp.join(step.work_dir, name, f'seed{seed}')
    recorded = osp.join(source.work_dir, name, f'seed{seed}')
    rows = {}
    for path in (recorded, again):
        rows[path] = {r['cycle']: metric_value(r, 'AP50')
                      for r in rows_of_run(load_results(path), name, seed)
                      if r['cycle'] <= cycle}
    same = rows[recorded] == rows[again] and all(
        np.array_equal(load_indices(recorded, 'X_L', c),
                       load_indices(again, 'X_L', c))
        for c in rows[recorded])
    if not same:
        raise SystemExit(
            f'{again} does not reproduce {recorded} up to cycle {cycle} '
            f'(AP50 {rows[again]} against {rows[recorded]}): the runs '
            f'branched from it would not start from the recorded model; '
            f'run the whole benchmark again (move {args.work_dir} and '
            f'{args.records} away)')
    return again


def ensure_sources(step: Step, steps: Sequence[Step], args) -> None:
    """Give the branched ``step`` its sources' cycle models: a source run
    restored from the records has none; train it again
    (:func:`regenerate_source`) and copy its trained model of the branch
    cycle and its initial weights into the source's work dir."""
    if step.branch is None:
        return
    root, cycle = step.branch
    name = osp.basename(osp.normpath(root))
    for seed in step.seeds:
        source = osp.join(root, f'seed{seed}')
        if all(run_records.finished(osp.join(step.work_dir, n, f'seed{seed}'))
               for n in step.configs) or \
                osp.isfile(osp.join(source, trained_checkpoint(cycle))) or \
                not run_records.finished(source):
            continue
        print(f'{source}: restored from the records without its cycle-'
              f'{cycle} model; training it again', flush=True)
        again = regenerate_source(source_step(step, steps), name, seed,
                                  cycle, args)
        for file in (trained_checkpoint(cycle), INITIAL_WEIGHTS):
            target = osp.join(source, file)
            shutil.copyfile(osp.join(again, file), target + '.tmp')
            os.replace(target + '.tmp', target)  # never a half checkpoint


def wait_keeping(process, args=None, interval: float = 60) -> int:
    """Wait for ``process``; with ``args``, keep the records every
    ``interval`` seconds meanwhile (a run that ends is kept within a
    minute, not when the last run of its step ends). Returns its exit
    code."""
    while True:
        try:
            return process.wait(timeout=interval)
        except subprocess.TimeoutExpired:
            if args is not None:
                keep_records(args, quiet=True)


def call_keeping(cmd: List[str], args, keep: bool = True, **popen) -> int:
    """``subprocess.call(cmd)`` in the repository with ``--threads``
    threads, keeping the records meanwhile unless ``keep`` is false
    (:func:`wait_keeping`)."""
    with subprocess.Popen(cmd, cwd=ROOT, env=child_env(args.threads),
                          **popen) as process:
        try:
            return wait_keeping(process, args if keep else None)
        except BaseException:  # as subprocess.call: no orphan left
            process.kill()
            raise


def run_steps(steps: Sequence[Step], args, keep: bool = True,
              plan: Optional[Sequence[Step]] = None) -> None:
    """Run ``steps`` through ``tools/compare.py``, giving a branched one its
    sources first (``plan``: every step, default ``steps``); the records
    are kept every minute while a step runs and after it (unless ``keep``
    is false)."""
    for step in steps:
        ensure_sources(step, plan or steps, args)
        cmd = compare_command(step, args.jobs)
        print(' '.join(cmd), flush=True)
        code = call_keeping(cmd, args, keep)
        if keep:
            keep_records(args)
        if code:
            raise SystemExit(
                f'{step.stage}: tools/compare.py exited {code} (run logs: '
                f'{step.work_dir}/<name>/seed<S>/compare_stdout.log); run '
                'this again to continue, --stage summary for what finished')


# -- validation runs ---------------------------------------------------------
def validation_schedule(num_labeled: int, batch_size: int,
                        iters: int) -> dict:
    """Epochs over ``num_labeled`` images that come closest to ``iters``
    iterations of ``batch_size``, lr x0.1 for about the last eighth of them
    (cycle 0 decays in the last of 8 epochs), no warm-up (the loop has
    none), no validation during training, one checkpoint at the end.

    Returns:
        dict: ``epochs``, ``iterations`` (what they amount to) and
        ``options`` (key=value overrides of ``VALIDATION_CONFIG``).
    """
    per_epoch = math.ceil(num_labeled / batch_size)
    epochs = max(1, round(iters / per_epoch))
    decay = max(1, round(epochs * 7 / 8))
    return dict(
        epochs=epochs,
        iterations=epochs * per_epoch,
        options=[
            f'train_cfg.max_epochs={epochs}',
            f'train_cfg.val_interval={epochs + 1}',
            'param_scheduler.0.start_factor=1.0',
            f'param_scheduler.1.end={epochs}',
            f'param_scheduler.1.milestones=[{decay}]',
            f'default_hooks.checkpoint.interval={epochs}',
        ])


def validation_jobs(args, rows: List[dict]) -> List[dict]:
    """One ``tools/validate_splits.py`` call per strategy whose runs of
    ``--validation-seeds`` all reached the last cycle; the others are
    reported and left out.

    Args:
        rows (list[dict]): The curve runs' rows (``compare.json``).

    Returns:
        list[dict]: ``name``, ``command``, ``out_dir`` and ``settings``
        (what the call trains; written beside its report).
    """
    last = args.cycles[-1]
    base = [VALIDATION_CONFIG] + pool_options(args.data_root) + \
        list(args.validation_extra)
    cfg = load_config(base[0], base[1:])
    batch_size = cfg.train_dataloader.batch_size
    jobs = []
    for name in list(LABEL_LOOP) + list(MIAOD):
        num_labeled = {r['seed']: r['num_labeled'] for r in rows
                       if r['strategy'] == name and r['cycle'] == last}
        lacking = [s for s in args.validation_seeds if s not in num_labeled]
        if lacking:
            print(f'validate: {name} has not reached cycle {last} for seeds '
                  f'{lacking}; left out', flush=True)
            continue
        size = max(num_labeled[s] for s in args.validation_seeds)
        schedule = validation_schedule(size, batch_size,
                                       args.validation_iters)
        out_dir = osp.join(args.work_dir, 'validate', name)
        options = pool_options(args.data_root) + schedule['options'] + \
            list(args.validation_extra)
        command = [
            sys.executable,
            osp.join(ROOT, 'tools/validate_splits.py'),
            *(osp.join(args.work_dir, name, f'seed{s}')
              for s in args.validation_seeds),
            '--config', VALIDATION_CONFIG, '--repeats',
            str(args.validation_repeats), '--cycle', str(last),
            '--work-dir', out_dir, '--cfg-options', *options
        ]
        settings = dict(config=VALIDATION_CONFIG, options=options,
                        seeds=list(args.validation_seeds),
                        repeats=args.validation_repeats, cycle=last,
                        backbone_checkpoint=pretrained_checkpoint(cfg),
                        num_labeled=size, batch_size=batch_size,
                        epochs=schedule['epochs'],
                        iterations=schedule['iterations'])
        jobs.append(dict(name=name, command=command, out_dir=out_dir,
                         settings=settings))
    return jobs


def write_id_lists(args) -> List[str]:
    """Give the finished runs restored from the records their X_L image-id
    lists (``cycle<c>/trainval_X_L_<tag>.txt``); returns the files written.

    The records keep a run's ``X_L_<c>.npy``, not these lists, which
    ``validate_splits.py`` compares with the pool before it trusts the
    indices. They are written again from the pool by the splitter's rule
    (each subset tag's ids in index order, ``PoolImages.ids_by_tag``), so
    they are the files the run wrote: the testbed check has found the pool
    the records were measured on. Runs that have their lists keep them.
    """
    from al_plugin.datasets.pool import PoolImages
    from al_plugin.engine.selection import build_pool
    missing = []
    for done in sorted(glob.glob(osp.join(
            args.work_dir, '**', run_records.DONE_FILE), recursive=True)):
        run = osp.dirname(done)
        if run_records.finished(run):
            missing += [(run, c) for c in find_cycles(run) if not glob.glob(
                osp.join(run, id_list_file('X_L', c, '*')))]
    if not missing:
        return []
    pool = PoolImages.read(build_pool(load_config(
        LABEL_LOOP['random'], pool_options(args.data_root) +
        list(args.extra))))
    written = []
    for run, cycle in missing:
        indices = load_indices(run, 'X_L', cycle, len(pool))
        for tag, ids in pool.ids_by_tag(indices).items():
            written.append(write_id_list(run, 'X_L', cycle, tag, ids))
    print(f'wrote the X_L id lists of {len(missing)} restored cycles of '
          f'{len({run for run, _ in missing})} runs', flush=True)
    return written


def run_validation(args) -> None:
    write_id_lists(args)
    rows = read_rows(osp.join(args.work_dir, 'compare.json'),
                     args.validation_seeds)
    jobs = validation_jobs(args, rows)

    def run(job):
        os.makedirs(job['out_dir'], exist_ok=True)
        print(' '.join(job['command']), flush=True)
        with open(osp.join(job['out_dir'], 'validate_stdout.log'),
                  'a') as log:
            code = call_keeping(job['command'], args, stdout=log,
                                stderr=subprocess.STDOUT)
        if code == 0:  # the settings of the report it completed
            atomic_write_json(osp.join(job['out_dir'], VALIDATION_SETTINGS),
                              job['settings'])
        return code

    with ThreadPoolExecutor(args.jobs) as pool:
        codes = list(pool.map(run, jobs))
    failed = [j['name'] for j, code in zip(jobs, codes) if code]
    if failed:
        raise SystemExit(
            f'validate: tools/validate_splits.py failed for {failed} '
            f'(logs: {args.work_dir}/validate/<name>/validate_stdout.log)')


# -- summary -----------------------------------------------------------------
def read_rows(path: str, seeds: Sequence[int]) -> List[dict]:
    """Rows of a ``compare.json`` for ``seeds``; none if it is missing."""
    if not osp.exists(path):
        return []
    with open(path) as f:
        return [r for r in json.load(f)['rows'] if r['seed'] in seeds]


def summarize(rows: list, metric: str = 'AP50') -> dict:
    """The curves' entries: ``map_per_cycle`` ([mean, std] over seeds),
    ``labeled_fraction_per_cycle``, ``boxes_per_cycle`` (labeled boxes,
    mean over seeds; None where a row lacks the count),
    ``seeds_per_cycle``, and with random's rows ``random_final_map``,
    ``label_fraction_to_match_random`` and ``gain_over_random`` (per cycle
    [mean, std, seeds] of the strategy's metric minus random's in the same
    seed); those three are None / empty without random."""
    data = curves(rows, metric)
    out = dict(
        metric=metric,
        map_per_cycle={
            name: [[p.mean, p.std] for p in points]
            for name, points in data.items()
        },
        labeled_fraction_per_cycle={
            name: [p.labeled_fraction for p in points]
            for name, points in data.items()
        },
        boxes_per_cycle={
            name: [p.labeled_boxes for p in points]
            for name, points in data.items()
        },
        seeds_per_cycle={
            name: [p.num_seeds for p in points]
            for name, points in data.items()
        },
        random_final_map=None,
        label_fraction_to_match_random={},
        gain_over_random={})
    if 'random' in data:
        target = data['random'][-1].mean
        out['random_final_map'] = target
        out['label_fraction_to_match_random'] = {
            name: fraction_to_reach(points, target)
            for name, points in data.items()
        }
        out['gain_over_random'] = {
            name: [[p.mean, p.std, p.num_seeds] for p in points]
            for name, points in paired_differences(rows, 'random',
                                                   metric).items()
        }
    return out


def paired_gain(rows: list, baseline: str, cycle: int, model: str,
                metric: str = 'AP50') -> dict:
    """Per strategy other than ``baseline``: its ``metric`` at ``cycle``
    minus the baseline's in the same seed (runs branched from ``model``'s
    trained model of ``cycle - 1``).

    Returns:
        dict: per strategy ``model``, ``baseline``, ``cycle``, ``n`` (paired
        seeds), ``seeds``, ``mean`` and ``std`` (population; None for no
        pair), ``per_seed`` (seed -> difference), ``map`` and
        ``baseline_map`` (means over the paired seeds).
    """
    values = {}
    for row in rows:
        value = metric_value(row, metric)
        if row['cycle'] == cycle and isinstance(value, (int, float)):
            values.setdefault(row['strategy'], {})[row['seed']] = \
                float(value)
    base = values.get(baseline, {})
    out = {}
    for name, own in values.items():
        if name == baseline:
            continue
        seeds = sorted(s for s in own if s in base)
        diffs = np.array([own[s] - base[s] for s in seeds])
        out[name] = dict(
            model=model, baseline=baseline, cycle=cycle, n=len(seeds),
            seeds=seeds,
            mean=float(diffs.mean()) if seeds else None,
            std=float(diffs.std()) if seeds else None,
            per_seed={str(s): float(d) for s, d in zip(seeds, diffs)},
            map=float(np.mean([own[s] for s in seeds])) if seeds else None,
            baseline_map=float(np.mean([base[s] for s in seeds]))
            if seeds else None)
    return out


def validation_summary(validate_dir: str) -> dict:
    """Per strategy (a folder of ``validate_dir`` with a report of
    ``tools/validate_splits.py``): the metric's ``mean``, ``std``
    (population) and ``n`` over every training of every run, the ``runs``
    (work dir, labeled images and boxes, n, mean, std) and the
    ``settings`` the benchmark trained with."""
    out = {}
    if not osp.isdir(validate_dir):
        return out
    for name in sorted(os.listdir(validate_dir)):
        path = osp.join(validate_dir, name, 'validation.json')
        if not osp.exists(path):
            continue
        with open(path) as f:
            report = json.load(f)
        settings_path = osp.join(validate_dir, name, VALIDATION_SETTINGS)
        settings = None
        if osp.exists(settings_path):
            with open(settings_path) as f:
                settings = json.load(f)
        values = [r['value'] for run in report['runs']
                  for r in run['results']]
        out[name] = dict(
            metric=report['metric'],
            n=len(values),
            mean=float(np.mean(values)) if values else None,
            std=float(np.std(values)) if values else None,
            runs=[
                dict(work_dir=run['work_dir'], cycle=run['cycle'],
                     num_labeled=run['num_labeled'],
                     num_boxes=run['num_boxes'],
                     n=len(run['results']),
                     mean=run['summary']['mean'] if 'summary' in run
                     else None,
                     std=run['summary']['std'] if 'summary' in run
                     else None) for run in report['runs']
            ],
            settings=settings)
    return out


def load_config(config: str, options: Sequence[str]):
    """``config`` (relative to the repository) with ``key=value``
    ``options`` merged as ``tools/train.py`` merges them."""
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser()
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        default={})
    parsed = parser.parse_args(['--cfg-options', *options]
                               if options else []).cfg_options
    cfg = copy.deepcopy(_config_file(config))
    cfg.merge_from_dict(parsed)
    return cfg


@functools.lru_cache()
def _config_file(config: str):
    from mmengine.config import Config
    return Config.fromfile(osp.join(ROOT, config))


def pretrained_checkpoint(cfg) -> Optional[str]:
    """The checkpoint ``cfg``'s backbone starts from (its ``init_cfg`` of
    type ``Pretrained``); None for random init."""
    init = cfg.model.backbone.get('init_cfg')
    if isinstance(init, dict) and init.get('type') == 'Pretrained':
        return init.get('checkpoint')
    return None


def run_settings(steps: Sequence[Step]) -> dict:
    """What the curve runs' configs (options merged) train: per strategy
    its ``pretrained`` backbone checkpoint (None from scratch) and
    ``schedule``; ``pretrained``: True when every backbone is, False when
    none is.

    Raises:
        ValueError: If some strategies start from pretrained weights and
            others do not.
    """
    per_strategy = {}
    for step in steps:
        if step.stage != 'curves':
            continue
        for name, config in step.configs.items():
            cfg = load_config(config, step.options)
            checkpoint = pretrained_checkpoint(cfg)
            train_cfg = cfg.train_cfg
            schedule = {k: train_cfg[k] for k in SCHEDULE_KEYS
                        if k in train_cfg}
            schedule.update(X_L_0_size=train_cfg.splitter.X_L_0_size,
                            X_S_size=train_cfg.splitter.X_S_size)
            per_strategy[name] = dict(backbone_checkpoint=checkpoint,
                                      schedule=schedule)
    flags = {v['backbone_checkpoint'] is not None
             for v in per_strategy.values()}
    if len(flags) > 1:
        raise ValueError('some strategies start from a pretrained backbone '
                         'and others do not: ' + ', '.join(
                             f'{n}: {v["backbone_checkpoint"]}'
                             for n, v in per_strategy.items()))
    return dict(pretrained=flags.pop() if flags else None,
                strategies=per_strategy)


def summary(args, steps: Sequence[Step]) -> dict:
    """Every part of the benchmark that finished, as one dict."""
    curve_json = osp.join(args.work_dir, 'compare.json')
    rows = read_rows(curve_json, args.seeds)
    result = summarize(rows)
    dirs = branch_dirs(args.work_dir, args.branch_cycle)
    cycle = args.branch_cycle + 1
    gains = paired_gain(
        read_rows(osp.join(dirs['label_loop'], 'compare.json'), args.seeds),
        'random', cycle, 'random')
    gains.update(
        paired_gain(
            read_rows(osp.join(dirs['miaod'], 'compare.json'), args.seeds),
            MIAOD_RANDOM, cycle, 'miaod'))
    settings = run_settings(steps)
    result.update(
        pool=args.pool,
        data_root=args.data_root,
        pretrained=settings['pretrained'],
        runs=settings['strategies'],
        paired_selection_gain=gains,
        validation_map=validation_summary(
            osp.join(args.work_dir, 'validate')),
        machine=machine(),
        date=datetime.date.today().isoformat(),
        seeds=args.seeds,
        jobs=args.jobs,
        threads=args.threads,
        work_dir=args.work_dir)
    return result


def _map(mean_std, n=None) -> str:
    """``0.367 ± 0.011`` (with ``(n)`` when ``n`` is given)."""
    if mean_std is None or mean_std[0] is None:
        return '-'
    text = f'{mean_std[0]:.3f} ± {mean_std[1]:.3f}'
    return text if n is None else f'{text} ({n})'


def _points(mean, std, n=None) -> str:
    """A difference in mAP points: ``+1.2 ± 0.4`` (``(n)`` seeds)."""
    if mean is None:
        return '-'
    text = f'{100 * mean:+.1f} ± {100 * std:.1f}'
    return text if n is None else f'{text} ({n})'


def markdown(result: dict) -> str:
    """The summary as markdown tables, for RESULTS.md: the curves (mean ±
    std over seeds, the seeds in parentheses), the gain over random paired
    by seed (mAP points), labeled boxes, the label fraction that reaches
    random's final mAP, the branched comparison and the validation runs;
    a table whose entry is empty is left out."""
    curves_ = result['map_per_cycle']
    lines = [f'{result["pool"]} pool, {result["metric"]}, seeds '
             f'{result["seeds"]}, {result["date"]}', '']
    if not curves_:
        return '\n'.join(lines + ['(no finished cycle yet)', ''])
    names = list(curves_)
    fractions = result['labeled_fraction_per_cycle'][names[0]]
    header = ['strategy'] + [f'{100 * f:.1f} %' for f in fractions]

    def table(head, rows):
        out = ['| ' + ' | '.join(head) + ' |',
               '|---' + '|---:' * (len(head) - 1) + '|']
        return out + ['| ' + ' | '.join(map(str, r)) + ' |' for r in rows]

    lines += ['mAP per cycle (labeled fraction of the pool), mean ± std '
              '(seeds):', '']
    lines += table(header, [
        [name] + [_map(p, n) for p, n in zip(
            curves_[name], result['seeds_per_cycle'][name])]
        for name in names]) + ['']
    gains = result['gain_over_random']
    if gains:
        lines += ['Gain over random, paired by seed, mAP points:', '']
        lines += table(header, [[name] + [_points(*g) for g in gains[name]]
                                for name in gains]) + ['']
    boxes = result['boxes_per_cycle']
    if any(v is not None for b in boxes.values() for v in b):
        lines += ['Labeled boxes (mean over seeds):', '']
        lines += table(header, [
            [name] + ['-' if v is None else f'{v:.0f}' for v in boxes[name]]
            for name in names]) + ['']
    match = result['label_fraction_to_match_random']
    if match:
        reached = ', '.join(
            f'{name} ' + ('never' if f is None else f'{100 * f:.1f} %')
            for name, f in match.items())
        lines += [f'Labeled fraction at which each curve reaches random\'s '
                  f'final mAP ({result["random_final_map"]:.3f}): {reached}',
                  '']
    paired = result['paired_selection_gain']
    if paired:
        lines += ['Branched comparison (each picks once from the same '
                  'model; cycle-2 mAP minus the baseline\'s, paired by '
                  'seed):', '']
        lines += table(['strategy', 'model', 'baseline', 'seeds', 'mAP',
                        'baseline mAP', 'gain (points)'], [
            [name, g['model'], g['baseline'], g['n'],
             '-' if g['map'] is None else f'{g["map"]:.3f}',
             '-' if g['baseline_map'] is None else
             f'{g["baseline_map"]:.3f}', _points(g['mean'], g['std'])]
            for name, g in paired.items()]) + ['']
    validation = result['validation_map']
    if validation:
        lines += ['Validation runs (a plain RetinaNet retrained on each '
                  'final labeled set):', '']
        lines += table(['strategy', 'trainings', 'mAP', 'labeled boxes'], [
            [name, v['n'], _map([v['mean'], v['std']]),
             ', '.join(str(r['num_boxes']) for r in v['runs'])]
            for name, v in validation.items()]) + ['']
    return '\n'.join(lines)


def output_name(pool: str) -> str:
    return 'label_efficiency' + ('' if pool == 'digits' else f'_{pool}')


def plot(args, rows: List[dict]) -> None:
    """The curves, the gain over random and the curves against boxes
    (what the rows allow)."""
    if not rows:
        print('summary: no curve has a finished cycle yet; no plot')
        return
    name = osp.join(args.out, output_name(args.pool))
    strategies = {r['strategy'] for r in rows}
    plots = [(name, [])]
    if 'random' in strategies and len(strategies) > 1:
        plots.append((name + '_gain', ['--baseline', 'random']))
    if all(r.get('num_labeled_boxes') is not None for r in rows):
        plots.append((name + '_boxes', ['--x', 'boxes']))
    import plot_curves  # tools/plot_curves.py
    for out, options in plots:
        plot_curves.main([
            osp.join(args.work_dir, 'compare.json'), '--out', out,
            '--seeds', *map(str, args.seeds), *options
        ])


def run_all(args) -> None:
    """``--stage all``: seed by seed, the curves then the branched
    comparison of that seed (a branch's source, that seed's cycle model,
    is fresh from the same call), the validation runs as soon as the
    ``--validation-seeds`` have their curves; the records are kept after
    every call of a tool."""
    done = []
    for seed in args.seeds:
        one = argparse.Namespace(**dict(vars(args), seeds=[seed]))
        run_steps(plan_steps(one), args)
        done.append(seed)
        if set(args.validation_seeds) <= set(done) and \
                seed in args.validation_seeds:
            run_validation(args)
            keep_records(args)


def keep_records(args, quiet: bool = False) -> None:
    """Copy the finished runs' records into ``--records``
    (:mod:`benchmarks.run_records`); one caller at a time (the validation
    runs keep from their threads)."""
    if args.records:
        with KEEPING:
            copied = run_records.keep(args.work_dir, args.records)
        if copied and not quiet:
            print(f'kept {len(copied)} record files in {args.records}',
                  flush=True)


def testbed(args) -> dict:
    """Digests of what every run reads: the backbone's pretrained weights
    (``pretrained``: its tensors, not the file; None from scratch) and the
    pool's split lists and annotations (``annotations``, of the
    ``data_root`` the runs train on)."""
    cfg = load_config(LABEL_LOOP['random'],
                      pool_options(args.data_root) + list(args.extra))
    checkpoint = pretrained_checkpoint(cfg)
    root = osp.join(ROOT, cfg.train_dataloader.dataset.datasets[0].data_root)
    files = sorted(
        glob.glob(osp.join(root, '*', 'ImageSets', 'Main', '*.txt')) +
        glob.glob(osp.join(root, '*', 'Annotations', '*.xml')))
    if not files:
        raise SystemExit(f'{root}: no ImageSets/Main lists or Annotations; '
                         'make the pool first (make data / data-redundant)')
    return dict(
        pretrained=None if checkpoint is None else
        run_records.weights_digest(osp.join(ROOT, checkpoint)),
        annotations=run_records.digest(files))


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.records and args.stage != 'summary':
        run_records.check_testbed(args.records, testbed(args))
    if args.records:
        restored = run_records.restore(args.records, args.work_dir)
        if restored:
            print(f'restored {len(restored)} record files from '
                  f'{args.records} into {args.work_dir}', flush=True)
    steps = plan_steps(args)
    if args.stage == 'all':
        run_all(args)
    elif args.stage in ('curves', 'branch'):
        run_steps([s for s in steps if s.stage == args.stage], args,
                  plan=steps)
    elif args.stage == 'validate':
        run_validation(args)
        keep_records(args)
    if args.stage not in ('all', 'summary'):
        return
    result = summary(args, steps)
    path = osp.join(args.out, output_name(args.pool) + '.json')
    atomic_write_json(path, result)
    with atomic_open(osp.join(args.out, output_name(args.pool) + '.md'),
                     'w') as f:
        f.write(markdown(result))
    plot(args, read_rows(osp.join(args.work_dir, 'compare.json'),
                         args.seeds))
    print(json.dumps({k: v for k, v in result.items() if k != 'runs'},
                     indent=1))
    print(f'wrote {path}')


if __name__ == '__main__':
    main()
