"""Semi-supervised cycles: the model's confident detections on the pool
images a selection left out train the next cycle, beside X_L.

:class:`PseudoLabeling` holds the settings, given as the selection hook's
``pseudo_labels`` option (or made by a strategy that pseudo-labels itself,
mining's ``use_pseudo_labels``): the hook asks the scorer for the
detections in the same pass as the strategy's outputs, keeps those
scoring ``>= score_thr`` of the images it did not select, and commits them
with the selection (``pseudo_labels_<c>.json``; never in ``X_L_<c>.npy``,
``cycle<c>/*.txt`` or the dataset's annotations). The loop then asks
:meth:`PseudoLabeling.training_set` what cycle ``c`` trains on:

- ``'all'``: X_L_c and every image pseudo-labeled by the selection that
  made cycle c (with cycle c-1's model); earlier pseudo labels are dropped.
- ``'v1'`` (ASM_core's v1, a round = a cycle): ``num_per_round`` (K)
  images of those, drawn at random, and K random images of X_L_c.
- ``'v1+'`` (ASM_core's v1+): pseudo-labeled images stay in the training
  pool for later cycles, with the labels of the last selection that gave
  them some (an image labeled by a human since leaves it): K images
  pseudo-labeled by the last selection and K random images of X_L_c plus
  the earlier pseudo-labeled ones; all of them without ``num_per_round``.

Cycle 0 has no selection behind it: it trains on X_L_0 in every mode. The
draws use ``np.random.default_rng([seed, cycle, 1])`` (``seed``: the
splitter's), so a resumed run draws the same. Pseudo-labeled images weigh
``weight`` in the loss (:mod:`al_plugin.models.image_weights`).
"""
from typing import Dict, NamedTuple, Optional

import numpy as np

from al_plugin.datasets import PseudoLabels
from al_plugin.strategies.builder import check_keys

MODES = ('all', 'v1', 'v1+')


class TrainingSet(NamedTuple):
    """What a cycle trains on.

    Attributes:
        labeled (np.ndarray): ``(L', )`` sorted int64 global indices of the
            X_L images trained on with their human labels.
        pseudo_labels (PseudoLabels): The pool images trained on with
            model-made boxes.
        weight (float): The loss weight of a pseudo-labeled image.
        mode (str): The mode that made it (one of :data:`MODES`).
    """
    labeled: np.ndarray
    pseudo_labels: PseudoLabels
    weight: float = 1.0
    mode: str = 'all'

    @property
    def indices(self) -> np.ndarray:
        """``(L' + P', )`` int64: ``labeled``, then the pseudo-labeled."""
        return np.concatenate([
            np.asarray(self.labeled, dtype=np.int64),
            np.fromiter(self.pseudo_labels, dtype=np.int64)
        ])

    def describe(self, cycle: int, num_labeled: int, num_pool: int) -> str:
        """The log line of the cycle: ``'cycle 1: 12 labeled + 20
        pseudo-labeled, 20 in the pool'`` (a sampled round says ``4 of 12
        labeled``)."""
        labeled = (f'{len(self.labeled)} of {num_labeled}'
                   if len(self.labeled) != num_labeled else str(num_labeled))
        pseudo = len(self.pseudo_labels)
        return (f'cycle {cycle}: {labeled} labeled'
                + (f' + {pseudo} pseudo-labeled' if pseudo else '')
                + f', {num_pool} in the pool')


class PseudoLabeling:
    """Settings of semi-supervised cycles (see the module).

    Args:
        score_thr (float): The least detection score of a pseudo label, in
            [0, 1] (on top of the detector's ``test_cfg`` threshold, NMS
            and ``max_per_img``).
        weight (float): Loss weight of a pseudo-labeled image, >= 0 (1: as
            a labeled one). Defaults to 1.0. Another value needs heads that
            weigh images (:func:`al_plugin.models.check_image_weights`).
        mode (str): ``'all'``, ``'v1'`` or ``'v1+'``. Defaults to
            ``'all'``.
        num_per_round (int, optional): K of ``'v1'`` (required) and
            ``'v1+'`` (None there: every image); ``'all'`` takes none.
    """

    def __init__(self, score_thr: float, weight: float = 1.0,
                 mode: str = 'all',
                 num_per_round: Optional[int] = None) -> None:
        if isinstance(score_thr, bool) or not isinstance(
                score_thr, (int, float)) or not 0.0 <= score_thr <= 1.0:
            raise ValueError(f'score_thr must be a number in [0, 1], got '
                             f'{score_thr!r}')
        if isinstance(weight, bool) or not isinstance(
                weight, (int, float)) or not 0.0 <= weight < float('inf'):
            raise ValueError(f'weight must be a finite number >= 0, got '
                             f'{weight!r}')
        if mode not in MODES:
            raise ValueError(f'mode must be one of {MODES}, got {mode!r}')
        if num_per_round is not None and (
                isinstance(num_per_round, bool)
                or not isinstance(num_per_round, int) or num_per_round < 1):
            raise ValueError(f'num_per_round must be an int >= 1, got '
                             f'{num_per_round!r}')
        if mode == 'v1' and num_per_round is None:
            raise ValueError("mode='v1' trains on num_per_round (K) "
                             'pseudo-labeled and K labeled images a cycle: '
                             'set num_per_round')
        if mode == 'all' and num_per_round is not None:
            raise ValueError("num_per_round is read by mode='v1' and "
                             "'v1+' only, not by mode='all'")
        self.score_thr = float(score_thr)
        self.weight = float(weight)
        self.mode = mode
        self.num_per_round = num_per_round

    @classmethod
    def from_cfg(cls, cfg: Optional[dict], strategy,
                 what: str) -> Optional['PseudoLabeling']:
        """The settings of a ``pseudo_labels`` option and a strategy.

        Args:
            cfg (dict, optional): ``score_thr``, ``weight``, ``mode``,
                ``num_per_round``; None: only what the strategy asks.
            strategy (BaseStrategy): A strategy whose ``pseudo_label_thr``
                is not None pseudo-labels itself: its threshold is
                ``score_thr`` (then ``cfg`` must not give one).
            what (str): How messages name the option.

        Returns:
            PseudoLabeling | None: None when neither asks for pseudo
            labels.

        Raises:
            TypeError: ``cfg`` is not a dict or gives an unknown option
                (named, with the accepted ones).
            ValueError: A bad value, a threshold given twice or none.
        """
        own = getattr(strategy, 'pseudo_label_thr', None)
        if cfg is None:
            return None if own is None else cls(own)
        if not isinstance(cfg, dict):
            raise TypeError(f'{what} must be a dict, got '
                            f'{type(cfg).__name__}: {cfg!r}')
        check_keys(cfg, [], dict(score_thr=None, weight=1.0, mode='all',
                                 num_per_round=None), what)
        options = dict(cfg)
        if own is not None:
            if options.get('score_thr') is not None:
                raise ValueError(
                    f'{what}.score_thr: {strategy.name} makes its own pseudo '
                    f'labels (score >= {own}); leave score_thr out')
            options['score_thr'] = own
        elif options.get('score_thr') is None:
            raise ValueError(f'{what} needs score_thr, the least score of '
                             'a pseudo label')
        try:
            return cls(**options)
        except ValueError as error:
            raise ValueError(f'{what}: {error}') from error

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(score_thr={self.score_thr}, '
                f'weight={self.weight}, mode={self.mode!r}, '
                f'num_per_round={self.num_per_round})')

    # -- the training set of a cycle ---------------------------------------
    def training_set(self, splitter, cycle: int) -> TrainingSet:
        """What ``cycle`` trains on (see the module).

        Args:
            splitter (ActiveDatasetSplitter): The split, with ``cycle``.
            cycle (int): The cycle.
        """
        labeled = np.asarray(splitter.labeled_indices(cycle), np.int64)
        current = splitter.pseudo_labels(cycle)
        if cycle == 0 or self.mode == 'all':
            return TrainingSet(labeled, current, self.weight, self.mode)
        kept = kept_pseudo_labels(splitter, cycle) if self.mode == 'v1+' \
            else {}
        k = self.num_per_round
        if k is None:  # v1+ without K: everything
            return TrainingSet(labeled, PseudoLabels({**kept, **current}),
                               self.weight, self.mode)
        rng = np.random.default_rng([splitter.seed, cycle, 1])
        new = _draw(rng, np.fromiter(current, np.int64), k)
        old = _draw(rng, np.concatenate(
            [labeled, np.fromiter(kept, np.int64)]), k)
        chosen = {int(i): current[i] for i in new}
        chosen.update({int(i): kept[int(i)] for i in old if int(i) in kept})
        human = np.sort(old[np.isin(old, labeled)])
        return TrainingSet(human, PseudoLabels(chosen), self.weight,
                           self.mode)


def kept_pseudo_labels(splitter, cycle: int) -> Dict[int, tuple]:
    """The pseudo labels of the selections before the one that made
    ``cycle`` (cycles ``1 .. cycle - 1``), the latest of an image winning,
    less the images in X_L of ``cycle`` and those the last selection
    pseudo-labeled again."""
    kept: Dict[int, tuple] = {}
    for c in range(1, cycle):
        kept.update(splitter.pseudo_labels(c).items())
    indices = np.fromiter(kept, np.int64)
    gone = np.isin(indices, splitter.labeled_indices(cycle)) | np.isin(
        indices, np.fromiter(splitter.pseudo_labels(cycle), np.int64))
    return {int(i): kept[int(i)] for i in indices[~gone]}


def cycle_training_set(splitter, cycle: int,
                       settings: Optional[PseudoLabeling] = None
                       ) -> TrainingSet:
    """What ``cycle`` trains on: ``settings.training_set``, or without
    settings X_L and the pseudo labels the splitter holds for the cycle
    (weight 1)."""
    if settings is not None:
        return settings.training_set(splitter, cycle)
    return TrainingSet(
        np.asarray(splitter.labeled_indices(cycle), np.int64),
        splitter.pseudo_labels(cycle))


def _draw(rng: np.random.Generator, indices: np.ndarray,
          k: int) -> np.ndarray:
    """``k`` of ``indices`` at random (all when there are no more), sorted
    int64."""
    indices = np.sort(np.asarray(indices, dtype=np.int64))
    if len(indices) > k:
        indices = np.sort(rng.choice(indices, k, replace=False))
    return indices
