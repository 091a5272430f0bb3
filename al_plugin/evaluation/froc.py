"""The free-response ROC (FROC) curve of a detector, in numpy.

FROC measures object-level (lesion-level) recall against the false positives
a reader would see per image: lowering the score threshold finds more
objects and shows more false boxes; the curve is (false positives per image,
sensitivity) over all thresholds. Three steps, each a function:

1. :func:`match_detections`: per image, which detections find an object
   (true positive), which are false positives, and which are left out
   (they cover an object flagged ignored);
2. :func:`froc_curve`: over all images, every operating point;
3. :func:`sensitivity_at`: the curve read at given false-positive rates.
"""
from typing import Optional, Sequence, Tuple

import numpy as np
from mmdet.evaluation.functional import bbox_overlaps

#: outcomes of a detection (:func:`match_detections`)
TRUE_POSITIVE, FALSE_POSITIVE, IGNORED = 1, 0, -1
#: the false-positive rates of the usual FROC summary (1/8 ... 8 per image)
DEFAULT_FP_RATES = (0.125, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0)


def match_detections(det_bboxes: np.ndarray,
                     det_scores: np.ndarray,
                     gt_bboxes: np.ndarray,
                     iou_thr: float = 0.5,
                     det_labels: Optional[np.ndarray] = None,
                     gt_labels: Optional[np.ndarray] = None,
                     gt_ignore: Optional[np.ndarray] = None) -> np.ndarray:
    """The outcome of every detection of one image.

    Detections are taken in descending score order (ties: in the given
    order); each finds the not yet found object with the highest IoU among
    those with IoU >= ``iou_thr`` (and, with labels, the same label): a
    true positive. A detection that finds none is ignored when it covers an
    ignored object (IoU >= ``iou_thr``, e.g. VOC ``difficult``), else a
    false positive, a second detection of a found object included (as in
    VOC). A detection's outcome does not depend on the detections below
    it, so one pass gives the outcomes at every score threshold.

    Args:
        det_bboxes (np.ndarray): Detected boxes (x1, y1, x2, y2), shape
            (k, 4).
        det_scores (np.ndarray): Their scores, shape (k, ).
        gt_bboxes (np.ndarray): Ground-truth boxes, shape (m, 4).
        iou_thr (float): The IoU from which a detection finds an object.
            Defaults to 0.5.
        det_labels, gt_labels (np.ndarray, optional): Class labels, shapes
            (k, ) and (m, ); None (both) to match regardless of class.
        gt_ignore (np.ndarray, optional): bool, shape (m, ): objects that
            are neither to be found nor false when found. Defaults to none.

    Returns:
        np.ndarray: int64, shape (k, ): :data:`TRUE_POSITIVE` (1),
        :data:`FALSE_POSITIVE` (0) or :data:`IGNORED` (-1) per detection.
    """
    det_bboxes = np.asarray(det_bboxes, dtype=np.float64).reshape(-1, 4)
    gt_bboxes = np.asarray(gt_bboxes, dtype=np.float64).reshape(-1, 4)
    num_dets, num_gts = len(det_bboxes), len(gt_bboxes)
    if np.shape(det_scores) != (num_dets, ):
        raise ValueError(f'det_scores has shape {np.shape(det_scores)}, '
                         f'expected ({num_dets}, ), one per box')
    if (det_labels is None) != (gt_labels is None):
        raise ValueError('give both det_labels and gt_labels, or neither')
    ignore = np.zeros(num_gts, dtype=bool) if gt_ignore is None \
        else np.asarray(gt_ignore, dtype=bool).reshape(num_gts)
    outcomes = np.full(num_dets, FALSE_POSITIVE, dtype=np.int64)
    if num_dets == 0 or num_gts == 0:
        return outcomes
    ious = bbox_overlaps(det_bboxes, gt_bboxes)  # (k, m)
    covers = ious >= iou_thr  # (k, m): detection i may find object j
    if det_labels is not None:
        covers &= np.asarray(det_labels).reshape(-1, 1) == \
            np.asarray(gt_labels).reshape(1, -1)
    found = np.zeros(num_gts, dtype=bool)
    for i in np.argsort(-np.asarray(det_scores), kind='stable'):
        candidates = covers[i] & ~ignore & ~found
        if candidates.any():
            found[np.argmax(np.where(candidates, ious[i], -1.0))] = True
            outcomes[i] = TRUE_POSITIVE
        elif (covers[i] & ignore).any():
            outcomes[i] = IGNORED
    return outcomes


def froc_curve(scores: np.ndarray, outcomes: np.ndarray, num_objects: int,
               num_images: int) -> Tuple[np.ndarray, np.ndarray]:
    """Every operating point of a detector on a set of images.

    Args:
        scores (np.ndarray): The scores of all detections of all images,
            shape (n, ).
        outcomes (np.ndarray): Their outcomes (:func:`match_detections`),
            shape (n, ); ignored ones are left out.
        num_objects (int): The objects to find (not ignored), > 0.
        num_images (int): The images evaluated, > 0; those without objects
            or detections count.

    Returns:
        tuple[np.ndarray, np.ndarray]: ``fp_per_image`` and
        ``sensitivity``, float64, shape (t + 1, ): one point per distinct
        score threshold (detections with equal scores enter together),
        highest first, after the point (0, 0) of no detection; both
        non-decreasing.
    """
    if num_objects <= 0 or num_images <= 0:
        raise ValueError(f'num_objects ({num_objects}) and num_images '
                         f'({num_images}) must be > 0')
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    outcomes = np.asarray(outcomes).reshape(-1)
    if scores.shape != outcomes.shape:
        raise ValueError(f'scores {scores.shape} and outcomes '
                         f'{outcomes.shape} differ in shape')
    kept = outcomes != IGNORED
    scores, outcomes = scores[kept], outcomes[kept]
    order = np.argsort(-scores, kind='stable')
    scores, outcomes = scores[order], outcomes[order]
    true_pos = np.cumsum(outcomes == TRUE_POSITIVE)
    false_pos = np.cumsum(outcomes == FALSE_POSITIVE)
    # the last detection of each run of equal scores: a threshold keeps
    # all of them or none
    last = np.flatnonzero(np.append(np.diff(scores) != 0, True)) \
        if len(scores) else np.zeros(0, dtype=np.int64)
    fp_per_image = np.concatenate([[0.], false_pos[last] / num_images])
    sensitivity = np.concatenate([[0.], true_pos[last] / num_objects])
    return fp_per_image, sensitivity


def sensitivity_at(fp_per_image: np.ndarray, sensitivity: np.ndarray,
                   fp_rates: Sequence[float]) -> np.ndarray:
    """The sensitivity at each of ``fp_rates`` false positives per image:
    the highest one of an operating point with at most that many (no
    interpolation); the last point's when the detector never makes that
    many false positives.

    Args:
        fp_per_image, sensitivity (np.ndarray): The curve of
            :func:`froc_curve`, shapes (t + 1, ).
        fp_rates (Sequence[float]): False positives per image, each > 0.

    Returns:
        np.ndarray: float64, shape (len(fp_rates), ).
    """
    rates = np.asarray(fp_rates, dtype=np.float64)
    # a rate computed as FPs / images meets the same written as a decimal
    last = np.searchsorted(fp_per_image, rates * (1 + 1e-9), side='right')
    return sensitivity[last - 1]
