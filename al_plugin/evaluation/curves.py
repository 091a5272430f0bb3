"""Learning curves of active-learning experiments: mAP against the labeled
fraction, over strategies and seeds.

A *row* is one evaluated cycle of one run, as ``tools/compare.py`` writes
them into ``compare.json``::

    dict(strategy='entropy_digits', seed=0, cycle=1, num_labeled=600,
         num_total=4000, labeled_fraction=0.15, num_labeled_boxes=2130,
         num_labeled_ignored_boxes=41, AP50=0.21, AP=None, metrics={...},
         per_class_AP={'pascal_voc/AP50': {'dog': 0.3, 'cat': None}})

``num_labeled_boxes`` is the annotation cost of X_L in boxes (ignored
boxes included, ``num_labeled_ignored_boxes`` of them); both are None for
a ``results.json`` written before boxes were counted. ``per_class_AP``
(family -> class name -> AP or None, as ``results.json`` has it) is there
when the run's evaluation gave per-class APs.

A *curve* is what a strategy's seeds share: one point per cycle with the
mean and the (population) standard deviation of the metric over seeds.
"""
from collections import defaultdict
from typing import Dict, List, NamedTuple, Optional, Sequence

import numpy as np

#: metric names of mmdet's evaluators -> the columns of a row
AP50_KEYS = ('pascal_voc/mAP', 'coco/bbox_mAP_50')
AP_KEYS = ('coco/bbox_mAP', )


class CurvePoint(NamedTuple):
    """One cycle of a strategy, over its seeds."""
    cycle: int
    labeled_fraction: float
    mean: float
    std: float
    num_seeds: int
    #: mean over the seeds of ``num_labeled_boxes``; None when a row of
    #: the cycle lacks it
    labeled_boxes: Optional[float] = None


def first_metric(metrics: dict, keys: Sequence[str]) -> Optional[float]:
    """The value of the first of ``keys`` present in ``metrics``."""
    for key in keys:
        if isinstance(metrics.get(key), (int, float)):
            return float(metrics[key])
    return None


def metric_value(row: dict, metric: str):
    """``metric`` of a row: a row column (``AP50``, ``AP``) or a key of its
    ``metrics``; None when it has neither."""
    return row.get(metric, row['metrics'].get(metric))


def rows_of_run(results: List[dict], strategy: str, seed) -> List[dict]:
    """Rows of one run from its ``results.json`` entries."""
    rows = []
    for r in results:
        total = r['num_labeled'] + r['num_pool']
        rows.append(
            dict(
                strategy=strategy,
                seed=seed,
                cycle=r['cycle'],
                num_labeled=r['num_labeled'],
                num_total=total,
                labeled_fraction=r['num_labeled'] / total if total else 0.0,
                num_labeled_boxes=r.get('num_labeled_boxes'),
                num_labeled_ignored_boxes=r.get('num_labeled_ignored_boxes'),
                AP50=first_metric(r['metrics'], AP50_KEYS),
                AP=first_metric(r['metrics'], AP_KEYS),
                metrics=r['metrics']))
        if 'per_class_AP' in r:
            rows[-1]['per_class_AP'] = r['per_class_AP']
    return rows


def curves(rows: List[dict], metric: str = 'AP50'
           ) -> Dict[str, List[CurvePoint]]:
    """Mean and spread of ``metric`` per strategy and cycle.

    Args:
        rows (list[dict]): Rows of any number of runs.
        metric (str): A row column (``AP50``, ``AP``) or a key of its
            ``metrics``.

    Returns:
        dict[str, list[CurvePoint]]: Per strategy, in order of first
        appearance, its points by cycle. A cycle that not every seed reached
        (an early stop, a run still going) averages the seeds that did.
    """
    by_cycle = defaultdict(lambda: defaultdict(list))
    for row in rows:
        value = metric_value(row, metric)
        if isinstance(value, (int, float)):
            by_cycle[row['strategy']][row['cycle']].append(
                (row['labeled_fraction'], float(value),
                 row.get('num_labeled_boxes')))
    out = {}
    for strategy, cycles in by_cycle.items():
        points = []
        for cycle in sorted(cycles):
            fractions, values, boxes = zip(*cycles[cycle])
            points.append(
                CurvePoint(
                    cycle, float(np.mean(fractions)), float(np.mean(values)),
                    float(np.std(values)), len(values),
                    None if None in boxes else float(np.mean(boxes))))
        out[strategy] = points
    return out


def paired_differences(rows: List[dict],
                       baseline: str = 'random',
                       metric: str = 'AP50') -> Dict[str, List[CurvePoint]]:
    """Each strategy's ``metric`` minus the baseline's, paired by seed and
    cycle, then averaged over seeds as :func:`curves` does.

    Seeds change the initial labeled set and the first model, which moves
    every strategy's curve alike; the paired difference removes that shared
    part, so its spread is what the selections themselves add.

    Args:
        rows (list[dict]): Rows of any number of runs, the baseline's
            included.
        baseline (str): The strategy to subtract.
        metric (str): As for :func:`curves`.

    Returns:
        dict[str, list[CurvePoint]]: Per other strategy, by cycle, the mean
        and std of the difference over the seeds both ran (``num_seeds``).
        Cycles the baseline did not reach for a seed are left out.
    """
    base = {(r['seed'], r['cycle']): metric_value(r, metric)
            for r in rows if r['strategy'] == baseline}
    differences = []
    for row in rows:
        ref = base.get((row['seed'], row['cycle']))
        own = metric_value(row, metric)
        if row['strategy'] == baseline or not all(
                isinstance(v, (int, float)) for v in (ref, own)):
            continue
        differences.append(
            dict(row, metrics={}, difference=float(own) - float(ref)))
    return curves(differences, 'difference')


def fraction_to_reach(curve: Sequence[CurvePoint],
                      target: float) -> Optional[float]:
    """The labeled fraction at which a mean curve first reaches ``target``,
    linearly interpolated between cycles; None if it never does."""
    prev = None
    for point in curve:
        if point.mean >= target:
            if prev is None or point.mean == prev.mean:
                return point.labeled_fraction
            t = (target - prev.mean) / (point.mean - prev.mean)
            return prev.labeled_fraction + t * (
                point.labeled_fraction - prev.labeled_fraction)
        prev = point
    return None


def per_class_families(rows: List[dict]) -> List[str]:
    """The per-class AP families of ``rows`` (``pascal_voc/AP50``,
    ``coco/precision``), in order of first appearance."""
    return list(dict.fromkeys(
        family for row in rows for family in row.get('per_class_AP') or {}))


def per_class_curves(rows: List[dict], family: str,
                     baseline: Optional[str] = None
                     ) -> Dict[str, Dict[str, List[CurvePoint]]]:
    """:func:`curves` (or, with ``baseline``, :func:`paired_differences`)
    of each class's AP of ``family``.

    Args:
        rows (list[dict]): Rows of any number of runs; those without the
            family are left out.
        family (str): A key of the rows' ``per_class_AP``.
        baseline (str, optional): The strategy to subtract, paired by seed
            and cycle. Defaults to None (the APs themselves).

    Returns:
        dict[str, dict[str, list[CurvePoint]]]: Class name (in order of
        first appearance) -> strategy -> its points by cycle; a class with
        no value in any row (no ground truth in the evaluated set) is left
        out.
    """
    tables = [(row, (row.get('per_class_AP') or {}).get(family))
              for row in rows]
    tables = [(row, table) for row, table in tables if table]
    names = dict.fromkeys(name for _, table in tables for name in table)
    out = {}
    for name in names:
        class_rows = [dict(row, class_AP=table.get(name))
                      for row, table in tables]
        points = curves(class_rows, 'class_AP') if baseline is None else \
            paired_differences(class_rows, baseline, 'class_AP')
        if points:
            out[name] = points
    return out
