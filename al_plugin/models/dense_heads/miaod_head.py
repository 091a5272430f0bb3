"""The MI-AOD head: RetinaNet with two adversarial instance classifiers and a
multiple-instance-learning (MIL) branch.

Notation (Yuan et al., `Multiple Instance Active Learning for Object
Detection <https://arxiv.org/abs/2104.02324>`_): ``f_1``, ``f_2`` are the two
adversarial instance classifiers, ``f_r`` the box regressor and ``f_mil`` the
MIL classifier; ``p1 = sigmoid(f_1)``, ``p2 = sigmoid(f_2)``.

The MI-AOD math is pure functions of flattened scores
(``(N, num_anchors, C)``, anchors in mmdet's prior order), in
:mod:`al_plugin.models.losses.miaod_losses`.

Four towers of ``stacked_convs`` 3x3 convs, each ending in a 3x3 conv:

- ``f_1`` (``f_1_convs``, ``f_1_cls``) and ``f_2`` (``f_2_convs``,
  ``f_2_cls``): the adversarial instance classifiers, sigmoid, A * C
  logits, prior-prob 0.01 bias;
- ``f_r`` (``f_r_convs``, ``f_r_reg``): A * 4 box deltas;
- ``f_mil`` (``f_mil_convs``, ``f_mil_cls``): A * C MIL logits.

Initialisation (the reference's; ``MIAOD_SPEC.md``, "Network"):

- the ``f_1``, ``f_2`` and ``f_r`` towers: N(0, 0.01) weights, bias 0;
- the ``f_mil`` tower: ConvModule's default (Kaiming normal, fan_out,
  ReLU gain, bias 0), which the reference never re-initialises;
- ``f_1_cls``, ``f_2_cls`` and ``f_mil_cls``: N(0, 0.01) weights and the
  prior-prob 0.01 bias ``-log((1 - 0.01) / 0.01)``: every sigmoid starts
  at 0.01 (a bias shared by all classes leaves ``softmax_c(f_mil)``
  uniform; it matters to the single-class sigmoid ``f_mil``);
- ``f_r_reg``: N(0, 0.01), bias 0.

``init_cfg`` holds everything but the ``f_mil`` tower, an mmengine
``ModuleList`` whose ConvModules re-run their own initialisation after
the head's ``init_cfg`` (children's initialisation comes last in
mmengine).
"""
from typing import Iterator, List, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmdet.models.dense_heads import RetinaHead
from mmdet.models.utils import multi_apply
from mmdet.registry import MODELS
from mmdet.structures import SampleList
from mmdet.utils import InstanceList, OptInstanceList, OptMultiConfig
from torch import Tensor

from ..image_weights import (ImageWeightedAnchorHeadMixin,
                             image_loss_weights, image_weighted_mean)
from ..losses.miaod_losses import (gt_image_labels, instance_uncertainty,
                                   mil_image_scores, mil_level_scores,
                                   pseudo_image_labels, pseudo_label_mil_loss,
                                   wave_discrepancy)
from ..utils import (anchor_head_targets, build_conv_tower,
                     check_unlabeled_step, levels_to_probs)

#: N(0, 0.01) convs; ``f_1_cls``, ``f_2_cls`` and ``f_mil_cls`` with the
#: prior-prob 0.01 bias (see the module's docstring).
DEFAULT_INIT_CFG = dict(
    type='Normal',
    layer='Conv2d',
    std=0.01,
    override=[
        dict(type='Normal', name=name, std=0.01, bias_prob=0.01)
        for name in ('f_1_cls', 'f_2_cls', 'f_mil_cls')
    ])


@MODELS.register_module()
class MIAODHead(ImageWeightedAnchorHeadMixin, RetinaHead):
    """The MI-AOD head: RetinaHead with two adversarial classifiers and a MIL
    classifier.

    The towers and their initialisation are described in the module's
    docstring.

    Detection (:meth:`predict`) uses ``f_1`` and ``f_r`` as RetinaNet uses its
    classifier and regressor. Labeled images train every branch
    (:meth:`loss`), unlabeled ones only the MI-AOD terms
    (:meth:`loss_unlabeled`, no detection targets).

    ``train_cfg.param_lambda`` is the paper's lambda, the weight of the
    discrepancy losses (default 0.5).

    Args:
        num_classes (int): Number of categories excluding the background.
        in_channels (int): Number of channels in the input feature map.
        init_cfg (dict or list[dict], optional): Initialization config dict.
            Defaults to N(0, 0.01) convs with the prior-prob 0.01 bias on
            ``f_1_cls``, ``f_2_cls`` and ``f_mil_cls`` (the ``f_mil`` tower
            keeps ConvModule's default, see above).
        **kwargs: See :class:`RetinaHead` and :class:`AnchorHead`; the
            classification loss must be a sigmoid one.

    Example:
        >>> import torch
        >>> self = MIAODHead(11, 7, feat_channels=8, stacked_convs=1)
        >>> x = torch.rand(1, 7, 32, 32)
        >>> cls_score, bbox_pred, cls_score_2, mil_score = \\
        ...     self.forward_single(x)
        >>> assert cls_score.shape == cls_score_2.shape == mil_score.shape
        >>> assert cls_score.shape[1] == self.num_base_priors * 11
    """

    # name of the final conv of each branch; its tower is `<branch>_convs`
    FINAL_CONVS = dict(
        f_1='f_1_cls', f_2='f_2_cls', f_r='f_r_reg', f_mil='f_mil_cls')
    # the branches the max step trains and the min step freezes
    ADVERSARIAL_BRANCHES = ('f_1', 'f_2')

    def __init__(self,
                 num_classes: int,
                 in_channels: int,
                 init_cfg: OptMultiConfig = DEFAULT_INIT_CFG,
                 **kwargs) -> None:
        super().__init__(num_classes, in_channels, init_cfg=init_cfg, **kwargs)
        if not self.use_sigmoid_cls:
            raise ValueError('MIAODHead needs sigmoid instance classifiers: '
                             'set `use_sigmoid=True` in `loss_cls`')

    def probs(self, scores: List[Tensor]) -> Tensor:
        """Sigmoid scores of all levels, ``(N, K, C)``, from per-level
        ``(N, A * C, H, W)`` logits."""
        return levels_to_probs(scores, self.cls_out_channels)

    @property
    def param_lambda(self) -> float:
        """The paper's lambda: ``train_cfg.param_lambda``, 0.5 if unset."""
        return (self.train_cfg or {}).get('param_lambda', 0.5)

    def _init_layers(self) -> None:
        """Initialize layers of the head."""
        cls_channels = self.num_base_priors * self.cls_out_channels
        reg_channels = self.num_base_priors * self.bbox_coder.encode_size
        tower = dict(
            in_channels=self.in_channels,
            feat_channels=self.feat_channels,
            stacked_convs=self.stacked_convs,
            conv_cfg=self.conv_cfg,
            norm_cfg=self.norm_cfg)
        self.f_1_convs, self.f_1_cls = build_conv_tower(cls_channels, **tower)
        self.f_2_convs, self.f_2_cls = build_conv_tower(cls_channels, **tower)
        self.f_r_convs, self.f_r_reg = build_conv_tower(reg_channels, **tower)
        self.f_mil_convs, self.f_mil_cls = build_conv_tower(
            cls_channels, own_init=True, **tower)

    def _branch_names(self, branch: str) -> Tuple[str, str]:
        """The names of the tower and of the final conv of ``branch``."""
        return f'{branch}_convs', self.FINAL_CONVS[branch]

    def _forward_branch(self, x: Tensor, branch: str) -> Tensor:
        """Run one branch on the features of one level."""
        convs, final_conv = (
            getattr(self, name) for name in self._branch_names(branch))
        for conv in convs:
            x = conv(x)
        return final_conv(x)

    def forward_branches(self, x: Sequence[Tensor],
                         branches: Sequence[str]) -> Tuple[List[Tensor]]:
        """Run only ``branches`` (keys of :attr:`FINAL_CONVS`) on every
        level; e.g. ``('f_1', 'f_2')`` for the instance uncertainty alone.

        Args:
            x (Sequence[Tensor]): Per level ``(N, C_in, H_l, W_l)``.
            branches (Sequence[str]): Which branches, in the output order.

        Returns:
            tuple[list[Tensor]]: One list of per-level outputs per branch.
        """
        return tuple([self._forward_branch(feat, branch) for feat in x]
                     for branch in branches)

    def forward_single(self, x: Tensor) -> Tuple[Tensor]:
        """Forward feature of a single scale level.

        Args:
            x (Tensor): Features of a single scale level, ``(N, C_in, H, W)``.

        Returns:
            tuple:
                cls_score (Tensor): ``f_1`` logits, ``(N, A * C, H, W)``.
                bbox_pred (Tensor): ``f_r`` deltas, ``(N, A * 4, H, W)``.
                cls_score_2 (Tensor): ``f_2`` logits, ``(N, A * C, H, W)``.
                mil_score (Tensor): ``f_mil`` logits, ``(N, A * C, H, W)``.
        """
        return tuple(
            self._forward_branch(x, branch)
            for branch in ('f_1', 'f_r', 'f_2', 'f_mil'))

    def adversarial_parameters(self) -> Iterator[Tuple[str, nn.Parameter]]:
        """The parameters of ``f_1`` and ``f_2`` (towers and final convs).

        The max step trains exactly these, the min step everything else.

        Yields:
            tuple[str, Parameter]: Names relative to the head, as in
            ``self.named_parameters()``.
        """
        for branch in self.ADVERSARIAL_BRANCHES:
            for name in self._branch_names(branch):
                yield from getattr(self, name).named_parameters(prefix=name)

    def loss_by_feat(
            self,
            cls_scores: List[Tensor],
            bbox_preds: List[Tensor],
            cls_scores_2: List[Tensor],
            mil_scores: List[Tensor],
            batch_gt_instances: InstanceList,
            batch_img_metas: List[dict],
            batch_gt_instances_ignore: OptInstanceList = None) -> dict:
        """The losses of labeled images.

        ``loss_cls = (FL(f_1) + FL(f_2)) / 2`` and ``loss_bbox = L(f_r)``,
        with one set of targets for both classifiers (per level, normalised
        as :class:`AnchorHead` does), and ``loss_imgcls``, the BCE of the MIL
        image class scores against the images' multi-hot GT classes. Ignored
        instances (``batch_gt_instances_ignore``, e.g. VOC's difficult boxes)
        are not in the multi-hot. Terms scaled by ``al_loss_weight``.

        Args:
            cls_scores (list[Tensor]): ``f_1`` logits per level,
                ``(N, A * C, H, W)``.
            bbox_preds (list[Tensor]): ``f_r`` deltas per level,
                ``(N, A * 4, H, W)``.
            cls_scores_2 (list[Tensor]): ``f_2`` logits per level,
                ``(N, A * C, H, W)``.
            mil_scores (list[Tensor]): ``f_mil`` logits per level,
                ``(N, A * C, H, W)``.
            batch_gt_instances (list[:obj:`InstanceData`]): Batch of
                gt_instance with ``bboxes`` and ``labels``.
            batch_img_metas (list[dict]): Meta information of each image.
            batch_gt_instances_ignore (list[:obj:`InstanceData`], optional):
                Batch of instances ignored in training. Defaults to None.

        Returns:
            dict[str, Tensor or list[Tensor]]: ``loss_cls`` and ``loss_bbox``
            per level, ``loss_imgcls``.
        """
        targets, avg_factor = anchor_head_targets(self, cls_scores,
                                                  batch_gt_instances,
                                                  batch_img_metas,
                                                  batch_gt_instances_ignore)
        losses_cls, losses_bbox = multi_apply(
            self.loss_by_feat_single,
            cls_scores,
            bbox_preds,
            *targets,
            avg_factor=avg_factor)
        # f_2 has the same targets; its box loss repeats f_r's: dropped
        losses_cls_2, _ = multi_apply(
            self.loss_by_feat_single,
            cls_scores_2,
            bbox_preds,
            *targets,
            avg_factor=avg_factor)
        losses_cls = [(l_1 + l_2) / 2
                      for l_1, l_2 in zip(losses_cls, losses_cls_2)]

        image_scores = mil_image_scores(
            mil_level_scores(cls_scores, cls_scores_2, mil_scores,
                             self.cls_out_channels))
        bce = F.binary_cross_entropy(
            image_scores,
            gt_image_labels([gt.labels for gt in batch_gt_instances],
                            image_scores), reduction='none')
        loss_imgcls = image_weighted_mean(
            bce, image_loss_weights(batch_img_metas, bce.device))
        return dict(
            loss_cls=losses_cls,
            loss_bbox=losses_bbox,
            loss_imgcls=loss_imgcls)

    def loss_unlabeled(self,
                       x: Tuple[Tensor],
                       batch_data_samples: SampleList,
                       step: str = 'min') -> dict:
        """The losses of unlabeled images: no detection targets.

        ``w`` is the detached ``y_cls`` and lambda is
        ``train_cfg.param_lambda``.

        - ``step='min'``: ``loss_wave_dis = lambda * sum mean_c(w * |p1 -
          p2|)`` (sum over levels, images and anchors) and ``loss_imgcls``,
          the BCE of the MIL image class scores against pseudo labels (see
          :func:`pseudo_image_labels` and :func:`pseudo_label_mil_loss`).
        - ``step='max'``: ``loss_wave_dis_minus = lambda * sum mean_c(w * (1
          - |p1 - p2|))``.

        ``f_r`` is not computed.

        Args:
            x (tuple[Tensor]): Features from the upstream network, each
                ``(N, C_in, H, W)``.
            batch_data_samples (list[:obj:`DetDataSample`]): The data
                samples (their annotations are not read).
            step (str): ``'min'`` or ``'max'``. Defaults to ``'min'``.

        Returns:
            dict[str, Tensor]: Scalar losses.
        """
        check_unlabeled_step(step)
        cls_scores, cls_scores_2, mil_scores = self.forward_branches(
            x, ('f_1', 'f_2', 'f_mil'))
        instance_scores = mil_level_scores(cls_scores, cls_scores_2,
                                           mil_scores, self.cls_out_channels)
        weights = torch.cat(instance_scores, dim=1).detach()
        probs = self.probs(cls_scores)
        probs_2 = self.probs(cls_scores_2)
        if step == 'max':
            return dict(
                loss_wave_dis_minus=self.param_lambda *
                wave_discrepancy(probs, probs_2, weights, maximize=True))
        loss_imgcls = pseudo_label_mil_loss(
            mil_image_scores(instance_scores),
            pseudo_image_labels(probs, probs_2))
        return dict(
            loss_wave_dis=self.param_lambda *
            wave_discrepancy(probs, probs_2, weights),
            loss_imgcls=loss_imgcls)

    def predict(self,
                x: Tuple[Tensor],
                batch_data_samples: SampleList,
                rescale: bool = False) -> InstanceList:
        """Detect with ``f_1`` and ``f_r`` only, then
        :meth:`predict_by_feat` (nms_pre, score_thr, NMS and max_per_img from
        ``test_cfg``).

        Args:
            x (tuple[Tensor]): Multi-level features, each ``(N, C_in, H, W)``.
            batch_data_samples (list[:obj:`DetDataSample`]): The data
                samples, for their meta information.
            rescale (bool): Whether to rescale the results to the original
                image. Defaults to False.

        Returns:
            list[:obj:`InstanceData`]: Detections of each image, with
            ``scores`` ``(n, )``, ``labels`` ``(n, )`` and ``bboxes``
            ``(n, 4)``.
        """
        batch_img_metas = [
            data_samples.metainfo for data_samples in batch_data_samples
        ]
        cls_scores, bbox_preds = self.forward_branches(x, ('f_1', 'f_r'))
        return self.predict_by_feat(
            cls_scores,
            bbox_preds,
            batch_img_metas=batch_img_metas,
            rescale=rescale)

    def predict_uncertainty(self, x: Tuple[Tensor], k: int = 10000) -> Tensor:
        """MI-AOD's image instance uncertainty: the mean of the top-k anchor
        values of ``mean_c((p1 - p2) ** 2)`` over all levels.

        Only ``f_1`` and ``f_2`` run; no boxes, NMS or score threshold.

        Args:
            x (tuple[Tensor]): Multi-level features, each ``(N, C_in, H, W)``.
            k (int): Anchors averaged per image (all if fewer). Defaults to
                10000.

        Returns:
            Tensor: ``(N, )``.
        """
        cls_scores, cls_scores_2 = self.forward_branches(x, ('f_1', 'f_2'))
        return instance_uncertainty(
            self.probs(cls_scores), self.probs(cls_scores_2), k)
