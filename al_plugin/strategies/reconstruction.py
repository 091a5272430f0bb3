"""Reconstruction diversity: pool images a VAE of the labeled set explains
worst (seed docker_al_v1's ``vae``)."""
from typing import Tuple

import numpy as np

from al_plugin.registry import STRATEGIES
from .base import BaseStrategy


def standardizer(train: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Per-dimension mean ``(D, )`` and scale ``(D, )`` of ``train``
    ``(M, D)``, float64. A scale is the dimension's standard deviation,
    floored at 1% of their mean (and at 1e-6), so a dimension that is
    (nearly) constant over ``train`` neither divides by zero nor
    dominates."""
    train = np.asarray(train, dtype=np.float64)
    mean = train.mean(axis=0)
    std = train.std(axis=0)
    return mean, np.maximum(std, max(1e-2 * float(std.mean()), 1e-6))


@STRATEGIES.register_module()
class VAEReconstructionStrategy(BaseStrategy):
    """Images whose pooled features a VAE of the labeled images
    reconstructs worst: what X_L does not yet cover.

    Reads ``outputs['features']`` ``(N, D)`` (one pooled neck feature per
    pool image) and ``outputs['labeled_features']`` ``(M, D)`` (the same
    for the labeled images X_L, listed in ``requires_labeled`` as
    core-set's are). Both are standardised with X_L's per-dimension mean
    and scale (:func:`standardizer`); a :class:`FeatureVAE` (one hidden
    layer of ``hidden_dim`` each way, latent ``latent_dim``) is trained on
    X_L for ``num_steps`` Adam steps (batches of ``batch_size``,
    ``kl_weight`` on the KL term), and a pool image's score ``(N, )`` is
    the mean squared error, over the D standardised dimensions, between
    its feature and the decoding of its latent mean. Higher = less like
    the labeled set = more informative; the ``budget`` highest are picked.
    Without labeled features (a folder scored by ``tools/query.py``
    without ``--labeled-dir``) the VAE is trained on the pool itself, so
    the pool's outliers rank first.

    The cost is small: with the defaults ``129 * D + 1680`` weights
    (166,800 for RetinaNet's five 256-channel FPN levels, D = 1280), 200
    steps of at most 64 rows (seconds on one CPU core), then one forward
    pass over the pool, ``chunk_size`` rows at a time. Weights, batches
    and noise come from ``seed``: equal inputs give equal scores.

    Args:
        hidden_dim (int): Hidden width of encoder and decoder.
            Defaults to 64.
        latent_dim (int): Latent size. Defaults to 8.
        num_steps (int): Training steps. Defaults to 200.
        batch_size (int): Rows a step (at most M). Defaults to 64.
        lr (float): Adam learning rate. Defaults to 3e-3.
        kl_weight (float): Weight of the KL term (beta). Defaults to 1.0.
        chunk_size (int): Pool rows a scoring pass. Defaults to 4096.
        **kwargs: :class:`BaseStrategy` options (``seed`` seeds the VAE).
    """

    requires = ('features', )
    requires_labeled = ('labeled_features', )

    def __init__(self, hidden_dim: int = 64, latent_dim: int = 8,
                 num_steps: int = 200, batch_size: int = 64,
                 lr: float = 3e-3, kl_weight: float = 1.0,
                 chunk_size: int = 4096, **kwargs) -> None:
        super().__init__(**kwargs)
        sizes = dict(hidden_dim=hidden_dim, latent_dim=latent_dim,
                     batch_size=batch_size, chunk_size=chunk_size)
        bad = {k: v for k, v in sizes.items() if int(v) != v or v < 1}
        if bad:
            raise ValueError(f'{self.name}: need integers >= 1, got {bad}')
        if num_steps < 0 or lr <= 0 or kl_weight < 0:
            raise ValueError(f'{self.name}: need num_steps >= 0, lr > 0 and '
                             f'kl_weight >= 0, got {num_steps}, {lr} and '
                             f'{kl_weight}')
        self.hidden_dim = int(hidden_dim)
        self.latent_dim = int(latent_dim)
        self.num_steps = int(num_steps)
        self.batch_size = int(batch_size)
        self.lr = float(lr)
        self.kl_weight = float(kl_weight)
        self.chunk_size = int(chunk_size)

    def score(self, outputs):
        import torch

        from .feature_vae import fit_vae
        pool = np.asarray(outputs['features'])
        if pool.ndim != 2:
            raise ValueError(f'{self.name}: features must be (N, D), got '
                             f'shape {pool.shape}')
        train = outputs.get('labeled_features')
        if train is None or not len(train):
            train = pool
        train = np.asarray(train)
        if train.ndim != 2 or train.shape[1] != pool.shape[1]:
            raise ValueError(f'{self.name}: labeled_features must be (M, '
                             f'{pool.shape[1]}), got shape {train.shape}')
        if not len(pool):
            return np.zeros(0, dtype=np.float64)
        mean, scale = standardizer(train)
        vae = fit_vae((train - mean) / scale,
                      hidden_dim=self.hidden_dim, latent_dim=self.latent_dim,
                      num_steps=self.num_steps, batch_size=self.batch_size,
                      lr=self.lr, kl_weight=self.kl_weight, seed=self.seed)
        scores = np.empty(len(pool), dtype=np.float64)
        with torch.no_grad():
            for start in range(0, len(pool), self.chunk_size):
                rows = (pool[start:start + self.chunk_size] - mean) / scale
                scores[start:start + self.chunk_size] = (
                    vae.reconstruction_error(
                        torch.as_tensor(rows, dtype=torch.float32)).numpy())
        return scores
