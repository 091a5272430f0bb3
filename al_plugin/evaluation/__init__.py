"""Evaluation: of one cycle's detections and of a whole active-learning run.

- metrics beyond mmdet's, registered in mmdet's ``METRICS``:
  :class:`ClasswiseVOCMetric` (VOC mAP with per-class APs) and
  :class:`FROCMetric` (:mod:`.froc`: sensitivity at false positives per
  image); :func:`per_class_ap` reads the per-class APs of an evaluation;
- a run's results: :mod:`.analysis` (box counts, split summaries, the pool
  check, cycle diffs of a work dir) and :mod:`.curves` (learning curves
  over seeds, paired differences, the labeled fraction to reach a mAP).

Importing this package imports none of its modules: a name below is
imported on first use (``from al_plugin.evaluation import FROCMetric``),
so the run analyses stay pure numpy while the metrics cost mmdet. The
registration (:mod:`al_plugin.registration`) imports the metric modules.
"""
import importlib

#: public name -> the module of this package that defines it
EXPORTS = {
    'ClasswiseVOCMetric': 'classwise_voc_metric',
    'FROCMetric': 'froc_metric',
    'DEFAULT_FP_RATES': 'froc',
    'froc_curve': 'froc',
    'match_detections': 'froc',
    'sensitivity_at': 'froc',
    'PER_CLASS_SUFFIX': 'per_class',
    'per_class_ap': 'per_class',
}


def __getattr__(name: str):
    if name in EXPORTS:
        module = importlib.import_module(f'{__name__}.{EXPORTS[name]}')
        return getattr(module, name)
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')


__all__ = list(EXPORTS)
