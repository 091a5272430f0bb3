"""The per-class APs among an evaluation's flat metrics, by class name."""
import math
import re
from typing import Dict, Optional, Sequence

#: the suffix of a per-class key: ``AP50`` (ClasswiseVOCMetric, the IoU
#: threshold in percent) or ``precision`` (``CocoMetric(classwise=True)``:
#: the class's AP over IoU 0.5:0.95)
PER_CLASS_SUFFIX = re.compile(r'^(AP\d\d|precision)$')


def per_class_ap(metrics: dict, classes: Sequence[str]
                 ) -> Dict[str, Dict[str, Optional[float]]]:
    """Gather the per-class keys of ``metrics`` into one table per family.

    A per-class key is ``<prefix>/<class>_<suffix>`` with a class of
    ``classes`` and a suffix of :data:`PER_CLASS_SUFFIX`
    (``pascal_voc/dog_AP50``, ``coco/dog_precision``); its family is
    ``<prefix>/<suffix>`` (``pascal_voc/AP50``, ``coco/precision``).

    Args:
        metrics (dict): An evaluation's results, name -> value.
        classes (Sequence[str]): The evaluated set's class names, in order.

    Returns:
        dict[str, dict[str, float | None]]: Family -> class name -> AP, in
        the order of ``classes``: every class, None for one without a
        value (no ground truth in the evaluated set, NaN). Empty when no
        key is per-class.
    """
    names = set(classes)
    found = {}
    for key, value in metrics.items():
        prefix, _, name = key.rpartition('/')
        name, _, suffix = name.rpartition('_')
        if name in names and PER_CLASS_SUFFIX.match(suffix):
            family = f'{prefix}/{suffix}' if prefix else suffix
            found.setdefault(family, {})[name] = value
    return {
        family: {
            name: _number(values.get(name))
            for name in classes
        }
        for family, values in found.items()
    }


def _number(value) -> Optional[float]:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(value) else value
