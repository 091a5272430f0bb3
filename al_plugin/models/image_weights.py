"""Per-image loss weights: an image trained on with pseudo labels (the
model's own boxes) counts ``weight`` times a labeled one.

The data carries the weight: :class:`~al_plugin.datasets.ActiveSubset`
sets ``al_loss_weight`` in a pseudo-labeled sample's metainfo (missing
means 1). The heads here read it where mmdet makes its per-sample loss
weights, so everything else (assignment, sampling, the losses and their
options) stays mmdet's:

- :class:`ImageWeightedAnchorHeadMixin` scales, per image, the label and
  box weights ``AnchorHead.get_targets`` returns (RetinaNet, the RPN,
  :class:`MIAODHead`);
- :class:`ImageWeightedRoIHead` scales those of its RoIs in the R-CNN box
  loss.

Semantics, the same in every head: an image's loss terms are multiplied
by its weight; the normalisers (positive anchors, sampled anchors or RoIs)
count an image of weight > 0 as a labeled one and leave out an image of
weight 0 -- as mmdet's own box head counts the RoIs of non-zero weight.
So weight 0 is the loss of the batch without that image (given the same
features), weight 1 the loss of a labeled image, and the loss is linear in
a weight in (0, 1]. When every image of a batch weighs 1 the stock code
runs unchanged.

A config turns them on by type (``ImageWeightedRetinaHead``,
``ImageWeightedRPNHead``, ``ImageWeightedRoIHead``; :class:`MIAODHead` has
them built in); :func:`check_image_weights` names the heads of a model
that would ignore the weights.
"""
from typing import List, Optional, Sequence

import torch
from mmdet.models.dense_heads import RetinaHead, RPNHead
from mmdet.models.dense_heads.base_dense_head import BaseDenseHead
from mmdet.models.roi_heads import StandardRoIHead
from mmdet.models.roi_heads.base_roi_head import BaseRoIHead
from mmdet.registry import MODELS
from mmdet.structures.bbox import bbox2roi
from torch import Tensor, nn

#: metainfo key of a sample's loss weight (set by ``ActiveSubset``)
LOSS_WEIGHT_KEY = 'al_loss_weight'


def image_loss_weights(batch_img_metas: Sequence[dict],
                       device=None) -> Optional[Tensor]:
    """The loss weight of each image, ``(N, )`` float32; None when every
    image weighs 1 (the stock loss then runs unchanged).

    Raises:
        ValueError: A weight is negative or not finite.
    """
    weights = [float(meta.get(LOSS_WEIGHT_KEY, 1.0))
               for meta in batch_img_metas]
    if all(w == 1.0 for w in weights):
        return None
    bad = [w for w in weights if not (w >= 0.0 and w < float('inf'))]
    if bad:
        raise ValueError(f'{LOSS_WEIGHT_KEY} must be a finite number >= 0, '
                         f'got {bad[0]}')
    return torch.tensor(weights, dtype=torch.float32, device=device)


def image_weighted_mean(losses: Tensor, weights: Optional[Tensor]) -> Tensor:
    """The mean of per-image losses ``(N, ...)``, image i's scaled by
    ``weights[i]`` and the mean taken over the images of weight > 0 (see
    the module); ``losses.mean()`` when ``weights`` is None."""
    if weights is None:
        return losses.mean()
    scaled = losses * weights.view(-1, *([1] * (losses.dim() - 1)))
    count = int((weights > 0).sum()) * (losses[0].numel() if len(losses)
                                        else 0)
    return scaled.sum() / max(count, 1)


class ImageWeightedLoss:
    """Marker of the heads that apply :func:`image_loss_weights`."""


class ImageWeightedAnchorHeadMixin(ImageWeightedLoss):
    """For an mmdet ``AnchorHead`` subclass: :meth:`get_targets` scales
    image i's label weights ``(N, K_l)`` and box weights ``(N, K_l, 4)``
    per level by its weight ``w_i``, and ``avg_factor`` is the sum of the
    images' own avg factors over the images with ``w_i > 0``. Put it first
    among the bases (``class H(ImageWeightedAnchorHeadMixin,
    RetinaHead)``)."""

    def get_targets(self, anchor_list, valid_flag_list, batch_gt_instances,
                    batch_img_metas, batch_gt_instances_ignore=None,
                    unmap_outputs: bool = True,
                    return_sampling_results: bool = False) -> tuple:
        """``AnchorHead.get_targets``, weighted per image (see above)."""
        device = anchor_list[0][0].device
        weights = image_loss_weights(batch_img_metas, device)
        if weights is None:
            return super().get_targets(
                anchor_list, valid_flag_list, batch_gt_instances,
                batch_img_metas, batch_gt_instances_ignore, unmap_outputs,
                return_sampling_results)
        if not unmap_outputs:
            raise NotImplementedError(
                f'{type(self).__name__}: per-image loss weights need the '
                'targets of every anchor (unmap_outputs=True)')
        (labels, label_weights, bbox_targets, bbox_weights, _,
         sampling_results, *rest) = super().get_targets(
             anchor_list, valid_flag_list, batch_gt_instances,
             batch_img_metas, batch_gt_instances_ignore, unmap_outputs,
             return_sampling_results=True)
        label_weights = [w * weights[:, None] for w in label_weights]
        bbox_weights = [
            w * weights.view(-1, *([1] * (w.dim() - 1)))
            for w in bbox_weights
        ]
        avg_factor = sum(result.avg_factor
                         for result, w in zip(sampling_results,
                                              weights.tolist()) if w > 0)
        targets = (labels, label_weights, bbox_targets, bbox_weights,
                   avg_factor)
        if return_sampling_results:
            targets += (sampling_results, )
        return targets + tuple(rest)


@MODELS.register_module()
class ImageWeightedRetinaHead(ImageWeightedAnchorHeadMixin, RetinaHead):
    """mmdet's ``RetinaHead`` with per-image loss weights (see
    :class:`ImageWeightedAnchorHeadMixin`); otherwise the same head, same
    options and parameters."""


@MODELS.register_module()
class ImageWeightedRPNHead(ImageWeightedAnchorHeadMixin, RPNHead):
    """mmdet's ``RPNHead`` with per-image loss weights (see
    :class:`ImageWeightedAnchorHeadMixin`)."""


@MODELS.register_module()
class ImageWeightedRoIHead(ImageWeightedLoss, StandardRoIHead):
    """mmdet's ``StandardRoIHead`` whose box loss weighs each RoI by its
    image's weight: the label weights ``(R, )`` and box weights ``(R, 4)``
    of ``bbox_head.get_targets`` are scaled by the weight of the RoI's image
    (``rois[:, 0]``), and the RoIs of images of weight 0 are left out of
    ``bbox_head.loss`` (whose normalisers count RoIs), unless every image
    weighs 0. Mask losses are not weighted: a mask head is refused when the
    weights are not all 1."""

    def loss(self, x, rpn_results_list, batch_data_samples) -> dict:
        """``StandardRoIHead.loss`` with the batch's image weights."""
        self._image_weights = image_loss_weights(
            [s.metainfo for s in batch_data_samples], x[0].device)
        if self._image_weights is not None and self.with_mask:
            raise NotImplementedError(
                f'{type(self).__name__} weighs box losses only; this RoI '
                'head has a mask head')
        try:
            return super().loss(x, rpn_results_list, batch_data_samples)
        finally:
            self._image_weights = None

    def bbox_loss(self, x, sampling_results) -> dict:
        """The box head's losses over the sampled RoIs ``(R, 5)``, each
        weighted by its image's weight (see the class)."""
        weights = getattr(self, '_image_weights', None)
        if weights is None:
            return super().bbox_loss(x, sampling_results)
        rois = bbox2roi([res.priors for res in sampling_results])
        results = self._bbox_forward(x, rois)
        labels, label_weights, bbox_targets, bbox_weights = \
            self.bbox_head.get_targets(sampling_results, self.train_cfg)
        per_roi = weights[rois[:, 0].long()]
        label_weights = label_weights * per_roi
        bbox_weights = bbox_weights * per_roi[:, None]
        rows = [results['cls_score'], results['bbox_pred'], rois, labels,
                label_weights, bbox_targets, bbox_weights]
        keep = per_roi > 0
        if keep.any() and not keep.all():
            rows = [row[keep] for row in rows]
        results.update(loss_bbox=self.bbox_head.loss(*rows))
        return results


def check_image_weights(model: nn.Module, what: str) -> None:
    """Raise ``TypeError`` unless every loss head of ``model`` applies the
    per-image loss weights (and it has one).

    Args:
        model (nn.Module): The detector (not a wrapper).
        what (str): What asks for weights, e.g.
            ``'ActiveSelectionHook.pseudo_labels.weight=0.5'``.
    """
    weighted: List[str] = []
    stock: List[str] = []
    for name, module in model.named_modules():
        if isinstance(module, ImageWeightedLoss):
            weighted.append(name)
            if getattr(module, 'with_mask', False):
                stock.append(f'{name}.mask_head ({type(module).__name__}'
                             ' weighs box losses only)')
        elif isinstance(module, (BaseDenseHead, BaseRoIHead)):
            twin = _TWINS.get(type(module).__name__)
            stock.append(f'{name} ({type(module).__name__}'
                         + (f': set model.{name}.type={twin!r}' if twin
                            else '') + ')')
    if stock or not weighted:
        raise TypeError(
            f'{what} needs a detector whose loss weighs images (metainfo '
            f'{LOSS_WEIGHT_KEY!r}): '
            + ('; '.join(stock) if stock else
               f'{type(model).__name__} has no such head')
            + '. Heads that do: ' + ', '.join(sorted(_TWINS.values()))
            + ', MIAODHead; or keep weight=1.0')


#: stock mmdet head -> its weighted twin, for the messages
_TWINS = {
    'RetinaHead': 'ImageWeightedRetinaHead',
    'RPNHead': 'ImageWeightedRPNHead',
    'StandardRoIHead': 'ImageWeightedRoIHead',
}
