"""What the selection scorer needs from a detector, one adapter a family.

The scorer (:mod:`al_plugin.engine.scoring`) runs the backbone and neck once
per group of pool images that share a padded shape and asks the model's
adapter for the per-image quantities the strategy declared: class
probabilities of candidate boxes, pooled features, final detections, MI-AOD's
instance uncertainty, each from the image's own cells and anchors (never the
padding).  Each detector family
(dense one-stage heads, RPN + RoI two-stage detectors, ...) answers these in
its own way; a new family registers an adapter in ``ADAPTERS`` and nothing
else changes.

:func:`build_adapter` picks the first registered adapter whose
:meth:`OutputAdapter.applies_to` accepts the model, or the one a config
names.
"""
import math
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmdet.models.detectors import SingleStageDetector, TwoStageDetector
from mmengine.structures import InstanceData
from torch import Tensor, nn

from al_plugin.registry import ADAPTERS
from .dense_heads import MIAODHead
from .gradient_embedding import ClsLayerTerms, layer_calls, loss_spec
from .losses.miaod_losses import instance_uncertainty
from .tightness import roi_tightness
from .utils import levels_to_instances


class OutputAdapter:
    """Per-image outputs of one detector family, from neck features.

    Every method takes the features of images that share one padded input
    shape (what the data preprocessor gives that image alone: its
    ``img_shape`` rounded up to ``pad_size_divisor``) and their data
    samples; a per-image output uses only the feature cells (and anchors)
    inside the image's own ``img_shape``, so the padding never enters it.

    Args:
        model (nn.Module): The detector (not a DDP wrapper).
    """

    #: the detector family, as messages name it
    family = 'detectors'

    def __init__(self, model) -> None:
        self.model = model

    @classmethod
    def applies_to(cls, model) -> bool:
        """Whether this adapter knows how to read ``model``."""
        return cls.applies_to_type(type(model))

    @classmethod
    def applies_to_type(cls, model_type: type) -> bool:
        """Whether it reads detectors of class ``model_type`` (a config's
        ``model.type``, at config load before any model exists)."""
        return False

    @property
    def pad_size_divisor(self) -> int:
        """What the model's data preprocessor pads a batch's height and
        width to a multiple of (1 if it does not say)."""
        preprocessor = getattr(self.model, 'data_preprocessor', None)
        return int(getattr(preprocessor, 'pad_size_divisor', 1) or 1)

    def extract_feat(self, inputs: Tensor) -> Tuple[Tensor]:
        """Backbone and neck: ``(N, 3, H, W)`` -> levels ``(N, C_l, H_l,
        W_l)``."""
        return self.model.extract_feat(inputs)

    def feature_strides(self) -> List[Tuple[int, int]]:
        """``(stride_w, stride_h)`` of each neck level, in input pixels."""
        raise NotImplementedError(
            f'{type(self).__name__} does not know the strides of the '
            f'feature levels of {type(self.model).__name__}')

    def valid_cells(self, feats: Tuple[Tensor],
                    img_shape) -> List[Tuple[int, int]]:
        """How many rows and columns of each level lie inside the image.

        The rule of mmdet's ``prior_generator.valid_flags``: level l keeps
        ``min(ceil(h / stride_h), H_l)`` rows and ``min(ceil(w / stride_w),
        W_l)`` columns, from the top left (the padding is bottom / right).

        Args:
            feats (tuple[Tensor]): Levels ``(N, C_l, H_l, W_l)``.
            img_shape (tuple[int]): ``(h, w)`` of the image (no padding).

        Returns:
            list[tuple[int, int]]: ``(rows, cols)`` per level.
        """
        strides = self.feature_strides()
        if len(strides) != len(feats):
            raise ValueError(
                f'{type(self).__name__}: {len(feats)} feature levels but '
                f'{len(strides)} strides')
        height, width = img_shape[:2]
        return [(min(math.ceil(height / stride_h), feat.size(2)),
                 min(math.ceil(width / stride_w), feat.size(3)))
                for feat, (stride_w, stride_h) in zip(feats, strides)]

    def pooled_features(self, feats: Tuple[Tensor], samples) -> Tensor:
        """The spatial mean of every level over the cells inside each
        image (:meth:`valid_cells`), concatenated.

        Args:
            feats (tuple[Tensor]): Levels ``(N, C_l, H_l, W_l)``.
            samples (list[DetDataSample]): With ``img_shape``.

        Returns:
            Tensor: ``(N, sum C_l)``.
        """
        rows = []
        for i, sample in enumerate(samples):
            cells = self.valid_cells(feats, sample.img_shape)
            rows.append(
                torch.cat([
                    feat[i, :, :h, :w].mean(dim=(1, 2))
                    for feat, (h, w) in zip(feats, cells)
                ]))
        return torch.stack(rows) if rows else feats[0].new_zeros(
            0, sum(f.size(1) for f in feats))

    def box_class_probs(self, feats: Tuple[Tensor],
                        samples) -> List[Tensor]:
        """Class probabilities of each image's candidate boxes, before any
        score threshold or NMS.

        Returns:
            list[Tensor]: one ``(n_i, C)`` tensor an image (no background
            column).
        """
        raise NotImplementedError(
            f'{type(self).__name__} has no box class probabilities')

    def detections(self, feats: Tuple[Tensor], samples,
                   rescale: bool = True) -> List[InstanceData]:
        """The detector's final detections (``test_cfg``: score threshold,
        NMS, ``max_per_img``).

        Returns:
            list[InstanceData]: per image ``bboxes`` ``(n, 4)`` (x1, y1, x2,
            y2; in the original image frame when ``rescale``), ``scores``
            ``(n, )`` and ``labels`` ``(n, )``.
        """
        raise NotImplementedError(
            f'{type(self).__name__} has no detections')

    def instance_uncertainty(self, feats: Tuple[Tensor], samples,
                             k: int = 10000) -> Tensor:
        """MI-AOD's image instance uncertainty ``(N, )``."""
        raise NotImplementedError(
            f'{type(self).__name__}: instance uncertainty needs a detector '
            f'with an MI-AOD head, not {type(self.model).__name__}')

    def cls_layer_terms(self, feats: Tuple[Tensor],
                        samples) -> List[ClsLayerTerms]:
        """Per image, its candidate boxes' class probabilities, logits of
        the last classification layer and that layer's inputs (see
        :mod:`.gradient_embedding`)."""
        raise NotImplementedError(
            f'{type(self).__name__} has no classification-layer terms')

    def cls_loss_spec(self) -> dict:
        """The classification loss, as ``logit_grad``'s keywords."""
        raise NotImplementedError(
            f'{type(self).__name__} does not know the classification loss')

    def proposal_tightness(self, feats: Tuple[Tensor],
                           samples) -> List[Tensor]:
        """Per image ``(n_i, 2)``: each proposal's IoU with the box the
        detector refines it into, and its confidence (:mod:`.tightness`)."""
        raise NotImplementedError(
            f'{type(self).__name__} cannot compute the localization '
            f'tightness of {type(self.model).__name__} ({self.family}): it '
            'needs a two-stage detector, whose RoI head refines RPN '
            'proposals (Faster R-CNN and kin)')


@ADAPTERS.register_module()
class DenseHeadAdapter(OutputAdapter):
    """One-stage detectors with a dense ``bbox_head`` (RetinaNet, FCOS,
    ATSS, MI-AOD...): a candidate box is an anchor (point) of any level
    whose cell lies inside the image (``prior_generator.valid_flags`` of
    the image's ``img_shape``)."""

    family = 'one-stage detectors: no proposals'

    @classmethod
    def applies_to_type(cls, model_type):
        return issubclass(model_type, SingleStageDetector)

    def feature_strides(self):
        return list(self.model.bbox_head.prior_generator.strides)

    def anchor_rows(self, scores: Sequence[Tensor], samples,
                    channels: int) -> List[Tensor]:
        """Per image, the rows of its anchors inside its ``img_shape``.

        Args:
            scores (Sequence[Tensor]): Head outputs per level,
                ``(N, A * channels, H_l, W_l)``.
            samples (list[DetDataSample]): With ``img_shape``.
            channels (int): Outputs per anchor.

        Returns:
            list[Tensor]: ``(K_i, channels)`` an image, in mmdet's prior
            order (level, row, column, anchor), exactly the anchors that
            ``valid_flags(featmap_sizes, img_shape)`` flags.
        """
        rows = []
        for i, sample in enumerate(samples):
            cells = self.valid_cells(scores, sample.img_shape)
            levels = [
                score[i:i + 1, :, :h, :w]
                for score, (h, w) in zip(scores, cells)
            ]
            rows.append(torch.cat(levels_to_instances(levels, channels),
                                  dim=1)[0])
        return rows

    def box_class_probs(self, feats, samples):
        head = self.model.bbox_head
        cls_scores = head(feats)[0]  # per level (N, A * C, H, W)
        rows = self.anchor_rows(cls_scores, samples, head.cls_out_channels)
        if head.use_sigmoid_cls:
            return [r.sigmoid() for r in rows]
        return [r.softmax(-1)[:, :-1] for r in rows]  # drop the background

    def detections(self, feats, samples, rescale=True):
        return self.model.bbox_head.predict(feats, samples, rescale=rescale)

    #: names of the last classification layer in the heads known here
    #: (RetinaNet, MI-AOD's f_1, FCOS and kin, ATSS)
    CLS_LAYERS = ('retina_cls', 'f_1_cls', 'conv_cls', 'atss_cls')

    def cls_layer_terms(self, feats, samples):
        """Over each image's own anchors: probabilities and logits
        ``(K_i, C)`` (softmax heads: logits ``(K_i, C + 1)``) and the
        classification conv's input at each cell ``(K_i / A, D)``, read by
        the kernel's centre tap (a stride-1, same-padding conv)."""
        head = self.model.bbox_head
        layer = next((getattr(head, name) for name in self.CLS_LAYERS
                      if isinstance(getattr(head, name, None), nn.Conv2d)),
                     None)
        if layer is None or layer.stride != (1, 1) or layer.dilation != (
                1, 1) or layer.groups != 1 or layer.padding != tuple(
                    k // 2 for k in layer.kernel_size):
            raise NotImplementedError(
                f'{type(head).__name__}: no stride-1, same-padding conv '
                f'named one of {self.CLS_LAYERS}')
        calls = layer_calls(layer, lambda: head(feats))
        if len(calls) != len(feats):
            raise RuntimeError(f'{type(head).__name__} ran its '
                               f'classification layer {len(calls)} times '
                               f'for {len(feats)} levels')
        logits = self.anchor_rows([out for _, out in calls], samples,
                                  head.cls_out_channels)
        inputs = self.anchor_rows([inp for inp, _ in calls], samples,
                                  layer.in_channels)
        return [
            ClsLayerTerms(
                z.sigmoid() if head.use_sigmoid_cls else
                z.softmax(-1)[:, :-1], z, h, len(z) // max(len(h), 1))
            for z, h in zip(logits, inputs)
        ]

    def cls_loss_spec(self):
        head = self.model.bbox_head
        return loss_spec(head.loss_cls, head.use_sigmoid_cls)

    def instance_uncertainty(self, feats, samples, k=10000):
        """MI-AOD's instance uncertainty (the head's f_1 and f_2) over each
        image's own anchors: the mean of the top ``min(k, K_i)`` values of
        ``mean_c((p1 - p2) ** 2)``; ``(N, )``."""
        head = self.model.bbox_head
        if not isinstance(head, MIAODHead):
            return super().instance_uncertainty(feats, samples, k)
        # f_1 and f_2 logits per level (N, A * C, H, W), the two towers
        # predict_uncertainty runs; the head's forward would run all four
        # (about 1.8 times the cost).
        cls_scores, cls_scores_2 = head.forward_branches(
            feats, ('f_1', 'f_2'))
        channels = head.cls_out_channels
        return torch.cat([
            instance_uncertainty(p1.sigmoid()[None], p2.sigmoid()[None], k)
            for p1, p2 in zip(
                self.anchor_rows(cls_scores, samples, channels),
                self.anchor_rows(cls_scores_2, samples, channels))
        ]) if len(samples) else cls_scores[0].new_zeros(0)


@ADAPTERS.register_module()
class TwoStageAdapter(OutputAdapter):
    """RPN + RoI-head detectors (Faster R-CNN and kin): a candidate box is
    an RPN proposal (``test_cfg.rpn``: NMS and ``max_per_img``; clipped to
    the image's ``img_shape``) classified by the RoI box head."""

    family = 'two-stage detectors: RPN proposals, RoI head'

    @classmethod
    def applies_to_type(cls, model_type):
        return issubclass(model_type, TwoStageDetector)

    def feature_strides(self):
        return list(self.model.rpn_head.prior_generator.strides)

    def proposals(self, feats, samples) -> List[InstanceData]:
        """RPN proposals in the input frame; ``bboxes`` ``(n_i, 4)``."""
        return self.model.rpn_head.predict(feats, samples, rescale=False)

    def box_class_probs(self, feats, samples):
        roi_head = self.model.roi_head
        proposals = self.proposals(feats, samples)
        # the RoI head's public forward: (cls_score, bbox_pred[, masks]) of
        # the proposals of all images, concatenated in image order
        cls_score = roi_head.forward(feats, proposals)[0]
        bbox_head = roi_head.bbox_head
        if bbox_head.custom_cls_channels:
            probs = bbox_head.loss_cls.get_activation(cls_score)
        else:
            probs = F.softmax(cls_score, dim=-1)
        probs = probs[:, :bbox_head.num_classes]  # drop the background
        return list(probs.split([len(p) for p in proposals]))

    def detections(self, feats, samples, rescale=True):
        return self.model.roi_head.predict(
            feats, self.proposals(feats, samples), samples, rescale=rescale)

    def cls_layer_terms(self, feats, samples):
        """Over each image's proposals: probabilities ``(n_i, C)``,
        logits ``(n_i, C + 1)`` of the box head's ``fc_cls`` (a Linear) and
        its inputs ``(n_i, D)``."""
        bbox_head = self.model.roi_head.bbox_head
        if bbox_head.custom_cls_channels or not isinstance(
                getattr(bbox_head, 'fc_cls', None), nn.Linear):
            raise NotImplementedError(
                f'{type(bbox_head).__name__}: gradient embeddings need a '
                'Linear fc_cls with softmax scores')
        proposals = self.proposals(feats, samples)
        calls = layer_calls(
            bbox_head.fc_cls,
            lambda: self.model.roi_head.forward(feats, proposals))
        inputs, logits = calls[0]
        sizes = [len(p) for p in proposals]
        probs = F.softmax(logits, dim=-1)[:, :bbox_head.num_classes]
        return [
            ClsLayerTerms(p, z, h, 1)
            for p, z, h in zip(probs.split(sizes), logits.split(sizes),
                               inputs.split(sizes))
        ]

    def cls_loss_spec(self):
        loss_cls = self.model.roi_head.bbox_head.loss_cls
        return loss_spec(loss_cls, getattr(loss_cls, 'use_sigmoid', False))

    def proposal_tightness(self, feats, samples):
        """:func:`.tightness.roi_tightness` of each image's proposals."""
        return roi_tightness(self.model.roi_head, feats,
                             self.proposals(feats, samples), samples)


def build_adapter(model, cfg: Optional[dict] = None) -> OutputAdapter:
    """The adapter ``cfg`` names, or the first registered one that applies.

    Args:
        model (nn.Module): The detector (not a DDP wrapper).
        cfg (dict, optional): ``dict(type=...)`` of an ``ADAPTERS`` entry.

    Raises:
        TypeError: No registered adapter applies to the model.
    """
    if cfg is not None:
        return ADAPTERS.build(dict(cfg, model=model))
    for adapter in ADAPTERS.module_dict.values():
        if adapter.applies_to(model):
            return adapter(model)
    raise TypeError(
        f'no output adapter applies to {type(model).__name__}; registered: '
        f'{sorted(ADAPTERS.module_dict)} (register one in ADAPTERS, or name '
        'it as ActiveSelectionHook(adapter=dict(type=...)))')


def adapter_class(model_type: type) -> Optional[type]:
    """The first registered adapter whose ``applies_to_type`` accepts
    detectors of class ``model_type``, or None."""
    return next((adapter for adapter in ADAPTERS.module_dict.values()
                 if adapter.applies_to_type(model_type)), None)
