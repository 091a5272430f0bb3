"""Random selection: the baseline every strategy is measured against."""
import numpy as np

from al_plugin.registry import STRATEGIES
from .base import BaseStrategy


@STRATEGIES.register_module()
class RandomStrategy(BaseStrategy):
    """Uniformly random images; needs no model output."""

    def rank(self, scores, num_images, budget):
        rng = np.random.default_rng(self.seed)
        return rng.permutation(num_images)[:budget]
