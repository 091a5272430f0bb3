"""The record of an evaluated cycle, one entry of ``results.json``."""
from typing import List, Optional, Tuple

import numpy as np

from al_plugin.evaluation.analysis import count_boxes
from al_plugin.utils import to_float


class CycleRecorder:
    """Build the record of an evaluated cycle from the splitter's sets, what
    the cycle trained on and the evaluation's metrics.

    A record holds ``cycle``, ``num_labeled`` (|X_L|),
    ``num_labeled_boxes`` (the annotation cost of X_L in boxes: every
    annotated box of its images, ignored ones included),
    ``num_labeled_ignored_boxes`` (those of them flagged ``ignore_flag``,
    VOC ``difficult`` / COCO ``iscrowd``, which an annotator draws but
    training and evaluation leave out), ``num_pseudo_labeled`` (pool images
    trained on with the model's boxes), ``num_pseudo_boxes`` (those
    model-made boxes), ``num_human_boxes`` (the annotated boxes of the X_L
    images the cycle trained on: all of X_L but in a sampled ``'v1'`` /
    ``'v1+'`` round), ``sl_al_ratio`` (``num_pseudo_boxes /
    num_human_boxes``, ASM's SL/AL ratio: 0 without pseudo labels, None
    without human boxes), ``num_pool``, ``strategy`` and ``metrics``
    (name -> JSON number).

    Args:
        pool (Dataset): The whole pool (global index = position in it).
        splitter (ActiveDatasetSplitter): Its split, set up.
    """

    def __init__(self, pool, splitter) -> None:
        self.pool = pool
        self.splitter = splitter
        # per pool image: (boxes, ignored boxes among them), -1 until
        # counted; shape (N, 2)
        self._box_counts = np.full((splitter.pool_size, 2), -1,
                                   dtype=np.int64)

    def record(self, cycle: int, strategy: Optional[str], metrics: dict,
               training_set=None) -> dict:
        """The record of ``cycle``, evaluated with ``metrics``, its X_L
        selected by ``strategy`` (the name, None before any selection),
        trained on ``training_set`` (a ``pseudo_labeling.TrainingSet``;
        None: X_L)."""
        labeled = self.splitter.labeled_indices()
        boxes, ignored = self.boxes_of(labeled)
        human, pseudo, num_pseudo = boxes, 0, 0
        if training_set is not None:
            human = self.boxes_of(training_set.labeled)[0]
            pseudo = training_set.pseudo_labels.num_boxes
            num_pseudo = len(training_set.pseudo_labels)
        ratio = pseudo / human if human else (None if pseudo else 0.0)
        return dict(
            cycle=cycle,
            num_labeled=len(labeled),
            num_labeled_boxes=boxes,
            num_labeled_ignored_boxes=ignored,
            num_pseudo_labeled=num_pseudo,
            num_pseudo_boxes=pseudo,
            num_human_boxes=human,
            sl_al_ratio=ratio,
            num_pool=len(self.splitter.pool_indices()),
            strategy=strategy,
            metrics={k: to_float(v)
                     for k, v in metrics.items()})

    def boxes_of(self, indices: np.ndarray) -> Tuple[int, int]:
        """The annotation cost of the pool images ``indices`` ``(n, )`` in
        boxes: all annotated boxes of their images, and those of them
        flagged ignored (VOC ``difficult``, COCO ``iscrowd``), as the pool's
        data infos list them (see
        :func:`al_plugin.evaluation.analysis.count_boxes`),
        counted once per image. Pseudo labels are not counted."""
        indices = np.asarray(indices, dtype=np.int64)
        todo = indices[self._box_counts[indices, 0] < 0]
        if len(todo):
            self._box_counts[todo] = count_boxes(self.pool, todo)
        boxes, ignored = self._box_counts[indices].sum(axis=0)
        return int(boxes), int(ignored)


def summary_lines(record: dict, sl_al: bool = False) -> List[str]:
    """The log lines of a cycle's record: ``'cycle 1 done: 12 labeled,
    pascal_voc/mAP: 0.1234, ...'`` and, with ``sl_al`` or when it trained
    on pseudo labels, ``'cycle 1: SL/AL ratio 0.8333: 150 model-made boxes
    on 20 pseudo-labeled images, 180 human-made boxes'``."""
    lines = [
        f'cycle {record["cycle"]} done: {record["num_labeled"]} labeled, ' +
        ', '.join(f'{k}: {v:.4f}' for k, v in record['metrics'].items()
                  if isinstance(v, float))
    ]
    if sl_al or record.get('num_pseudo_labeled'):
        ratio = record.get('sl_al_ratio')
        lines.append(
            f'cycle {record["cycle"]}: SL/AL ratio '
            + ('n/a' if ratio is None else f'{ratio:.4f}')
            + f': {record["num_pseudo_boxes"]} model-made boxes on '
            f'{record["num_pseudo_labeled"]} pseudo-labeled images, '
            f'{record["num_human_boxes"]} human-made boxes')
    return lines
