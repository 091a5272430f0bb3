"""The MI-AOD head: RetinaNet with two adversarial instance classifiers and a
multiple-instance-learning (MIL) branch.

Notation (Yuan et al., `Multiple Instance Active Learning for Object
Detection <https://arxiv.org/abs/2104.02324>`_): ``f_1``, ``f_2`` are the two
adversarial instance classifiers, ``f_r`` the box regressor and ``f_mil`` the
MIL classifier; ``p1 = sigmoid(f_1)``, ``p2 = sigmoid(f_2)``.

The MI-AOD math is written as pure functions of flattened scores
(``(N, num_anchors, C)``, anchors in mmdet's prior order) so that it can be
tested without a model.
"""
from typing import Iterator, List, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmdet.models.dense_heads import RetinaHead
from mmdet.models.utils import images_to_levels, multi_apply
from mmdet.registry import MODELS
from mmdet.structures import SampleList
from mmdet.structures.bbox import cat_boxes
from mmdet.utils import InstanceList, OptInstanceList, OptMultiConfig
from mmengine.model import ModuleList
from torch import Tensor

# The clamp of the MIL image class scores, so that their BCE stays finite.
MIL_SCORE_EPS = 1e-5


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


@MODELS.register_module()
class MIAODHead(RetinaHead):
    """The MI-AOD head: RetinaHead with two adversarial classifiers and a MIL
    classifier.

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
    UNLABELED_STEPS = ('min', 'max')

    def __init__(self,
                 num_classes: int,
                 in_channels: int,
                 init_cfg: OptMultiConfig = dict(
                     type='Normal',
                     layer='Conv2d',
                     std=0.01,
                     override=[
                         dict(
                             type='Normal',
                             name='f_1_cls',
                             std=0.01,
                             bias_prob=0.01),
                         dict(
                             type='Normal',
                             name='f_2_cls',
                             std=0.01,
                             bias_prob=0.01),
                         dict(
                             type='Normal',
                             name='f_mil_cls',
                             std=0.01,
                             bias_prob=0.01)
                     ]),
                 **kwargs) -> None:
        super().__init__(num_classes, in_channels, init_cfg=init_cfg, **kwargs)
        if not self.use_sigmoid_cls:
            raise ValueError('MIAODHead needs sigmoid instance classifiers: '
                             'set `use_sigmoid=True` in `loss_cls`')

    @property
    def param_lambda(self) -> float:
        """The paper's lambda: ``train_cfg.param_lambda``, 0.5 if unset."""
        return (self.train_cfg or {}).get('param_lambda', 0.5)

    def _init_layers(self) -> None:
        """Initialize layers of the head."""
        cls_channels = self.num_base_priors * self.cls_out_channels
        reg_channels = self.num_base_priors * self.bbox_coder.encode_size
        self.f_1_convs, self.f_1_cls = self._build_tower(cls_channels)
        self.f_2_convs, self.f_2_cls = self._build_tower(cls_channels)
        self.f_r_convs, self.f_r_reg = self._build_tower(reg_channels)
        self.f_mil_convs, self.f_mil_cls = self._build_tower(
            cls_channels, own_init=True)

    def _build_tower(
            self,
            out_channels: int,
            own_init: bool = False) -> Tuple[nn.ModuleList, nn.Conv2d]:
        """``stacked_convs`` 3x3 ConvModules (ReLU) and a final 3x3 conv.

        With ``own_init`` the convs are held by an mmengine ``ModuleList``,
        whose ``init_weights`` runs each ConvModule's own initialisation
        after the head's ``init_cfg``; otherwise by a plain
        ``nn.ModuleList``, left to the head's ``init_cfg``.
        """
        convs = ModuleList() if own_init else nn.ModuleList()
        in_channels = self.in_channels
        for _ in range(self.stacked_convs):
            convs.append(
                ConvModule(
                    in_channels,
                    self.feat_channels,
                    3,
                    stride=1,
                    padding=1,
                    conv_cfg=self.conv_cfg,
                    norm_cfg=self.norm_cfg))
            in_channels = self.feat_channels
        return convs, nn.Conv2d(in_channels, out_channels, 3, padding=1)

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

    def _instances(self, scores: Sequence[Tensor]) -> List[Tensor]:
        """Per level ``(N, A * C, H, W)`` -> ``(N, H * W * A, C)``."""
        return levels_to_instances(scores, self.cls_out_channels)

    def _mil_instance_scores(self, cls_scores: List[Tensor],
                             cls_scores_2: List[Tensor],
                             mil_scores: List[Tensor]) -> List[Tensor]:
        """``y_cls`` per level, ``(N, K_l, C)``; inputs as from forward."""
        return [
            mil_instance_scores(*level) for level in zip(
                self._instances(cls_scores), self._instances(cls_scores_2),
                self._instances(mil_scores))
        ]

    def _probs(self, scores: List[Tensor]) -> Tensor:
        """Sigmoid scores of all levels, ``(N, K, C)``."""
        return torch.cat(self._instances(scores), dim=1).sigmoid()

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
        are not in the multi-hot.

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
        featmap_sizes = [featmap.size()[-2:] for featmap in cls_scores]
        assert len(featmap_sizes) == self.prior_generator.num_levels
        device = cls_scores[0].device
        anchor_list, valid_flag_list = self.get_anchors(
            featmap_sizes, batch_img_metas, device=device)
        (labels_list, label_weights_list, bbox_targets_list, bbox_weights_list,
         avg_factor) = self.get_targets(
             anchor_list,
             valid_flag_list,
             batch_gt_instances,
             batch_img_metas,
             batch_gt_instances_ignore=batch_gt_instances_ignore)
        num_level_anchors = [anchors.size(0) for anchors in anchor_list[0]]
        all_anchor_list = images_to_levels(
            [cat_boxes(anchors) for anchors in anchor_list], num_level_anchors)
        targets = (all_anchor_list, labels_list, label_weights_list,
                   bbox_targets_list, bbox_weights_list)

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
            self._mil_instance_scores(cls_scores, cls_scores_2, mil_scores))
        gt_classes = image_scores.new_zeros(image_scores.shape)
        for gt_class, gt_instances in zip(gt_classes, batch_gt_instances):
            gt_class[gt_instances.labels] = 1
        loss_imgcls = F.binary_cross_entropy(image_scores, gt_classes)
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
        if step not in self.UNLABELED_STEPS:
            raise ValueError(f'step must be one of {self.UNLABELED_STEPS}, '
                             f'got {step!r}')
        cls_scores, cls_scores_2, mil_scores = self.forward_branches(
            x, ('f_1', 'f_2', 'f_mil'))
        instance_scores = self._mil_instance_scores(cls_scores, cls_scores_2,
                                                    mil_scores)
        weights = torch.cat(instance_scores, dim=1).detach()
        probs = self._probs(cls_scores)
        probs_2 = self._probs(cls_scores_2)
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
            self._probs(cls_scores), self._probs(cls_scores_2), k)
