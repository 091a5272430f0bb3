"""MI-AOD's math as pure functions of flattened scores.

Notation (Yuan et al., `Multiple Instance Active Learning for Object
Detection <https://arxiv.org/abs/2104.02324>`_): ``f_1``, ``f_2`` are the two
adversarial instance classifiers and ``f_mil`` the MIL classifier;
``p1 = sigmoid(f_1)``, ``p2 = sigmoid(f_2)``. Scores are ``(N, K, C)``: N
images, K anchors in mmdet's prior order
(:func:`al_plugin.models.utils.levels_to_instances`), C classes; testable
without a model. :class:`al_plugin.models.MIAODHead` trains with them, the
selection scorer ranks images with :func:`instance_uncertainty`.
"""
from typing import List, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from ..utils import levels_to_instances

# The clamp of the MIL image class scores, so that their BCE stays finite.
MIL_SCORE_EPS = 1e-5


def mil_instance_scores(cls_logits: Tensor, cls_logits_2: Tensor,
                        mil_logits: Tensor) -> Tensor:
    """MIL instance scores ``y_cls`` of one level.

    ``y_cls[i, c] = softmax_c(f_mil[i])[c] *
    softmax_i(max_c sigmoid((f_1[i, c] + f_2[i, c]) / 2))``, the softmax over
    the anchors i of the level. The second factor (how object-like an anchor
    is, from the instance classifiers) is detached: the MIL loss trains
    ``f_mil``, never ``f_1``/``f_2``.

    With a single class (C = 1) a softmax over the classes is always 1 and the
    MIL loss could not learn anything, so ``f_mil`` is a sigmoid classifier
    there: ``y_cls[i, 0] = sigmoid(f_mil[i, 0]) * softmax_i(...)``.

    Args:
        cls_logits (Tensor): ``f_1`` logits, ``(N, K, C)``.
        cls_logits_2 (Tensor): ``f_2`` logits, ``(N, K, C)``.
        mil_logits (Tensor): ``f_mil`` logits, ``(N, K, C)``.

    Returns:
        Tensor: ``y_cls``, ``(N, K, C)``; each image's scores of a level sum
        to at most 1 over anchors and classes.
    """
    objectness = ((cls_logits + cls_logits_2) / 2).sigmoid().amax(dim=-1)
    anchor_weights = objectness.softmax(dim=-1).detach()
    if mil_logits.size(-1) == 1:
        class_weights = mil_logits.sigmoid()
    else:
        class_weights = mil_logits.softmax(dim=-1)
    return class_weights * anchor_weights.unsqueeze(-1)


def mil_level_scores(cls_scores: Sequence[Tensor],
                     cls_scores_2: Sequence[Tensor],
                     mil_scores: Sequence[Tensor],
                     channels: int) -> List[Tensor]:
    """:func:`mil_instance_scores` of every level, from the head's outputs.

    Args:
        cls_scores (Sequence[Tensor]): ``f_1`` logits per level,
            ``(N, A * C, H_l, W_l)``.
        cls_scores_2 (Sequence[Tensor]): ``f_2`` logits, same shapes.
        mil_scores (Sequence[Tensor]): ``f_mil`` logits, same shapes.
        channels (int): C, the classifier outputs per anchor.

    Returns:
        list[Tensor]: ``y_cls`` per level, ``(N, H_l * W_l * A, C)``.
    """
    return [
        mil_instance_scores(*level) for level in zip(
            levels_to_instances(cls_scores, channels),
            levels_to_instances(cls_scores_2, channels),
            levels_to_instances(mil_scores, channels))
    ]


def mil_image_scores(instance_scores: Sequence[Tensor],
                     eps: float = MIL_SCORE_EPS) -> Tensor:
    """Image class scores ``S``: the max over levels of the sum over anchors
    of ``y_cls``, clamped to ``[eps, 1 - eps]``.

    Args:
        instance_scores (Sequence[Tensor]): ``y_cls`` per level,
            ``(N, K_l, C)`` (see :func:`mil_instance_scores`).
        eps (float): Clamp margin. Defaults to 1e-5.

    Returns:
        Tensor: ``(N, C)``.
    """
    level_scores = torch.stack([y.sum(dim=1) for y in instance_scores])
    return level_scores.amax(dim=0).clamp(eps, 1 - eps)


def gt_image_labels(labels: Sequence[Tensor], like: Tensor) -> Tensor:
    """Multi-hot image labels of labeled images: class c is present if a GT
    instance of the image has label c.

    Args:
        labels (Sequence[Tensor]): Per image, the GT labels ``(n_i, )``.
        like (Tensor): ``(N, C)``; the result has its shape, dtype and device.

    Returns:
        Tensor: ``(N, C)``, 0. or 1.
    """
    multi_hot = like.new_zeros(like.shape)
    for row, image_labels in zip(multi_hot, labels):
        row[image_labels] = 1
    return multi_hot


def pseudo_image_labels(probs: Tensor,
                        probs_2: Tensor,
                        thr: float = 0.5) -> Tensor:
    """Multi-hot pseudo labels of unlabeled images: class c is present if
    ``(p1 + p2) / 2`` reaches ``thr`` on any anchor of any level.

    Args:
        probs (Tensor): ``p1`` of all levels, ``(N, K, C)``.
        probs_2 (Tensor): ``p2`` of all levels, ``(N, K, C)``.
        thr (float): Score threshold. Defaults to 0.5.

    Returns:
        Tensor: ``(N, C)``, 0. or 1., no gradient.
    """
    mean_probs = ((probs + probs_2) / 2).detach()
    return (mean_probs.amax(dim=1) >= thr).to(probs.dtype)


def pseudo_label_mil_loss(image_scores: Tensor,
                          pseudo_labels: Tensor) -> Tensor:
    """BCE of the image class scores against pseudo labels; zero for the
    whole batch when any image has no pseudo-positive class.

    The zero is ``image_scores.sum() * 0``: it keeps the graph, so backward
    and DDP's gradient reduction see the same parameters in every case.

    Args:
        image_scores (Tensor): ``S``, ``(N, C)``, in (0, 1).
        pseudo_labels (Tensor): ``(N, C)``, 0. or 1.

    Returns:
        Tensor: A scalar.
    """
    if not bool(pseudo_labels.any(dim=1).all()):
        return image_scores.sum() * 0
    return F.binary_cross_entropy(image_scores, pseudo_labels)


def wave_discrepancy(probs: Tensor,
                     probs_2: Tensor,
                     weights: Tensor,
                     maximize: bool = False) -> Tensor:
    """MIL-weighted prediction discrepancy of the instance classifiers.

    ``sum over images and anchors of mean_c(w * |p1 - p2|)``, or with
    ``maximize``, of ``mean_c(w * (1 - |p1 - p2|))`` (minimising it maximises
    the discrepancy). Multiplied by lambda these are ``l_wave_dis`` and
    ``l_wave_dis_minus``.

    Args:
        probs (Tensor): ``p1`` of all levels, ``(N, K, C)``.
        probs_2 (Tensor): ``p2`` of all levels, ``(N, K, C)``.
        weights (Tensor): ``w``, the detached ``y_cls`` of all levels,
            ``(N, K, C)``.
        maximize (bool): Use ``1 - |p1 - p2|``. Defaults to False.

    Returns:
        Tensor: A scalar.
    """
    discrepancy = (probs - probs_2).abs()
    if maximize:
        discrepancy = 1 - discrepancy
    return (weights * discrepancy).mean(dim=-1).sum()


def instance_uncertainty(probs: Tensor, probs_2: Tensor, k: int) -> Tensor:
    """Image uncertainty: the mean of the top-k anchor discrepancies
    ``mean_c((p1 - p2) ** 2)`` (of all anchors when there are fewer).

    Args:
        probs (Tensor): ``p1`` of all levels, ``(N, K, C)``.
        probs_2 (Tensor): ``p2`` of all levels, ``(N, K, C)``.
        k (int): Anchors averaged per image.

    Returns:
        Tensor: ``(N, )``.
    """
    discrepancy = (probs - probs_2).pow(2).mean(dim=-1)
    k = min(k, discrepancy.size(1))
    return discrepancy.topk(k, dim=1).values.mean(dim=1)
