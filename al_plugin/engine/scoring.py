"""Per-image outputs of a detector, computed for the selection strategies.

A strategy lists in ``requires`` the names of :data:`OUTPUTS` it reads (one
row per pool image) and in ``requires_labeled`` those of
:data:`LABELED_OUTPUTS` (one row per labeled image of X_L, the same
output computed for them).

For each batch the scorer makes one
:class:`~al_plugin.engine.pool_batch.PoolBatch`, which splits it into
groups of images that share their own padded shape (``img_shape`` rounded
up to the data preprocessor's ``pad_size_divisor``: exactly the input an
image gets alone in a batch) and runs the backbone and neck once per
group, on the images cut to that shape. Each group
(:class:`~al_plugin.engine.pool_batch.ImageGroup`) caches what several
outputs share (features, detections); each output function turns them
into one row per image, from the feature cells and anchors inside the
image's ``img_shape`` only (see :class:`~al_plugin.models.OutputAdapter`).
So an image's outputs are the same whatever images share its batch, in
whatever order: those of a batch of one. What an output needs from the
detector goes through the model's
:class:`~al_plugin.models.OutputAdapter`, so the same outputs come from
one-stage and two-stage detectors.

The output functions take their options as explicit keywords;
:func:`scorer_options` lists them all and :func:`check_scorer_cfg` checks
a ``scorer_cfg`` against them (at config load, like strategy options).

The ``flip_*`` outputs need a second pass over the horizontally flipped
images; nothing else does.

:class:`PoolBatch`, :class:`ImageGroup`, :func:`flip_inputs`,
:func:`unflip_boxes`, :func:`padded_shape` (:mod:`.pool_batch`) and
:class:`ScoringProgress` (:mod:`.progress`) are importable from here too.
"""
import inspect
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np
import torch
from torch import Tensor

from al_plugin.datasets import BROKEN
from al_plugin.models import OutputAdapter, build_adapter
from al_plugin.models.gradient_embedding import (box_gradient_embedding,
                                                 input_projection, logit_grad)
from al_plugin.strategies.builder import check_keys
from .pool_batch import (ImageGroup, PoolBatch, flip_inputs, padded_shape,
                         unflip_boxes)
from .progress import ScoringProgress

__all__ = [
    'FAMILY_OUTPUTS', 'ImageGroup', 'LABELED_OUTPUTS', 'OUTPUTS', 'PoolBatch',
    'ScoringProgress', 'check_output_names', 'check_scorer_cfg',
    'class_probs', 'compute_outputs', 'features', 'flip_inputs',
    'grad_embedding', 'instance_uncertainty', 'output_options', 'padded_shape',
    'score_loader', 'scorer_options', 'tightness', 'unflip_boxes'
]


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


def grad_embedding(batch: PoolBatch,
                   max_boxes: int = 100,
                   box_score_thr: float = 0.05,
                   grad_dims: Optional[int] = 1024) -> np.ndarray:
    """BADGE-like gradient embeddings of the last classification layer.

    Per image, its top boxes (those of :func:`class_probs`: the
    ``max_boxes`` most confident candidates, none below
    ``box_score_thr``); each box's loss gradient under its own most likely
    label w.r.t. the layer's weights, in closed form (``g h^T``, see
    :mod:`al_plugin.models.gradient_embedding` for ``g`` under softmax
    cross-entropy and sigmoid focal loss), averaged over those boxes. When
    ``L * D`` (logits times layer inputs) exceeds ``grad_dims`` the inputs
    ``h`` are first projected by a fixed random ``(D, max(1, grad_dims //
    L))`` matrix (squared distances kept in expectation), so a 100k pool of
    a COCO RetinaNet stores 100k x 1024 float32 (400 MB), not 100k x
    20480.

    Args:
        batch (PoolBatch): The images.
        max_boxes (int): Boxes per image. Defaults to 100.
        box_score_thr (float): Lowest top class probability of a box.
            Defaults to 0.05.
        grad_dims (int, optional): Largest embedding size before the
            projection; None or 0 never projects. Defaults to 1024.

    Returns:
        np.ndarray: ``(N, E)`` float32, ``E = L * D`` or ``L * (grad_dims
        // L)``; an image without boxes is all zeros.
    """
    if grad_dims is not None and (int(grad_dims) != grad_dims
                                  or grad_dims < 0):
        raise ValueError(f'grad_dims must be an integer >= 0 or None, got '
                         f'{grad_dims!r}')
    spec = batch.adapter.cls_loss_spec()
    rows = []
    for terms in batch.per_image(lambda group: group.adapter.cls_layer_terms(
            group.feats, group.samples)):
        top = terms.probs.max(dim=1).values if len(terms.probs) else (
            terms.probs.new_zeros(0))
        order = torch.sort(top, descending=True, stable=True)[1][:max_boxes]
        order = order[top[order] >= box_score_thr]
        grads = logit_grad(terms.logits[order], **spec)
        inputs = terms.inputs[order // terms.boxes_per_input]
        if grad_dims and grads.size(1) * inputs.size(1) > grad_dims:
            inputs = inputs.float() @ input_projection(
                inputs.size(1), max(1, int(grad_dims) // grads.size(1)),
                inputs.device)
        rows.append(box_gradient_embedding(grads, inputs))
    return _stacked(rows)


def tightness(batch: PoolBatch,
              max_boxes: int = 100,
              box_score_thr: float = 0.05) -> np.ndarray:
    """Localization tightness and confidence of each image's most
    confident candidates (two-stage detectors only: ``FAMILY_OUTPUTS``).

    Per image, its RPN proposals ``R`` ranked by confidence ``P = max_c
    p_c`` (stable), the first ``max_boxes`` with ``P >= box_score_thr``
    kept (the candidates of :func:`class_probs`); per box the tightness
    ``T = IoU(R, B)``, ``B`` the box the RoI head refines ``R`` into
    (:func:`al_plugin.models.tightness.box_tightness`).

    Returns:
        np.ndarray: object array ``(N, )``; element i is ``(n_i, 2)``
        float32, columns ``(T, P)``, most confident first.
    """
    kept = []
    for rows in batch.per_image(lambda group: group.adapter.
                                proposal_tightness(group.feats,
                                                   group.samples)):
        order = torch.sort(rows[:, 1], descending=True, stable=True)[1]
        order = order[:max_boxes]
        kept.append(rows[order[rows[order, 1] >= box_score_thr]].float())
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
    'grad_embedding': grad_embedding,
    'tightness': tightness,
    **{
        f'{prefix}_{key}': _detection_output(source, field)
        for prefix, source in (('det', 'detections'),
                               ('flip', 'flip_detections'))
        for key, field in (('boxes', 'bboxes'), ('scores', 'scores'),
                           ('labels', 'labels'))
    },
}

#: outputs only some detector families give: name -> the
#: :class:`OutputAdapter` method they need (checked at config load)
FAMILY_OUTPUTS: Dict[str, str] = {'tightness': 'proposal_tightness'}

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
                 progress: Optional[ScoringProgress] = None,
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
