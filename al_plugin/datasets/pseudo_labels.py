"""Pseudo annotations: boxes a model is sure of, for images nobody labeled.

Self-supervised sample mining (ASM) trains the next cycle on the labeled
images plus the certain detections of the unlabeled ones.  A
:class:`PseudoLabels` holds them for one cycle, keyed by global pool index,
checks them, and converts them to what checkpoints (tensors only, for
``weights_only``), json files and datasets (mmdet ``instances``) hold.
"""
from typing import Dict, Iterator, Mapping, Optional, Tuple

import numpy as np
import torch

Boxes = Tuple[np.ndarray, np.ndarray]  # (k, 4) float, (k, ) int64


class PseudoLabels(Mapping):
    """Global pool index -> ``(boxes (k, 4) float64, labels (k, ) int64)``.

    Boxes are ``(x1, y1, x2, y2)`` in the original image frame.

    Args:
        labels (Mapping[int, tuple], optional): index -> (boxes, labels).

    Raises:
        ValueError: An index is negative, or boxes / labels have the wrong
            shape or disagree in length (the message names the index).
    """

    def __init__(self, labels: Optional[Mapping[int, Boxes]] = None) -> None:
        self._labels: Dict[int, Boxes] = {}
        for index, (boxes, classes) in sorted((labels or {}).items()):
            index = int(index)
            boxes = np.asarray(boxes, dtype=np.float64)
            classes = np.asarray(classes, dtype=np.int64)
            if index < 0:
                raise ValueError(f'pseudo labels for index {index} < 0')
            if boxes.ndim != 2 or boxes.shape[1] != 4 or \
                    classes.shape != (len(boxes), ):
                raise ValueError(
                    f'pseudo labels of index {index}: boxes {boxes.shape} '
                    f'and labels {classes.shape}, expected (k, 4) and (k, )')
            self._labels[index] = (boxes, classes)

    def __getitem__(self, index: int) -> Boxes:
        return self._labels[int(index)]

    def __iter__(self) -> Iterator[int]:
        return iter(self._labels)

    def __len__(self) -> int:
        return len(self._labels)

    @property
    def num_boxes(self) -> int:
        return sum(len(labels) for _, labels in self._labels.values())

    def instances(self, index: int) -> list:
        """mmdet ``instances`` (``bbox``, ``bbox_label``, ``ignore_flag``)
        of one image, as a dataset's ``parse_data_info`` writes them."""
        boxes, labels = self[index]
        return [
            dict(bbox=box.tolist(), bbox_label=int(label), ignore_flag=0)
            for box, label in zip(boxes, labels)
        ]

    # -- conversions ----------------------------------------------------------
    def state_dict(self) -> dict:
        """Tensors only: ``indices`` ``(m, )``, ``counts`` ``(m, )``,
        ``boxes`` ``(sum counts, 4)`` float64, ``labels`` ``(sum counts,
        )``."""
        indices = list(self._labels)
        boxes = [self._labels[i][0] for i in indices]
        labels = [self._labels[i][1] for i in indices]
        return dict(
            indices=torch.tensor(indices, dtype=torch.int64),
            counts=torch.tensor([len(x) for x in labels], dtype=torch.int64),
            boxes=torch.from_numpy(
                np.concatenate(boxes) if boxes else np.zeros((0, 4))),
            labels=torch.from_numpy(
                np.concatenate(labels) if labels else np.zeros(0, np.int64)))

    @classmethod
    def from_state_dict(cls, state: Optional[dict]) -> 'PseudoLabels':
        """The inverse of :meth:`state_dict` (None -> empty)."""
        if not state:
            return cls()
        counts = state['counts'].tolist()
        ends = np.cumsum(counts)
        boxes = np.split(state['boxes'].numpy(), ends[:-1])
        labels = np.split(state['labels'].numpy(), ends[:-1])
        return cls({
            i: (b, lab)
            for i, b, lab in zip(state['indices'].tolist(), boxes, labels)
        })

    def to_json(self, img_ids, tags) -> list:
        """One record an image: ``index``, ``img_id``, ``tag``, ``bboxes``
        ``[[x1, y1, x2, y2], ...]`` and ``labels``."""
        return [
            dict(
                index=i,
                img_id=img_ids[i],
                tag=tags[i],
                bboxes=boxes.tolist(),
                labels=labels.tolist())
            for i, (boxes, labels) in self._labels.items()
        ]
