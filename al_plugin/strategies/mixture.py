"""Gaussian-mixture diversity: the budget spread over the pool's feature
clusters, the most uncertain images of each (seed docker_al_v1's
``mixture``)."""
from typing import Optional

import numpy as np

from al_plugin.registry import STRATEGIES
from .base import BaseStrategy


def proportional_quotas(sizes: np.ndarray, budget: int) -> np.ndarray:
    """Split ``budget`` over groups in proportion to their ``sizes``.

    Largest remainders (Hamilton): group k gets ``floor(budget * n_k /
    N)``, and the picks left go one each to the largest fractional parts
    (ties: the larger group, then the lower index). No group gets more
    than its size when ``budget <= N = sum(sizes)``.

    Args:
        sizes (np.ndarray): ``(K, )`` non-negative group sizes.
        budget (int): Picks to split, ``0 <= budget <= sum(sizes)``.

    Returns:
        np.ndarray: ``(K, )`` int64 quotas summing to ``budget``.
    """
    sizes = np.asarray(sizes, dtype=np.int64)
    total = int(sizes.sum())
    if not 0 <= budget <= total:
        raise ValueError(f'budget must be in [0, {total}], got {budget}')
    if total == 0:
        return np.zeros(len(sizes), dtype=np.int64)
    exact = sizes * budget  # quota * total, in integers: no rounding drift
    quotas = exact // total
    remainder = exact - quotas * total
    order = np.lexsort((np.arange(len(sizes)), -sizes, -remainder))
    quotas[order[:budget - int(quotas.sum())]] += 1
    return quotas


@STRATEGIES.register_module()
class GaussianMixtureStrategy(BaseStrategy):
    """Fit a Gaussian mixture to the pool's pooled features; each
    component gets a share of the budget proportional to its size and
    fills it with its most uncertain images.

    Reads ``outputs['features']`` ``(N, D)`` and what the ``uncertainty``
    strategy reads (by default :class:`EntropyStrategy`: per image the
    highest class entropy among its boxes, from ``class_probs``, an object
    array of ``(n_i, C)`` arrays). The features are centred and divided by
    one scalar (their root mean squared distance to the mean, so the
    dimensions keep their relative spread and near-constant ones stay
    negligible) and, when ``D > pca_dims``, projected on their first
    ``pca_dims`` principal components; a scikit-learn ``GaussianMixture``
    of ``min(num_components, N)`` components (``covariance_type``, seeded
    by ``seed``) is fitted on at most ``max_fit_samples`` rows (a seeded
    random subset) and assigns every image, ``chunk_size`` rows at a time,
    to its most probable component. Component k of size ``n_k`` gets
    :func:`proportional_quotas` ``~ budget * n_k / N`` picks, its highest
    uncertainty scores (ties: lower position). :meth:`select` returns the
    picks ordered by score (highest first) and the uncertainty scores
    ``(N, )``.

    Args:
        num_components (int): Mixture components K. Defaults to 8.
        covariance_type (str): ``'full'``, ``'tied'``, ``'diag'`` or
            ``'spherical'``. Defaults to ``'diag'``.
        pca_dims (int, optional): Dimensions kept before fitting; None keeps
            all. Defaults to 32.
        max_fit_samples (int): Rows the mixture is fitted on.
            Defaults to 20000.
        chunk_size (int): Rows a prediction pass. Defaults to 4096.
        uncertainty (dict): Config of the scoring strategy that ranks the
            images inside a component. Defaults to
            ``dict(type='EntropyStrategy')``.
        **kwargs: :class:`BaseStrategy` options (``seed`` also seeds the
            mixture).
    """

    sub_strategies = ('uncertainty', )
    covariance_types = ('full', 'tied', 'diag', 'spherical')

    def __init__(self, num_components: int = 8,
                 covariance_type: str = 'diag',
                 pca_dims: Optional[int] = 32,
                 max_fit_samples: int = 20000, chunk_size: int = 4096,
                 uncertainty: dict = dict(type='EntropyStrategy'),
                 **kwargs) -> None:
        super().__init__(**kwargs)
        if covariance_type not in self.covariance_types:
            raise ValueError(f'covariance_type must be one of '
                             f'{self.covariance_types}, got '
                             f'{covariance_type!r}')
        sizes = dict(num_components=num_components, pca_dims=pca_dims or 1,
                     max_fit_samples=max_fit_samples, chunk_size=chunk_size)
        bad = {k: v for k, v in sizes.items() if v < 1}
        if bad:
            raise ValueError(f'{self.name}: need values >= 1, got {bad}')
        self.num_components = int(num_components)
        self.covariance_type = covariance_type
        self.pca_dims = None if pca_dims is None else int(pca_dims)
        self.max_fit_samples = int(max_fit_samples)
        self.chunk_size = int(chunk_size)
        self.uncertainty = STRATEGIES.build(uncertainty)
        if type(self.uncertainty).score is BaseStrategy.score:
            raise ValueError(f'{self.name}: uncertainty strategy '
                             f'{self.uncertainty.name} gives no per-image '
                             'score')
        self.requires = tuple(
            dict.fromkeys(('features', ) + self.uncertainty.requires))
        self.requires_labeled = self.uncertainty.requires_labeled

    def score(self, outputs):
        return self.uncertainty.score(outputs)

    def components(self, features: np.ndarray) -> np.ndarray:
        """The most probable component ``(N, )`` int64 of each row of
        ``features`` ``(N, D)``, labels in ``[0, min(K, N))``."""
        from sklearn.decomposition import PCA
        from sklearn.mixture import GaussianMixture
        features = np.asarray(features)
        if features.ndim != 2:
            raise ValueError(f'{self.name}: features must be (N, D), got '
                             f'shape {features.shape}')
        rng = np.random.default_rng(self.seed)
        fit_rows = (np.sort(rng.choice(len(features), self.max_fit_samples,
                                       replace=False))
                    if len(features) > self.max_fit_samples else
                    np.arange(len(features)))
        fit = features[fit_rows].astype(np.float64)
        mean = fit.mean(axis=0)
        # one scale for all dimensions: they keep their relative spread,
        # so near-constant ones are not blown up to unit variance
        scale = max(float(np.sqrt(((fit - mean)**2).sum(axis=1).mean())),
                    1e-12)
        fit = (fit - mean) / scale
        pca = None
        if self.pca_dims is not None and fit.shape[1] > self.pca_dims:
            pca = PCA(min(self.pca_dims, len(fit)), random_state=self.seed)
            fit = pca.fit_transform(fit)
        gmm = GaussianMixture(min(self.num_components, len(fit)),
                              covariance_type=self.covariance_type,
                              reg_covar=1e-4, random_state=self.seed)
        gmm.fit(fit)
        labels = np.empty(len(features), dtype=np.int64)
        for start in range(0, len(features), self.chunk_size):
            rows = (features[start:start + self.chunk_size].astype(
                np.float64) - mean) / scale
            if pca is not None:
                rows = pca.transform(rows)
            labels[start:start + self.chunk_size] = gmm.predict(rows)
        return labels

    def pick(self, outputs, scores, budget, num_images):
        if scores is None:
            raise ValueError(f'{self.uncertainty.name} gave no scores')
        labels = self.components(outputs['features'])
        quotas = proportional_quotas(np.bincount(labels), budget)
        order = self.rank(scores, num_images, num_images)
        taken = np.zeros(len(quotas), dtype=np.int64)
        picks = []
        for idx in order:  # highest score first, ties by position
            if taken[labels[idx]] < quotas[labels[idx]]:
                taken[labels[idx]] += 1
                picks.append(int(idx))
        return np.array(picks, dtype=np.int64)
