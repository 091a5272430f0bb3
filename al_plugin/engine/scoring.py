"""Per-image outputs of a detector, computed for the selection strategies.

Each function maps ``(model, feats, batch_data_samples, **scorer_cfg)`` to
one row per image, from the neck features ``feats`` that the scorer computes
once per batch (``model.extract_feat``), so every output a strategy asks for
comes from the same single forward pass of the backbone and neck.  They are
written for single-stage dense heads (RetinaNet-like ``bbox_head``); a
detector family with other heads adds its own functions to ``OUTPUTS``.
"""
from typing import Callable, Dict, List, Tuple

import numpy as np
import torch
from torch import Tensor

from al_plugin.models.dense_heads.miaod_head import levels_to_instances


def instance_uncertainty(model, feats: Tuple[Tensor], samples,
                         k: int = 10000, **_) -> np.ndarray:
    """MI-AOD's image uncertainty, ``(N, )``: the head's top-k mean of
    ``mean_c((p1 - p2)^2)``; no box decoding, no NMS."""
    return model.bbox_head.predict_uncertainty(feats, k=k).cpu().numpy()


def features(model, feats: Tuple[Tensor], samples, **_) -> np.ndarray:
    """Pooled neck features, ``(N, sum of level channels)``: the spatial
    mean of every level, concatenated."""
    pooled = [f.mean(dim=(2, 3)) for f in feats]
    return torch.cat(pooled, dim=1).float().cpu().numpy()


def class_probs(model,
                feats: Tuple[Tensor],
                samples,
                max_boxes: int = 100,
                box_score_thr: float = 0.05,
                **_) -> np.ndarray:
    """Class probabilities of each image's most confident anchors.

    The dense head's classification branch (first output of
    ``bbox_head(feats)``, per level ``(N, A * C, H, W)``) through its
    sigmoid / softmax; per image the ``max_boxes`` anchors with the highest
    class probability, those below ``box_score_thr`` dropped.

    Returns:
        np.ndarray: object array ``(N, )``; element i is ``(n_i, C)``
        float32 with ``0 <= n_i <= max_boxes``.
    """
    head = model.bbox_head
    cls_scores = head(feats)[0]
    num_classes = head.cls_out_channels
    flat = torch.cat(levels_to_instances(cls_scores, num_classes), dim=1)
    probs = flat.sigmoid() if head.use_sigmoid_cls else flat.softmax(-1)
    if not head.use_sigmoid_cls:
        probs = probs[..., :-1]  # drop the background column
    out = np.empty(len(samples), dtype=object)
    for i, image_probs in enumerate(probs):
        top = image_probs.max(dim=1).values
        order = top.argsort(descending=True)[:max_boxes]
        keep = order[top[order] >= box_score_thr]
        out[i] = image_probs[keep].float().cpu().numpy()
    return out


#: output name -> function; what a strategy may list in ``requires``
OUTPUTS: Dict[str, Callable] = {
    'instance_uncertainty': instance_uncertainty,
    'features': features,
    'class_probs': class_probs,
}


def compute_outputs(model, inputs: Tensor, samples, names: List[str],
                    scorer_cfg: dict) -> Dict[str, np.ndarray]:
    """One forward pass of backbone and neck, then each named output."""
    feats = model.extract_feat(inputs)
    return {
        name: OUTPUTS[name](model, feats, samples, **scorer_cfg)
        for name in names
    }
