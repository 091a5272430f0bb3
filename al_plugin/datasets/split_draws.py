"""The sizes and the seeded draws of MI-AOD's split.

- Sizes (:func:`resolve_sizes`): |X_L_0|, the budget a cycle and |X_U|,
  each a count or a fraction of the pool.
- Cycle 0 (:func:`initial_split`): ``np.random.RandomState(seed)
  .permutation(N)``; X_L_0 is its first |X_L_0| indices and X_U_0 its last
  |X_U|. The reference seeds numpy's global state with the same seed and
  shuffles ``np.arange(N)``: the same permutation, hence the same X_L_0.
- Later cycles (:func:`draw_unlabeled`): X_U is a fresh draw of |X_U|
  indices from the remaining pool, padded with random labeled indices when
  the pool is smaller (so that the labeled and unlabeled loaders keep the
  same length), from ``np.random.default_rng([seed, c])``: it depends on
  ``(seed, c)`` only, so a resumed run draws the same X_U.
"""
from numbers import Integral, Real
from typing import NamedTuple, Optional, Tuple, Union

import numpy as np

Size = Union[int, float]


class SplitSizes(NamedTuple):
    """The size settings of a split, in images."""
    X_L_0: int  # |X_L_0|
    X_S: int  # images added a cycle (before clipping to the pool)
    X_U: Optional[int]  # |X_U|; None: |X_L| of each cycle

    def unlabeled_count(self, num_labeled: int) -> int:
        """|X_U| of a cycle whose X_L has ``num_labeled`` images."""
        return num_labeled if self.X_U is None else self.X_U


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


def resolve_sizes(X_L_0_size: Size, X_S_size: Size,
                  unlabeled_size: Optional[Size], n: int) -> SplitSizes:
    """Resolve the size settings against a pool of ``n`` images.

    Raises:
        ValueError: Naming the setting (its config key) that gives no
            image, or too many.
    """
    x_l_0 = resolve_size('X_L_0_size', X_L_0_size, n)
    if not 0 < x_l_0 < n:
        raise ValueError(
            f'X_L_0_size={X_L_0_size!r} gives {x_l_0} images; it must give '
            f'at least 1 and fewer than the pool size {n}')
    x_s = resolve_size('X_S_size', X_S_size, n)
    if x_s <= 0:
        raise ValueError(f'X_S_size={X_S_size!r} gives {x_s} images a '
                         f'cycle (pool size {n})')
    x_u = None
    if unlabeled_size is not None:
        x_u = resolve_size('unlabeled_size', unlabeled_size, n)
        if not 0 < x_u <= n:
            raise ValueError(
                f'unlabeled_size={unlabeled_size!r} gives {x_u} images; it '
                f'must lie in [1, {n}] (the pool size)')
    return SplitSizes(x_l_0, x_s, x_u)


def initial_split(seed: int, sizes: SplitSizes,
                  n: int) -> Tuple[np.ndarray, np.ndarray]:
    """X_L_0 and X_U_0 (sorted int64, shapes (|X_L_0|, ), (|X_U|, )) of a
    pool of ``n`` images, from the seeded permutation."""
    perm = np.random.RandomState(seed).permutation(n)
    labeled = np.sort(perm[:sizes.X_L_0])
    unlabeled = np.sort(perm[-sizes.unlabeled_count(len(labeled)):])
    return labeled, unlabeled


def draw_unlabeled(seed: int, cycle: int, size: int, labeled: np.ndarray,
                   pool: np.ndarray) -> np.ndarray:
    """X_U of ``cycle``: ``size`` random pool indices, padded if need be.

    Args:
        seed (int): The split's seed; with ``cycle``, it seeds the draw.
        cycle (int): The cycle.
        size (int): |X_U|.
        labeled (np.ndarray): Sorted X_L of ``cycle``, shape (L, ).
        pool (np.ndarray): Sorted remaining pool, shape (P, ).

    Returns:
        np.ndarray: Sorted int64 X_U, shape (size, ); when P < size, the
        whole pool plus ``size - P`` random labeled indices.
    """
    rng = np.random.default_rng([seed, cycle])
    if len(pool) >= size:
        return np.sort(rng.choice(pool, size, replace=False))
    padding = rng.choice(labeled, size - len(pool), replace=False)
    return np.sort(np.concatenate([pool, padding]))
