"""Validation runs: judge an experiment's picks apart from its detector.

A strategy's curve mixes two things: which images it picked and how its own
detector trains on them (MI-AOD adds towers and unlabeled phases). A
validation run retrains one plain detector config (e.g.
``configs/retinanet_digits.py``) from its initial weights on the labeled set
X_L of a chosen cycle of an experiment, once per seed, and tests it; the
spread over seeds says how far apart two labeled sets must be to differ.
``tools/validate_splits.py`` is the command line.

The plain config must train on the experiment's pool: the same dataset
config, so that global index ``i`` of ``X_L_<c>.npy`` is the same image
(:func:`al_plugin.evaluation.analysis.check_pool` checks it). The labeled
set is cut from it by giving every leaf dataset of the config mmengine's
``indices`` (its local indices of X_L), so the config a validation run
dumps into its work dir states exactly which images it trained on.

Example:
    >>> cfg = Config.fromfile('configs/retinanet_digits.py')
    >>> report = validate_splits(cfg, ['work_dirs/compare/random/seed0'],
    ...                          repeats=3, out_dir='work_dirs/validate')
    >>> print(format_table(report))
"""
import copy
import gc
import hashlib
import itertools
import json
import os
import os.path as osp
from typing import Callable, Dict, List, NamedTuple, Optional, Sequence

import numpy as np
from mmengine.config import Config
from mmengine.runner import Runner

from al_plugin.datasets.dataset_tree import (leaf_datasets, map_leaf_configs,
                                             wrapper_configs)
from al_plugin.datasets.pool import read_pool
from al_plugin.evaluation.analysis import check_pool, count_boxes
from al_plugin.evaluation.curves import AP50_KEYS, first_metric
from al_plugin.utils import atomic_write_json, to_float
from al_plugin.work_dir import find_cycles, indices_file, load_indices
from .selection import build_pool

REPORT_FILE = 'validation.json'
_RUNNER_NAMES = itertools.count()


class LabeledSet(NamedTuple):
    """X_L of one cycle of one experiment."""
    work_dir: str
    cycle: int
    indices: np.ndarray  # (L, ) sorted global pool indices
    img_ids: list  # (L, ) their image ids
    num_boxes: int  # annotated boxes of X_L, ignored ones included
    num_ignored_boxes: int  # boxes flagged ignore_flag among them


def labeled_set(work_dir: str, pool, cycle: Optional[int] = None
                ) -> LabeledSet:
    """Read and check X_L of ``cycle`` (default: the last) of an experiment.

    Args:
        work_dir (str): The experiment's work dir.
        pool: The fully initialised pool dataset of the plain config.
        cycle (int, optional): The cycle; defaults to the last one with an
            ``X_L_<c>.npy``.

    Returns:
        LabeledSet: The labeled set.

    Raises:
        FileNotFoundError: If ``work_dir`` does not exist, has no
            ``X_L_<c>.npy``, or not that of ``cycle`` (the message names
            the work dir and the cycles it has).
        ValueError: If ``pool`` is not the experiment's pool.
    """
    cycles = find_cycles(work_dir)
    if not cycles:
        raise FileNotFoundError(f'{work_dir}: no X_L_<c>.npy, not the work '
                                'dir of an active-learning experiment')
    if cycle is None:
        cycle = cycles[-1]
    elif cycle not in cycles:
        raise FileNotFoundError(
            f'{osp.join(work_dir, indices_file("X_L", cycle))}: no such '
            f'file; {work_dir} has the labeled sets of cycles {cycles}')
    indices = load_indices(work_dir, 'X_L', cycle, len(pool))
    check_pool(work_dir, cycle, pool, indices)
    img_ids, _ = read_pool(pool)
    boxes, ignored = count_boxes(pool, indices).sum(axis=0)
    return LabeledSet(work_dir, cycle, indices,
                      [img_ids[i] for i in indices], int(boxes),
                      int(ignored))


def subset_dataset_cfg(dataset_cfg: dict, pool,
                       indices: Sequence[int]) -> dict:
    """The pool's dataset config cut down to the global ``indices``.

    Every leaf dataset config gets mmengine's ``indices``: its local
    indices among ``indices``; a leaf with none is left out of its
    ``ConcatDataset`` (``dataset_tree.map_leaf_configs`` walks the
    tree).

    Args:
        dataset_cfg (dict): The config ``pool`` was built from: a dataset
            or a (nested) ``ConcatDataset`` of datasets.
        pool: The dataset built from it, fully initialised.
        indices (Sequence[int]): Global indices into ``pool``.

    Returns:
        dict: A new dataset config of ``len(indices)`` images, in global
        index order.

    Raises:
        ValueError: For a wrapper other than a concatenation, a leaf that
            already takes ``indices``, or a config whose leaves are not
            those of ``pool``.
    """
    leaves = leaf_datasets(pool)
    wrappers = wrapper_configs(dataset_cfg)
    if wrappers:
        raise ValueError(
            f'a {wrappers[0].get("type")} dataset wrapper: validation runs '
            'cut X_L from a dataset or a ConcatDataset of datasets')
    leaf_cfgs = leaf_datasets(dataset_cfg)
    if len(leaf_cfgs) != len(leaves):
        raise ValueError(f'the dataset config has {len(leaf_cfgs)} leaf '
                         f'datasets, the pool {len(leaves)}')
    for cfg in leaf_cfgs:
        if cfg.get('indices') is not None:
            raise ValueError(
                f'the {cfg.get("type")} dataset config already takes '
                f'indices={cfg["indices"]!r}; the pool must be the whole '
                'dataset')
    offsets = np.cumsum([0] + [len(leaf) for leaf in leaves])
    indices = np.unique(np.asarray(indices, dtype=np.int64))
    position = itertools.count()  # map_leaf_configs goes leaf by leaf

    def cut(cfg: dict) -> Optional[dict]:
        k = next(position)
        local = indices[(indices >= offsets[k]) & (indices < offsets[k + 1])]
        return dict(cfg, indices=(local - offsets[k]).tolist()) \
            if len(local) else None

    out = map_leaf_configs(copy.deepcopy(dataset_cfg), cut)
    if out is None:
        raise ValueError('no index to keep: the labeled set is empty')
    return out


def retrain(cfg: Config, dataset_cfg: dict, labeled: LabeledSet, seed: int,
            work_dir: str, metric: Optional[str] = None) -> dict:
    """Train ``cfg`` from its initial weights on ``labeled`` with ``seed``
    in ``work_dir``, then run its test loop.

    Args:
        cfg (Config): The plain detector config.
        dataset_cfg (dict): Its training dataset cut to ``labeled`` (see
            :func:`subset_dataset_cfg`).
        labeled (LabeledSet): What to train on.
        seed (int): ``randomness.seed`` (initial weights, data order).
        work_dir (str): The training's work dir.
        metric (str, optional): The test metric to report; defaults to the
            first of ``pascal_voc/mAP`` and ``coco/bbox_mAP_50``.

    Returns:
        dict: ``seed``, ``metric`` (its name), ``value``, ``metrics`` (all
        test metrics) and ``num_images`` (images the training set held).

    Raises:
        KeyError: If the test metrics lack ``metric``.
        RuntimeError: If the training set was not the labeled set.
    """
    cfg = copy.deepcopy(cfg)
    cfg.train_dataloader.dataset = copy.deepcopy(dataset_cfg)
    cfg.work_dir = work_dir
    cfg.randomness = dict(cfg.get('randomness') or {}, seed=seed)
    cfg.experiment_name = \
        f'validate_splits_{os.getpid()}_{next(_RUNNER_NAMES)}'
    cfg.resume = False
    runner = Runner.from_cfg(cfg)
    runner.train()
    trained_ids, _ = read_pool(runner.train_dataloader.dataset)
    if [str(i) for i in trained_ids] != [str(i) for i in labeled.img_ids]:
        raise RuntimeError(
            f'{work_dir}: trained on {len(trained_ids)} images, not the '
            f'{len(labeled.img_ids)} of X_L_{labeled.cycle} of '
            f'{labeled.work_dir}')
    metrics = {k: to_float(v) for k, v in (runner.test() or {}).items()}
    del runner
    gc.collect()
    name = metric or next((k for k in AP50_KEYS if k in metrics), None)
    value = first_metric(metrics, [name]) if name else None
    if value is None:
        raise KeyError(f'test metric {metric or " / ".join(AP50_KEYS)!r} '
                       f'is not among {sorted(metrics)} (see --metric)')
    return dict(seed=seed, metric=name, value=value, metrics=metrics,
                num_images=len(trained_ids))


def summarize(values: Sequence[float]) -> dict:
    """``n``, ``mean``, ``std`` (population), ``min`` and ``max``."""
    values = np.asarray(values, dtype=np.float64)
    if not len(values):
        return dict(n=0, mean=None, std=None, min=None, max=None)
    return dict(n=len(values), mean=float(values.mean()),
                std=float(values.std()), min=float(values.min()),
                max=float(values.max()))


def run_names(work_dirs: Sequence[str]) -> List[str]:
    """Short distinct names of work dirs: their paths below the deepest
    folder they share (``random/seed0``), or the base name of one."""
    paths = [osp.abspath(w) for w in work_dirs]
    if len(paths) == 1:
        return [osp.basename(paths[0])]
    common = osp.commonpath(paths)
    names = [osp.relpath(p, common) for p in paths]
    return [f'{name}#{i}' if names.count(name) > 1 else name
            for i, name in enumerate(names)]


def validate_splits(cfg: Config,
                    work_dirs: Sequence[str],
                    repeats: int,
                    out_dir: str,
                    cycle: Optional[int] = None,
                    metric: Optional[str] = None,
                    log: Callable[[str], None] = print) -> dict:
    """Validation runs of several experiments; resumable.

    Every input is checked before the first training. Each (experiment,
    seed) trains in ``out_dir/<name>/seed<s>`` (seeds ``0..repeats - 1``);
    after each, ``out_dir/validation.json`` is rewritten (atomically) with
    every result so far. Called again with the same config and cycle, the
    trainings it holds are not repeated.

    Args:
        cfg (Config): The plain detector config (options merged).
        work_dirs (Sequence[str]): The experiments.
        repeats (int): Trainings per experiment (seeds), >= 1.
        out_dir (str): Where the trainings and the report go.
        cycle (int, optional): The cycle of X_L; default: each run's last.
        metric (str, optional): See :func:`retrain`.
        log (callable): Progress lines.

    Returns:
        dict: The report: ``config`` (the config file), ``config_digest``
        (sha1 of its text, options merged), ``metric``, ``repeats`` and
        ``runs``: per experiment ``name``, ``work_dir``,
        ``cycle``, ``num_labeled``, ``num_boxes``, ``num_ignored_boxes``,
        ``img_ids`` (of X_L), ``results`` (one :func:`retrain` dict per
        seed) and ``summary`` (:func:`summarize` of their values).

    Raises:
        ValueError: If ``repeats < 1`` or ``out_dir`` holds a report of
            another config or metric (naming it).
    """
    if repeats < 1:
        raise ValueError(f'repeats must be >= 1, got {repeats}')
    pool = build_pool(cfg)
    sets = [labeled_set(w, pool, cycle) for w in work_dirs]
    dataset_cfgs = [
        subset_dataset_cfg(cfg.train_dataloader.dataset, pool, s.indices)
        for s in sets
    ]
    del pool
    path = osp.join(out_dir, REPORT_FILE)
    digest = hashlib.sha1(cfg.pretty_text.encode()).hexdigest()
    done = _earlier_results(path, digest, metric)
    report = dict(config=cfg.filename, config_digest=digest, metric=metric,
                  repeats=repeats, runs=[])
    for name, labeled in zip(run_names(work_dirs), sets):
        key = (osp.abspath(labeled.work_dir), labeled.cycle)
        report['runs'].append(
            dict(name=name, work_dir=labeled.work_dir, cycle=labeled.cycle,
                 num_labeled=len(labeled.indices),
                 num_boxes=labeled.num_boxes,
                 num_ignored_boxes=labeled.num_ignored_boxes,
                 img_ids=labeled.img_ids,
                 results=[done[key][s] for s in range(repeats)
                          if s in done.get(key, {})]))
    report['metric'] = metric or next(
        (r['metric'] for e in report['runs'] for r in e['results']), None)
    for entry, labeled, dataset_cfg in zip(report['runs'], sets,
                                           dataset_cfgs):
        for seed in range(repeats):
            if any(r['seed'] == seed for r in entry['results']):
                continue
            log(f'{entry["name"]}: X_L_{labeled.cycle} '
                f'({len(labeled.indices)} images), seed {seed}')
            result = retrain(cfg, dataset_cfg, labeled, seed,
                             osp.join(out_dir, entry['name'], f'seed{seed}'),
                             metric)
            entry['results'].append(result)
            entry['results'].sort(key=lambda r: r['seed'])
            report['metric'] = result['metric']
            _write_report(path, report)
    _write_report(path, report)
    return report


def format_table(report: dict) -> str:
    """The report as a text table: one line per experiment."""
    lines = [f'{"run":<28s} {"cycle":>5s} {"images":>6s} {"boxes":>6s} '
             f'{"n":>3s} {"mean":>7s} {"std":>7s} {"min":>7s} {"max":>7s}'
             f'   ({report["metric"]})']
    for run in report['runs']:
        s = run['summary']
        cells = [f'{s[k]:7.4f}' if s[k] is not None else f'{"-":>7s}'
                 for k in ('mean', 'std', 'min', 'max')]
        lines.append(f'{run["name"]:<28s} {run["cycle"]:>5d} '
                     f'{run["num_labeled"]:>6d} {run["num_boxes"]:>6d} '
                     f'{s["n"]:>3d} ' + ' '.join(cells))
    return '\n'.join(lines)


def _write_report(path: str, report: dict) -> None:
    for run in report['runs']:
        run['summary'] = summarize([r['value'] for r in run['results']])
    atomic_write_json(path, report)


def _earlier_results(path: str, digest: str, metric: Optional[str]
                     ) -> Dict[tuple, Dict[int, dict]]:
    """(abs work dir, cycle) -> seed -> result of an earlier report at
    ``path``; refuses one of another config (``digest`` of its text, options
    merged) or metric."""
    if not osp.exists(path):
        return {}
    try:
        with open(path) as f:
            report = json.load(f)
        same = (report['config_digest'] == digest
                and (metric is None or report['metric'] in (None, metric)))
        runs = {(osp.abspath(r['work_dir']), r['cycle']):
                {res['seed']: res for res in r['results']}
                for r in report['runs']}
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(f'{path}: not a report of validate_splits '
                         f'({type(error).__name__}: {error}); move it away')
    if not same:
        raise ValueError(
            f'{path} holds validation runs of another config or metric '
            f'({report["config"]}, metric {report["metric"]}) than '
            f'this one (metric {metric}): give another output folder')
    return runs
