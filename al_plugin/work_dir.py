"""The work-dir contract: every file an active-learning run writes.

One home for the file names and their readers and writers, so that the
splitter, the loop, the analysis functions and the tools agree on them:

- ``X_L_<c>.npy``, ``X_U_<c>.npy`` (:func:`indices_file`): sorted int64
  global indices of the labeled set and of the unlabeled training subset of
  cycle ``c``; written by the splitter (:func:`write_indices`), read by
  :func:`load_indices`.
- ``cycle<c>/trainval_X_L_<tag>.txt``, ``cycle<c>/trainval_X_U_<tag>.txt``
  (:func:`id_list_file`): image ids, one a line, per subset tag;
  :func:`write_id_list` / :func:`read_id_lists`.
- ``selection_<c>.json`` (:func:`selection_file`, ``c >= 1``): what the
  selection that made cycle ``c`` added; :func:`write_selection` /
  :func:`load_selection`.
- ``pseudo_labels_<c>.json`` (:func:`pseudo_labels_file`): the pool images
  cycle ``c`` trains on with model-given boxes;
  :func:`write_pseudo_labels` / :func:`load_pseudo_label_counts`.
- ``results.json`` (:data:`RESULTS_FILE`): the loop's per-cycle records;
  :func:`write_results` / :func:`load_results`. The pool size a run recorded
  (``total_size`` of a selection, else ``num_labeled + num_pool`` of a
  result) is :func:`recorded_pool_size`.
- Checkpoints: ``cycle_<c>.pth`` (:func:`cycle_checkpoint`, after the
  selection of cycle ``c``), ``trained_cycle_<c>.pth``
  (:func:`trained_checkpoint`, the trained model of cycle ``c``),
  :data:`INITIAL_WEIGHTS`, mmengine's ``CheckpointHook``'s
  ``epoch_<n>.pth`` / ``iter_<n>.pth`` and :data:`LAST_CHECKPOINT` (the
  name of the checkpoint ``--resume`` continues from; else the newest of
  the :data:`RESUMABLE` kinds).

Names are relative to the work dir. Writers are atomic (a temporary file
renamed onto the target, :mod:`al_plugin.utils`): a file is complete or
absent. Readers check what they read: :class:`FileNotFoundError` for a
missing file, :class:`ValueError` for a malformed one, the message naming
the file.
"""
import json
import os
import os.path as osp
import re
from collections import OrderedDict
from numbers import Integral, Real
from typing import Dict, Iterable, List, Optional

import numpy as np

from al_plugin.utils import atomic_open, atomic_write_json

#: The loop's per-cycle records (``ActiveLearningLoop.evaluate``).
RESULTS_FILE = 'results.json'
#: The detector's weights before cycle 0; every cycle starts from them.
INITIAL_WEIGHTS = 'al_initial_weights.pth'
#: Names the checkpoint to resume from (mmengine's convention).
LAST_CHECKPOINT = 'last_checkpoint'
#: ``str.format`` templates of the loop's checkpoints (``cycle=c``).
CYCLE_CKPT = 'cycle_{cycle}.pth'
TRAINED_CKPT = 'trained_cycle_{cycle}.pth'
#: The two index sets a cycle writes.
SPLIT_NAMES = ('X_L', 'X_U')

#: kind -> pattern of a numbered file name (group 1: its cycle / number)
_PATTERNS = {
    'X_L': re.compile(r'^X_L_(\d+)\.npy$'),
    'X_U': re.compile(r'^X_U_(\d+)\.npy$'),
    'selection': re.compile(r'^selection_(\d+)\.json$'),
    'pseudo_labels': re.compile(r'^pseudo_labels_(\d+)\.json$'),
    'cycle_checkpoint': re.compile(r'^cycle_(\d+)\.pth$'),
    'trained_checkpoint': re.compile(r'^trained_cycle_(\d+)\.pth$'),
    'epoch_checkpoint': re.compile(r'^epoch_(\d+)\.pth$'),  # mmengine's
    'iter_checkpoint': re.compile(r'^iter_(\d+)\.pth$'),  # CheckpointHook
}
#: The checkpoints ``--resume`` may fall back to (kinds of :func:`cycle_of`)
RESUMABLE = ('epoch_checkpoint', 'iter_checkpoint', 'cycle_checkpoint')


def _is_int(value) -> bool:
    return isinstance(value, Integral) and not isinstance(value, bool)


def _cycle(cycle) -> int:
    if not _is_int(cycle) or cycle < 0:
        raise ValueError(f'a cycle is an int >= 0, got {cycle!r}')
    return int(cycle)


def _split_name(name: str) -> str:
    if name not in SPLIT_NAMES:
        raise ValueError(f'name must be one of {SPLIT_NAMES}, got {name!r}')
    return name


# -- names --------------------------------------------------------------------
def indices_file(name: str, cycle: int) -> str:
    """``X_L_<cycle>.npy`` or ``X_U_<cycle>.npy`` (``name``: X_L / X_U)."""
    return f'{_split_name(name)}_{_cycle(cycle)}.npy'


def cycle_folder(cycle: int) -> str:
    """``cycle<cycle>``: the folder of a cycle's image-id lists."""
    return f'cycle{_cycle(cycle)}'


def id_list_file(name: str, cycle: int, tag: str) -> str:
    """``cycle<cycle>/trainval_<name>_<tag>.txt``."""
    return osp.join(cycle_folder(cycle),
                    f'trainval_{_split_name(name)}_{tag}.txt')


def selection_file(cycle: int) -> str:
    """``selection_<cycle>.json``."""
    return f'selection_{_cycle(cycle)}.json'


def pseudo_labels_file(cycle: int) -> str:
    """``pseudo_labels_<cycle>.json``."""
    return f'pseudo_labels_{_cycle(cycle)}.json'


def cycle_checkpoint(cycle: int) -> str:
    """``cycle_<cycle>.pth``: the checkpoint after cycle's selection."""
    return CYCLE_CKPT.format(cycle=_cycle(cycle))


def trained_checkpoint(cycle: int) -> str:
    """``trained_cycle_<cycle>.pth``: cycle's trained model."""
    return TRAINED_CKPT.format(cycle=_cycle(cycle))


def cycle_of(file_name: str, kind: str) -> Optional[int]:
    """The cycle a per-cycle file name names, or None if it is not one.

    Args:
        file_name (str): A base name, e.g. ``'X_L_3.npy'``.
        kind (str): ``'X_L'``, ``'X_U'``, ``'selection'``,
            ``'pseudo_labels'``, ``'cycle_checkpoint'``,
            ``'trained_checkpoint'``, or ``'epoch_checkpoint'`` /
            ``'iter_checkpoint'`` (then the epoch or iteration).
    """
    if kind not in _PATTERNS:
        raise ValueError(f'kind must be one of {sorted(_PATTERNS)}, got '
                         f'{kind!r}')
    match = _PATTERNS[kind].match(file_name)
    return int(match.group(1)) if match else None


# -- writers ------------------------------------------------------------------
def write_indices(work_dir: str, name: str, cycle: int,
                  indices: np.ndarray) -> str:
    """Save ``<name>_<cycle>.npy``: int64 indices, shape (n, ); returns
    the path."""
    path = osp.join(work_dir, indices_file(name, cycle))
    with atomic_open(path, 'wb') as f:
        np.save(f, np.asarray(indices, dtype=np.int64))
    return path


def write_id_list(work_dir: str, name: str, cycle: int, tag: str,
                  img_ids: Iterable) -> str:
    """Write ``cycle<c>/trainval_<name>_<tag>.txt``, one id a line."""
    path = osp.join(work_dir, id_list_file(name, cycle, tag))
    with atomic_open(path, 'w') as f:
        f.write(''.join(f'{img_id}\n' for img_id in img_ids))
    return path


def write_selection(work_dir: str, cycle: int, record: dict) -> str:
    """Write ``selection_<cycle>.json`` (the splitter's record)."""
    path = osp.join(work_dir, selection_file(cycle))
    atomic_write_json(path, record)
    return path


def write_pseudo_labels(work_dir: str, cycle: int, record: dict) -> str:
    """Write ``pseudo_labels_<cycle>.json`` (``cycle``, ``num_images``,
    ``num_boxes``, ``images``)."""
    path = osp.join(work_dir, pseudo_labels_file(cycle))
    atomic_write_json(path, record)
    return path


def write_results(work_dir: str, results: List[dict]) -> str:
    """Write ``results.json``: the list of per-cycle records."""
    path = osp.join(work_dir, RESULTS_FILE)
    atomic_write_json(path, results)
    return path


# -- readers ------------------------------------------------------------------
def read_json(path: str):
    """``json.load`` a file; errors name the file."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path}: no such file')
    try:
        with open(path) as f:
            return json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f'{path}: malformed JSON ({error})') from error


def load_results(work_dir: str) -> List[dict]:
    """Load the per-cycle results of one experiment.

    Args:
        work_dir (str): The experiment's work_dir, holding ``results.json``.

    Returns:
        list[dict]: One dict per evaluated cycle, in the file's order, with
        at least ``cycle``, ``num_labeled``, ``num_pool`` (images not yet
        labeled), ``num_pseudo_labeled`` (0 when the file, from an older
        run, lacks it), ``strategy`` (None when absent) and ``metrics``
        (metric name -> value, e.g. ``'pascal_voc/mAP'``); other keys are
        kept as they are.

    Raises:
        FileNotFoundError: If ``<work_dir>/results.json`` does not exist.
        ValueError: If it is not JSON, not a list of such records, or its
            cycles do not increase; the message names the file.
    """
    path = osp.join(work_dir, RESULTS_FILE)
    records = read_json(path)
    if not isinstance(records, list):
        raise ValueError(f'{path}: expected a list of per-cycle records, '
                         f'got {type(records).__name__}')
    results = []
    for position, record in enumerate(records):
        where = f'{path}: record {position}'
        if not isinstance(record, dict):
            raise ValueError(f'{where} is a {type(record).__name__}, not '
                             'an object')
        for key in ('cycle', 'num_labeled', 'num_pool'):
            if not _is_int(record.get(key)) or record[key] < 0:
                raise ValueError(f'{where}: "{key}" must be an int >= 0, '
                                 f'got {record.get(key)!r}')
        if not isinstance(record.get('metrics'), dict):
            raise ValueError(f'{where}: "metrics" must be an object, got '
                             f'{record.get("metrics")!r}')
        result = dict(record)
        result.setdefault('num_pseudo_labeled', 0)
        result.setdefault('strategy', None)
        if results and result['cycle'] <= results[-1]['cycle']:
            raise ValueError(f'{where}: cycle {result["cycle"]} after cycle '
                             f'{results[-1]["cycle"]}; cycles must increase')
        results.append(result)
    return results


def find_cycles(work_dir: str) -> List[int]:
    """The cycles ``c`` with an ``X_L_<c>.npy`` in ``work_dir``, sorted."""
    if not osp.isdir(work_dir):
        raise FileNotFoundError(f'{work_dir}: no such work_dir')
    cycles = (cycle_of(name, 'X_L') for name in os.listdir(work_dir))
    return sorted(c for c in cycles if c is not None)


def load_indices(work_dir: str,
                 name: str,
                 cycle: int,
                 total_size: Optional[int] = None) -> np.ndarray:
    """Load ``<name>_<cycle>.npy`` (``name``: ``'X_L'`` or ``'X_U'``).

    Args:
        work_dir (str): The experiment's work_dir.
        name (str): ``'X_L'`` or ``'X_U'``.
        cycle (int): The cycle.
        total_size (int, optional): N; indices must then be below it.

    Returns:
        np.ndarray: The sorted int64 global indices, shape (n, ).

    Raises:
        FileNotFoundError: If the file does not exist.
        ValueError: If it is not a 1-d array of distinct, sorted,
            non-negative integers (below ``total_size``).
    """
    path = osp.join(work_dir, indices_file(name, cycle))
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path}: no such file')
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as error:
        raise ValueError(f'{path}: not a readable .npy file ({error})') \
            from error
    if array.ndim != 1 or not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f'{path}: expected a 1-d integer array, got shape '
                         f'{array.shape} of {array.dtype}')
    array = array.astype(np.int64)
    if len(array) and array.min() < 0:
        raise ValueError(f'{path}: negative index {array.min()}')
    if total_size is not None and len(array) and array.max() >= total_size:
        raise ValueError(f'{path}: index {array.max()} outside the pool '
                         f'0..{total_size - 1}')
    if np.any(np.diff(array) <= 0):
        raise ValueError(f'{path}: indices are not sorted and distinct')
    return array


def load_selection(work_dir: str, cycle: int) -> dict:
    """Load and check ``selection_<cycle>.json``.

    Returns:
        dict: The record as written by the splitter (``strategy``,
        ``indices``, ``img_ids``, ``tags``, ``scores`` or None, ``budget``,
        ``X_L_size``, ...), with ``skipped`` defaulting to ``[]``.

    Raises:
        FileNotFoundError: If the file does not exist.
        ValueError: If ``indices``, ``img_ids``, ``tags`` and ``scores`` are
            not lists of one entry per selected image.
    """
    path = osp.join(work_dir, selection_file(cycle))
    record = read_json(path)
    if not isinstance(record, dict):
        raise ValueError(f'{path}: expected an object, got '
                         f'{type(record).__name__}')
    indices = record.get('indices')
    if not isinstance(indices, list) or not all(
            _is_int(i) and i >= 0 for i in indices):
        raise ValueError(f'{path}: "indices" must be a list of ints >= 0')
    for key in ('img_ids', 'tags'):
        if not isinstance(record.get(key), list) or \
                len(record[key]) != len(indices):
            raise ValueError(f'{path}: "{key}" must be a list of '
                             f'{len(indices)} entries, one per index')
    scores = record.get('scores')
    if scores is not None and (
            not isinstance(scores, list) or len(scores) != len(indices)
            or not all(isinstance(s, Real) for s in scores)):
        raise ValueError(f'{path}: "scores" must be null or a list of '
                         f'{len(indices)} numbers')
    record = dict(record)
    record.setdefault('skipped', [])
    if not isinstance(record['skipped'], list):
        raise ValueError(f'{path}: "skipped" must be a list of indices')
    return record


def read_id_lists(work_dir: str, cycle: int,
                  name: str = 'X_L') -> Dict[str, List[str]]:
    """Read ``cycle<c>/trainval_<name>_<tag>.txt``: image ids per tag.

    Returns:
        dict[str, list[str]]: Tag -> image ids (in index order).

    Raises:
        FileNotFoundError: If there is no such file for any tag.
    """
    folder = osp.join(work_dir, cycle_folder(cycle))
    prefix = osp.basename(id_list_file(name, cycle, ''))[:-len('.txt')]
    names = sorted(os.listdir(folder)) if osp.isdir(folder) else []
    lists = OrderedDict()
    for file_name in names:
        if file_name.startswith(prefix) and file_name.endswith('.txt') \
                and len(file_name) > len(prefix) + len('.txt'):
            with open(osp.join(folder, file_name)) as f:
                lists[file_name[len(prefix):-len('.txt')]] = \
                    f.read().splitlines()
    if not lists:
        raise FileNotFoundError(
            f'{osp.join(work_dir, id_list_file(name, cycle, "<tag>"))}: no '
            'such file')
    return lists


def load_pseudo_label_counts(work_dir: str, cycle: int) -> Optional[dict]:
    """``num_images`` and ``num_boxes`` of ``pseudo_labels_<cycle>.json``,
    or None when the cycle has no pseudo labels."""
    path = osp.join(work_dir, pseudo_labels_file(cycle))
    if not osp.isfile(path):
        return None
    record = read_json(path)
    if not isinstance(record, dict) or not all(
            _is_int(record.get(k)) for k in ('num_images', 'num_boxes')):
        raise ValueError(f'{path}: expected an object with int '
                         '"num_images" and "num_boxes"')
    return dict(num_images=record['num_images'],
                num_boxes=record['num_boxes'])


def recorded_pool_size(work_dir: str) -> Optional[tuple]:
    """N as the experiment recorded it, and the file that says so.

    Returns:
        tuple[int, str] | None: ``total_size`` of the first
        ``selection_<c>.json``, else ``num_labeled + num_pool`` of the
        first record of ``results.json``; None when neither exists.
    """
    for cycle in find_cycles(work_dir):
        path = osp.join(work_dir, selection_file(cycle))
        if cycle >= 1 and osp.isfile(path):
            size = load_selection(work_dir, cycle).get('total_size')
            if _is_int(size):
                return size, path
    path = osp.join(work_dir, RESULTS_FILE)
    if osp.isfile(path):
        results = load_results(work_dir)
        if results:
            return (results[0]['num_labeled'] + results[0]['num_pool'], path)
    return None
