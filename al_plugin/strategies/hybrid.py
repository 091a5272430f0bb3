"""Uncertainty first, then diversity among the most uncertain."""
import numpy as np

from al_plugin.registry import STRATEGIES
from .base import BaseStrategy


def _take(values, positions: np.ndarray):
    """Rows ``positions`` of an array or of a list of per-image arrays."""
    if isinstance(values, (list, tuple)):
        return [values[i] for i in positions]
    return np.asarray(values)[positions]


@STRATEGIES.register_module()
class HybridStrategy(BaseStrategy):
    """Pick diverse images among the ``top_n_factor * budget`` most
    uncertain ones.

    ``requires`` and ``requires_labeled`` are the unions of the two
    sub-strategies' (each output is as they document). The ``uncertainty``
    strategy scores the pool and its ``rank`` keeps the top
    ``min(N, top_n_factor * budget)``; the ``diversity`` strategy then
    selects ``budget`` among them, seeing only their rows of its per-image
    pool outputs (those in its ``requires``); the outputs over the labeled
    images (``requires_labeled``, e.g. ``labeled_features`` for core-set's
    initial centers) and any other are passed whole. :meth:`select`
    returns positions into the full pool and the uncertainty scores
    ``(N, )``.

    Args:
        uncertainty (dict): Config of a scoring strategy in
            ``STRATEGIES``. Defaults to ``dict(type='EntropyStrategy')``.
        diversity (dict): Config of the strategy that picks inside the
            subset. Defaults to ``dict(type='CoreSetStrategy')``.
        top_n_factor (int | float): Subset size over budget, ``>= 1``.
            Defaults to 3.
        **kwargs: :class:`BaseStrategy` options.
    """

    sub_strategies = ('uncertainty', 'diversity')

    def __init__(self, uncertainty: dict = dict(type='EntropyStrategy'),
                 diversity: dict = dict(type='CoreSetStrategy'),
                 top_n_factor: float = 3, **kwargs) -> None:
        super().__init__(**kwargs)
        if top_n_factor < 1:
            raise ValueError(f'top_n_factor must be >= 1, got {top_n_factor}')
        self.uncertainty = STRATEGIES.build(uncertainty)
        self.diversity = STRATEGIES.build(diversity)
        self.top_n_factor = top_n_factor
        both = self.uncertainty.requires + self.diversity.requires
        self.requires = tuple(dict.fromkeys(both))
        both = (self.uncertainty.requires_labeled +
                self.diversity.requires_labeled)
        self.requires_labeled = tuple(dict.fromkeys(both))

    def score(self, outputs):
        return self.uncertainty.score(outputs)

    def pick(self, outputs, scores, budget, num_images):
        if scores is None:
            raise ValueError(f'{self.uncertainty.name} gives no per-image '
                             'score to take the uncertain top-N by')
        top_n = min(num_images, int(np.ceil(self.top_n_factor * budget)))
        subset = self.uncertainty.rank(scores, num_images, top_n)
        pool_outputs = set(self.diversity.requires) - set(
            self.requires_labeled)
        sub_outputs = {
            key: (_take(value, subset) if key in pool_outputs else value)
            for key, value in outputs.items()
        }
        chosen, _ = self.diversity.select(sub_outputs, budget, len(subset))
        return subset[chosen]
