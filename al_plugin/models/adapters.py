"""What the selection scorer needs from a detector, one adapter a family.

The scorer (:mod:`al_plugin.engine.scoring`) runs the backbone and neck once
per pool batch and asks the model's adapter for the per-image quantities the
strategy declared: class probabilities of candidate boxes, pooled features,
final detections, MI-AOD's instance uncertainty.  Each detector family
(dense one-stage heads, RPN + RoI two-stage detectors, ...) answers these in
its own way; a new family registers an adapter in ``ADAPTERS`` and nothing
else changes.

:func:`build_adapter` picks the first registered adapter whose
:meth:`OutputAdapter.applies_to` accepts the model, or the one a config
names.
"""
from typing import List, Optional, Tuple

import torch
import torch.nn.functional as F
from mmdet.models.detectors import SingleStageDetector, TwoStageDetector
from mmdet.structures.bbox import bbox2roi
from mmengine.structures import InstanceData
from torch import Tensor

from al_plugin.registry import ADAPTERS
from .dense_heads.miaod_head import levels_to_instances


class OutputAdapter:
    """Per-image outputs of one detector family, from neck features.

    Args:
        model (nn.Module): The detector (not a DDP wrapper).
    """

    def __init__(self, model) -> None:
        self.model = model

    @classmethod
    def applies_to(cls, model) -> bool:
        """Whether this adapter knows how to read ``model``."""
        return False

    def extract_feat(self, inputs: Tensor) -> Tuple[Tensor]:
        """Backbone and neck: ``(N, 3, H, W)`` -> levels ``(N, C_l, H_l,
        W_l)``."""
        return self.model.extract_feat(inputs)

    def pooled_features(self, feats: Tuple[Tensor]) -> Tensor:
        """The spatial mean of every level, concatenated: ``(N, sum C_l)``."""
        return torch.cat([f.mean(dim=(2, 3)) for f in feats], dim=1)

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

    def instance_uncertainty(self, feats: Tuple[Tensor],
                             k: int = 10000) -> Tensor:
        """MI-AOD's image instance uncertainty ``(N, )``."""
        raise NotImplementedError(
            f'{type(self).__name__}: instance uncertainty needs a detector '
            f'with an MI-AOD head, not {type(self.model).__name__}')


@ADAPTERS.register_module()
class DenseHeadAdapter(OutputAdapter):
    """One-stage detectors with a dense ``bbox_head`` (RetinaNet, FCOS,
    ATSS, MI-AOD...): a candidate box is an anchor (point) of any level."""

    @classmethod
    def applies_to(cls, model) -> bool:
        return isinstance(model, SingleStageDetector)

    def box_class_probs(self, feats, samples):
        head = self.model.bbox_head
        cls_scores = head(feats)[0]  # per level (N, A * C, H, W)
        flat = torch.cat(
            levels_to_instances(cls_scores, head.cls_out_channels), dim=1)
        if head.use_sigmoid_cls:
            return list(flat.sigmoid())
        return list(flat.softmax(-1)[..., :-1])  # drop the background

    def detections(self, feats, samples, rescale=True):
        return self.model.bbox_head.predict(feats, samples, rescale=rescale)

    def instance_uncertainty(self, feats, k=10000):
        head = self.model.bbox_head
        if not hasattr(head, 'predict_uncertainty'):
            return super().instance_uncertainty(feats, k)
        return head.predict_uncertainty(feats, k=k)


@ADAPTERS.register_module()
class TwoStageAdapter(OutputAdapter):
    """RPN + RoI-head detectors (Faster R-CNN and kin): a candidate box is
    an RPN proposal (``test_cfg.rpn``: NMS and ``max_per_img``) classified
    by the RoI box head."""

    @classmethod
    def applies_to(cls, model) -> bool:
        return isinstance(model, TwoStageDetector)

    def proposals(self, feats, samples) -> List[InstanceData]:
        """RPN proposals in the input frame; ``bboxes`` ``(n_i, 4)``."""
        return self.model.rpn_head.predict(feats, samples, rescale=False)

    def box_class_probs(self, feats, samples):
        roi_head = self.model.roi_head
        proposals = self.proposals(feats, samples)
        rois = bbox2roi([p.bboxes for p in proposals])
        cls_score = roi_head._bbox_forward(feats, rois)['cls_score']
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
