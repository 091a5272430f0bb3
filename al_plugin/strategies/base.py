"""The selection interface every strategy implements."""
from typing import Dict, Iterable, Optional, Tuple

import numpy as np

#: the outputs :func:`confident_detections` reads
DETECTION_OUTPUTS = ('det_boxes', 'det_scores', 'det_labels')


def confident_detections(
    outputs: Dict[str, np.ndarray], positions: Iterable[int],
    score_thr: float, who: str = 'pseudo labels'
) -> Dict[int, Tuple[np.ndarray, np.ndarray]]:
    """The detections scoring ``>= score_thr`` of the images at
    ``positions``: the pseudo labels of semi-supervised cycles.

    Args:
        outputs (dict[str, np.ndarray]): With ``det_boxes[i]`` ``(n_i,
            4)``, ``det_scores[i]`` ``(n_i, )`` and ``det_labels[i]``
            ``(n_i, )`` per pool position i (object arrays).
        positions (Iterable[int]): Pool positions, e.g. those a selection
            left out.
        score_thr (float): The least score of a pseudo label.
        who (str): How a missing-output message names the caller.

    Returns:
        dict[int, tuple]: position -> ``(boxes (k, 4) float (x1, y1, x2,
        y2, original image frame), labels (k, ) int64)``, only for images
        with at least one such box (an image without any would teach
        "background everywhere").

    Raises:
        KeyError: An output of :data:`DETECTION_OUTPUTS` is missing.
    """
    missing = [k for k in DETECTION_OUTPUTS if k not in outputs]
    if missing:
        raise KeyError(f'{who} needs {missing}')
    labels_by_pos = {}
    for pos in positions:
        pos = int(pos)
        scores = np.asarray(outputs['det_scores'][pos], dtype=np.float64)
        confident = scores >= score_thr
        if confident.any():
            boxes = np.asarray(outputs['det_boxes'][pos]).reshape(-1, 4)
            labels = np.asarray(outputs['det_labels'][pos], np.int64)
            labels_by_pos[pos] = (boxes[confident], labels[confident])
    return labels_by_pos


class BaseStrategy:
    """Pick the images to label next from per-image outputs of the pool.

    A strategy is a pure function of arrays: it declares in ``requires`` which
    per-image outputs it needs (the scorer computes exactly those in one pass
    over the pool), scores the images with :meth:`score` (higher = more worth
    labeling) and :meth:`select` returns the positions of the chosen ones.

    Args:
        random_fraction (float): Fraction of the budget picked uniformly at
            random from the not-chosen rest (exploration). Defaults to 0.
        seed (int): Seed of the random picks. Defaults to 0.
    """

    #: names of the per-image outputs :meth:`score` reads
    requires: Tuple[str, ...] = ()
    #: names of outputs over the labeled images X_L (``labeled_features``:
    #: row j is the j-th labeled image, not a pool image) that
    #: :meth:`select` uses when given; the scorer computes them only for a
    #: strategy that lists them, and a tool without a labeled set gives
    #: none (the strategy then documents what it does)
    requires_labeled: Tuple[str, ...] = ()
    #: options whose values are configs of other strategies (checked with
    #: the strategy's own at config load, see ``check_strategy_cfg``)
    sub_strategies: Tuple[str, ...] = ()
    #: score from which the strategy itself turns the detections of the
    #: images it leaves out into pseudo labels (then it also lists
    #: :data:`DETECTION_OUTPUTS` in ``requires``); None: it makes none
    #: unless the selection hook's ``pseudo_labels`` option asks
    pseudo_label_thr: Optional[float] = None

    def __init__(self, random_fraction: float = 0.0, seed: int = 0) -> None:
        if not 0.0 <= random_fraction <= 1.0:
            raise ValueError(
                f'random_fraction must be in [0, 1], got {random_fraction}')
        self.random_fraction = random_fraction
        self.seed = seed

    @property
    def name(self) -> str:
        return type(self).__name__

    def score(self, outputs: Dict[str, np.ndarray]) -> Optional[np.ndarray]:
        """Per-image informativeness, shape ``(N,)``; None = no per-image
        score (strategies that pick a set jointly override :meth:`pick`)."""
        return None

    def select(self, outputs: Dict[str, np.ndarray], budget: int,
               num_images: int) -> Tuple[np.ndarray, Optional[np.ndarray]]:
        """Choose ``min(budget, num_images)`` images.

        Args:
            outputs (dict[str, np.ndarray]): The outputs named in
                ``requires``, each with the pool's images along axis 0,
                and those of ``requires_labeled`` that are known, with
                the labeled images along axis 0.
            budget (int): How many to choose.
            num_images (int): Pool size N.

        Returns:
            tuple: positions into the pool ``(budget,)`` int64, in the order
            chosen, and the scores ``(N,)`` (or None).
        """
        missing = [k for k in self.requires if k not in outputs]
        if missing:
            raise KeyError(f'{self.name} needs outputs {missing}')
        budget = min(int(budget), num_images)
        scores = self.score(outputs) if self.requires else None
        num_random = int(round(budget * self.random_fraction))
        chosen = np.zeros(0, dtype=np.int64)
        if budget - num_random > 0:
            chosen = np.asarray(
                self.pick(outputs, scores, budget - num_random, num_images),
                dtype=np.int64)
        if num_random:
            rest = np.setdiff1d(np.arange(num_images), chosen)
            rng = np.random.default_rng(self.seed)
            chosen = np.concatenate(
                [chosen, rng.choice(rest, num_random, replace=False)])
        return chosen.astype(np.int64), scores

    def pick(self, outputs: Dict[str, np.ndarray],
             scores: Optional[np.ndarray], budget: int,
             num_images: int) -> np.ndarray:
        """Positions ``(budget, )`` into the pool, in the order chosen.

        Defaults to :meth:`rank` of the scores; strategies that choose a set
        jointly (core-set, k-means, hybrid) override it.

        Args:
            outputs (dict[str, np.ndarray]): As given to :meth:`select`.
            scores (np.ndarray | None): What :meth:`score` returned.
            budget (int): How many, ``1 <= budget <= num_images``.
            num_images (int): Pool size N.
        """
        return self.rank(scores, num_images, budget)

    def pseudo_labels(
        self, outputs: Dict[str, np.ndarray],
        not_selected_positions: Iterable[int],
        score_thr: Optional[float] = None
    ) -> Dict[int, Tuple[np.ndarray, np.ndarray]]:
        """Boxes the model is sure of in images left unlabeled, to train on
        as annotations in the next cycle: :func:`confident_detections`
        with ``score_thr``, else :attr:`pseudo_label_thr`; none when both
        are None.

        Args:
            outputs (dict[str, np.ndarray]): As given to :meth:`select`,
                with :data:`DETECTION_OUTPUTS` when a threshold applies.
            not_selected_positions (Iterable[int]): Pool positions the
                selection left out.
            score_thr (float, optional): The selection hook's threshold
                (its ``pseudo_labels`` option).

        Returns:
            dict[int, tuple]: position -> ``(boxes (k, 4) float (x1, y1,
            x2, y2, original image frame), labels (k, ) int64)``.
        """
        score_thr = self.pseudo_label_thr if score_thr is None else score_thr
        if score_thr is None:
            return {}
        return confident_detections(outputs, not_selected_positions,
                                    score_thr, f'{self.name}.pseudo_labels')

    def rank(self, scores: Optional[np.ndarray], num_images: int,
             budget: int) -> np.ndarray:
        """The ``budget`` highest scores, ties broken by position."""
        if budget <= 0:
            return np.zeros(0, dtype=np.int64)
        if scores is None:
            raise NotImplementedError(f'{self.name} has no ranking')
        scores = np.asarray(scores, dtype=np.float64)
        if scores.shape != (num_images, ):
            raise ValueError(f'{self.name}.score returned shape '
                             f'{scores.shape}, expected ({num_images},)')
        # stable: equal scores keep pool order; NaN ranks last
        keys = np.where(np.isnan(scores), -np.inf, scores)
        order = np.argsort(-keys, kind='stable')
        return order[:budget]
