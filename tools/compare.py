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

Example::

    python tools/compare.py configs/random_digits.py \\
        configs/entropy_digits.py configs/miaod_digits.py \\
        --seeds 0 1 2 --work-dir work_dirs/compare
    python tools/plot_curves.py work_dirs/compare/compare.json
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

from al_plugin.analysis import load_results  # noqa: E402
from al_plugin.curves import curves, rows_of_run  # noqa: E402
from al_plugin.utils import atomic_open, atomic_write_json  # noqa: E402

DONE_FILE = 'compare_run.json'
CSV_COLUMNS = ('strategy', 'seed', 'cycle', 'num_labeled', 'num_total',
               'labeled_fraction', 'AP50', 'AP')


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
    args.names = names
    return args


class Run:
    """One experiment: a config with a seed in its own work dir."""

    def __init__(self, name: str, config: str, seed: int, work_dir: str):
        self.name = name
        self.config = config
        self.seed = seed
        self.work_dir = work_dir

    @classmethod
    def under(cls, root: str, name: str, config: str, seed: int) -> 'Run':
        return cls(name, config, seed, osp.join(root, name, f'seed{seed}'))

    @property
    def done(self) -> bool:
        path = osp.join(self.work_dir, DONE_FILE)
        if not osp.exists(path):
            return False
        with open(path) as f:
            return json.load(f).get('returncode') == 0

    def command(self, gpus: int, cfg_options) -> list:
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
        return head + ['--work-dir', self.work_dir, '--resume',
                       '--cfg-options'] + options

    def run(self, gpus: int, cfg_options) -> int:
        """Run (or continue) the experiment; its output goes to
        ``<work_dir>/compare_stdout.log``."""
        os.makedirs(self.work_dir, exist_ok=True)
        cmd = self.command(gpus, cfg_options)
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
        if not osp.exists(osp.join(self.work_dir, 'results.json')):
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
            Run(r['name'], r['config'], r['seed'], r['work_dir'])
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
                     work_dir=r.work_dir, done=r.done) for r in runs
            ],
            rows=rows))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, CSV_COLUMNS, extrasaction='ignore')
    writer.writeheader()
    writer.writerows(rows)
    with atomic_open(osp.join(work_dir, 'compare.csv'), 'w') as f:
        f.write(buf.getvalue())
    return rows


def print_summary(rows, metric: str) -> None:
    for name, points in curves(rows, metric).items():
        cells = ', '.join(f'{p.labeled_fraction:.1%}: {p.mean:.4f}'
                          f'\u00b1{p.std:.4f} (n={p.num_seeds})'
                          for p in points)
        print(f'{name:>24s}  {metric} by labeled fraction: {cells}')


def main(argv=None) -> int:
    args = parse_args(argv)
    os.makedirs(args.work_dir, exist_ok=True)
    runs = [
        Run.under(args.work_dir, name, config, seed)
        for seed in args.seeds
        for name, config in zip(args.names, args.configs)
    ]
    todo = [r for r in runs if not r.done]
    print(f'{len(runs)} runs, {len(runs) - len(todo)} already done; '
          f'outputs in {args.work_dir}')
    # runs of earlier calls with the same --work-dir stay in the outputs
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
    print_summary(rows, args.metric)
    failed = [r for r in runs if not r.done]
    if failed:
        print('failed runs: ' + ', '.join(f'{r.name} seed {r.seed}'
                                          for r in failed), file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
