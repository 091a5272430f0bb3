"""Classification-uncertainty selection over an image's detected boxes."""
import numpy as np

from al_plugin.registry import STRATEGIES
from .base import BaseStrategy


class BoxUncertaintyStrategy(BaseStrategy):
    """Score each box's class distribution, reduce over the image's boxes.

    Reads ``outputs['class_probs']``: an object array (or list) of length N
    whose element i is a float array ``(num_boxes_i, C)`` with the per-box
    class probabilities of image i (``num_boxes_i`` may be 0). Each row is
    normalised to sum to 1 before scoring, so softmax rows are used as they
    are and sigmoid rows (independent per-class scores) are read as the
    distribution they are proportional to; an all-zero row stays all zero.

    The per-box uncertainties (``(num_boxes_i, )``, higher = more
    uncertain, from :meth:`box_uncertainty`) are reduced to one score per
    image with ``reduction``. An image without boxes scores 0.

    Args:
        reduction (str): ``'max'`` (the most uncertain box), ``'mean'`` or
            ``'sum'`` (favours images with many uncertain boxes).
            Defaults to ``'max'``.
        **kwargs: :class:`BaseStrategy` options (``random_fraction``,
            ``seed``).
    """

    requires = ('class_probs', )
    reductions = ('max', 'mean', 'sum')

    def __init__(self, reduction: str = 'max', **kwargs) -> None:
        super().__init__(**kwargs)
        if reduction not in self.reductions:
            raise ValueError(f'reduction must be one of {self.reductions}, '
                             f'got {reduction!r}')
        self.reduction = reduction

    def box_uncertainty(self, probs: np.ndarray) -> np.ndarray:
        """Uncertainty of each box.

        Args:
            probs (np.ndarray): ``(num_boxes, C)`` float64, rows summing to
                1 (or all zero), ``num_boxes >= 1``.

        Returns:
            np.ndarray: ``(num_boxes, )``, higher = more uncertain.
        """
        raise NotImplementedError

    def score(self, outputs):
        class_probs = outputs['class_probs']
        reduce = getattr(np, self.reduction)
        scores = np.zeros(len(class_probs), dtype=np.float64)
        for i, probs in enumerate(class_probs):
            probs = np.asarray(probs, dtype=np.float64)
            if probs.size == 0:
                continue
            if probs.ndim != 2:
                raise ValueError(f'class_probs[{i}] must be (num_boxes, C), '
                                 f'got shape {probs.shape}')
            total = probs.sum(axis=1, keepdims=True)
            probs = probs / np.where(total > 0, total, 1.0)
            scores[i] = reduce(self.box_uncertainty(probs))
        return scores


@STRATEGIES.register_module()
class EntropyStrategy(BoxUncertaintyStrategy):
    """Per box: the entropy ``-sum_c p_c log p_c`` (nats) of its classes."""

    def box_uncertainty(self, probs):
        logs = np.log(np.where(probs > 0, probs, 1.0))
        return -(probs * logs).sum(axis=1)


@STRATEGIES.register_module()
class LeastConfidenceStrategy(BoxUncertaintyStrategy):
    """Per box: ``1 - max_c p_c``."""

    def box_uncertainty(self, probs):
        return 1.0 - probs.max(axis=1)


@STRATEGIES.register_module()
class MarginStrategy(BoxUncertaintyStrategy):
    """Per box: ``1 - (top1 - top2)`` of its sorted class probabilities.

    A single-class row has no runner-up: ``top2`` is taken as 0.
    """

    def box_uncertainty(self, probs):
        if probs.shape[1] == 1:
            return 1.0 - probs[:, 0]
        top2 = -np.partition(-probs, 1, axis=1)[:, :2]
        return 1.0 - (top2[:, 0] - top2[:, 1])


@STRATEGIES.register_module()
class RatioStrategy(BoxUncertaintyStrategy):
    """Per box: the ratio ``top2 / top1`` of its two largest class
    probabilities (seed docker_al_v1's ``ratio``).

    In ``[0, 1]``: 1 when the two top classes tie (most informative), 0
    when one class takes all. Like :class:`MarginStrategy` it reads only the
    top two classes, but relative to the top one: ``(0.2, 0.1)`` and
    ``(0.6, 0.3)`` both score 0.5. A single-class row has no runner-up and
    an all-zero row no top class: both score 0. The per-box ratios
    ``(num_boxes_i, )`` become one image score with ``reduction`` (default
    ``'max'``: the image's most ambiguous box), highest first.
    """

    def box_uncertainty(self, probs):
        if probs.shape[1] == 1:
            return np.zeros(len(probs))
        top2 = -np.partition(-probs, 1, axis=1)[:, :2]
        top1 = top2[:, 0]
        return np.where(top1 > 0, top2[:, 1] / np.where(top1 > 0, top1, 1.0),
                        0.0)
