"""The split of a pool over the cycles of an experiment, as one array.

As in baal's ``ActiveLearningDataset``, one int64 array says it all:
``labeled_at[i]`` is the cycle at which image ``i`` was labeled, ``-1``
while it is in the pool. X_L of cycle ``c`` is ``0 <= labeled_at <= c``,
the selection that made cycle ``c`` is ``labeled_at == c`` and the pool is
``labeled_at == -1``: X_L and the pool partition the pool by construction,
and X_L never loses an image. Beside the array, :class:`SplitState` keeps
what is drawn or recorded per cycle: X_U (the unlabeled training subset,
which may hold labeled padding) and each selection's record.
"""
import hashlib
from typing import Callable, List, Optional

import numpy as np
import torch

from .pseudo_labels import PseudoLabels


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


class SplitState:
    """X_L, X_U, the pool and the selections of cycles ``0..cycle``.

    Args:
        pool_size (int): N, the number of images of the pool.

    Attributes:
        labeled_at (np.ndarray): int64, shape (N, ): the cycle at which each
            image was labeled, -1 for the pool (read-only).
    """

    def __init__(self, pool_size: int) -> None:
        self.pool_size = int(pool_size)
        self.labeled_at = _frozen(np.full(self.pool_size, -1))
        self._unlabeled: List[np.ndarray] = []
        #: per cycle 1..cycle: strategy, indices (selection order), scores,
        #: pseudo_labels (PseudoLabels), skipped
        self._selections: List[dict] = []
        self._cache: dict = {}

    @property
    def cycle(self) -> int:
        """int: The last cycle (-1 before :meth:`start`)."""
        return len(self._unlabeled) - 1

    def labeled(self, cycle: int) -> np.ndarray:
        """X_L of ``cycle``: sorted read-only int64 indices, shape (L, )."""
        if ('labeled', cycle) not in self._cache:
            self._cache['labeled', cycle] = _frozen(
                np.flatnonzero((self.labeled_at >= 0)
                               & (self.labeled_at <= cycle)))
        return self._cache['labeled', cycle]

    def unlabeled(self, cycle: int) -> np.ndarray:
        """X_U of ``cycle``: sorted read-only int64 indices, shape (U, )."""
        return self._unlabeled[cycle]

    def pool(self) -> np.ndarray:
        """The not-yet-labeled indices: sorted, read-only, shape (P, )."""
        if 'pool' not in self._cache:
            self._cache['pool'] = _frozen(np.flatnonzero(self.labeled_at < 0))
        return self._cache['pool']

    def selection(self, cycle: int) -> dict:
        """The record of the selection that made ``cycle`` (>= 1)."""
        return self._selections[cycle - 1]

    def pseudo_labels(self, cycle: int) -> PseudoLabels:
        """The pseudo labels ``cycle`` trains on (none for cycle 0)."""
        if cycle == 0:
            return PseudoLabels()
        return self._selections[cycle - 1]['pseudo_labels']

    def budget(self, cycle: int, x_s: int) -> int:
        """What the commit that made (or makes) ``cycle`` may add: ``x_s``
        images, clipped to the pool left before it."""
        return min(x_s, self.pool_size - len(self.labeled(cycle - 1)))

    def digest(self) -> str:
        """str: sha1 of the last cycle, its X_L, X_U and the pool."""
        sha = hashlib.sha1(f'cycle {self.cycle}'.encode())
        for array in (self.labeled(self.cycle), self.unlabeled(self.cycle),
                      self.pool()):
            sha.update(np.ascontiguousarray(array, '<i8').tobytes())
            sha.update(b'|')
        return sha.hexdigest()

    # ------------------------------------------------------------------
    # changes
    # ------------------------------------------------------------------
    def _label(self, indices, cycle: int) -> np.ndarray:
        """``labeled_at`` with ``indices`` labeled at ``cycle``; they must
        be distinct indices of the pool (checked, nothing is changed)."""
        indices = np.asarray(indices, dtype=np.int64)
        outside = indices[(indices < 0) | (indices >= self.pool_size)]
        if len(outside):
            raise ValueError(f'cycle {cycle}: index {outside[0]} is outside '
                             f'the pool 0..{self.pool_size - 1}')
        unique, counts = np.unique(indices, return_counts=True)
        if len(unique) < len(indices):
            raise ValueError(f'cycle {cycle}: index '
                             f'{unique[counts > 1][0]} appears twice')
        done = indices[self.labeled_at[indices] >= 0]
        if len(done):
            raise ValueError(f'cycle {cycle}: index {done[0]} is already '
                             f'labeled (in X_L_{self.labeled_at[done[0]]})')
        labeled_at = self.labeled_at.copy()
        labeled_at[indices] = cycle
        labeled_at.setflags(write=False)
        return labeled_at

    def start(self, labeled: np.ndarray, unlabeled: np.ndarray) -> None:
        """Cycle 0: label ``labeled`` (X_L_0), with X_U_0 ``unlabeled``."""
        if self.cycle != -1:
            raise RuntimeError(f'the split already has cycle {self.cycle}')
        self.labeled_at = self._label(labeled, 0)
        self._unlabeled.append(_frozen(np.sort(unlabeled)))
        self._cache.clear()

    def add(self, selection: dict,
            draw_unlabeled: Callable[[np.ndarray, np.ndarray], np.ndarray]
            ) -> None:
        """The next cycle: label ``selection['indices']``, draw its X_U.

        Args:
            selection (dict): ``strategy``, ``indices`` (pool indices, in
                the strategy's order), ``scores``, ``pseudo_labels``
                (:class:`PseudoLabels`, of images left in the pool),
                ``skipped``.
            draw_unlabeled (Callable): ``(X_L (L, ), pool (P, )) -> X_U``
                of the new cycle, all sorted int64 arrays.

        Raises:
            ValueError: Naming an index outside the pool, repeated, already
                labeled, or pseudo-labeled but not left in the pool.
        """
        cycle = self.cycle + 1
        labeled_at = self._label(selection['indices'], cycle)
        pseudo = np.fromiter(selection['pseudo_labels'], dtype=np.int64)
        outside = pseudo[(pseudo < 0) | (pseudo >= self.pool_size)]
        if not len(outside):
            outside = pseudo[labeled_at[pseudo] >= 0]
        if len(outside):
            raise ValueError(f'pseudo labels for index {outside[0]}, which '
                             f'is not in the pool left after cycle {cycle}')
        unlabeled = draw_unlabeled(np.flatnonzero(labeled_at >= 0),
                                   np.flatnonzero(labeled_at < 0))
        self.labeled_at = labeled_at
        self._unlabeled.append(_frozen(np.sort(unlabeled)))
        self._selections.append(selection)
        self._cache.clear()

    def undo(self) -> None:
        """Forget the last cycle (>= 1): its images go back to the pool."""
        cycle = self.cycle
        if cycle < 1:
            raise RuntimeError('only a committed cycle can be undone')
        labeled_at = self.labeled_at.copy()
        labeled_at[labeled_at == cycle] = -1
        labeled_at.setflags(write=False)
        self.labeled_at = labeled_at
        self._unlabeled.pop()
        self._selections.pop()
        self._cache.clear()

    # ------------------------------------------------------------------
    # checkpoints
    # ------------------------------------------------------------------
    def state_dict(self) -> dict:
        """``cycle``; ``labeled`` and ``unlabeled`` (one sorted int64
        tensor per cycle ``0..cycle``); ``pool`` (sorted tensor);
        ``selections`` (per cycle ``1..cycle``: ``strategy``, ``indices``
        tensor in selection order, ``scores`` list or None,
        ``pseudo_labels`` (:meth:`PseudoLabels.state_dict`), ``skipped``
        tensor)."""
        return dict(
            cycle=self.cycle,
            labeled=[_to_tensor(self.labeled(c))
                     for c in range(self.cycle + 1)],
            unlabeled=[_to_tensor(a) for a in self._unlabeled],
            pool=_to_tensor(self.pool()),
            selections=[
                dict(
                    strategy=s['strategy'],
                    indices=_to_tensor(s['indices']),
                    scores=None if s['scores'] is None else list(s['scores']),
                    pseudo_labels=s['pseudo_labels'].state_dict(),
                    skipped=_to_tensor(s['skipped']))
                for s in self._selections
            ])

    @classmethod
    def from_state_dict(cls, state: dict, pool_size: int) -> 'SplitState':
        """Rebuild a split from :meth:`state_dict`'s keys and check it.

        ``labeled_at`` is made from X_L_0 and the selections; every stored
        X_L must then be what it gives, and X_L of the last cycle and the
        stored pool must partition the pool.

        Raises:
            ValueError: If the cycles, X_L lists and selections disagree.
            RuntimeError: If the last X_L and the pool do not partition
                ``0..pool_size - 1`` (:func:`check_partition`).
        """
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
        split = cls(pool_size)
        try:
            split.start(labeled[0], unlabeled[0])
            for c in range(1, cycle + 1):
                split.add(_selection(selections[c - 1]),
                          lambda _l, _p, c=c: unlabeled[c])
        except ValueError as error:
            raise ValueError(f'inconsistent splitter state: {error}') \
                from error
        for c in range(cycle + 1):
            if not np.array_equal(split.labeled(c), np.sort(labeled[c])):
                raise ValueError(
                    f'inconsistent splitter state: X_L_{c} is not '
                    + (f'X_L_{c - 1} plus selection {c}' if c else
                       'a set of distinct indices'))
        check_partition(labeled[-1], _to_numpy(state['pool']), pool_size)
        return split


def _selection(saved: dict) -> dict:
    """A selection record of :meth:`SplitState.state_dict`, in memory."""
    scores: Optional[list] = saved['scores']
    return dict(
        strategy=saved['strategy'],
        indices=_to_numpy(saved['indices']).tolist(),
        scores=None if scores is None else [float(x) for x in scores],
        pseudo_labels=PseudoLabels.from_state_dict(saved.get('pseudo_labels')),
        skipped=_to_numpy(saved.get('skipped', [])).tolist())
