"""Localization stability under a horizontal flip."""
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
