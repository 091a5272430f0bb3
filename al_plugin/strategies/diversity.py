"""Diversity selection on pooled image features: core-set and k-means.

Distances are computed in blocks of at most ``chunk_size`` rows (and
``chunk_size`` centers), converted to float64 a block at a time, so a pool
of 100k images never builds an ``N x N`` (or ``N x budget``) matrix nor a
float64 copy of the whole feature array.
"""
from typing import Optional, Tuple

import numpy as np

from al_plugin.registry import STRATEGIES
from .base import BaseStrategy


def sq_dists_to(x: np.ndarray, center: np.ndarray,
                chunk_size: int) -> np.ndarray:
    """Squared euclidean distances ``(N, )`` of the rows of ``x`` ``(N, D)``
    to one ``center`` ``(D, )``, computed ``chunk_size`` rows at a time.

    Each row's value does not depend on ``chunk_size``.
    """
    center = np.asarray(center, dtype=np.float64)
    out = np.empty(len(x), dtype=np.float64)
    for start in range(0, len(x), chunk_size):
        diff = x[start:start + chunk_size].astype(np.float64) - center
        out[start:start + chunk_size] = np.einsum('ij,ij->i', diff, diff)
    return out


def nearest_center(x: np.ndarray, centers: np.ndarray,
                   chunk_size: int) -> Tuple[np.ndarray, np.ndarray]:
    """Index ``(N, )`` and squared distance ``(N, )`` of the nearest row of
    ``centers`` ``(K, D)`` to each row of ``x`` ``(N, D)``.

    Blocks are at most ``chunk_size x chunk_size``; ties go to the lowest
    center index.
    """
    best = np.full(len(x), np.inf)
    arg = np.zeros(len(x), dtype=np.int64)
    centers_sq = np.einsum('ij,ij->i', centers, centers, dtype=np.float64)
    for start in range(0, len(x), chunk_size):
        xb = x[start:start + chunk_size].astype(np.float64)
        xb_sq = np.einsum('ij,ij->i', xb, xb)
        rows = np.arange(len(xb))
        for c_start in range(0, len(centers), chunk_size):
            cb = centers[c_start:c_start + chunk_size].astype(np.float64)
            block = xb @ cb.T
            block *= -2.0
            block += xb_sq[:, None]
            block += centers_sq[None, c_start:c_start + chunk_size]
            col = block.argmin(axis=1)
            dist = block[rows, col]
            better = dist < best[start:start + chunk_size]
            best[start:start + chunk_size][better] = dist[better]
            arg[start:start + chunk_size][better] = col[better] + c_start
    return arg, np.maximum(best, 0.0)


def kmeans_pp_seeds(x: np.ndarray, k: int, rng: np.random.Generator,
                    chunk_size: int, first: Optional[int] = None
                    ) -> np.ndarray:
    """k-means++ seeding (Arthur & Vassilvitskii, 2007): ``k`` distinct
    row positions ``(k, )`` int64 of ``x`` ``(N, D)``, ``k <= N``.

    The first is ``first`` (or drawn uniformly by ``rng``); each next one
    is drawn by ``rng`` with probability proportional to its squared
    distance to the nearest seed so far (seeds have 0); when every unseeded
    row sits on a seed, uniformly among them. Distances are computed
    ``chunk_size`` rows at a time; memory is ``O(N)`` besides ``x``.
    """
    num = len(x)
    if not 0 <= k <= num:
        raise ValueError(f'k must be in [0, {num}], got {k}')
    if k == 0:
        return np.zeros(0, dtype=np.int64)
    chosen = [int(rng.integers(num)) if first is None else int(first)]
    min_sq = sq_dists_to(x, x[chosen[0]], chunk_size)
    for _ in range(1, k):
        min_sq[chosen] = 0.0
        total = min_sq.sum()
        if total > 0:
            idx = int(rng.choice(num, p=min_sq / total))
        else:  # every row sits on a seed: any unchosen one
            idx = int(rng.choice(np.setdiff1d(np.arange(num), chosen)))
        chosen.append(idx)
        np.minimum(min_sq, sq_dists_to(x, x[idx], chunk_size), out=min_sq)
    return np.array(chosen, dtype=np.int64)


@STRATEGIES.register_module()
class CoreSetStrategy(BaseStrategy):
    """Greedy k-center (Sener & Savarese, 2018) on pooled image features.

    Reads ``outputs['features']`` ``(N, D)`` (one pooled neck feature per
    image) and, when present, ``outputs['labeled_features']`` ``(M, D)``:
    the labeled images X_L, which are the initial centers (listed in
    ``requires_labeled``, so the selection hook scores X_L with the same
    model and scoring path as the pool). Each step picks the pool image
    farthest from its nearest center and makes it a center; ties go to
    the lowest position. Without labeled features (a folder scored by
    ``tools/query.py`` without ``--labeled-dir``) the first pick is the
    image nearest the pool's mean feature. Deterministic.

    There is no per-image score: :meth:`select` returns None as scores.
    :meth:`k_center` also returns each pick's distance to its nearest
    center at pick time (``inf`` for a first pick without labeled
    features), non-increasing along the picks.

    Args:
        chunk_size (int): Rows (and centers) per distance block.
            Defaults to 4096.
        **kwargs: :class:`BaseStrategy` options.
    """

    requires = ('features', )
    requires_labeled = ('labeled_features', )

    def __init__(self, chunk_size: int = 4096, **kwargs) -> None:
        super().__init__(**kwargs)
        if chunk_size < 1:
            raise ValueError(f'chunk_size must be >= 1, got {chunk_size}')
        self.chunk_size = int(chunk_size)

    def pick(self, outputs, scores, budget, num_images):
        return self.k_center(outputs['features'], budget,
                             outputs.get('labeled_features'))[0]

    def k_center(
        self,
        features: np.ndarray,
        budget: int,
        labeled_features: Optional[np.ndarray] = None
    ) -> Tuple[np.ndarray, np.ndarray]:
        """Greedy k-center picks.

        Args:
            features (np.ndarray): ``(N, D)`` pool features.
            budget (int): Number of picks, at most N.
            labeled_features (np.ndarray, optional): ``(M, D)`` initial
                centers.

        Returns:
            tuple: positions ``(budget, )`` int64 in pick order and their
            euclidean distances ``(budget, )`` to the nearest center at
            pick time.
        """
        features = np.asarray(features)
        if not 0 <= budget <= len(features):
            raise ValueError(f'budget must be in [0, {len(features)}], '
                             f'got {budget}')
        if labeled_features is not None and len(labeled_features):
            _, min_sq = nearest_center(
                features, np.asarray(labeled_features), self.chunk_size)
            idx = int(np.argmax(min_sq))
        else:
            mean = features.mean(axis=0, dtype=np.float64)
            idx = int(np.argmin(sq_dists_to(features, mean, self.chunk_size)))
            min_sq = np.full(len(features), np.inf)
        picks = np.zeros(budget, dtype=np.int64)
        dists = np.zeros(budget, dtype=np.float64)
        for step in range(budget):
            picks[step] = idx
            dists[step] = min_sq[idx]
            np.minimum(min_sq,
                       sq_dists_to(features, features[idx], self.chunk_size),
                       out=min_sq)
            min_sq[idx] = -1.0  # never again, even among duplicates
            idx = int(np.argmax(min_sq))
        return picks, np.sqrt(dists)


@STRATEGIES.register_module()
class KMeansStrategy(BaseStrategy):
    """k-means with ``k = budget`` on pooled features; one image a cluster.

    Reads ``outputs['features']`` ``(N, D)``. Centers start with k-means++
    seeded by ``seed``, then at most ``num_iters`` Lloyd iterations (fewer
    when the assignment stops changing; an empty cluster keeps its
    center). The picks are, per center, the nearest image not already
    picked, larger clusters first (ties: lower center index), so the
    ``budget`` positions are distinct. :meth:`select` returns None as
    scores.

    Args:
        num_iters (int): Maximum Lloyd iterations. Defaults to 10.
        chunk_size (int): Rows (and centers) per distance block.
            Defaults to 4096.
        **kwargs: :class:`BaseStrategy` options (``seed`` seeds k-means++).
    """

    requires = ('features', )

    def __init__(self, num_iters: int = 10, chunk_size: int = 4096,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        if num_iters < 0 or chunk_size < 1:
            raise ValueError('need num_iters >= 0 and chunk_size >= 1, got '
                             f'{num_iters} and {chunk_size}')
        self.num_iters = int(num_iters)
        self.chunk_size = int(chunk_size)

    def init_centers(self, features: np.ndarray, k: int) -> np.ndarray:
        """k-means++: ``(k, D)`` float64 centers, rows of ``features``."""
        chosen = kmeans_pp_seeds(features, k,
                                 np.random.default_rng(self.seed),
                                 self.chunk_size)
        return features[chosen].astype(np.float64)

    def cluster(self, features: np.ndarray,
                k: int) -> Tuple[np.ndarray, np.ndarray]:
        """Centers ``(k, D)`` float64 and assignment ``(N, )`` int64."""
        centers = self.init_centers(features, k)
        assign, _ = nearest_center(features, centers, self.chunk_size)
        for _ in range(self.num_iters):
            sums = np.zeros_like(centers)
            for start in range(0, len(features), self.chunk_size):
                np.add.at(sums, assign[start:start + self.chunk_size],
                          features[start:start + self.chunk_size])
            counts = np.bincount(assign, minlength=k)
            filled = counts > 0
            centers[filled] = sums[filled] / counts[filled, None]
            new_assign, _ = nearest_center(features, centers,
                                           self.chunk_size)
            if np.array_equal(new_assign, assign):
                break
            assign = new_assign
        return centers, assign

    def pick(self, outputs, scores, budget, num_images):
        features = np.asarray(outputs['features'])
        centers, assign = self.cluster(features, budget)
        nearest, _ = nearest_center(centers, features, self.chunk_size)
        sizes = np.bincount(assign, minlength=budget)
        taken = np.zeros(len(features), dtype=bool)
        picks = []
        for c in np.argsort(-sizes, kind='stable'):
            idx = int(nearest[c])
            if taken[idx]:
                dist = sq_dists_to(features, centers[c], self.chunk_size)
                dist[taken] = np.inf
                idx = int(np.argmin(dist))
            taken[idx] = True
            picks.append(idx)
        return np.array(picks, dtype=np.int64)
