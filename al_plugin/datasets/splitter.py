"""The active-dataset splitter: labeled / unlabeled split of a pool.

One :class:`ActiveDatasetSplitter` owns the split of a pool for a whole
active-learning experiment, as MI-AOD's reference code does it:

- The pool is the (fully initialised) training dataset; global index ``i`` is
  position ``i`` of the dataset. For a ``ConcatDataset`` of VOC-style
  datasets that is the line order of the sub-datasets' ``trainval.txt``
  files, concatenated (VOC2007 first, then VOC2012).
- Cycle 0: ``np.random.RandomState(seed).permutation(N)``; ``X_L_0`` is its
  first ``X_L_0_size`` indices and the unlabeled training subset ``X_U_0`` its
  last ``|X_U|``. The reference seeds numpy's global state with the same seed
  and shuffles ``np.arange(N)``: the same permutation, hence the same X_L_0.
- After each selection, ``X_L_c = X_L_(c-1) + selected`` and ``X_U_c`` is a
  fresh draw of ``|X_U|`` indices from the remaining pool, padded with random
  labeled indices when the pool is smaller (so that the labeled and
  unlabeled loaders keep the same length). The draw uses
  ``np.random.default_rng([seed, c])``: it depends on ``(seed, c)`` only, so a
  resumed run draws the same ``X_U``.

Files written into ``work_dir`` (the user's contract; rank 0 only, each file
through a temporary file and ``os.replace``, followed by a barrier):

- ``X_L_<c>.npy``, ``X_U_<c>.npy``: sorted int64 arrays of global indices.
- ``cycle<c>/trainval_X_L_<tag>.txt``, ``cycle<c>/trainval_X_U_<tag>.txt``:
  image ids, one a line, in index order, one file per subset tag (``07`` and
  ``12`` for VOC07+12); usable as an ``ann_file`` of the matching dataset.
- ``selection_<c>.json`` for ``c >= 1``: what the selection added.
- ``pseudo_labels_<c>.json`` when the selection that made cycle ``c`` also
  gave pseudo labels (self-supervised mining): the boxes cycle ``c`` trains
  on for images of the pool.
"""
import hashlib
import os.path as osp
import re
from numbers import Integral, Real
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmengine.dist import (all_gather_object, barrier, get_world_size,
                           is_main_process)

from al_plugin.registry import SPLITTERS
from al_plugin.utils import atomic_open, atomic_write_json
from .pseudo_labels import PseudoLabels

Size = Union[int, float]

#: A 4-digit year (1900..2099) not embedded in a longer number.
_YEAR = re.compile(r'(?<!\d)(?:19|20)(\d{2})(?!\d)')
_STATE_VERSION = 1
_SETTING_KEYS = ('X_L_0_size', 'X_S_size', 'seed', 'unlabeled_size')


def resolve_size(key: str, value: Size, pool_size: int) -> int:
    """Turn a size setting into a number of images.

    Args:
        key (str): The setting's config key, for error messages.
        value (int | float): A count, or a float in (0, 1): a fraction of
            the pool, rounded down.
        pool_size (int): Number of images in the pool.

    Returns:
        int: The number of images (may be 0 for a tiny fraction; the caller
        checks the range).
    """
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f'{key} must be an int or a float in (0, 1), '
                        f'got {value!r}')
    if isinstance(value, Integral):
        return int(value)
    if not 0 < value < 1:
        raise ValueError(f'{key}={value!r}: a float {key} is a fraction of '
                         f'the pool and must lie in (0, 1) '
                         f'(pool size {pool_size})')
    # Round first so that e.g. 0.29 * 100 = 28.999999999999996 gives 29.
    return int(np.floor(round(value * pool_size, 6)))


def year_tag(dataset) -> Optional[str]:
    """The 2-digit year a dataset's paths name, e.g. ``'07'``, if any.

    The paths below ``data_root`` (``data_prefix`` values, ``ann_file``) are
    searched before ``data_root`` itself, and within a path the year nearest
    to its end wins, so that a year in a temporary or home folder name does
    not hide the dataset's own (``.../DIGITS2012/ImageSets/...``).

    Args:
        dataset: A dataset with (some of) ``data_root``, ``data_prefix`` and
            ``ann_file`` attributes, as ``mmengine.dataset.BaseDataset`` has.

    Returns:
        str | None: The last two digits of the year, or None.
    """
    root = getattr(dataset, 'data_root', None) or ''
    prefix = getattr(dataset, 'data_prefix', None) or {}
    paths = [*prefix.values(), getattr(dataset, 'ann_file', None)]
    relative = [
        path[len(root):] if root and path.startswith(root) else path
        for path in paths if isinstance(path, str)
    ]
    for text in relative + [root]:
        years = _YEAR.findall(text)
        if years:
            return years[-1]
    return None


def leaf_datasets(dataset) -> List:
    """The datasets a (possibly nested) concatenation is made of, in order.

    Args:
        dataset: A dataset, or a ``torch.utils.data.ConcatDataset`` (which
            ``mmengine.dataset.ConcatDataset`` subclasses).

    Returns:
        list: ``[dataset]`` for a plain dataset, else the leaves.
    """
    if isinstance(dataset, torch.utils.data.ConcatDataset):
        return [
            leaf for sub in dataset.datasets for leaf in leaf_datasets(sub)
        ]
    return [dataset]


def read_pool(dataset) -> Tuple[List, List[str]]:
    """Read each index's image id and subset tag, without the pipeline.

    Tags: for a concatenation, per sub-dataset, the 2-digit year its paths
    name (see :func:`year_tag`), else its position as a string; a plain
    dataset gets one tag, its year or ``'0'``.

    Args:
        dataset: A fully initialised dataset with ``get_data_info(i)``
            returning a dict with ``'img_id'`` (any mmdet dataset), or a
            concatenation of such datasets.

    Returns:
        tuple[list, list[str]]: Image ids and tags, one per global index.
    """
    leaves = leaf_datasets(dataset)
    img_ids, tags = [], []
    for position, leaf in enumerate(leaves):
        default = str(position) if len(leaves) > 1 else '0'
        tag = year_tag(leaf) or default
        if not hasattr(leaf, 'get_data_info'):
            raise TypeError(
                f'{type(leaf).__name__} has no get_data_info(): the splitter '
                'reads image ids from mmdet/mmengine datasets')
        for local in range(len(leaf)):
            info = leaf.get_data_info(local)
            if 'img_id' not in info:
                raise KeyError(
                    f'data info {local} of {type(leaf).__name__} (global '
                    f'index {len(img_ids)}) has no "img_id"')
            img_id = info['img_id']
            if isinstance(img_id, np.generic):
                img_id = img_id.item()
            img_ids.append(img_id)
            tags.append(tag)
    _check_unique_ids(img_ids, tags)
    return img_ids, tags


def _check_unique_ids(img_ids: Sequence, tags: Sequence[str]) -> None:
    """Raise if an image id appears twice within one subset tag."""
    first: Dict[Tuple[str, str], int] = {}
    for index, (img_id, tag) in enumerate(zip(img_ids, tags)):
        key = (tag, str(img_id))
        if key in first:
            raise ValueError(
                f'duplicate image id {img_id!r} in subset {tag!r}: global '
                f'indices {first[key]} and {index}; the per-subset '
                'trainval_X_*.txt files would be ambiguous')
        first[key] = index


def check_partition(labeled: np.ndarray, pool: np.ndarray,
                    pool_size: int) -> None:
    """Check that X_L and the remaining pool partition ``0..pool_size-1``.

    Args:
        labeled (np.ndarray): Labeled global indices, shape (L, ).
        pool (np.ndarray): Not-yet-labeled global indices, shape (P, ).
        pool_size (int): N, the number of images of the pool.

    Raises:
        RuntimeError: Naming an index in both sets, an index missing from
            both, an index out of range or an index repeated in one set.
    """
    # One count table over 0..N-1 (linear time: no sorting or hashing of
    # a million-image pool).
    counts = np.zeros(pool_size, dtype=np.int8)
    for name, part in (('X_L', labeled), ('pool', pool)):
        part = np.asarray(part, dtype=np.int64)
        outside = part[(part < 0) | (part >= pool_size)]
        if len(outside):
            raise RuntimeError(f'{name} holds index {outside[0]} outside the '
                               f'pool 0..{pool_size - 1}')
        seen = np.bincount(part, minlength=pool_size)
        if len(part) and seen.max() > 1:
            raise RuntimeError(f'{name} holds index '
                               f'{np.flatnonzero(seen > 1)[0]} more than once')
        counts += seen.astype(np.int8)
    both = np.flatnonzero(counts > 1)
    if len(both):
        raise RuntimeError(f'X_L and the pool are not disjoint: index '
                           f'{both[0]} is in both ({len(both)} in all)')
    missing = np.flatnonzero(counts == 0)
    if len(missing):
        raise RuntimeError(f'X_L and the pool do not cover the pool: index '
                           f'{missing[0]} is in neither ({len(missing)} in '
                           'all)')


def _write_npy(path: str, array: np.ndarray) -> None:
    """Atomically save an int64 array that ``np.load`` reads back."""
    with atomic_open(path, 'wb') as f:
        np.save(f, np.asarray(array, dtype=np.int64))


def _write_text(path: str, text: str) -> None:
    """Atomically write a text file."""
    with atomic_open(path, 'w') as f:
        f.write(text)


def _as_indices(selected) -> List[int]:
    """Convert a selection to a list of python ints, rejecting non-ints."""
    if isinstance(selected, (torch.Tensor, np.ndarray)):
        selected = selected.tolist()
    indices = []
    for position, value in enumerate(selected):
        if isinstance(value,
                      (bool, np.bool_)) or not isinstance(value, Integral):
            raise TypeError(f'selected[{position}] = {value!r} is not an '
                            'integer index')
        indices.append(int(value))
    return indices


def _frozen(array) -> np.ndarray:
    """A read-only int64 copy of an index array."""
    out = np.array(array, dtype=np.int64)
    out.setflags(write=False)
    return out


def _to_tensor(array) -> torch.Tensor:
    """An int64 tensor (owning its memory) of an index array."""
    return torch.from_numpy(np.array(array, dtype=np.int64))


def _to_numpy(value) -> np.ndarray:
    """A 1-d int64 array of an index tensor, array or list."""
    if isinstance(value, torch.Tensor):
        value = value.cpu().numpy()
    return np.asarray(value, dtype=np.int64).reshape(-1)


@SPLITTERS.register_module()
class ActiveDatasetSplitter:
    """Labeled / unlabeled split of a pool for a whole experiment.

    Args:
        X_L_0_size (int | float): |X_L_0|, the initial labeled set: a count
            or a fraction in (0, 1) of the pool (VOC07+12: ``16551 // 20``).
        X_S_size (int | float): The budget, images added a cycle: a count or
            a fraction of the pool (VOC07+12: ``16551 // 40``).
        seed (int): Seed of the initial permutation and of each X_U draw.
            Defaults to 666.
        unlabeled_size (int | float, optional): |X_U|, the size of the
            unlabeled *training* subset: a count or a fraction of the pool.
            None (the reference) keeps it equal to |X_L| of each cycle.
            X_U holds labeled indices when the pool is too small: after a
            commit as padding, at cycle 0 when ``X_L_0_size + |X_U| > N``
            (the last |X_U| of the permutation then overlap X_L_0).
        work_dir (str, optional): Where the files go; may be set later as an
            attribute or through :meth:`setup`.

    Example:
        >>> splitter = ActiveDatasetSplitter(X_L_0_size=827, X_S_size=413)
        >>> splitter.setup(train_dataset, work_dir)   # X_L_0.npy, X_U_0.npy
        >>> scores = ...                # one per splitter.pool_indices()
        >>> n = splitter.budget()       # for the next cycle
        >>> splitter.commit(splitter.cycle + 1, selected, strategy='MIAOD')
    """

    def __init__(self,
                 X_L_0_size: Size,
                 X_S_size: Size,
                 seed: int = 666,
                 unlabeled_size: Optional[Size] = None,
                 work_dir: Optional[str] = None) -> None:
        if isinstance(seed, bool) or not isinstance(
                seed, Integral) or not 0 <= seed < 2**32:
            raise ValueError(f'seed must be an int in [0, 2**32), got '
                             f'{seed!r}')
        self.X_L_0_size = X_L_0_size
        self.X_S_size = X_S_size
        self.seed = int(seed)
        self.unlabeled_size = unlabeled_size
        self.work_dir = work_dir
        self._pool_size: Optional[int] = None
        self._pending_state: Optional[dict] = None
        self._reset_split()

    # ------------------------------------------------------------------
    # set-up
    # ------------------------------------------------------------------
    def setup(self, dataset, work_dir: Optional[str] = None) -> None:
        """Read the pool, make (or restore) the split, write its files.

        Args:
            dataset: The fully initialised training dataset (an mmdet
                dataset or a ``ConcatDataset`` of them); only its
                ``get_data_info`` is used, its pipeline is never run.
            work_dir (str, optional): Overrides :attr:`work_dir`.
        """
        if work_dir is not None:
            self.work_dir = work_dir
        if self.work_dir is None:
            raise ValueError('ActiveDatasetSplitter needs a work_dir: pass '
                             'it to __init__ or setup(), or set .work_dir')
        self._img_ids, tags = read_pool(dataset)
        self._tag_names = list(dict.fromkeys(tags))
        self._tag_codes = np.array([self._tag_names.index(t) for t in tags],
                                   dtype=np.int64)
        self._pool_size = len(self._img_ids)
        self._resolve_sizes()
        self._reset_split()
        if self._pending_state is not None:
            state, self._pending_state = self._pending_state, None
            self._restore(state)
            self._publish(range(self.cycle + 1))
        else:
            self._initial_split()
            self._publish([0])

    def _resolve_sizes(self) -> None:
        """Resolve the size settings against the pool and check them."""
        n = self._pool_size
        self._x_l_0 = resolve_size('X_L_0_size', self.X_L_0_size, n)
        if not 0 < self._x_l_0 < n:
            raise ValueError(
                f'X_L_0_size={self.X_L_0_size!r} gives {self._x_l_0} '
                f'images; it must give at least 1 and fewer than the pool '
                f'size {n}')
        self._x_s = resolve_size('X_S_size', self.X_S_size, n)
        if self._x_s <= 0:
            raise ValueError(f'X_S_size={self.X_S_size!r} gives '
                             f'{self._x_s} images a cycle (pool size {n})')
        self._x_u = None
        if self.unlabeled_size is not None:
            self._x_u = resolve_size('unlabeled_size', self.unlabeled_size, n)
            if not 0 < self._x_u <= n:
                raise ValueError(
                    f'unlabeled_size={self.unlabeled_size!r} gives '
                    f'{self._x_u} images; it must lie in [1, {n}] '
                    '(the pool size)')

    def _reset_split(self) -> None:
        self._labeled: List[np.ndarray] = []
        self._unlabeled: List[np.ndarray] = []
        self._selections: List[dict] = []
        self._pool = np.zeros(0, dtype=np.int64)

    def _initial_split(self) -> None:
        """Cycle 0: X_L_0 and X_U_0 from the seeded permutation."""
        perm = np.random.RandomState(self.seed).permutation(self._pool_size)
        labeled = np.sort(perm[:self._x_l_0])
        unlabeled = np.sort(perm[-self._unlabeled_count(len(labeled)):])
        self._append_cycle(labeled, unlabeled, np.sort(perm[self._x_l_0:]))

    def _append_cycle(self, labeled: np.ndarray, unlabeled: np.ndarray,
                      pool: np.ndarray) -> None:
        """Check and store the sorted split of the next cycle."""
        check_partition(labeled, pool, self._pool_size)
        self._labeled.append(_frozen(labeled))
        self._unlabeled.append(_frozen(unlabeled))
        self._pool = _frozen(pool)

    def _unlabeled_count(self, num_labeled: int) -> int:
        return num_labeled if self._x_u is None else self._x_u

    def _draw_unlabeled(self, cycle: int, labeled: np.ndarray,
                        pool: np.ndarray) -> np.ndarray:
        """X_U of ``cycle``: |X_U| random pool indices, padded if need be.

        Args:
            cycle (int): The cycle; with :attr:`seed`, it seeds the draw.
            labeled (np.ndarray): Sorted X_L of ``cycle``, shape (L, ).
            pool (np.ndarray): Sorted remaining pool, shape (P, ).

        Returns:
            np.ndarray: Sorted int64 X_U, shape (|X_U|, ); when P < |X_U|,
            the whole pool plus ``|X_U| - P`` random labeled indices.
        """
        size = self._unlabeled_count(len(labeled))
        rng = np.random.default_rng([self.seed, cycle])
        if len(pool) >= size:
            return np.sort(rng.choice(pool, size, replace=False))
        padding = rng.choice(labeled, size - len(pool), replace=False)
        return np.sort(np.concatenate([pool, padding]))

    def _check_ready(self) -> None:
        if self._pool_size is None:
            raise RuntimeError('ActiveDatasetSplitter.setup(dataset, '
                               'work_dir) has not been called')

    # ------------------------------------------------------------------
    # accessors
    # ------------------------------------------------------------------
    @property
    def cycle(self) -> int:
        """int: The current cycle (0 before the first commit)."""
        self._check_ready()
        return len(self._labeled) - 1

    @property
    def pool_size(self) -> int:
        """int: N, the number of images of the pool (labeled or not)."""
        self._check_ready()
        return self._pool_size

    @property
    def tags(self) -> List[str]:
        """list[str]: The subset tags, in index order (e.g. 07, 12)."""
        self._check_ready()
        return list(self._tag_names)

    @property
    def is_exhausted(self) -> bool:
        """bool: Whether every image of the pool is labeled."""
        return self.remaining_pool() == 0

    def remaining_pool(self) -> int:
        """int: The number of not-yet-labeled images."""
        self._check_ready()
        return len(self._pool)

    def _cycle_index(self, cycle: Optional[int]) -> int:
        current = self.cycle
        if cycle is None:
            return current
        if not 0 <= cycle <= current:
            raise ValueError(f'cycle {cycle} is not in 0..{current}')
        return cycle

    def labeled_indices(self, cycle: Optional[int] = None) -> np.ndarray:
        """X_L of a cycle.

        Args:
            cycle (int, optional): Defaults to the current cycle.

        Returns:
            np.ndarray: Sorted read-only int64 global indices, shape (L, ).
        """
        return self._labeled[self._cycle_index(cycle)]

    def unlabeled_indices(self, cycle: Optional[int] = None) -> np.ndarray:
        """X_U of a cycle: the unlabeled training subset (maybe padded).

        Args:
            cycle (int, optional): Defaults to the current cycle.

        Returns:
            np.ndarray: Sorted read-only int64 global indices, shape (U, ).
        """
        return self._unlabeled[self._cycle_index(cycle)]

    def pool_indices(self) -> np.ndarray:
        """All not-yet-labeled indices: what the selection scores.

        Returns:
            np.ndarray: Sorted read-only int64 global indices, shape (P, ).
        """
        self._check_ready()
        return self._pool

    def pseudo_labels(self, cycle: Optional[int] = None) -> PseudoLabels:
        """Pool images with model-given annotations that ``cycle`` trains
        on beside X_L (given by the selection that made the cycle).

        Args:
            cycle (int, optional): Defaults to the current cycle.

        Returns:
            PseudoLabels: global index -> (boxes, labels); empty for cycle 0
            and for strategies without pseudo labels.
        """
        cycle = self._cycle_index(cycle)
        if cycle == 0:
            return PseudoLabels()
        return self._selections[cycle - 1]['pseudo_labels']

    def budget(self, cycle: Optional[int] = None) -> int:
        """How many images the commit that creates ``cycle`` may add.

        Args:
            cycle (int, optional): The cycle a commit creates, in
                ``1..current + 1``; defaults to ``current + 1`` (the next).

        Returns:
            int: ``X_S_size`` clipped to the pool left before that commit.
        """
        current = self.cycle
        cycle = current + 1 if cycle is None else cycle
        if not 1 <= cycle <= current + 1:
            raise ValueError(f'budget of cycle {cycle}: commits create '
                             f'cycles 1..{current + 1}')
        left = self._pool_size - len(self._labeled[cycle - 1])
        return min(self._x_s, left)

    # ------------------------------------------------------------------
    # selection
    # ------------------------------------------------------------------
    def commit(self,
               cycle: int,
               selected,
               scores: Optional[Sequence[float]] = None,
               strategy=None,
               pseudo_labels=None,
               skipped: Optional[Sequence[int]] = None) -> None:
        """Add a selection to X_L, re-draw X_U and write cycle's files.

        Args:
            cycle (int): The cycle the selection creates: current + 1.
            selected (Sequence[int] | np.ndarray | Tensor): Global indices
                to label, at most :meth:`budget` of them, in the strategy's
                order (recorded as is in ``selection_<cycle>.json``).
            scores (Sequence[float], optional): One score per selected
                index, recorded in the json.
            strategy (str | object, optional): The strategy, or its name.
            pseudo_labels (Mapping[int, tuple], optional): Global index of
                a pool image (not selected) -> ``(boxes (k, 4), labels
                (k, ))``: annotations the model gave it, trained on in
                ``cycle`` (see :meth:`pseudo_labels`).
            skipped (Sequence[int], optional): Pool indices the selection
                could not consider (unreadable images), recorded in the
                json.
        """
        self._check_ready()
        if cycle != self.cycle + 1:
            raise ValueError(f'commit(cycle={cycle}): the current cycle is '
                             f'{self.cycle}, so the next is {self.cycle + 1}')
        indices = self._validate_selection(cycle, selected)
        if scores is not None:
            scores = [float(s) for s in scores]
            if len(scores) != len(indices):
                raise ValueError(f'{len(scores)} scores for {len(indices)} '
                                 'selected indices')
        if strategy is not None and not isinstance(strategy, str):
            strategy = type(strategy).__name__
        added = np.asarray(indices, dtype=np.int64)
        # disjoint sorted sets (validated): no np.unique over the pool
        labeled = np.sort(np.concatenate([self._labeled[-1], added]))
        previous_pool = self._pool
        pool = np.setdiff1d(previous_pool, added, assume_unique=True)
        pseudo_labels = PseudoLabels(pseudo_labels)
        outside = np.setdiff1d(
            np.fromiter(pseudo_labels, dtype=np.int64), pool,
            assume_unique=True)
        if len(outside):
            raise ValueError(f'pseudo labels for index {outside[0]}, which '
                             f'is not in the pool left after cycle {cycle}')
        unlabeled = self._draw_unlabeled(cycle, labeled, pool)
        self._append_cycle(labeled, unlabeled, pool)
        self._selections.append(
            dict(
                strategy=strategy,
                indices=indices,
                scores=scores,
                pseudo_labels=pseudo_labels,
                skipped=sorted(_as_indices(skipped or []))))
        try:
            self._publish([cycle])
        except BaseException:
            # The files of this cycle were not (all) written: undo it.
            for history in (self._labeled, self._unlabeled, self._selections):
                history.pop()
            self._pool = previous_pool
            raise

    def _validate_selection(self, cycle: int, selected) -> List[int]:
        """Check a selection; return it as a list of python ints."""
        indices = _as_indices(selected)
        budget = self.budget(cycle)
        if len(indices) > budget:
            raise ValueError(
                f'{len(indices)} indices selected for cycle {cycle}, more '
                f'than the budget {budget} (X_S_size={self.X_S_size!r}, '
                f'{self.remaining_pool()} left in the pool)')
        seen = set()
        labeled = self._labeled[-1]
        for index in indices:
            if not 0 <= index < self._pool_size:
                raise ValueError(f'selected index {index} is outside the '
                                 f'pool 0..{self._pool_size - 1}')
            if index in seen:
                raise ValueError(f'selected index {index} appears twice')
            seen.add(index)
        already = np.intersect1d(labeled, indices, assume_unique=True)
        if len(already):
            raise ValueError(f'selected index {already[0]} is already '
                             f'labeled (in X_L_{cycle - 1})')
        return indices

    # ------------------------------------------------------------------
    # files
    # ------------------------------------------------------------------
    def _publish(self, cycles) -> None:
        """Rank 0 writes the files of ``cycles``; every rank then waits."""
        try:
            if is_main_process():
                for cycle in cycles:
                    self._write_cycle(cycle)
        finally:
            barrier()

    def _write_cycle(self, cycle: int) -> None:
        """Write the npy, txt and (cycle >= 1) json files of a cycle."""
        folder = osp.join(self.work_dir, f'cycle{cycle}')
        histories = dict(X_L=self._labeled, X_U=self._unlabeled)
        for name, history in histories.items():
            indices = history[cycle]
            _write_npy(osp.join(self.work_dir, f'{name}_{cycle}.npy'), indices)
            for code, tag in enumerate(self._tag_names):
                ids = self._ids_of(indices[self._tag_codes[indices] == code])
                _write_text(
                    osp.join(folder, f'trainval_{name}_{tag}.txt'),
                    ''.join(f'{img_id}\n' for img_id in ids))
        if cycle >= 1:
            atomic_write_json(
                osp.join(self.work_dir, f'selection_{cycle}.json'),
                self._selection_record(cycle))
        pseudo_labels = self.pseudo_labels(cycle)
        if pseudo_labels:
            tags = [self._tag_names[code] for code in self._tag_codes]
            atomic_write_json(
                osp.join(self.work_dir, f'pseudo_labels_{cycle}.json'),
                dict(
                    cycle=cycle,
                    num_images=len(pseudo_labels),
                    num_boxes=pseudo_labels.num_boxes,
                    images=pseudo_labels.to_json(self._img_ids, tags)))

    def img_id(self, index: int):
        """The image id of global index ``index``."""
        return self._img_ids[int(index)]

    def _ids_of(self, indices) -> list:
        return [self._img_ids[i] for i in indices]

    def _selection_record(self, cycle: int) -> dict:
        """The content of ``selection_<cycle>.json``.

        Keys: ``cycle``, ``strategy``, ``indices`` (global indices, in the
        strategy's order), ``img_ids`` and ``tags`` (of those), ``scores``
        (or null), ``skipped`` and ``skipped_img_ids`` (pool images that
        could not be read, left out), ``budget``, ``X_L_size`` and
        ``X_U_size`` (of
        ``cycle``), ``pool_size`` (not-yet-labeled images after the commit)
        and ``total_size`` (N).
        """
        selection = self._selections[cycle - 1]
        indices = selection['indices']
        labeled = self._labeled[cycle]
        return dict(
            cycle=cycle,
            strategy=selection['strategy'],
            indices=list(indices),
            img_ids=self._ids_of(indices),
            tags=[self._tag_names[self._tag_codes[i]] for i in indices],
            scores=selection['scores'],
            skipped=selection['skipped'],
            skipped_img_ids=self._ids_of(selection['skipped']),
            budget=self.budget(cycle),
            X_L_size=len(labeled),
            X_U_size=len(self._unlabeled[cycle]),
            pool_size=self._pool_size - len(labeled),
            total_size=self._pool_size)

    # ------------------------------------------------------------------
    # checkpoints
    # ------------------------------------------------------------------
    def _settings(self) -> dict:
        return {key: getattr(self, key) for key in _SETTING_KEYS}

    def _pool_digest(self) -> str:
        """sha1 of the pool's (tag, image id) list, in index order."""
        sha = hashlib.sha1()
        for img_id, code in zip(self._img_ids, self._tag_codes):
            sha.update(f'{self._tag_names[code]}\t{img_id}\n'.encode())
        return sha.hexdigest()

    def state_dict(self) -> dict:
        """The split, as plain types and int64 tensors (``weights_only``).

        Returns:
            dict: ``version``; ``settings`` (``X_L_0_size``, ``X_S_size``,
            ``seed``, ``unlabeled_size``, ``pool_size``); ``pool_digest``;
            ``cycle``; ``labeled`` and ``unlabeled`` (one sorted tensor per
            cycle ``0..cycle``); ``pool`` (sorted tensor); ``selections``
            (per cycle ``1..cycle``: ``strategy``, ``indices`` tensor in
            selection order, ``scores`` list of float or None,
            ``pseudo_labels`` tensors of :meth:`PseudoLabels.state_dict`).
        """
        self._check_ready()
        settings = dict(self._settings(), pool_size=self._pool_size)
        return dict(
            version=_STATE_VERSION,
            settings=settings,
            pool_digest=self._pool_digest(),
            cycle=self.cycle,
            labeled=[_to_tensor(a) for a in self._labeled],
            unlabeled=[_to_tensor(a) for a in self._unlabeled],
            pool=_to_tensor(self._pool),
            selections=[
                dict(
                    strategy=s['strategy'],
                    indices=_to_tensor(s['indices']),
                    scores=None if s['scores'] is None else list(s['scores']),
                    pseudo_labels=s['pseudo_labels'].state_dict(),
                    skipped=_to_tensor(s['skipped']))
                for s in self._selections
            ])

    def load_state_dict(self, state: dict) -> None:
        """Continue the experiment a :meth:`state_dict` describes.

        Before :meth:`setup`, the state is kept and applied by it; after,
        it is applied now and the files of every cycle are rewritten.

        Raises:
            ValueError: If a split setting (``X_L_0_size``, ``X_S_size``,
                ``seed``, ``unlabeled_size``, ``pool_size``) or the pool's
                image ids differ from the current ones, or the state is not
                a consistent split.
        """
        if state.get('version') != _STATE_VERSION:
            raise ValueError(f'splitter state version '
                             f'{state.get("version")!r} is not '
                             f'{_STATE_VERSION}')
        saved = state['settings']
        for key, current in self._settings().items():
            if saved.get(key) != current:
                raise ValueError(
                    f'cannot resume: {key}={saved.get(key)!r} in the '
                    f'checkpoint but {key}={current!r} in the config')
        if self._pool_size is None:
            self._pending_state = state
            return
        self._restore(state)
        self._publish(range(self.cycle + 1))

    def _restore(self, state: dict) -> None:
        """Rebuild the split from a state; the pool must be read.

        Everything is checked before anything is replaced, so a refused
        state leaves the current split as it was.
        """
        for key, saved, current in (
            ('pool_size', state['settings'].get('pool_size'), self._pool_size),
            ('pool_digest', state.get('pool_digest'), self._pool_digest()),
        ):
            if saved != current:
                raise ValueError(f'cannot resume: {key}={saved!r} in the '
                                 f'checkpoint but {key}={current!r} for '
                                 'this dataset')
        labeled = [_to_numpy(a) for a in state['labeled']]
        unlabeled = [_to_numpy(a) for a in state['unlabeled']]
        selections = state['selections']
        cycle = state['cycle']
        if not len(labeled) == len(unlabeled) == len(selections) + 1 \
                == cycle + 1:
            raise ValueError(
                f'inconsistent splitter state: cycle {cycle} with '
                f'{len(labeled)} X_L, {len(unlabeled)} X_U and '
                f'{len(selections)} selections')
        for c in range(1, cycle + 1):
            added = _to_numpy(selections[c - 1]['indices'])
            if not np.array_equal(
                    np.union1d(labeled[c - 1], added), np.sort(labeled[c])):
                raise ValueError(f'inconsistent splitter state: X_L_{c} is '
                                 f'not X_L_{c - 1} plus selection {c}')
        check_partition(labeled[-1], _to_numpy(state['pool']), self._pool_size)
        self._labeled = [_frozen(np.sort(a)) for a in labeled]
        self._unlabeled = [_frozen(np.sort(a)) for a in unlabeled]
        self._pool = _frozen(np.sort(_to_numpy(state['pool'])))
        self._selections = [
            dict(
                strategy=s['strategy'],
                indices=_to_numpy(s['indices']).tolist(),
                scores=None
                if s['scores'] is None else [float(x) for x in s['scores']],
                pseudo_labels=PseudoLabels.from_state_dict(
                    s.get('pseudo_labels')),
                skipped=_to_numpy(s.get('skipped', [])).tolist())
            for s in selections
        ]

    # ------------------------------------------------------------------
    # distributed
    # ------------------------------------------------------------------
    def split_digest(self) -> str:
        """str: sha1 of the current cycle, X_L, X_U and pool."""
        self._check_ready()
        sha = hashlib.sha1(f'cycle {self.cycle}'.encode())
        for array in (self._labeled[-1], self._unlabeled[-1], self._pool):
            sha.update(np.ascontiguousarray(array, '<i8').tobytes())
            sha.update(b'|')
        return sha.hexdigest()

    def verify_consistent(self) -> None:
        """Check that all ranks hold the same split; no-op without dist.

        Raises:
            RuntimeError: Naming the ranks whose split differs from rank
                0's.
        """
        if get_world_size() == 1:
            return
        digests = all_gather_object(self.split_digest())
        differ = [r for r, d in enumerate(digests) if d != digests[0]]
        if differ:
            raise RuntimeError(
                f'the active-learning split differs across ranks: ranks '
                f'{differ} hold X_L/X_U/pool different from rank 0 '
                f'(cycle {self.cycle}); every rank must build the splitter '
                'with the same settings and dataset')
