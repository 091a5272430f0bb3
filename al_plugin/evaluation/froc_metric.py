"""FROC as an mmengine metric, for ``val_evaluator`` / ``test_evaluator``."""
from numbers import Real
from typing import Optional, Sequence

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger
from mmdet.registry import METRICS

from .froc import (DEFAULT_FP_RATES, froc_curve, match_detections,
                   sensitivity_at)


def _numpy(instances: Optional[dict], key: str, shape_tail=()):
    """``instances[key]`` as numpy; empty when absent."""
    value = (instances or {}).get(key)
    if value is None:
        return np.zeros((0, ) + tuple(shape_tail))
    if hasattr(value, 'cpu'):
        value = value.cpu().numpy()
    return np.asarray(value)


@METRICS.register_module()
class FROCMetric(BaseMetric):
    """Free-response ROC: the sensitivity (object-level recall) a detector
    reaches at a few rates of false positives per image, and their mean.

    Definition (see :mod:`al_plugin.evaluation.froc`): per image, each
    detection, in descending score order, finds the not yet found object
    with the highest IoU >= ``iou_thr`` (of its class unless
    ``class_agnostic``), or is a false positive (a second detection of a
    found object too); one covering an ignored object (VOC ``difficult``,
    COCO ``iscrowd``) counts as neither, and ignored objects are not to be
    found. Lowering the score threshold over all images traces the curve
    ``(FPs / num_images, found objects / num_objects)``; at a rate ``f``
    the sensitivity is that of the lowest threshold with at most
    ``f * num_images`` false positives (equal scores enter together; no
    interpolation), or the last point's when the detector never makes that
    many. Images without objects count in ``num_images``: their detections
    are false positives.

    Keys (under the prefix, ``froc/`` by default): ``mean_sensitivity``
    first (the headline: the mean over ``fp_rates``, as LUNA16's CPM with
    its default rates), then ``sensitivity@<rate>`` per rate
    (``sensitivity@0.125`` ... ``sensitivity@8``).

    Reads per data sample (as mmdet's detectors return them):
    ``pred_instances`` with ``bboxes`` (k, 4), ``scores`` (k, ),
    ``labels`` (k, ); ``gt_instances`` with ``bboxes`` (m, 4) and
    ``labels`` (m, ) in the same (original image) coordinates, and
    ``ignored_instances`` alike when the pipeline gives them.

    Args:
        iou_thr (float): The IoU from which a detection finds an object,
            in (0, 1]. Defaults to 0.5.
        fp_rates (Sequence[float]): False positives per image to read the
            curve at, each > 0. Defaults to 1/8, 1/4, 1/2, 1, 2, 4, 8.
        class_agnostic (bool): Match detections to objects of any class
            (one-class lesion detection reads the same either way).
            Defaults to False.
        collect_device (str): ``'cpu'`` or ``'gpu'``, to gather results
            across ranks. Defaults to ``'cpu'``.
        prefix (str, optional): The key prefix. Defaults to ``'froc'``.

    Example:
        >>> val_evaluator = [
        ...     dict(type='VOCMetric', metric='mAP', eval_mode='11points'),
        ...     dict(type='FROCMetric', iou_thr=0.5)]
    """

    default_prefix: Optional[str] = 'froc'

    def __init__(self,
                 iou_thr: float = 0.5,
                 fp_rates: Sequence[float] = DEFAULT_FP_RATES,
                 class_agnostic: bool = False,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if isinstance(iou_thr, bool) or not isinstance(iou_thr, Real) or \
                not 0 < iou_thr <= 1:
            raise ValueError(f'FROCMetric.iou_thr must be a number in '
                             f'(0, 1], got {iou_thr!r}')
        if isinstance(fp_rates, (str, bytes)) or not fp_rates or not all(
                isinstance(r, Real) and not isinstance(r, bool) and r > 0
                for r in fp_rates):
            raise ValueError(f'FROCMetric.fp_rates must be a non-empty '
                             f'list of numbers > 0, got {fp_rates!r}')
        self.iou_thr = float(iou_thr)
        self.fp_rates = tuple(float(r) for r in fp_rates)
        self.class_agnostic = class_agnostic

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        """Match each image's detections (see :func:`match_detections`)
        and keep per image ``(scores (k, ), outcomes (k, ), num_objects)``.
        """
        for sample in data_samples:
            pred, gt = sample['pred_instances'], sample['gt_instances']
            ignored = sample.get('ignored_instances')
            gt_bboxes = np.concatenate([
                _numpy(gt, 'bboxes', (4, )).reshape(-1, 4),
                _numpy(ignored, 'bboxes', (4, )).reshape(-1, 4)
            ])
            gt_labels = np.concatenate(
                [_numpy(gt, 'labels'), _numpy(ignored, 'labels')])
            gt_ignore = np.arange(len(gt_bboxes)) >= len(
                _numpy(gt, 'labels'))
            scores = _numpy(pred, 'scores')
            labels = dict(det_labels=_numpy(pred, 'labels'),
                          gt_labels=gt_labels)
            outcomes = match_detections(
                _numpy(pred, 'bboxes', (4, )), scores, gt_bboxes,
                self.iou_thr, gt_ignore=gt_ignore,
                **({} if self.class_agnostic else labels))
            self.results.append(
                (scores.astype(np.float64), outcomes,
                 int((~gt_ignore).sum())))

    def compute_metrics(self, results: list) -> dict:
        """The sensitivities of all processed images.

        Raises:
            ValueError: If no image has an object to find.
        """
        num_objects = sum(r[2] for r in results)
        if num_objects == 0:
            raise ValueError(
                f'FROCMetric: none of the {len(results)} evaluated images '
                'has an object to find (ignored ones left out): the '
                'sensitivity is undefined')
        fp_per_image, sensitivity = froc_curve(
            np.concatenate([r[0] for r in results]),
            np.concatenate([r[1] for r in results]), num_objects,
            len(results))
        values = sensitivity_at(fp_per_image, sensitivity, self.fp_rates)
        metrics = dict(mean_sensitivity=float(values.mean()))
        metrics.update({
            f'sensitivity@{rate:g}': float(value)
            for rate, value in zip(self.fp_rates, values)
        })
        MMLogger.get_current_instance().info(
            f'FROC over {len(results)} images, {num_objects} objects '
            f'(IoU >= {self.iou_thr:g}): ' +
            ', '.join(f'{k}: {v:.4f}' for k, v in metrics.items()))
        return metrics
