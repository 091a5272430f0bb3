"""Helpers of the plugin's models, shared by the heads, detectors and output
adapters."""
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule
from mmdet.models.utils import images_to_levels
from mmdet.structures.bbox import cat_boxes
from mmengine.model import ModuleList
from torch import Tensor

#: The two steps of MI-AOD's unlabeled loss: ``'min'`` minimises the
#: instance uncertainty (plus the MIL loss on pseudo labels), ``'max'``
#: maximises it (see :meth:`MIAODHead.loss_unlabeled`).
UNLABELED_STEPS = ('min', 'max')


def check_unlabeled_step(step: str) -> str:
    """``step`` if it is one of :data:`UNLABELED_STEPS`, else ValueError."""
    if step not in UNLABELED_STEPS:
        raise ValueError(f'step must be one of {UNLABELED_STEPS}, '
                         f'got {step!r}')
    return step


def levels_to_instances(scores: Sequence[Tensor],
                        channels: int) -> List[Tensor]:
    """Flatten multi-level head outputs to one row per anchor.

    Args:
        scores (Sequence[Tensor]): Per level, ``(N, A * channels, H, W)``.
        channels (int): Outputs per anchor (C for the classifiers).

    Returns:
        list[Tensor]: Per level, ``(N, H * W * A, channels)``, the anchor
        order of mmdet's prior generator.
    """
    return [
        score.permute(0, 2, 3, 1).reshape(score.size(0), -1, channels)
        for score in scores
    ]


def levels_to_probs(scores: Sequence[Tensor], channels: int) -> Tensor:
    """Sigmoid scores of all levels, one row per anchor.

    Args:
        scores (Sequence[Tensor]): Per level, ``(N, A * channels, H, W)``
            logits.
        channels (int): Outputs per anchor.

    Returns:
        Tensor: ``(N, K, channels)``, K the anchors of all levels in
        mmdet's prior order.
    """
    return torch.cat(levels_to_instances(scores, channels), dim=1).sigmoid()


def build_conv_tower(out_channels: int,
                     in_channels: int,
                     feat_channels: int,
                     stacked_convs: int,
                     conv_cfg: Optional[dict] = None,
                     norm_cfg: Optional[dict] = None,
                     own_init: bool = False
                     ) -> Tuple[nn.ModuleList, nn.Conv2d]:
    """A head tower: ``stacked_convs`` 3x3 ConvModules (ReLU) and a final
    3x3 conv to ``out_channels``.

    With ``own_init`` the convs are held by an mmengine ``ModuleList``,
    whose ``init_weights`` runs each ConvModule's own initialisation after
    the head's ``init_cfg``; otherwise by a plain ``nn.ModuleList``, left to
    the head's ``init_cfg``.

    Returns:
        tuple: The tower's convs and its final conv; a ``(N, in_channels, H,
        W)`` input gives ``(N, out_channels, H, W)``.
    """
    convs = ModuleList() if own_init else nn.ModuleList()
    channels = in_channels
    for _ in range(stacked_convs):
        convs.append(
            ConvModule(
                channels,
                feat_channels,
                3,
                stride=1,
                padding=1,
                conv_cfg=conv_cfg,
                norm_cfg=norm_cfg))
        channels = feat_channels
    return convs, nn.Conv2d(channels, out_channels, 3, padding=1)


def anchor_head_targets(head,
                        cls_scores: Sequence[Tensor],
                        batch_gt_instances: list,
                        batch_img_metas: List[dict],
                        batch_gt_instances_ignore: Optional[list] = None
                        ) -> Tuple[tuple, float]:
    """The training targets of an mmdet ``AnchorHead``, as its
    ``loss_by_feat`` computes them, for heads that score several classifiers
    against one set of targets.

    Args:
        head (AnchorHead): The head (its anchors, assigner and sampler).
        cls_scores (Sequence[Tensor]): Logits per level,
            ``(N, A * C, H_l, W_l)`` (their sizes and device are read).
        batch_gt_instances (list[InstanceData]): GT ``bboxes`` and
            ``labels`` per image.
        batch_img_metas (list[dict]): Meta information of each image.
        batch_gt_instances_ignore (list[InstanceData], optional): Ignored
            instances per image.

    Returns:
        tuple: ``(targets, avg_factor)``; ``targets`` holds, per level,
        the anchors ``(N, K_l, 4)``, labels ``(N, K_l)``, label weights
        ``(N, K_l)``, box targets and box weights ``(N, K_l, 4)``: the
        arguments of ``head.loss_by_feat_single`` after the scores.
    """
    featmap_sizes = [featmap.size()[-2:] for featmap in cls_scores]
    assert len(featmap_sizes) == head.prior_generator.num_levels
    anchor_list, valid_flag_list = head.get_anchors(
        featmap_sizes, batch_img_metas, device=cls_scores[0].device)
    (labels_list, label_weights_list, bbox_targets_list, bbox_weights_list,
     avg_factor) = head.get_targets(
         anchor_list,
         valid_flag_list,
         batch_gt_instances,
         batch_img_metas,
         batch_gt_instances_ignore=batch_gt_instances_ignore)
    num_level_anchors = [anchors.size(0) for anchors in anchor_list[0]]
    all_anchor_list = images_to_levels(
        [cat_boxes(anchors) for anchors in anchor_list], num_level_anchors)
    return (all_anchor_list, labels_list, label_weights_list,
            bbox_targets_list, bbox_weights_list), avg_factor
