"""A small variational auto-encoder over feature vectors.

Imported only when :class:`~.reconstruction.VAEReconstructionStrategy`
scores (``import al_plugin.strategies`` stays free of torch).
"""
from typing import Tuple

import numpy as np
import torch
from torch import Tensor, nn


class FeatureVAE(nn.Module):
    """Gaussian VAE: ``(B, D)`` -> latent ``(B, latent_dim)`` -> ``(B, D)``.

    Encoder and decoder are one hidden ReLU layer each (``D -> hidden_dim
    -> 2 * latent_dim`` and ``latent_dim -> hidden_dim -> D``).

    Args:
        dim (int): Feature size D.
        hidden_dim (int): Hidden layer width.
        latent_dim (int): Latent size.
    """

    def __init__(self, dim: int, hidden_dim: int, latent_dim: int) -> None:
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Linear(dim, hidden_dim), nn.ReLU(),
            nn.Linear(hidden_dim, 2 * latent_dim))
        self.decoder = nn.Sequential(
            nn.Linear(latent_dim, hidden_dim), nn.ReLU(),
            nn.Linear(hidden_dim, dim))

    def encode(self, x: Tensor) -> Tuple[Tensor, Tensor]:
        """Mean and log-variance ``(B, latent_dim)`` of ``q(z | x)``."""
        mu, logvar = self.encoder(x).chunk(2, dim=-1)
        return mu, logvar.clamp(-10.0, 10.0)

    def loss(self, x: Tensor, noise: Tensor, kl_weight: float) -> Tensor:
        """Negative ELBO of a batch ``x`` ``(B, D)``: summed squared
        reconstruction error of a sample ``z = mu + sigma * noise`` (noise
        ``(B, latent_dim)``) plus ``kl_weight`` times ``KL(q(z|x) ||
        N(0, I))``, both averaged over the batch."""
        mu, logvar = self.encode(x)
        recon = self.decoder(mu + (0.5 * logvar).exp() * noise)
        rec = (recon - x).pow(2).sum(dim=1).mean()
        kl = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(dim=1).mean()
        return rec + kl_weight * kl

    def reconstruction_error(self, x: Tensor) -> Tensor:
        """Per row, the mean squared error ``(B, )`` of ``x`` and the
        decoding of its latent mean (no sampling: deterministic)."""
        return (self.decoder(self.encode(x)[0]) - x).pow(2).mean(dim=1)


def fit_vae(train: np.ndarray, *, hidden_dim: int, latent_dim: int,
            num_steps: int, batch_size: int, lr: float, kl_weight: float,
            seed: int) -> FeatureVAE:
    """A :class:`FeatureVAE` fitted to ``train`` ``(M, D)`` (already
    standardised) with ``num_steps`` Adam steps on batches of
    ``min(batch_size, M)`` rows drawn without replacement per step.

    Initial weights, batches and noise come from ``seed`` alone (the global
    torch random state is left as it was), so equal inputs give equal
    models.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        vae = FeatureVAE(train.shape[1], hidden_dim, latent_dim)
        gen = torch.Generator().manual_seed(seed)
        data = torch.as_tensor(train, dtype=torch.float32)
        optimizer = torch.optim.Adam(vae.parameters(), lr=lr)
        size = min(batch_size, len(data))
        vae.train()
        for _ in range(num_steps):
            rows = torch.randperm(len(data), generator=gen)[:size]
            noise = torch.randn(size, latent_dim, generator=gen)
            loss = vae.loss(data[rows], noise, kl_weight)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return vae.eval()
