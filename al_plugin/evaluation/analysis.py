"""Analyse what an active-learning experiment left in its ``work_dir``.

The files and their readers are those of :mod:`al_plugin.work_dir`
(``X_L_<c>.npy``, ``X_U_<c>.npy``, ``cycle<c>/trainval_X_*_<tag>.txt``,
``selection_<c>.json``, ``pseudo_labels_<c>.json``, ``results.json``); the
readers are re-exported here. On top of them: what labeling an image costs
in boxes (:func:`count_boxes`), per-class split summaries
(:func:`split_summary`), whether a dataset is the pool of an experiment
(:func:`check_pool`) and what changed between two cycles
(:func:`diff_cycles`). Errors name the file: :class:`FileNotFoundError` for
a missing one, :class:`ValueError` for a malformed or disagreeing one.
``tools/analysis/`` prints what these return.

Example:
    >>> from al_plugin.evaluation.analysis import load_results
    >>> for r in load_results('work_dirs/miaod_digits'):
    ...     print(r['cycle'], r['num_labeled'], r['metrics']['pascal_voc/mAP'])
"""
import os.path as osp
from collections import OrderedDict
from numbers import Integral
from typing import Dict, List, Optional, Sequence

import numpy as np

from al_plugin.work_dir import (RESULTS_FILE, find_cycles, id_list_file,
                                indices_file, load_indices,
                                load_pseudo_label_counts, load_results,
                                load_selection, read_id_lists,
                                recorded_pool_size, selection_file)

__all__ = [
    'RESULTS_FILE', 'check_pool', 'count_boxes', 'diff_cycles',
    'find_cycles', 'labeled_fraction', 'load_indices',
    'load_pseudo_label_counts', 'load_results', 'load_selection',
    'read_id_lists', 'recorded_pool_size', 'split_summary'
]


def _is_int(value) -> bool:
    return isinstance(value, Integral) and not isinstance(value, bool)


def labeled_fraction(result: dict) -> Optional[float]:
    """|X_L| / N of a :func:`load_results` record (None when N is 0)."""
    total = result['num_labeled'] + result['num_pool']
    return result['num_labeled'] / total if total else None


def _fraction(part: int, whole: int) -> Optional[float]:
    return part / whole if whole else None


def count_boxes(dataset, indices: Sequence[int]) -> np.ndarray:
    """The annotated boxes of some images of a pool: what labeling them
    costs in boxes.

    Args:
        dataset: The pool, as for :func:`split_summary` (``instances`` of
            ``get_data_info(i)``, each with an optional ``ignore_flag``).
        indices (Sequence[int]): Global indices into ``dataset``, shape
            (n, ).

    Returns:
        np.ndarray: int64, shape (n, 2): per image, all its boxes, and
        those of them flagged ``ignore_flag`` (VOC ``difficult``, COCO
        ``iscrowd``: annotated, but left out of training and evaluation).
    """
    counts = np.zeros((len(indices), 2), dtype=np.int64)
    for row, index in enumerate(indices):
        for instance in dataset.get_data_info(int(index)).get(
                'instances', []):
            counts[row, 0] += 1
            counts[row, 1] += bool(instance.get('ignore_flag', 0))
    return counts


def split_summary(dataset, labeled: Sequence[int]) -> dict:
    """Per class, images and boxes in X_L vs in the rest of the pool.

    Boxes flagged ``ignore_flag`` (VOC ``difficult``, COCO ``iscrowd``)
    are counted apart, as ``*_ignored``; an image counts for a class when
    it has a not-ignored box of it.

    Args:
        dataset: The pool: a fully initialised mmdet dataset (or a
            concatenation) whose ``get_data_info(i)`` has ``instances``
            with ``bbox_label`` and ``ignore_flag``; ``metainfo['classes']``
            names the labels.
        labeled (Sequence[int]): X_L, global indices into ``dataset``.

    Returns:
        dict: ``total_size`` (N); ``classes``: one dict per class with
        ``class``, ``labeled_images``, ``labeled_boxes``,
        ``labeled_ignored``, ``pool_images``, ``pool_boxes``,
        ``pool_ignored``, ``labeled_image_fraction`` and
        ``labeled_box_fraction`` (None for a class with no image / box);
        ``total``: the same keys over all classes, where the image counts
        are |X_L| and the pool size.
    """
    classes = list(dataset.metainfo['classes'])
    total_size = len(dataset)
    is_labeled = np.zeros(total_size, dtype=bool)
    is_labeled[np.asarray(labeled, dtype=np.int64)] = True
    keys = ('images', 'boxes', 'ignored')
    counts = {
        part: {key: np.zeros(len(classes), dtype=np.int64)
               for key in keys}
        for part in ('labeled', 'pool')
    }
    for index in range(total_size):
        part = counts['labeled' if is_labeled[index] else 'pool']
        present = np.zeros(len(classes), dtype=bool)
        for instance in dataset.get_data_info(index).get('instances', []):
            label = int(instance['bbox_label'])
            if not 0 <= label < len(classes):
                raise ValueError(f'data info {index}: box label {label} is '
                                 f'not one of the {len(classes)} classes')
            if instance.get('ignore_flag', 0):
                part['ignored'][label] += 1
            else:
                part['boxes'][label] += 1
                present[label] = True
        part['images'] += present

    def row(name, values):
        out = OrderedDict([('class', name)])
        for part in ('labeled', 'pool'):
            for key in keys:
                out[f'{part}_{key}'] = int(values[part][key])
        for key, fraction in (('images', 'labeled_image_fraction'),
                              ('boxes', 'labeled_box_fraction')):
            out[fraction] = _fraction(
                out[f'labeled_{key}'],
                out[f'labeled_{key}'] + out[f'pool_{key}'])
        return out

    rows = [
        row(name, {
            part: {key: counts[part][key][c] for key in keys}
            for part in counts
        }) for c, name in enumerate(classes)
    ]
    num_labeled = int(is_labeled.sum())
    totals = {
        part: dict(
            images=num_labeled if part == 'labeled' else total_size -
            num_labeled,
            boxes=counts[part]['boxes'].sum(),
            ignored=counts[part]['ignored'].sum())
        for part in counts
    }
    return dict(
        total_size=total_size, classes=rows, total=row('total', totals))


def check_pool(work_dir: str, cycle: int, dataset,
               labeled: np.ndarray) -> None:
    """Check that ``dataset`` is the pool the experiment ran on.

    Its size must be the one the experiment recorded (see
    :func:`recorded_pool_size`), and the image ids it gives the indices of
    ``X_L_<cycle>.npy`` must be those ``cycle<cycle>/trainval_X_L_<tag>.txt``
    list.

    Raises:
        ValueError: Naming the file that disagrees with the dataset.
    """
    recorded = recorded_pool_size(work_dir)
    if recorded is not None and recorded[0] != len(dataset):
        raise ValueError(
            f'{recorded[1]} records a pool of {recorded[0]} images, the '
            f'dataset has {len(dataset)}: the dataset is not the pool of '
            'this experiment (another config or data root?)')
    if len(labeled) and labeled.max() >= len(dataset):
        raise ValueError(
            f'{osp.join(work_dir, indices_file("X_L", cycle))} holds index '
            f'{labeled.max()}, the dataset has {len(dataset)} images: the '
            'dataset is not the pool of this experiment')
    # here, not at the top: the datasets package imports torch and mmdet,
    # which the readers of results (tools/analysis/load_results.py) never need
    from al_plugin.datasets.pool import read_pool
    img_ids, tags = read_pool(dataset)
    lists = read_id_lists(work_dir, cycle, 'X_L')
    expected: Dict[str, List[str]] = OrderedDict((t, []) for t in lists)
    for index in labeled:
        expected.setdefault(tags[index], []).append(str(img_ids[index]))
    for tag, ids in expected.items():
        path = osp.join(work_dir, id_list_file('X_L', cycle, tag))
        written = lists.get(tag)
        if written is None:
            raise ValueError(
                f'{path}: no such file, but the dataset gives X_L_{cycle} '
                f'{len(ids)} images of subset {tag!r}: the dataset is not '
                'the pool of this experiment')
        if written != ids:
            first = next((i for i, (a, b) in enumerate(zip(written, ids))
                          if a != b), min(len(written), len(ids)))
            raise ValueError(
                f'{path} lists {len(written)} image ids, the dataset gives '
                f'{len(ids)} for the indices of X_L_{cycle}.npy and subset '
                f'{tag!r}; they differ first at line {first + 1}: the '
                'dataset is not the pool of this experiment (another '
                'config or data root?)')


def diff_cycles(work_dir: str, a: int, b: int) -> dict:
    """What changed between cycles ``a < b`` of an experiment.

    Args:
        work_dir (str): The experiment's work_dir.
        a (int): The earlier cycle.
        b (int): The later cycle.

    Returns:
        dict: ``a``, ``b``, ``total_size`` (N, or None if no selection
        says it), ``X_L_sizes`` and ``X_U_sizes`` (``[|.|_a, |.|_b]``);
        ``selections``: per cycle ``a+1..b``, ``cycle``, ``strategy``,
        ``num_selected``, ``budget``, ``score_min``, ``score_max`` (None
        without scores), ``num_skipped``; ``entered_X_L``: one dict per
        index of ``X_L_b \\ X_L_a`` (sorted), with ``index``, ``img_id``,
        ``tag``, ``cycle`` (of its selection) and ``score``;
        ``left_X_U`` and ``entered_X_U``: ``X_U_a \\ X_U_b`` and
        ``X_U_b \\ X_U_a`` (X_U is re-drawn every cycle).

    Raises:
        FileNotFoundError: If a file of cycle ``a`` or ``b`` or a
            selection in between is missing.
        ValueError: If ``a >= b``, if ``X_L_a`` is not a subset of
            ``X_L_b``, or if the selections or id lists in between do
            not account for ``X_L_b \\ X_L_a``; messages name the files.
    """
    if not (_is_int(a) and _is_int(b) and 0 <= a < b):
        raise ValueError(f'cycles must satisfy 0 <= A < B, got A={a}, B={b}')
    X_L = [load_indices(work_dir, 'X_L', c) for c in (a, b)]
    X_U = [load_indices(work_dir, 'X_U', c) for c in (a, b)]
    path_a, path_b = (osp.join(work_dir, indices_file('X_L', c))
                      for c in (a, b))
    missing = np.setdiff1d(X_L[0], X_L[1], assume_unique=True)
    if len(missing):
        raise ValueError(
            f'{path_a} is not a subset of {path_b}: {len(missing)} '
            f'labeled indices of cycle {a} are not labeled in cycle {b} '
            f'(first: {missing[:10].tolist()}); labeled images never '
            'leave X_L')
    entered = np.setdiff1d(X_L[1], X_L[0], assume_unique=True)
    selections = [load_selection(work_dir, c) for c in range(a + 1, b + 1)]
    total_size = selections[-1].get('total_size')
    if not _is_int(total_size):
        total_size = None

    records, by_index = [], {}
    for c, selection in zip(range(a + 1, b + 1), selections):
        scores = selection['scores']
        for i, index in enumerate(selection['indices']):
            if index in by_index:
                raise ValueError(
                    f'{selection_file(c)} selects index {index}, which '
                    f'{selection_file(by_index[index]["cycle"])} selected')
            by_index[index] = dict(
                index=index,
                img_id=selection['img_ids'][i],
                tag=selection['tags'][i],
                cycle=c,
                score=None if scores is None else scores[i])
        records.append(
            OrderedDict(
                cycle=c,
                strategy=selection.get('strategy'),
                num_selected=len(selection['indices']),
                budget=selection.get('budget'),
                score_min=min(scores) if scores else None,
                score_max=max(scores) if scores else None,
                num_skipped=len(selection['skipped'])))
    selected = np.array(sorted(by_index), dtype=np.int64)
    if not np.array_equal(selected, entered):
        extra = np.setdiff1d(selected, entered).tolist()[:10]
        lost = np.setdiff1d(entered, selected).tolist()[:10]
        raise ValueError(
            f'selection_{a + 1}..{b}.json select {len(selected)} images '
            f'but X_L grows by {len(entered)} from {path_a} to {path_b} '
            f'(selected but not new in X_L: {extra}; new in X_L but not '
            f'selected: {lost})')

    # the id lists of both cycles tell the same story
    lists = [read_id_lists(work_dir, c, 'X_L') for c in (a, b)]
    for tag in sorted(set(lists[0]) | set(lists[1])):
        new = set(lists[1].get(tag, [])) - set(lists[0].get(tag, []))
        want = {str(r['img_id']) for r in by_index.values() if r['tag'] == tag}
        if new != want:
            raise ValueError(
                f'{id_list_file("X_L", a, tag)} -> '
                f'{id_list_file("X_L", b, tag)} (in {work_dir}) add '
                f'{len(new)} image ids, the selections {len(want)}: ids '
                f'{sorted(new ^ want)[:10]} differ')
    return OrderedDict(
        a=a,
        b=b,
        total_size=total_size,
        X_L_sizes=[len(x) for x in X_L],
        X_U_sizes=[len(x) for x in X_U],
        selections=records,
        entered_X_L=[by_index[int(i)] for i in entered],
        left_X_U=np.setdiff1d(X_U[0], X_U[1]).tolist(),
        entered_X_U=np.setdiff1d(X_U[1], X_U[0]).tolist())
