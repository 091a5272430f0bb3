"""What each strategy of the label-efficiency benchmark picked (issue 7).

For every run that ``benchmarks/label_efficiency.py`` made (``<work-dir>/
<strategy>/seed<S>``), the images its selections added to the labeled set
(the last cycle's X_L minus X_L_0; the seed's X_L_0 is the same for every
strategy), described by their annotations: boxes an image (what an
annotator draws), ignored boxes an image (VOC ``difficult``: drawn, yet
neither trained on nor scored), images with no box, the median box side, and
the share of boxes from the pool's rarest classes. When the pool is made of
bursts of near-identical frames (``tools/make_digits_redundant.py``, which
writes ``bursts.json`` beside ``VOCdevkit``), also how many picks fall in a
burst already picked: the **duplicate rate** (:func:`duplicate_stats`); the
default pool has no burst metadata and no duplicate rate. Averaged over
seeds; no model runs, no image is read.

Writes ``benchmarks/results/selection_content.json``: per strategy the
``mean`` over seeds and the ``per_seed`` statistics of :func:`pick_stats`
(plus ``duplicate_picks``, ``duplicate_rate`` and ``new_bursts`` on a pool
of bursts), the same for the whole ``pool`` (its duplicate rate is ``1 -
bursts / images``) and ``pool_bursts`` (None without burst metadata). Only
finished runs (``compare.py``'s ``compare_run.json`` with exit 0) count; a
strategy's ``per_seed`` names the seeds it has.

    .venv/bin/python benchmarks/selection_content.py [--seeds 0 1 2]
"""
import argparse
import datetime
import os.path as osp
import sys
from typing import Dict, Optional, Sequence, Tuple

import numpy as np

ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..'))
sys.path.insert(0, ROOT)
# appended: tools/ holds train.py, test.py... that must not shadow anything
sys.path.append(osp.join(ROOT, 'tools'))

from al_plugin.engine.selection import build_pool  # noqa: E402
from al_plugin.evaluation.analysis import (  # noqa: E402
    find_cycles, load_indices, split_summary)
from al_plugin.utils import atomic_write_json  # noqa: E402
from benchmarks import label_efficiency as le  # noqa: E402
from benchmarks.label_efficiency import LABEL_LOOP, MIAOD  # noqa: E402
from benchmarks.machine import machine  # noqa: E402
from benchmarks.run_records import finished  # noqa: E402
from make_digits_redundant import pool_root, read_bursts  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    parser.add_argument(
        '--work-dir',
        default='work_dirs/benchmarks/label_efficiency_v2/digits')
    parser.add_argument(
        '--out',
        default=osp.join(ROOT, 'benchmarks/results/selection_content.json'))
    parser.add_argument(
        '--data-root',
        help='VOCdevkit root of the pool the runs split (default: the '
        'configs\' own; label_efficiency.py --data-root, e.g. '
        'data/digits_redundant/VOCdevkit/ for the redundant pool)')
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


def labeled_sets(run_dir: str) -> Tuple[np.ndarray, np.ndarray]:
    """The run's first and last labeled sets (X_L_0 and the last X_L)."""
    cycles = find_cycles(run_dir)
    if len(cycles) < 2:
        raise FileNotFoundError(f'{run_dir}: fewer than two X_L_<cycle>.npy '
                                'files, no selection to describe')
    return (load_indices(run_dir, 'X_L', cycles[0]),
            load_indices(run_dir, 'X_L', cycles[-1]))


def picked_indices(run_dir: str) -> np.ndarray:
    """Images the run's selections added: last X_L minus X_L_0."""
    return np.setdiff1d(*labeled_sets(run_dir)[::-1])


def burst_ids(dataset) -> Optional[np.ndarray]:
    """The burst of every pool image, from its pool's ``bursts.json``.

    An image's pool root is the folder holding the ``VOCdevkit`` of its
    ``img_path``; its burst is looked up by ``int(img_id)`` (the image
    number, for VOC and COCO alike).

    Args:
        dataset: A fully initialised mmdet dataset (or ``ConcatDataset``);
            ``get_data_info(i)`` has ``img_path`` and ``img_id``.

    Returns:
        np.ndarray | None: int64 burst ids of shape (len(dataset),), or
        None when no image of the pool has burst metadata.

    Raises:
        ValueError: If some images have a burst and others not (names the
            first image without one), or a ``bursts.json`` is malformed.
    """
    records, ids, missing = {}, [], None
    for index in range(len(dataset)):
        info = dataset.get_data_info(index)
        root = pool_root(info['img_path'])
        if root not in records:
            records[root] = None if root is None else read_bursts(root)
        bursts = records[root]
        burst = None if bursts is None else bursts.get(int(info['img_id']))
        if burst is None and missing is None:
            missing = (index, info['img_path'])
        ids.append(burst)
    if missing is None:
        return np.array(ids, dtype=np.int64)
    if all(burst is None for burst in ids):
        return None
    raise ValueError(f'pool image {missing[0]} ({missing[1]}) has no burst '
                     'in its pool\'s bursts.json, while other images have '
                     'one')


def duplicate_stats(bursts: np.ndarray, initial: Sequence[int],
                    picked: Sequence[int]) -> Dict[str, float]:
    """How many picks fall in a burst that was already picked.

    The labeled set grows from X_L_0 (``initial``) by the picks, cycle
    after cycle. A pick is a **duplicate** when its burst already holds a
    labeled image: one of X_L_0, one picked in an earlier cycle, or one
    picked before it in the same selection (within a selection, one image
    of each burst counts as new, its other images as duplicates). So the
    count does not depend on the order of the picks::

        duplicate_picks = |P| - (|B(X_L_0 + P)| - |B(X_L_0)|)
        duplicate_rate = duplicate_picks / |P|

    with ``P`` the picks and ``B(S)`` the set of bursts of the images
    ``S``. With ``initial`` empty and every pool image picked, the rate is
    ``1 - bursts / images``, the pool's own redundancy.

    Args:
        bursts (np.ndarray): Burst id of every pool image, shape (N,)
            (:func:`burst_ids`).
        initial (Sequence[int]): X_L_0, global indices.
        picked (Sequence[int]): The picks, global indices not in
            ``initial``.

    Returns:
        dict: ``duplicate_picks`` (int), ``duplicate_rate`` (float, None
        without picks) and ``new_bursts`` (bursts the picks added).
    """
    picked = np.asarray(picked, dtype=np.int64)
    initial = np.asarray(initial, dtype=np.int64)
    if np.intersect1d(initial, picked).size:
        raise ValueError('picked images must not be in the initial labeled '
                         'set')
    before = set(bursts[initial].tolist())
    after = before | set(bursts[picked].tolist())
    new = len(after) - len(before)
    duplicates = len(picked) - new
    return dict(
        duplicate_picks=duplicates,
        duplicate_rate=duplicates / len(picked) if len(picked) else None,
        new_bursts=new)


def mean_over_seeds(per_seed: Sequence[dict]) -> dict:
    """Per key, the mean over seeds of the values that are numbers."""
    out = {}
    for key in per_seed[0]:
        values = [s[key] for s in per_seed if s[key] is not None]
        out[key] = float(np.mean(values)) if values else None
    return out


def main(argv=None) -> None:
    args = parse_args(argv)
    runs = {}
    for name in {**LABEL_LOOP, **MIAOD}:
        dirs = {seed: osp.join(args.work_dir, name, f'seed{seed}')
                for seed in args.seeds}
        done = {s: d for s, d in dirs.items() if finished(d)}
        if len(done) < len(dirs):
            print(f'{name}: seeds {sorted(set(dirs) - set(done))} have not '
                  'finished; left out')
        if done:
            runs[name] = done
    if 'random' not in runs:
        raise SystemExit(f'{args.work_dir}: no finished random run of '
                         f'seeds {args.seeds}')
    # every run splits the same pool: the benchmark's configs on its data
    dataset = build_pool(le.load_config(LABEL_LOOP['random'],
                                        le.pool_options(args.data_root)))
    rare = rarest_classes(dataset, args.num_rare)
    bursts = burst_ids(dataset)
    strategies = {}
    for name, dirs in runs.items():
        per_seed = []
        for run_dir in dirs.values():
            initial, last = labeled_sets(run_dir)
            picked = np.setdiff1d(last, initial)
            stats = pick_stats(dataset, picked, rare)
            if bursts is not None:
                stats.update(duplicate_stats(bursts, initial, picked))
            per_seed.append(stats)
        strategies[name] = dict(
            mean=mean_over_seeds(per_seed),
            per_seed=dict(zip(map(str, dirs), per_seed)))
    pool = pick_stats(dataset, range(len(dataset)), rare)
    if bursts is not None:
        pool.update(duplicate_stats(bursts, [], range(len(dataset))))
    result = dict(
        strategies=strategies,
        pool=pool,
        pool_bursts=None if bursts is None else len(np.unique(bursts)),
        rare_classes=[dataset.metainfo['classes'][r] for r in rare],
        seeds=args.seeds,
        work_dir=args.work_dir,
        machine=machine(),
        date=datetime.date.today().isoformat())
    atomic_write_json(args.out, result)
    header = ['strategy', 'boxes/img', 'ignored/img', 'empty', 'side px',
              'rare boxes'] + ['duplicates'] * (bursts is not None)
    print(('{:<10}' + '{:>12}' * (len(header) - 1)).format(*header))
    for name, stats in [*((n, s['mean']) for n, s in strategies.items()),
                        ('pool', pool)]:
        line = (f'{name:<10}{stats["boxes_per_image"]:>12.2f}'
                f'{stats["ignored_per_image"]:>12.3f}'
                f'{stats["empty_image_fraction"]:>12.1%}'
                f'{stats["median_box_side"]:>12.1f}'
                f'{stats["rare_box_fraction"]:>12.1%}')
        if bursts is not None:
            line += f'{stats["duplicate_rate"]:>12.1%}'
        print(line)


if __name__ == '__main__':
    main()
