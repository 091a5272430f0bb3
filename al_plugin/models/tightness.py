"""Localization tightness of a two-stage detector's boxes (Kao et al.,
"Localization-Aware Active Learning for Object Detection", ACCV 2018).

A two-stage detector refines each RPN proposal ``R`` with its RoI head's
box regression into the box ``B`` it predicts. The tightness of ``B`` is

    T(B) = IoU(R, B),

1 when the head leaves the proposal as it is, smaller the more it moves or
resizes it. :func:`box_tightness` returns it with the box's classification
confidence ``P(B) = max_c p_c`` (background excluded), the two numbers the
localization-aware strategies combine
(:class:`~al_plugin.strategies.LocalizationTightnessStrategy`).
"""
from typing import List, Optional, Tuple

import torch
import torch.nn.functional as F
from mmdet.structures.bbox import bbox_overlaps, get_box_tensor
from torch import Tensor


def box_tightness(bbox_head,
                  proposals: Tensor,
                  cls_score: Tensor,
                  bbox_pred: Optional[Tensor],
                  img_shape: Tuple[int, int]) -> Tensor:
    """Per proposal: the IoU with its refined box, and its confidence.

    Each proposal is refined by the regression of its most likely
    (foreground) class (the only one a class-agnostic head has), decoded
    by the head's ``bbox_coder`` and clipped to ``img_shape``, as mmdet's
    ``BBoxHead.predict_by_feat`` does for the detections.

    Args:
        bbox_head (BBoxHead): The RoI box head (its ``bbox_coder``,
            ``num_classes``, ``reg_class_agnostic``, ``loss_cls``).
        proposals (Tensor): ``(n, 4)`` x1, y1, x2, y2, input frame.
        cls_score (Tensor): ``(n, C + 1)`` logits (background last).
        bbox_pred (Tensor | None): ``(n, C * E)`` or, class-agnostic,
            ``(n, E)`` deltas (``E`` the coder's ``encode_size``, 4 for
            mmdet's ``DeltaXYWHBBoxCoder``); None (a head without
            regression) leaves every proposal as it is (tightness 1).
        img_shape (tuple[int]): ``(h, w)`` of the image, no padding.

    Returns:
        Tensor: ``(n, 2)`` float: column 0 the tightness ``IoU(R, B)`` in
        ``[0, 1]``, column 1 the confidence ``max_c p_c`` in ``[0, 1]``.
    """
    if bbox_head.custom_cls_channels:
        probs = bbox_head.loss_cls.get_activation(cls_score)
    else:
        probs = F.softmax(cls_score, dim=-1)
    confidence, label = probs[:, :bbox_head.num_classes].max(dim=1)
    if bbox_pred is None or not len(proposals):
        refined = proposals
    else:
        size = getattr(bbox_head.bbox_coder, 'encode_size', 4)
        deltas = bbox_pred.view(len(proposals), -1, size)
        if deltas.size(1) > 1:  # class-specific regression
            deltas = deltas[torch.arange(len(deltas)), label]
        refined = get_box_tensor(
            bbox_head.bbox_coder.decode(
                proposals, deltas.reshape(-1, size),
                max_shape=img_shape[:2]))
    tightness = bbox_overlaps(proposals, refined, is_aligned=True)
    return torch.stack([tightness, confidence.to(tightness.dtype)], dim=1)


def roi_tightness(roi_head, feats: Tuple[Tensor], proposals,
                  samples) -> List[Tensor]:
    """:func:`box_tightness` of each image's proposals, from the RoI
    head's public forward.

    Args:
        roi_head (StandardRoIHead): With ``bbox_head``.
        feats (tuple[Tensor]): Neck levels ``(N, C_l, H_l, W_l)``.
        proposals (list[InstanceData]): Per image, ``bboxes`` ``(n_i, 4)``
            in the input frame.
        samples (list[DetDataSample]): With ``img_shape``.

    Returns:
        list[Tensor]: ``(n_i, 2)`` an image (tightness, confidence).
    """
    # cls_score (sum n_i, C + 1), bbox_pred (sum n_i, C * 4) or None
    cls_score, bbox_pred = roi_head.forward(feats, proposals)[:2]
    sizes = [len(p) for p in proposals]
    preds = [None] * len(sizes) if bbox_pred is None else (
        bbox_pred.split(sizes))
    return [
        box_tightness(roi_head.bbox_head, p.bboxes, z, d, s.img_shape)
        for p, z, d, s in zip(proposals, cls_score.split(sizes), preds,
                              samples)
    ]
