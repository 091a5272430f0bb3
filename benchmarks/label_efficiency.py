"""Label efficiency on the built-in digits set (issue 7, item 1).

Random, entropy, core-set, self-supervised mining (its selection; no
pseudo labels) and MI-AOD, each over the same seeds, 5 cycles with the same
budgets (500 labeled first, 100 more a cycle, of a 4000-image pool),
through ``tools/compare.py``. Every strategy runs its own config from
``configs/`` with the same schedule overrides:

- ``reset_weights=False``: a cycle fine-tunes the previous cycle's model.
  The tiny CPU model needs ~2000 iterations to start detecting at all;
  re-training it from scratch every cycle (the reference's way) would cost
  that in every cycle.
- cycle 0: 8 passes over X_L_0 in an epoch, 4 epochs: 2000 iterations of
  batch 8; later cycles: 4 epochs over X_L (300 to 450 iterations).
- MI-AOD: ``epoch=1, epoch_ratio=[1, 1]``: label, min, max, label, i.e. the
  same 4 epochs of labeled batches, two of them paired with an unlabeled
  batch.

Writes ``benchmarks/results/label_efficiency.json`` (mAP per cycle, mean and
std over seeds; the labeled fraction at which each strategy reaches
random's final mAP; each strategy's gain over random, paired by seed) and
the plots ``benchmarks/results/label_efficiency.png`` and
``label_efficiency_gain.png`` (with ``.svg``). Runs go
to ``--work-dir``; an interrupted benchmark continues where it stopped when
run again.

    .venv/bin/python benchmarks/label_efficiency.py [--seeds 0 1 2]
"""
import argparse
import datetime
import json
import os.path as osp
import subprocess
import sys

ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..'))
sys.path.insert(0, ROOT)

from al_plugin.curves import (curves, fraction_to_reach,  # noqa: E402
                              paired_differences)
from al_plugin.utils import atomic_write_json  # noqa: E402
from benchmarks.machine import machine  # noqa: E402

#: strategy name -> config
LABEL_LOOP = {
    'random': 'configs/random_digits.py',
    'entropy': 'configs/entropy_digits.py',
    'coreset': 'configs/coreset_digits.py',
    'mining': 'configs/mining_digits.py',
}
MIAOD = {'miaod': 'configs/miaod_digits.py'}
COMMON = [
    'train_cfg.cycles=[0,1,2,3,4]',
    'train_cfg.splitter.X_L_0_size=500',
    'train_cfg.splitter.X_S_size=100',
    'train_cfg.reset_weights=False',
    'train_cfg.X_L_0_repeat=8',
]
LABEL_LOOP_OPTIONS = ['train_cfg.epochs=4', 'train_cfg.lr_decay_epochs=[3]']
MIAOD_OPTIONS = [
    'train_cfg.epoch=1', 'train_cfg.epoch_ratio=[1,1]',
    'train_cfg.X_L_repeat=1', 'train_cfg.X_U_repeat=1'
]


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    parser.add_argument(
        '--work-dir', default='work_dirs/benchmarks/label_efficiency')
    parser.add_argument(
        '--out', default=osp.join(ROOT, 'benchmarks/results'),
        help='where label_efficiency.{json,png,svg} go')
    parser.add_argument(
        '--extra', nargs='*', default=[],
        help='more key=value overrides for every run (e.g. data_root)')
    return parser.parse_args()


def compare(configs: dict, seed: int, options, work_dir: str) -> None:
    cmd = [
        sys.executable,
        osp.join(ROOT, 'tools/compare.py'), *configs.values(), '--names',
        *configs, '--seeds',
        str(seed), '--work-dir', work_dir, '--cfg-options', *options
    ]
    print(' '.join(cmd), flush=True)
    subprocess.run(cmd, cwd=ROOT, check=True)


def summarize(rows: list, metric: str = 'AP50') -> dict:
    """``map_per_cycle``, ``label_fraction_to_match_random`` and
    ``gain_over_random`` (per cycle: mean and std over seeds of the
    strategy's mAP minus random's in the same seed, and the seed count)."""
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
        seeds_per_cycle={
            name: [p.num_seeds for p in points]
            for name, points in data.items()
        })
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


def main() -> None:
    args = parse_args()
    for seed in args.seeds:  # every strategy of a seed before the next
        compare(LABEL_LOOP, seed, COMMON + LABEL_LOOP_OPTIONS + args.extra,
                args.work_dir)
        compare(MIAOD, seed, COMMON + MIAOD_OPTIONS + args.extra,
                args.work_dir)
    with open(osp.join(args.work_dir, 'compare.json')) as f:
        rows = [r for r in json.load(f)['rows'] if r['seed'] in args.seeds]
    result = summarize(rows)
    result.update(
        machine=machine(),
        date=datetime.date.today().isoformat(),
        seeds=args.seeds,
        work_dir=args.work_dir)
    atomic_write_json(osp.join(args.out, 'label_efficiency.json'), result)
    for name, options in (('label_efficiency', []),
                          ('label_efficiency_gain', ['--baseline', 'random'])):
        subprocess.run([
            sys.executable,
            osp.join(ROOT, 'tools/plot_curves.py'),
            osp.join(args.work_dir, 'compare.json'), '--out',
            osp.join(args.out, name), '--seeds', *map(str, args.seeds),
            *options
        ], check=True)
    print(json.dumps(result, indent=1))


if __name__ == '__main__':
    main()
