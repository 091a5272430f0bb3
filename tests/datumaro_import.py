"""Import data sets with datumaro (CVAT's dataset library) and report them.

Run with the python of a venv that holds ``datumaro`` (it pins its own
dependencies, so it lives outside the project's venv; see
``tests/test_datumaro.py``). It imports nothing from ``al_plugin``.

Each ``FORMAT=PATH`` argument is imported with
``datumaro.Dataset.import_from(PATH, FORMAT)`` under datumaro's failing
error policy; every annotation is read and every image path checked. The
report, one JSON object on stdout, holds per argument::

    {"format": ..., "path": ..., "images": int, "labels": [names],
     "boxes": int, "boxes_per_label": {name: int}, "other_annotations": int,
     "missing_images": [paths], "warnings": [messages], "error": str|null}

``warnings`` collects Python warnings and log records of level WARNING or
above emitted while importing and reading. The exit status is 1 when any
import has an error, a warning, a missing image or an annotation that is not
a box, else 0.

Example:
    python tests/datumaro_import.py voc=data/digits_det/VOCdevkit/DIGITS2007
"""
import json
import logging
import os.path as osp
import sys
import traceback
import warnings
from collections import Counter
from typing import List


class _Collect(logging.Handler):
    """Keep the message of every record of level WARNING or above."""

    def __init__(self, messages: List[str]):
        super().__init__(logging.WARNING)
        self.messages = messages

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(
            f'log {record.levelname} {record.name}: {record.getMessage()}')


def import_one(fmt: str, path: str) -> dict:
    """Import ``path`` as ``fmt`` and describe what datumaro read.

    Returns:
        dict: The report entry of the argument (see the module docstring).
    """
    from datumaro.components.annotation import AnnotationType
    from datumaro.components.dataset import Dataset
    from datumaro.components.importer import FailingImportErrorPolicy

    messages: List[str] = []
    report = dict(format=fmt, path=path, images=0, labels=[], boxes=0,
                  boxes_per_label={}, other_annotations=0,
                  missing_images=[], warnings=messages, error=None)
    handler = _Collect(messages)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter('always')
            try:
                dataset = Dataset.import_from(
                    path, fmt, error_policy=FailingImportErrorPolicy())
                labels = dataset.categories()[AnnotationType.label]
                report['labels'] = [label.name for label in labels]
                per_label = Counter()
                for item in dataset:
                    report['images'] += 1
                    media_path = getattr(item.media, 'path', None)
                    if not media_path or not osp.isfile(media_path):
                        report['missing_images'].append(str(media_path))
                    for ann in item.annotations:
                        if ann.type == AnnotationType.bbox:
                            per_label[labels[ann.label].name] += 1
                        else:
                            report['other_annotations'] += 1
                report['boxes'] = sum(per_label.values())
                report['boxes_per_label'] = dict(sorted(per_label.items()))
            except Exception:  # noqa: BLE001 - reported, exit status 1
                report['error'] = traceback.format_exc(limit=5)
        messages.extend(f'warning {w.category.__name__}: {w.message}'
                        for w in caught)
    finally:
        root.removeHandler(handler)
    return report


def failed(report: dict) -> bool:
    """Whether an import entry breaks the 'no error, no warning' rule."""
    return bool(report['error'] or report['warnings']
                or report['missing_images'] or report['other_annotations'])


def main(argv: List[str]) -> int:
    """Import every ``FORMAT=PATH`` of ``argv``; print the JSON report."""
    if not argv or any('=' not in arg for arg in argv):
        print('usage: datumaro_import.py FORMAT=PATH [FORMAT=PATH ...]',
              file=sys.stderr)
        return 2
    # datumaro logs progress at INFO; keep stdout for the report alone
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    reports = [import_one(*arg.split('=', 1)) for arg in argv]
    print(json.dumps(reports, indent=1))
    return int(any(failed(r) for r in reports))


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
