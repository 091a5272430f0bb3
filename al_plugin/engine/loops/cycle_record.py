"""The record of an evaluated cycle, one entry of ``results.json``."""
from typing import Optional, Tuple

import numpy as np

from al_plugin.analysis import count_boxes
from al_plugin.utils import to_float


class CycleRecorder:
    """Build the record of an evaluated cycle from the splitter's sets and
    the evaluation's metrics.

    A record holds ``cycle``, ``num_labeled`` (|X_L|),
    ``num_labeled_boxes`` (the annotation cost of X_L in boxes: every
    annotated box of its images, ignored ones included),
    ``num_labeled_ignored_boxes`` (those of them flagged ``ignore_flag``,
    VOC ``difficult`` / COCO ``iscrowd``, which an annotator draws but
    training and evaluation leave out), ``num_pseudo_labeled`` (pool images
    trained on with the model's boxes; their boxes are not counted),
    ``num_pool``, ``strategy`` and ``metrics`` (name -> JSON number).

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

    def record(self, cycle: int, strategy: Optional[str],
               metrics: dict) -> dict:
        """The record of ``cycle``, evaluated with ``metrics``, its X_L
        selected by ``strategy`` (the name, None before any selection)."""
        boxes, ignored = self.labeled_boxes()
        return dict(
            cycle=cycle,
            num_labeled=len(self.splitter.labeled_indices()),
            num_labeled_boxes=boxes,
            num_labeled_ignored_boxes=ignored,
            num_pseudo_labeled=len(self.splitter.pseudo_labels()),
            num_pool=len(self.splitter.pool_indices()),
            strategy=strategy,
            metrics={k: to_float(v)
                     for k, v in metrics.items()})

    def labeled_boxes(self) -> Tuple[int, int]:
        """The annotation cost of X_L in boxes: all annotated boxes of its
        images, and those of them flagged ignored (VOC ``difficult``, COCO
        ``iscrowd``), as the pool's data infos list them (see
        :func:`al_plugin.analysis.count_boxes`), counted once per image.
        Pseudo labels are not counted."""
        labeled = self.splitter.labeled_indices()
        todo = labeled[self._box_counts[labeled, 0] < 0]
        if len(todo):
            self._box_counts[todo] = count_boxes(self.pool, todo)
        boxes, ignored = self._box_counts[labeled].sum(axis=0)
        return int(boxes), int(ignored)
