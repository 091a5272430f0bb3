"""Per-image outputs of a detector, computed for the selection strategies.

A strategy lists in ``requires`` the names of :data:`OUTPUTS` it reads (one
row per pool image) and in ``requires_labeled`` those of
:data:`LABELED_OUTPUTS` (one row per labeled image of X_L, the same
output computed for them).

For each batch the scorer makes one :class:`PoolBatch`, which splits it
into groups of images that share their own padded shape (``img_shape``
rounded up to the data preprocessor's ``pad_size_divisor``: exactly the
input an image gets alone in a batch) and runs the backbone and neck once
per group, on the images cut to that shape. Each group
(:class:`ImageGroup`) caches what several outputs share (features,
detections); each output function turns them into one row per image, from
the feature cells and anchors inside the image's ``img_shape`` only (see
:class:`~al_plugin.models.OutputAdapter`). So an image's outputs are the
same whatever images share its batch, in whatever order: those of a batch
of one. What an output needs from the detector goes through the model's
:class:`~al_plugin.models.OutputAdapter`, so the same outputs come from
one-stage and two-stage detectors.

The output functions take their options as explicit keywords;
:func:`scorer_options` lists them all and :func:`check_scorer_cfg` checks
a ``scorer_cfg`` against them (at config load, like strategy options).

The ``flip_*`` outputs need a second pass over the horizontally flipped
images; nothing else does.
"""
import inspect
import math
import sys
import time
from functools import cached_property
from typing import (Callable, Dict, List, Optional, Sequence, TextIO,
                    Tuple)

import numpy as np
import torch
from mmengine.structures import InstanceData
from torch import Tensor

from al_plugin.datasets import BROKEN
from al_plugin.models import OutputAdapter, build_adapter
from al_plugin.strategies.builder import check_keys


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


def _rows(values: Sequence[Tensor]) -> np.ndarray:
    """Per-image tensors as an object array of float32 / int64 arrays."""
    out = np.empty(len(values), dtype=object)
    for i, value in enumerate(values):
        value = value.detach().cpu()
        out[i] = value.numpy().astype(
            np.float32 if value.is_floating_point() else np.int64)
    return out


def _stacked(values: Sequence[Tensor]) -> np.ndarray:
    """Per-image tensors of one shape stacked: ``(N, ...)`` float32."""
    return torch.stack(list(values)).detach().float().cpu().numpy()


def instance_uncertainty(batch: PoolBatch, k: int = 10000) -> np.ndarray:
    """MI-AOD's image uncertainty, ``(N, )`` float32: the mean of the
    top-``min(k, K_i)`` values of ``mean_c((p1 - p2)^2)`` over the
    image's own anchors (``K_i`` of them, inside its ``img_shape``); no
    box decoding, no NMS.

    Args:
        batch (PoolBatch): The images.
        k (int): MI-AOD's k, anchors averaged per image. Defaults to 10000.
    """
    return _stacked(
        batch.per_image(lambda group: group.adapter.instance_uncertainty(
            group.feats, group.samples, k=k)))


def features(batch: PoolBatch) -> np.ndarray:
    """Pooled neck features, ``(N, sum of level channels)`` float32: each
    level's mean over the cells inside the image's ``img_shape``."""
    return _stacked(
        batch.per_image(lambda group: group.adapter.pooled_features(
            group.feats, group.samples)))


def class_probs(batch: PoolBatch,
                max_boxes: int = 100,
                box_score_thr: float = 0.05) -> np.ndarray:
    """Class probabilities of each image's most confident candidate boxes.

    Per image the ``max_boxes`` candidates (anchors of a dense head inside
    the image's ``img_shape``, proposals of a two-stage one) with the
    highest class probability, those below ``box_score_thr`` dropped, most
    confident first.

    Args:
        batch (PoolBatch): The images.
        max_boxes (int): Candidates kept per image. Defaults to 100.
        box_score_thr (float): Lowest top class probability kept.
            Defaults to 0.05.

    Returns:
        np.ndarray: object array ``(N, )``; element i is ``(n_i, C)``
        float32 with ``0 <= n_i <= max_boxes``.
    """
    kept = []
    for probs in batch.per_image(lambda group: group.adapter.box_class_probs(
            group.feats, group.samples)):
        top = probs.max(dim=1).values
        order = top.argsort(descending=True)[:max_boxes]
        kept.append(probs[order[top[order] >= box_score_thr]].float())
    return _rows(kept)


def _detection_output(source: str, field: str) -> Callable:

    def output(batch: PoolBatch) -> np.ndarray:
        return _rows([
            getattr(r, field)
            for r in batch.per_image(lambda group: getattr(group, source))
        ])

    output.__name__ = f'{source}_{field}'
    output.__doc__ = (f'``{field}`` of the {source.replace("_", " ")} '
                      '(``test_cfg``), original image frame; object array '
                      '``(N, )`` of ``(n_i, ...)`` arrays.')
    return output


#: output name -> function of a :class:`PoolBatch` (and keyword options);
#: what a strategy may list in ``requires``
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

#: outputs over the labeled images X_L, what a strategy may list in
#: ``requires_labeled``: name -> the :data:`OUTPUTS` entry computed for
#: them (same model, loader settings and scoring path as the pool; one row
#: per labeled image)
LABELED_OUTPUTS: Dict[str, str] = {'labeled_features': 'features'}


def output_options(name: str) -> Dict[str, object]:
    """``{option: default}`` of the output function ``OUTPUTS[name]``."""
    params = list(inspect.signature(OUTPUTS[name]).parameters.values())[1:]
    return {p.name: p.default for p in params}


def scorer_options() -> Dict[str, object]:
    """``{option: default}`` over all :data:`OUTPUTS`: what a
    ``scorer_cfg`` may set (the union, so a config that switches strategy
    keeps its ``scorer_cfg``)."""
    options: Dict[str, object] = {}
    for name in OUTPUTS:
        for key, default in output_options(name).items():
            options.setdefault(key, default)
    return options


def check_scorer_cfg(scorer_cfg, what: str = 'scorer_cfg') -> None:
    """Raise ``TypeError`` if ``scorer_cfg`` is not a dict or sets an
    option no output function takes; the message names the option, the
    closest accepted one and all accepted ones with their defaults.

    Args:
        scorer_cfg (dict | None): Options of the output functions.
        what (str): How the message names it, e.g.
            ``'ActiveSelectionHook.scorer_cfg (custom_hooks[0])'``.
    """
    if scorer_cfg is None:
        return
    if not isinstance(scorer_cfg, dict):
        raise TypeError(f'{what} must be a dict of scorer options, got '
                        f'{type(scorer_cfg).__name__}: {scorer_cfg!r}')
    check_keys(scorer_cfg, [], scorer_options(), what)


def check_output_names(requires: Sequence[str],
                       requires_labeled: Sequence[str] = (),
                       who: str = 'the strategy') -> None:
    """Raise ``KeyError`` naming the outputs in ``requires`` (pool) or
    ``requires_labeled`` (X_L) that no scorer computes, and the known
    ones."""
    unknown = [r for r in requires if r not in OUTPUTS]
    unknown += [r for r in requires_labeled if r not in LABELED_OUTPUTS]
    if unknown:
        raise KeyError(f'{who} requires outputs {unknown} that no scorer '
                       f'computes; known: {sorted(OUTPUTS)}, over the '
                       f'labeled images: {sorted(LABELED_OUTPUTS)}')


@torch.no_grad()
def compute_outputs(adapter: OutputAdapter, inputs: Tensor, samples,
                    names: List[str],
                    scorer_cfg: Optional[dict] = None
                    ) -> Dict[str, np.ndarray]:
    """The named outputs of one batch, from one backbone and neck pass per
    group of images with one padded shape (two when a ``flip_*`` output is
    named).

    Args:
        adapter (OutputAdapter): The model's output adapter.
        inputs (Tensor): ``(N, 3, H, W)``, already preprocessed.
        samples (list[DetDataSample]): The batch's data samples.
        names (list[str]): Keys of :data:`OUTPUTS`.
        scorer_cfg (dict, optional): Options of the output functions
            (:func:`scorer_options`); each function gets its own.

    Returns:
        dict[str, np.ndarray]: name -> rows, one per image.
    """
    scorer_cfg = scorer_cfg or {}
    check_scorer_cfg(scorer_cfg)
    check_output_names(names, who='compute_outputs')
    batch = PoolBatch(adapter, inputs, samples)
    return {
        name: OUTPUTS[name](
            batch, **{
                key: value
                for key, value in scorer_cfg.items()
                if key in output_options(name)
            })
        for name in names
    }


@torch.no_grad()
def score_loader(model,
                 loader,
                 names: Sequence[str],
                 scorer_cfg: Optional[dict] = None,
                 adapter_cfg: Optional[dict] = None,
                 progress: Optional['ScoringProgress'] = None,
                 progress_scale: int = 1):
    """The named outputs of every readable image of a loader.

    Args:
        model (nn.Module): The detector (not a DDP wrapper), in eval mode.
        loader (DataLoader): Over an ``ActiveSubset`` whose collate marks
            unreadable images (``collate_marking_broken``): each batch has
            ``BROKEN`` (index -> error) besides ``inputs`` / ``data_samples``
            of the readable images, whose metainfo holds ``al_index``.
        names (Sequence[str]): Keys of :data:`OUTPUTS`.
        scorer_cfg (dict, optional): Options of the output functions.
        adapter_cfg (dict, optional): The model's output adapter; defaults
            to the first registered one that applies.
        progress (ScoringProgress, optional): Counts the images read.
        progress_scale (int): Images counted for each one read (the world
            size when every rank scores an equal share). Defaults to 1.

    Returns:
        tuple: ``indices`` ``(P, )`` int64, the ``al_index`` of the readable
        images in loader order; ``outputs``: name -> ``(P, ...)`` rows in
        that order; ``broken``: index -> error of the unreadable images.
    """
    adapter = build_adapter(model, adapter_cfg)
    indices: List[np.ndarray] = []
    results: Dict[str, List[np.ndarray]] = {name: [] for name in names}
    broken: Dict[int, str] = {}
    for data in loader:
        marked = data.pop(BROKEN)
        broken.update(marked)
        num = len(marked)
        if 'inputs' in data:  # something readable in the batch
            data = model.data_preprocessor(data, False)
            samples = data['data_samples']
            indices.append(
                np.array([s.metainfo['al_index'] for s in samples],
                         dtype=np.int64))
            outputs = compute_outputs(adapter, data['inputs'], samples,
                                      list(names), scorer_cfg or {})
            for name, rows in outputs.items():
                results[name].append(rows)
            num += len(samples)
        if progress is not None:
            progress.update(num * progress_scale)
    return (np.concatenate(indices) if indices else np.zeros(0, np.int64),
            {
                name: np.concatenate(rows) if rows else np.zeros(0)
                for name, rows in results.items()
            }, broken)


def _clock(seconds: float) -> str:
    """``h:mm:ss`` of a duration."""
    seconds = int(round(seconds))
    return f'{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}'


class ScoringProgress:
    """Images scored, rate and ETA of a pool scoring pass.

    On a terminal one line is redrawn in place (at most ten times a
    second). Anywhere else (a log file, a pipe, a job's output) a whole line
    goes to ``log`` at most every ``interval`` seconds, so a log holds a few
    readable lines rather than one carriage return per batch. :meth:`close`
    ends the line and logs the total time and rate either way.

    mmengine's ``ProgressBar`` shows a rate (in batches) and an ETA, but off
    a terminal it writes every redraw into the log as ``\\r`` fragments of
    one endless line.

    Args:
        total (int): Images to score.
        desc (str): What is being done, in front of every line.
            Defaults to ``'scoring'``.
        log (callable, optional): Takes the lines off a terminal and the
            closing line, e.g. ``runner.logger.info``. Defaults to None:
            written to ``file``.
        interval (float): Seconds between lines off a terminal.
            Defaults to 30.
        file (TextIO, optional): The stream of the redrawn line, which
            also decides whether this is a terminal (``isatty()``).
            Defaults to None: ``sys.stdout``.
        bar_width (int): Width of the redrawn bar. Defaults to 30.
    """

    def __init__(self,
                 total: int,
                 desc: str = 'scoring',
                 log: Optional[Callable[[str], None]] = None,
                 interval: float = 30.0,
                 file: Optional[TextIO] = None,
                 bar_width: int = 30) -> None:
        self.total = max(int(total), 0)
        self.desc = desc
        self.file = sys.stdout if file is None else file
        self.log = log or self._write_line
        self.interval = interval
        self.bar_width = bar_width
        isatty = getattr(self.file, 'isatty', None)
        self.tty = bool(isatty and isatty())
        self.done = 0
        self._start = time.perf_counter()
        self._shown = self._start  # when a line was last drawn / logged
        if self.tty:
            self._draw()

    def update(self, num: int = 1) -> None:
        """Count ``num`` more images (capped at ``total``)."""
        self.done = min(self.done + num, self.total)
        now = time.perf_counter()
        if self.tty:
            if now - self._shown >= 0.1 or self.done == self.total:
                self._draw()
                self._shown = now
        elif now - self._shown >= self.interval and self.done < self.total:
            self.log(f'{self.desc}: {self.status()}')
            self._shown = now

    def status(self) -> str:
        """``n/total images, r img/s, elapsed h:mm:ss, ETA h:mm:ss``."""
        elapsed = time.perf_counter() - self._start
        rate = self.done / elapsed if elapsed > 0 else 0.0
        eta = _clock((self.total - self.done) / rate) if rate else '-:--:--'
        return (f'{self.done}/{self.total} images, {rate:.1f} img/s, '
                f'elapsed {_clock(elapsed)}, ETA {eta}')

    def close(self) -> None:
        """End the redrawn line; log the total time and rate."""
        elapsed = time.perf_counter() - self._start
        if self.tty:
            self._draw()
            self.file.write('\n')
            self.file.flush()
        rate = self.done / elapsed if elapsed > 0 else 0.0
        self.log(f'{self.desc}: {self.done} images in {_clock(elapsed)} '
                 f'({rate:.1f} img/s)')

    def _draw(self) -> None:
        filled = (self.bar_width * self.done //
                  self.total if self.total else self.bar_width)
        bar = '>' * filled + ' ' * (self.bar_width - filled)
        self.file.write(f'\r{self.desc}: [{bar}] {self.status()}')
        self.file.flush()

    def _write_line(self, line: str) -> None:
        self.file.write(line + '\n')
        self.file.flush()
