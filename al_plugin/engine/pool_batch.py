"""A batch of pool images forwarded in groups of one own padded shape.

A :class:`PoolBatch` splits a preprocessed batch into :class:`ImageGroup`
s of images whose ``img_shape`` rounds up (to the data preprocessor's
``pad_size_divisor``) to the same padded shape, exactly the input an image
gets alone in a batch, and cuts each group's inputs to that shape. Each
group runs the backbone and neck once and caches what several outputs of
:mod:`al_plugin.engine.scoring` share (features, detections, detections
on the flipped images). So an image's outputs are the same whatever
images share its batch: those of a batch of one.
"""
import math
from functools import cached_property
from typing import Callable, Dict, List, Sequence, Tuple

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


def padded_shape(img_shape, divisor: int) -> Tuple[int, int]:
    """``(H, W)``: ``img_shape`` ``(h, w, ...)`` rounded up to multiples of
    ``divisor``, the input shape the data preprocessor gives an image that
    is alone in its batch."""
    h, w = img_shape[:2]
    return (int(math.ceil(h / divisor) * divisor),
            int(math.ceil(w / divisor) * divisor))


class ImageGroup:
    """Images of a batch that share one padded input shape, and the forward
    results the outputs share, each computed at most once.

    Args:
        adapter (OutputAdapter): The model's output adapter.
        positions (list[int]): The images' positions in the pool batch.
        inputs (Tensor): ``(n, 3, H, W)``, image i in ``[:h_i, :w_i]``,
            zero padding (the preprocessor's) elsewhere.
        samples (list[DetDataSample]): Their data samples, whose
            ``batch_input_shape`` and ``pad_shape`` are ``(H, W)``.
    """

    def __init__(self, adapter: OutputAdapter, positions: List[int],
                 inputs: Tensor, samples) -> None:
        self.adapter = adapter
        self.positions = positions
        self.inputs = inputs
        self.samples = samples

    @cached_property
    def feats(self) -> Tuple[Tensor]:
        """Neck features, per level ``(n, C_l, H_l, W_l)``."""
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


class PoolBatch:
    """One batch of pool images, forwarded as :attr:`groups` of images with
    the same own padded shape (:func:`padded_shape` of ``img_shape`` and the
    adapter's ``pad_size_divisor``, at most the batch's), one backbone and
    neck pass a group.

    Args:
        adapter (OutputAdapter): The model's output adapter.
        inputs (Tensor): Preprocessed images ``(N, 3, H, W)``, padded to
            the batch's largest.
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
    def groups(self) -> List[ImageGroup]:
        """The images by own padded shape, in order of first appearance;
        each group's inputs are cut from the batch to that shape."""
        divisor = self.adapter.pad_size_divisor
        height, width = self.inputs.shape[-2:]
        by_shape: Dict[Tuple[int, int], List[int]] = {}
        for i, sample in enumerate(self.samples):
            h, w = padded_shape(sample.img_shape, divisor)
            by_shape.setdefault((min(h, height), min(w, width)), []).append(i)
        groups = []
        for (h, w), positions in by_shape.items():
            if len(positions) == len(self) and (h, w) == (height, width):
                inputs = self.inputs
            else:
                inputs = self.inputs[positions, :, :h, :w].contiguous()
            samples = []
            for i in positions:
                sample = self.samples[i].new()  # the same data, own meta
                sample.set_metainfo(
                    dict(batch_input_shape=(h, w), pad_shape=(h, w)))
                samples.append(sample)
            groups.append(ImageGroup(self.adapter, positions, inputs,
                                     samples))
        return groups

    def per_image(self, fn: Callable[[ImageGroup], Sequence]) -> list:
        """``fn`` of every group (one value per image of the group, in the
        group's order), as one list in batch order: ``N`` values."""
        out = [None] * len(self)
        for group in self.groups:
            values = fn(group)
            if len(values) != len(group.positions):
                raise RuntimeError(
                    f'{len(values)} values for a group of '
                    f'{len(group.positions)} images')
            for position, value in zip(group.positions, values):
                out[position] = value
        return out
