"""Run several strategy configs over several seeds and collect their curves.

Each (config, seed) is one experiment of ``tools/train.py`` in its own
process and work dir, ``<work-dir>/<name>/seed<S>``, with
``randomness.seed=S`` (model init, training, random picks) and
``train_cfg.splitter.seed=S`` (the initial labeled set). After every run
the per-cycle numbers of all runs so far are written to
``<work-dir>/compare.json`` and ``compare.csv``; ``tools/plot_curves.py``
draws them.

Interrupted? Run the same command again: finished runs are skipped and
unfinished ones continue from their last checkpoint (``--resume``).

Branched comparison: with ``--branch-from DIR --branch-cycle C`` every
config's run of seed S starts from the trained model of cycle C of the run
in ``DIR/seed<S>`` (or ``DIR`` itself, a run's work dir): its
``trained_cycle_<C>.pth``, written after the cycle's evaluation and before
its selection. Each run then selects with its own strategy from that same
model and X_L, and trains the next cycles. Cycles up to C are the source's;
a strategy's difference to random in the same seed from cycle C + 1 on is
what its selection alone adds. The configs must share the source's model,
cycle schedule and split settings (strategies only differ), and their
``train_cfg.cycles`` must go past C.

Example::

    python tools/compare.py configs/random_digits.py \\
        configs/entropy_digits.py configs/miaod_digits.py \\
        --seeds 0 1 2 --work-dir work_dirs/compare
    python tools/plot_curves.py work_dirs/compare/compare.json
    # every strategy picks from random's cycle-1 models
    python tools/compare.py configs/random_digits.py \\
        configs/entropy_digits.py --seeds 0 1 2 \\
        --branch-from work_dirs/compare/random_digits --branch-cycle 1 \\
        --work-dir work_dirs/branched
"""
import argparse
import csv
import io
import json
import os
import os.path as osp
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..'))
sys.path.insert(0, ROOT)

from al_plugin.evaluation.analysis import load_results  # noqa: E402
from al_plugin.evaluation.curves import (  # noqa: E402
    curves, paired_differences, rows_of_run)
from al_plugin.engine import find_resume_checkpoint  # noqa: E402
from al_plugin.engine.branching import branch_experiment  # noqa: E402
from al_plugin.utils import atomic_open, atomic_write_json  # noqa: E402
from al_plugin.work_dir import RESULTS_FILE  # noqa: E402

DONE_FILE = 'compare_run.json'
CSV_COLUMNS = ('strategy', 'seed', 'cycle', 'num_labeled', 'num_total',
               'labeled_fraction', 'num_labeled_boxes',
               'num_labeled_ignored_boxes', 'AP50', 'AP')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Compare active-learning strategies over seeds')
    parser.add_argument('configs', nargs='+', help='experiment configs')
    parser.add_argument(
        '--seeds', type=int, nargs='+', default=[0], help='seeds to run')
    parser.add_argument(
        '--names', nargs='+',
        help='one name per config (default: the config file name)')
    parser.add_argument(
        '--work-dir', default='work_dirs/compare',
        help='runs go to <work-dir>/<name>/seed<S>')
    parser.add_argument(
        '--jobs', type=int, default=1,
        help='runs at the same time, each its own process (on a CPU '
        'machine give each about cores / jobs threads with OMP_NUM_THREADS)')
    parser.add_argument(
        '--gpus', type=int, default=1,
        help='processes per run; more than 1 runs tools/dist_train.sh')
    parser.add_argument(
        '--cfg-options', nargs='+', default=[],
        help='key=value overrides for every run, as tools/train.py takes '
        'them')
    parser.add_argument(
        '--metric', default='AP50',
        help='metric of the printed summary: AP50, AP or a metric name')
    parser.add_argument(
        '--baseline',
        help='also print every other strategy minus this one, paired by '
        'seed and cycle (e.g. random)')
    parser.add_argument(
        '--branch-from', metavar='DIR',
        help='start every run of seed S from DIR/seed<S> (or the run in '
        'DIR) after the training of --branch-cycle')
    parser.add_argument(
        '--branch-cycle', type=int, metavar='C',
        help='the cycle whose trained model every run selects with')
    args = parser.parse_args(argv)
    names = args.names or [
        osp.splitext(osp.basename(c))[0] for c in args.configs
    ]
    if len(names) != len(args.configs):
        parser.error(f'--names gives {len(names)} names for '
                     f'{len(args.configs)} configs')
    if len(set(names)) != len(names):
        parser.error(f'two configs share a name: {names}; give --names')
    for config in args.configs:
        if not osp.isfile(config):
            parser.error(f'config file not found: {config}')
    if args.jobs < 1 or args.gpus < 1:
        parser.error('--jobs and --gpus must be >= 1')
    if (args.branch_from is None) != (args.branch_cycle is None):
        parser.error('--branch-from and --branch-cycle go together')
    if args.branch_from is not None:
        if not osp.isdir(args.branch_from):
            parser.error(f'--branch-from {args.branch_from}: no such '
                         'directory')
        if args.branch_cycle < 0:
            parser.error(f'--branch-cycle must be >= 0, got '
                         f'{args.branch_cycle}')
    args.names = names
    return args


def branch_source(branch_from: str, seed: int) -> str:
    """The work dir of the run that seed ``seed`` branches from:
    ``branch_from/seed<seed>`` if it exists, else ``branch_from``."""
    per_seed = osp.join(branch_from, f'seed{seed}')
    return per_seed if osp.isdir(per_seed) else branch_from


class Run:
    """One experiment: a config with a seed in its own work dir; a branched
    one starts from ``branch = (source work dir, cycle)``."""

    def __init__(self, name: str, config: str, seed: int, work_dir: str,
                 branch=None):
        self.name = name
        self.config = config
        self.seed = seed
        self.work_dir = work_dir
        self.branch = None if branch is None else tuple(branch)
        self._start_from = None

    @classmethod
    def under(cls, root: str, name: str, config: str, seed: int,
              branch=None) -> 'Run':
        return cls(name, config, seed, osp.join(root, name, f'seed{seed}'),
                   branch)

    def prepare_branch(self):
        """For a branched run that has no checkpoint of its own yet: copy
        what it needs from its source; return the checkpoint to start
        from (None for a run that is not branched or already started)."""
        if self._start_from is None and self.branch is not None and \
                not find_resume_checkpoint(self.work_dir):
            source, cycle = self.branch
            self._start_from = branch_experiment(source, cycle,
                                                 self.work_dir, self.seed)
        return self._start_from

    @property
    def done(self) -> bool:
        path = osp.join(self.work_dir, DONE_FILE)
        if not osp.exists(path):
            return False
        with open(path) as f:
            return json.load(f).get('returncode') == 0

    def command(self, gpus: int, cfg_options, start_from=None) -> list:
        """The ``tools/train.py`` command line; ``start_from``: the
        checkpoint of a branched run's first start."""
        options = [
            f'randomness.seed={self.seed}',
            f'train_cfg.splitter.seed={self.seed}'
        ] + list(cfg_options)
        if gpus > 1:
            head = ['bash', osp.join(ROOT, 'tools/dist_train.sh'),
                    self.config, str(gpus)]
        else:
            head = [sys.executable, osp.join(ROOT, 'tools/train.py'),
                    self.config]
        resume = ['--resume'] + ([start_from] if start_from else [])
        return head + ['--work-dir', self.work_dir] + resume + \
            ['--cfg-options'] + options

    def run(self, gpus: int, cfg_options) -> int:
        """Run (or continue) the experiment; its output goes to
        ``<work_dir>/compare_stdout.log``."""
        os.makedirs(self.work_dir, exist_ok=True)
        cmd = self.command(gpus, cfg_options, self.prepare_branch())
        env = dict(os.environ, PYTHON=sys.executable)
        env['PYTHONPATH'] = ROOT + os.pathsep + env.get('PYTHONPATH', '')
        start = time.time()
        with open(osp.join(self.work_dir, 'compare_stdout.log'), 'a') as log:
            returncode = subprocess.call(
                cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        atomic_write_json(
            osp.join(self.work_dir, DONE_FILE),
            dict(command=cmd, returncode=returncode,
                 seconds=round(time.time() - start, 1)))
        return returncode

    def rows(self) -> list:
        if not osp.exists(osp.join(self.work_dir, RESULTS_FILE)):
            return []
        return rows_of_run(load_results(self.work_dir), self.name, self.seed)


def earlier_runs(work_dir: str, runs) -> list:
    """Runs that ``compare.json`` in ``work_dir`` lists and ``runs`` does
    not: a comparison grows by calling this tool again with more configs
    or seeds."""
    path = osp.join(work_dir, 'compare.json')
    if not osp.exists(path):
        return []
    try:
        with open(path) as f:
            listed = json.load(f)['runs']
        earlier = [
            Run(r['name'], r['config'], r['seed'], r['work_dir'],
                r.get('branch'))
            for r in listed
        ]
    except (ValueError, KeyError, TypeError) as e:
        raise SystemExit(f'{path} is not a compare.json of this tool '
                         f'({type(e).__name__}: {e}); move it away to '
                         'start a new comparison there')
    current = {osp.abspath(r.work_dir) for r in runs}
    return [r for r in earlier if osp.abspath(r.work_dir) not in current]


def write_outputs(work_dir: str, runs) -> list:
    """Write ``compare.json`` and ``compare.csv`` from every run's
    ``results.json``; return the rows."""
    rows = [row for run in runs for row in run.rows()]
    atomic_write_json(
        osp.join(work_dir, 'compare.json'),
        dict(
            runs=[
                dict(name=r.name, config=r.config, seed=r.seed,
                     work_dir=r.work_dir, branch=r.branch, done=r.done)
                for r in runs
            ],
            rows=rows))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, CSV_COLUMNS, extrasaction='ignore')
    writer.writeheader()
    writer.writerows(rows)
    with atomic_open(osp.join(work_dir, 'compare.csv'), 'w') as f:
        f.write(buf.getvalue())
    return rows


def print_summary(rows, metric: str, baseline=None) -> None:
    """Print each strategy's mean curve, then its paired gain over
    ``baseline`` if given."""
    tables = [(metric, curves(rows, metric), '')]
    if baseline is not None and not any(r['strategy'] == baseline
                                        for r in rows):
        print(f'--baseline {baseline}: no such strategy in the rows',
              file=sys.stderr)
    elif baseline is not None:
        tables.append((f'{metric} - {baseline}, same seed,',
                       paired_differences(rows, baseline, metric), '+'))
    for what, data, sign in tables:
        for name, points in data.items():
            cells = ', '.join(f'{p.labeled_fraction:.1%}: {p.mean:{sign}.4f}'
                              f'\u00b1{p.std:.4f} (n={p.num_seeds})'
                              for p in points)
            print(f'{name:>24s}  {what} by labeled fraction: {cells}')


def main(argv=None) -> int:
    args = parse_args(argv)
    os.makedirs(args.work_dir, exist_ok=True)
    runs = [
        Run.under(args.work_dir, name, config, seed,
                  None if args.branch_from is None else
                  (branch_source(args.branch_from, seed), args.branch_cycle))
        for seed in args.seeds
        for name, config in zip(args.names, args.configs)
    ]
    todo = [r for r in runs if not r.done]
    for run in todo:  # a missing source fails before any run starts
        try:
            run.prepare_branch()
        except (OSError, ValueError) as e:
            raise SystemExit(f'--branch-from {args.branch_from}: {e}')
    print(f'{len(runs)} runs, {len(runs) - len(todo)} already done; '
          f'outputs in {args.work_dir}')
    # runs of earlier calls with the same --work-dir stay in the outputs
    mine = runs
    runs = earlier_runs(args.work_dir, runs) + runs

    def run_one(run):
        print(f'start  {run.name} seed {run.seed} -> {run.work_dir}',
              flush=True)
        code = run.run(args.gpus, args.cfg_options)
        print(f'{"done  " if code == 0 else "FAILED"} {run.name} seed '
              f'{run.seed} (exit {code}; log: '
              f'{osp.join(run.work_dir, "compare_stdout.log")})',
              flush=True)
        return code

    with ThreadPoolExecutor(args.jobs) as pool:
        for _ in pool.map(run_one, todo):  # in order, as each ends
            write_outputs(args.work_dir, runs)
    rows = write_outputs(args.work_dir, runs)
    print_summary(rows, args.metric, args.baseline)
    # an earlier call's unfinished run is that call's to finish (or to
    # report), not a failure of this one
    unfinished = [r for r in runs[:len(runs) - len(mine)] if not r.done]
    if unfinished:
        print('not finished, from an earlier call: ' + ', '.join(
            f'{r.name} seed {r.seed}' for r in unfinished))
    failed = [r for r in mine if not r.done]
    if failed:
        print('failed runs: ' + ', '.join(f'{r.name} seed {r.seed}'
                                          for r in failed), file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
