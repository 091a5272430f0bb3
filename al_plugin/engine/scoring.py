"""Per-image outputs of a detector, computed for the selection strategies.

A strategy lists in ``requires`` the names of :data:`OUTPUTS` it reads.  For
each pool batch the scorer makes one :class:`PoolBatch`, which runs the
backbone and neck once and caches what several outputs share (features,
detections); each output function turns it into one row per image.  What an
output needs from the detector goes through the model's
:class:`~al_plugin.models.OutputAdapter`, so the same outputs come from
one-stage and two-stage detectors.

The ``flip_*`` outputs need a second pass over the horizontally flipped
images; nothing else does.
"""
from functools import cached_property
from typing import Callable, Dict, List, Sequence

import numpy as np
import torch
from mmengine.structures import InstanceData
from torch import Tensor

from al_plugin.models import OutputAdapter


def flip_inputs(inputs: Tensor, samples) -> Tensor:
    """Flip every image of a padded batch horizontally inside its own
    ``img_shape`` (the padding stays bottom / right), so detections on the
    flipped batch use the same image frame.

    Args:
        inputs (Tensor): ``(N, 3, H, W)``, image i in ``[:h_i, :w_i]``.
        samples (list[DetDataSample]): With ``img_shape`` ``(h_i, w_i)``.

    Returns:
        Tensor: ``(N, 3, H, W)``.
    """
    flipped = inputs.clone()
    for i, sample in enumerate(samples):
        h, w = sample.img_shape[:2]
        flipped[i, :, :h, :w] = inputs[i, :, :h, :w].flip(-1)
    return flipped


def unflip_boxes(boxes: Tensor, width: float) -> Tensor:
    """Map ``(n, 4)`` x1, y1, x2, y2 boxes of an image flipped horizontally
    (of width ``width``) back to the unflipped image."""
    out = boxes.clone()
    out[:, 0] = width - boxes[:, 2]
    out[:, 2] = width - boxes[:, 0]
    return out


class PoolBatch:
    """One batch of pool images and the forward results outputs share, each
    computed at most once.

    Args:
        adapter (OutputAdapter): The model's output adapter.
        inputs (Tensor): Preprocessed images ``(N, 3, H, W)``.
        samples (list[DetDataSample]): Their data samples (meta info).
    """

    def __init__(self, adapter: OutputAdapter, inputs: Tensor,
                 samples) -> None:
        self.adapter = adapter
        self.inputs = inputs
        self.samples = samples

    def __len__(self) -> int:
        return len(self.samples)

    @cached_property
    def feats(self):
        """Neck features, per level ``(N, C_l, H_l, W_l)``."""
        return self.adapter.extract_feat(self.inputs)

    @cached_property
    def detections(self) -> List[InstanceData]:
        """Final detections in the original image frame."""
        return self.adapter.detections(self.feats, self.samples, rescale=True)

    @cached_property
    def flip_detections(self) -> List[InstanceData]:
        """Detections on the flipped images, mapped back to the original
        image frame (``ori_shape``)."""
        flipped = flip_inputs(self.inputs, self.samples)
        results = self.adapter.detections(
            self.adapter.extract_feat(flipped), self.samples, rescale=True)
        for result, sample in zip(results, self.samples):
            result.bboxes = unflip_boxes(result.bboxes, sample.ori_shape[1])
        return results


def _rows(values: Sequence[Tensor]) -> np.ndarray:
    """Per-image tensors as an object array of float32 / int64 arrays."""
    out = np.empty(len(values), dtype=object)
    for i, value in enumerate(values):
        value = value.detach().cpu()
        out[i] = value.numpy().astype(
            np.float32 if value.is_floating_point() else np.int64)
    return out


def instance_uncertainty(batch: PoolBatch, k: int = 10000,
                         **_) -> np.ndarray:
    """MI-AOD's image uncertainty, ``(N, )``: the head's top-k mean of
    ``mean_c((p1 - p2)^2)``; no box decoding, no NMS."""
    return batch.adapter.instance_uncertainty(batch.feats,
                                              k=k).cpu().numpy()


def features(batch: PoolBatch, **_) -> np.ndarray:
    """Pooled neck features, ``(N, sum of level channels)`` float32."""
    return batch.adapter.pooled_features(batch.feats).float().cpu().numpy()


def class_probs(batch: PoolBatch,
                max_boxes: int = 100,
                box_score_thr: float = 0.05,
                **_) -> np.ndarray:
    """Class probabilities of each image's most confident candidate boxes.

    Per image the ``max_boxes`` candidates (anchors of a dense head,
    proposals of a two-stage one) with the highest class probability, those
    below ``box_score_thr`` dropped, most confident first.

    Returns:
        np.ndarray: object array ``(N, )``; element i is ``(n_i, C)``
        float32 with ``0 <= n_i <= max_boxes``.
    """
    kept = []
    for probs in batch.adapter.box_class_probs(batch.feats, batch.samples):
        top = probs.max(dim=1).values
        order = top.argsort(descending=True)[:max_boxes]
        kept.append(probs[order[top[order] >= box_score_thr]].float())
    return _rows(kept)


def _detection_output(source: str, field: str) -> Callable:

    def output(batch: PoolBatch, **_) -> np.ndarray:
        return _rows([getattr(r, field) for r in getattr(batch, source)])

    output.__name__ = f'{source}_{field}'
    output.__doc__ = (f'``{field}`` of the {source.replace("_", " ")} '
                      '(``test_cfg``), original image frame; object array '
                      '``(N, )`` of ``(n_i, ...)`` arrays.')
    return output


#: output name -> function of a :class:`PoolBatch`; what a strategy may list
#: in ``requires``
OUTPUTS: Dict[str, Callable] = {
    'instance_uncertainty': instance_uncertainty,
    'features': features,
    'class_probs': class_probs,
    **{
        f'{prefix}_{key}': _detection_output(source, field)
        for prefix, source in (('det', 'detections'),
                               ('flip', 'flip_detections'))
        for key, field in (('boxes', 'bboxes'), ('scores', 'scores'),
                           ('labels', 'labels'))
    },
}


@torch.no_grad()
def compute_outputs(adapter: OutputAdapter, inputs: Tensor, samples,
                    names: List[str],
                    scorer_cfg: dict) -> Dict[str, np.ndarray]:
    """The named outputs of one batch, from one backbone and neck pass (two
    when a ``flip_*`` output is named).

    Args:
        adapter (OutputAdapter): The model's output adapter.
        inputs (Tensor): ``(N, 3, H, W)``, already preprocessed.
        samples (list[DetDataSample]): The batch's data samples.
        names (list[str]): Keys of :data:`OUTPUTS`.
        scorer_cfg (dict): Keyword options; each function takes its own.

    Returns:
        dict[str, np.ndarray]: name -> rows, one per image.
    """
    batch = PoolBatch(adapter, inputs, samples)
    return {name: OUTPUTS[name](batch, **scorer_cfg) for name in names}
