"""Localization-aware strategies: stability under a horizontal flip, and
tightness of a two-stage detector's refined proposals."""
import numpy as np

from al_plugin.registry import STRATEGIES
from .base import BaseStrategy


def box_iou(boxes1: np.ndarray, boxes2: np.ndarray) -> np.ndarray:
    """Pairwise IoU ``(n, m)`` of ``(x1, y1, x2, y2)`` boxes ``(n, 4)`` and
    ``(m, 4)``; degenerate boxes have area 0 and IoU 0."""
    boxes1 = np.asarray(boxes1, dtype=np.float64).reshape(-1, 4)
    boxes2 = np.asarray(boxes2, dtype=np.float64).reshape(-1, 4)
    area1 = np.prod(np.clip(boxes1[:, 2:] - boxes1[:, :2], 0, None), axis=1)
    area2 = np.prod(np.clip(boxes2[:, 2:] - boxes2[:, :2], 0, None), axis=1)
    lt = np.maximum(boxes1[:, None, :2], boxes2[None, :, :2])
    rb = np.minimum(boxes1[:, None, 2:], boxes2[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=2)
    union = area1[:, None] + area2[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


@STRATEGIES.register_module()
class LocalizationStabilityStrategy(BaseStrategy):
    """Images whose detections move most when the image is flipped.

    Reads, per image i, ``det_boxes[i]`` ``(n_i, 4)`` (x1, y1, x2, y2),
    ``det_scores[i]`` ``(n_i, )`` and the same for the horizontally
    flipped image, ``flip_boxes[i]`` ``(m_i, 4)`` (already mapped back to
    the original frame) and ``flip_scores[i]`` ``(m_i, )``; each an object
    array (or list) of length N. With ``match_labels`` also
    ``det_labels[i]`` ``(n_i, )`` and ``flip_labels[i]`` ``(m_i, )``.

    Detections (original and flipped) below ``score_thr`` are ignored.
    Each original detection's stability is its highest IoU with a flipped
    detection (0 when there is none); the image's stability is their mean
    weighted by detection score, and its score ``1 - stability`` (higher =
    less stable = more informative). An image with no original detection
    at or above ``score_thr`` scores ``empty_score``.

    Args:
        score_thr (float): Minimum detection score. Defaults to 0.3.
        empty_score (float): Score of an image without detections.
            Defaults to 0.0 (never preferred to an image with detections;
            1.0 would favour images the model finds nothing in).
        match_labels (bool): Match only detections of the same label.
            Defaults to False.
        **kwargs: :class:`BaseStrategy` options.
    """

    def __init__(self, score_thr: float = 0.3, empty_score: float = 0.0,
                 match_labels: bool = False, **kwargs) -> None:
        super().__init__(**kwargs)
        self.score_thr = score_thr
        self.empty_score = empty_score
        self.match_labels = match_labels
        keys = ('boxes', 'scores') + (('labels', ) if match_labels else ())
        self.requires = tuple(f'{side}_{key}' for side in ('det', 'flip')
                              for key in keys)

    def _detections(self, outputs, side, i):
        """Boxes ``(k, 4)``, scores ``(k, )`` and labels ``(k, )`` (or
        None) of image i's detections at or above ``score_thr``."""
        scores = np.asarray(outputs[f'{side}_scores'][i], dtype=np.float64)
        keep = scores >= self.score_thr
        boxes = np.asarray(outputs[f'{side}_boxes'][i]).reshape(-1, 4)[keep]
        labels = (np.asarray(outputs[f'{side}_labels'][i])[keep]
                  if self.match_labels else None)
        return boxes, scores[keep], labels

    def score(self, outputs):
        num_images = len(outputs['det_scores'])
        scores = np.full(num_images, self.empty_score, dtype=np.float64)
        for i in range(num_images):
            boxes, weights, labels = self._detections(outputs, 'det', i)
            if not len(boxes):
                continue
            f_boxes, _, f_labels = self._detections(outputs, 'flip', i)
            iou = box_iou(boxes, f_boxes)
            if self.match_labels:
                iou = np.where(labels[:, None] == f_labels[None, :], iou, 0.0)
            best = iou.max(axis=1) if iou.shape[1] else np.zeros(len(boxes))
            weight_sum = weights.sum()
            stability = ((weights * best).sum() / weight_sum
                         if weight_sum > 0 else best.mean())
            scores[i] = 1.0 - stability
        return scores


@STRATEGIES.register_module()
class LocalizationTightnessStrategy(BaseStrategy):
    """Images whose boxes' localization and classification disagree most:
    localization tightness with classification (Kao et al.,
    "Localization-Aware Active Learning for Object Detection", ACCV 2018),
    for two-stage detectors.

    Reads ``outputs['tightness']``: an object array (or list) of length N
    whose element i is ``(n_i, 2)`` float (``n_i`` may be 0), one row per
    kept candidate box of image i (see ``scoring.tightness``): column 0 the
    tightness ``T = IoU(R, B)`` of the RPN proposal ``R`` and the box ``B``
    the RoI head refines it into, column 1 the box's classification
    confidence ``P = max_c p_c`` (background excluded); both in [0, 1].

    Per box, the paper's consistency of the two,

        J = |T + P - 1|   (n_i, ), in [0, 1],

    is near 1 when they agree (a tight box the head is sure of, T ~ P ~ 1;
    or a box the regression moves far that the head rejects, T ~ P ~ 0)
    and near 0 when they disagree (a box left in place but doubted, or one
    moved far yet scored high). The image's consistency is the ``reduction``
    of J over its boxes (the paper: ``min``, its least consistent box) and
    the paper labels the least consistent images first; here an image
    scores ``1 - reduction(J)`` (higher = less consistent = picked first,
    the paper's order). An image without boxes scores ``empty_score``.

    Args:
        reduction (str): ``'min'`` (the paper) or ``'mean'`` over the
            boxes' J. Defaults to ``'min'``.
        empty_score (float): Score of an image without kept boxes.
            Defaults to 0.0 (never preferred to an image with boxes).
        **kwargs: :class:`BaseStrategy` options.
    """

    requires = ('tightness', )
    reductions = ('min', 'mean')

    def __init__(self, reduction: str = 'min', empty_score: float = 0.0,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        if reduction not in self.reductions:
            raise ValueError(f'reduction must be one of {self.reductions}, '
                             f'got {reduction!r}')
        if not isinstance(empty_score, (int, float)) or isinstance(
                empty_score, bool):
            raise TypeError(
                f'empty_score must be a number, got {empty_score!r}')
        self.reduction = reduction
        self.empty_score = float(empty_score)

    @staticmethod
    def box_consistency(rows: np.ndarray) -> np.ndarray:
        """``J = |T + P - 1|`` ``(n, )`` of ``(n, 2)`` rows ``(T, P)``."""
        return np.abs(rows[:, 0] + rows[:, 1] - 1.0)

    def score(self, outputs):
        rows_of = outputs['tightness']
        reduce = getattr(np, self.reduction)
        scores = np.full(len(rows_of), self.empty_score, dtype=np.float64)
        for i, rows in enumerate(rows_of):
            rows = np.asarray(rows, dtype=np.float64)
            if rows.size == 0:
                continue
            if rows.ndim != 2 or rows.shape[1] != 2:
                raise ValueError(f'tightness[{i}] must be (num_boxes, 2) '
                                 f'(tightness, confidence), got shape '
                                 f'{rows.shape}')
            scores[i] = 1.0 - reduce(self.box_consistency(rows))
        return scores
