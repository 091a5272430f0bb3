"""Entropy selection that favours the classes the pool rarely shows."""
from typing import List, Tuple

import numpy as np

from al_plugin.registry import STRATEGIES
from al_plugin.strategies import EntropyStrategy


@STRATEGIES.register_module()
class ClassBalancedEntropyStrategy(EntropyStrategy):
    """Box entropy weighted by the inverse pool frequency of the box's class.

    On a long-tailed pool, plain entropy spends most of the budget on the
    frequent classes, because most uncertain boxes belong to them. Here each
    box's entropy is scaled by a weight of its predicted class that grows as
    the class gets rarer in the pool, so images with uncertain boxes of rare
    classes come first.

    Reads ``outputs['class_probs']`` as :class:`EntropyStrategy` does: an
    object array (or list) of length N whose element i is ``(n_i, C)``, the
    class probabilities of image i's most confident anchors (``n_i`` may be
    0); rows are normalised to sum to 1. Then, over the whole pool:

    - a box's predicted class is its row's argmax (all-zero rows count for
      no class), ``n_c`` is the number of boxes predicted ``c`` and ``n``
      their total;
    - the weight of class c is the inverse of its smoothed share of the
      pool's boxes, relative to a uniform share::

          w_c = ((n + C * smoothing) / (C * (n_c + smoothing))) ** power

      so 1 for a class at share ``1 / C``, more for rarer classes, less for
      more frequent ones;
    - a box scores ``entropy * w_(predicted class)``, and an image the
      ``reduction`` of its boxes' scores (0 without boxes).

    ``power=0`` gives :class:`EntropyStrategy`'s scores. The frequencies
    come from the model's predictions on the pool, not from labels, so the
    weights follow what the current model sees.

    Args:
        power (float): Strength of the reweighting, ``>= 0``.
            Defaults to 1.0.
        smoothing (float): Pseudo-count added to every class, ``> 0``; it
            bounds the weight of a class seen in a handful of boxes.
            Defaults to 1.0.
        **kwargs: :class:`EntropyStrategy` options (``reduction``) and
            :class:`BaseStrategy` options (``random_fraction``, ``seed``).
    """

    def __init__(self,
                 power: float = 1.0,
                 smoothing: float = 1.0,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        if power < 0 or smoothing <= 0:
            raise ValueError('need power >= 0 and smoothing > 0, got '
                             f'{power} and {smoothing}')
        self.power = power
        self.smoothing = smoothing

    @staticmethod
    def normalised(class_probs) -> Tuple[List[np.ndarray], int]:
        """Per image ``(n_i, C)`` float64 rows summing to 1 (all-zero rows
        stay zero; an image without boxes gives ``(0, C)``) and C.

        Raises:
            ValueError: An element is not 2-D, or images disagree on C.
        """
        images, num_classes = [], None
        for i, probs in enumerate(class_probs):
            probs = np.asarray(probs, dtype=np.float64)
            if probs.size == 0:
                images.append(None)
                continue
            if probs.ndim != 2 or (num_classes is not None
                                   and probs.shape[1] != num_classes):
                raise ValueError(
                    f'class_probs[{i}] must be (num_boxes, C) with the same '
                    f'C for every image, got shape {probs.shape}')
            num_classes = probs.shape[1]
            total = probs.sum(axis=1, keepdims=True)
            images.append(probs / np.where(total > 0, total, 1.0))
        num_classes = num_classes or 0
        return [
            np.zeros((0, num_classes)) if probs is None else probs
            for probs in images
        ], num_classes

    def class_weights(self, images: List[np.ndarray],
                      num_classes: int) -> np.ndarray:
        """The weights ``w_c``, ``(C, )``, of the pool's normalised boxes.

        Args:
            images (list[np.ndarray]): Per image ``(n_i, C)``, as returned
                by :meth:`normalised`.
            num_classes (int): C.
        """
        labels = [
            probs.argmax(axis=1)[probs.sum(axis=1) > 0] for probs in images
            if len(probs)
        ]
        counts = np.bincount(
            np.concatenate(labels + [np.zeros(0, np.int64)]),
            minlength=num_classes).astype(np.float64)
        share = (counts + self.smoothing) / (
            counts.sum() + num_classes * self.smoothing)
        return (1.0 / (num_classes * share))**self.power

    def score(self, outputs):
        images, num_classes = self.normalised(outputs['class_probs'])
        weights = self.class_weights(images, num_classes)
        reduce = getattr(np, self.reduction)
        scores = np.zeros(len(images), dtype=np.float64)
        for i, probs in enumerate(images):
            if len(probs):
                box_scores = self.box_uncertainty(probs) * weights[
                    probs.argmax(axis=1)]
                scores[i] = reduce(box_scores)
        return scores
