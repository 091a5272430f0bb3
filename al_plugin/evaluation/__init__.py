"""Metrics beyond mmdet's: FROC, and the per-class APs of an evaluation."""
from .classwise_voc_metric import ClasswiseVOCMetric
from .froc import (DEFAULT_FP_RATES, froc_curve, match_detections,
                   sensitivity_at)
from .froc_metric import FROCMetric
from .per_class import PER_CLASS_SUFFIX, per_class_ap

__all__ = [
    'ClasswiseVOCMetric', 'FROCMetric', 'DEFAULT_FP_RATES', 'froc_curve',
    'match_detections', 'PER_CLASS_SUFFIX', 'per_class_ap', 'sensitivity_at'
]
