"""Gradient-embedding selection (BADGE, Ash et al., 2020): k-means++ seeds
over the pool's gradient embeddings."""
import numpy as np

from al_plugin.registry import STRATEGIES
from .base import BaseStrategy
from .diversity import kmeans_pp_seeds


@STRATEGIES.register_module()
class GradientEmbeddingStrategy(BaseStrategy):
    """Images that are uncertain and diverse at once: k-means++ seeding on
    the gradient embeddings of the last classification layer.

    Reads ``outputs['grad_embedding']`` ``(N, E)``: per image the mean over
    its top boxes of the loss gradient under the model's own most likely
    labels w.r.t. the last classification layer (see
    :func:`al_plugin.engine.scoring.grad_embedding`). A confident image has
    a small gradient, an uncertain one a large one, and the gradient's
    direction says which classes and features are involved. The first
    pick is the image with the largest embedding norm (ties: the lowest
    position); each next one is drawn, seeded by ``seed``, with probability
    proportional to its squared distance to the nearest pick so far
    (:func:`kmeans_pp_seeds`), so the picks are both large and spread out.
    Distances are computed ``chunk_size`` rows at a time (a 100k pool
    never builds an ``N x N`` or ``N x budget`` matrix: memory ``O(N)``
    beside the embeddings). :meth:`select` also returns the embedding
    norms ``(N, )`` as scores (higher = larger gradient).

    Args:
        chunk_size (int): Rows per distance block. Defaults to 4096.
        **kwargs: :class:`BaseStrategy` options (``seed`` seeds the
            draws).
    """

    requires = ('grad_embedding', )

    def __init__(self, chunk_size: int = 4096, **kwargs) -> None:
        super().__init__(**kwargs)
        if chunk_size < 1:
            raise ValueError(f'chunk_size must be >= 1, got {chunk_size}')
        self.chunk_size = int(chunk_size)

    def score(self, outputs):
        emb = np.asarray(outputs['grad_embedding'])
        if emb.ndim != 2:
            raise ValueError(f'{self.name}: grad_embedding must be (N, E), '
                             f'got shape {emb.shape}')
        norms = np.empty(len(emb), dtype=np.float64)
        for start in range(0, len(emb), self.chunk_size):
            rows = emb[start:start + self.chunk_size].astype(np.float64)
            norms[start:start + self.chunk_size] = np.sqrt(
                np.einsum('ij,ij->i', rows, rows))
        return norms

    def pick(self, outputs, scores, budget, num_images):
        first = int(np.argmax(scores))  # the first of equal maxima
        return kmeans_pp_seeds(np.asarray(outputs['grad_embedding']), budget,
                               np.random.default_rng(self.seed),
                               self.chunk_size, first=first)
