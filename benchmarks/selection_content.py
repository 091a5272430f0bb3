"""What each strategy of the label-efficiency benchmark picked (issue 7).

For every run that ``benchmarks/label_efficiency.py`` made (``<work-dir>/
<strategy>/seed<S>``), the images its selections added to the labeled set
(the last cycle's X_L minus X_L_0; the seed's X_L_0 is the same for every
strategy), described by their annotations: boxes an image (what an
annotator draws), ignored boxes an image (VOC ``difficult``: drawn, yet
neither trained on nor scored), images with no box, the median box side, and
the share of boxes from the pool's rarest classes. Averaged over seeds; no
model runs, no image is read.

Writes ``benchmarks/results/selection_content.json``.

    .venv/bin/python benchmarks/selection_content.py [--seeds 0 1 2]
"""
import argparse
import datetime
import os.path as osp
import sys
from typing import Dict, Sequence

import numpy as np

ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..'))
sys.path.insert(0, ROOT)
sys.path.insert(0, osp.join(ROOT, 'tools', 'analysis'))

from al_plugin.analysis import (find_cycles, load_indices,  # noqa: E402
                                split_summary)
from al_plugin.utils import atomic_write_json  # noqa: E402
from benchmarks.label_efficiency import LABEL_LOOP, MIAOD  # noqa: E402
from benchmarks.machine import machine  # noqa: E402
from print_split import build_pool, load_config  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    parser.add_argument(
        '--work-dir', default='work_dirs/benchmarks/label_efficiency')
    parser.add_argument(
        '--out',
        default=osp.join(ROOT, 'benchmarks/results/selection_content.json'))
    parser.add_argument(
        '--num-rare', type=int, default=3,
        help='how many of the pool\'s least frequent classes count as rare')
    return parser.parse_args(argv)


def rarest_classes(dataset, num: int) -> np.ndarray:
    """Labels of the ``num`` classes with the fewest not-ignored boxes."""
    counts = [c['pool_boxes'] for c in split_summary(dataset, [])['classes']]
    return np.argsort(counts, kind='stable')[:num]


def pick_stats(dataset, indices: Sequence[int],
               rare: Sequence[int]) -> Dict[str, float]:
    """Annotation statistics of the images ``indices`` of ``dataset``.

    Args:
        dataset: A fully initialised mmdet dataset; ``get_data_info(i)``
            has ``instances`` with ``bbox`` (x1, y1, x2, y2),
            ``bbox_label`` and ``ignore_flag``.
        indices (Sequence[int]): The images, global indices.
        rare (Sequence[int]): Labels that count as rare.

    Returns:
        dict: ``images``; ``boxes_per_image`` and
        ``ignored_per_image`` (ignored boxes are counted apart);
        ``empty_image_fraction`` (no box at all); ``median_box_side``
        (sqrt of the area, pixels, not-ignored boxes); ``rare_box_fraction``.
    """
    boxes = ignored = empty = rare_boxes = 0
    sides = []
    rare = set(int(r) for r in rare)
    for index in indices:
        instances = dataset.get_data_info(int(index)).get('instances', [])
        empty += not instances
        for instance in instances:
            if instance.get('ignore_flag', 0):
                ignored += 1
                continue
            boxes += 1
            rare_boxes += int(instance['bbox_label']) in rare
            x1, y1, x2, y2 = instance['bbox']
            sides.append(np.sqrt(max(x2 - x1, 0) * max(y2 - y1, 0)))
    num = max(len(indices), 1)
    return dict(
        images=len(indices),
        boxes_per_image=boxes / num,
        ignored_per_image=ignored / num,
        empty_image_fraction=empty / num,
        median_box_side=float(np.median(sides)) if sides else None,
        rare_box_fraction=rare_boxes / boxes if boxes else None)


def picked_indices(run_dir: str) -> np.ndarray:
    """Images the run's selections added: last X_L minus X_L_0."""
    cycles = find_cycles(run_dir)
    if len(cycles) < 2:
        raise FileNotFoundError(f'{run_dir}: fewer than two X_L_<cycle>.npy '
                                'files, no selection to describe')
    return np.setdiff1d(
        load_indices(run_dir, 'X_L', cycles[-1]),
        load_indices(run_dir, 'X_L', cycles[0]))


def mean_over_seeds(per_seed: Sequence[dict]) -> dict:
    """Per key, the mean over seeds of the values that are numbers."""
    out = {}
    for key in per_seed[0]:
        values = [s[key] for s in per_seed if s[key] is not None]
        out[key] = float(np.mean(values)) if values else None
    return out


def main(argv=None) -> None:
    args = parse_args(argv)
    runs = {
        name: [
            osp.join(args.work_dir, name, f'seed{seed}')
            for seed in args.seeds
        ]
        for name in {**LABEL_LOOP, **MIAOD}
    }
    first = runs['random'][0]
    # every run splits the same pool; its config copy names the data
    dataset = build_pool(load_config(osp.join(first, 'random_digits.py')))
    rare = rarest_classes(dataset, args.num_rare)
    strategies = {}
    for name, dirs in runs.items():
        per_seed = [pick_stats(dataset, picked_indices(d), rare)
                    for d in dirs]
        strategies[name] = dict(
            mean=mean_over_seeds(per_seed),
            per_seed=dict(zip(map(str, args.seeds), per_seed)))
    pool = pick_stats(dataset, range(len(dataset)), rare)
    result = dict(
        strategies=strategies,
        pool=pool,
        rare_classes=[dataset.metainfo['classes'][r] for r in rare],
        seeds=args.seeds,
        work_dir=args.work_dir,
        machine=machine(),
        date=datetime.date.today().isoformat())
    atomic_write_json(args.out, result)
    header = ('strategy', 'boxes/img', 'ignored/img', 'empty', 'side px',
              'rare boxes')
    print(('{:<10}' + '{:>12}' * 5).format(*header))
    for name, stats in [*((n, s['mean']) for n, s in strategies.items()),
                        ('pool', pool)]:
        print(f'{name:<10}{stats["boxes_per_image"]:>12.2f}'
              f'{stats["ignored_per_image"]:>12.3f}'
              f'{stats["empty_image_fraction"]:>12.1%}'
              f'{stats["median_box_side"]:>12.1f}'
              f'{stats["rare_box_fraction"]:>12.1%}')


if __name__ == '__main__':
    main()
