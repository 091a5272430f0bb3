"""MI-AOD: a RetinaNet whose loss tells labeled from unlabeled images."""
from typing import Iterator, List, Tuple

import torch
from mmdet.models.detectors import SingleStageDetector
from mmdet.models.utils import rename_loss_dict
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample, SampleList
from mmdet.utils import ConfigType, OptConfigType, OptMultiConfig
from torch import Tensor, nn

from ..utils import check_unlabeled_step


def is_unlabeled(data_sample: DetDataSample) -> bool:
    """Whether a sample is unlabeled: its metainfo ``unlabeled`` (set by the
    active-learning dataset wrapper; missing means labeled)."""
    return bool(data_sample.metainfo.get('unlabeled', False))


@MODELS.register_module()
class MIAOD(SingleStageDetector):
    """`MI-AOD <https://arxiv.org/abs/2104.02324>`_: RetinaNet with the
    :class:`MIAODHead`.

    :meth:`loss` dispatches each sample on its metainfo ``unlabeled``:
    labeled samples get the detection and MIL losses
    (``bbox_head.loss``), unlabeled ones the discrepancy losses of the
    current :attr:`unlabeled_step` (``bbox_head.loss_unlabeled``). A batch
    may mix both; the unlabeled losses of a mixed batch are prefixed
    ``u_``. :meth:`predict` is RetinaNet's.

    The training loop sets :attr:`unlabeled_step` through
    :meth:`set_unlabeled_step` and freezes or trains
    :meth:`adversarial_parameters` per phase.
    """

    def __init__(self,
                 backbone: ConfigType,
                 neck: ConfigType,
                 bbox_head: ConfigType,
                 train_cfg: OptConfigType = None,
                 test_cfg: OptConfigType = None,
                 data_preprocessor: OptConfigType = None,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(
            backbone=backbone,
            neck=neck,
            bbox_head=bbox_head,
            train_cfg=train_cfg,
            test_cfg=test_cfg,
            data_preprocessor=data_preprocessor,
            init_cfg=init_cfg)
        self.unlabeled_step = 'min'

    def set_unlabeled_step(self, step: str) -> None:
        """Choose the loss of unlabeled samples.

        Args:
            step (str): ``'min'`` (minimise the instance uncertainty, plus
                the MIL loss) or ``'max'`` (maximise it).
        """
        self.unlabeled_step = check_unlabeled_step(step)

    def loss(self, batch_inputs: Tensor,
             batch_data_samples: SampleList) -> dict:
        """Calculate losses from a batch of labeled and/or unlabeled inputs.

        Args:
            batch_inputs (Tensor): Input images of shape (N, C, H, W).
            batch_data_samples (list[:obj:`DetDataSample`]): The batch data
                samples; unlabeled ones have ``metainfo['unlabeled']`` true.

        Returns:
            dict: A dictionary of loss components.
        """
        x = self.extract_feat(batch_inputs)
        unlabeled = [is_unlabeled(s) for s in batch_data_samples]
        if not any(unlabeled):
            return self.bbox_head.loss(x, batch_data_samples)
        if all(unlabeled):
            return self.bbox_head.loss_unlabeled(
                x, batch_data_samples, step=self.unlabeled_step)
        losses = self.bbox_head.loss(
            *self._select(x, batch_data_samples, [not u for u in unlabeled]))
        unlabeled_losses = self.bbox_head.loss_unlabeled(
            *self._select(x, batch_data_samples, unlabeled),
            step=self.unlabeled_step)
        losses.update(rename_loss_dict('u_', unlabeled_losses))
        return losses

    @staticmethod
    def _select(x: Tuple[Tensor], batch_data_samples: SampleList,
                keep: List[bool]) -> Tuple[Tuple[Tensor], SampleList]:
        """The features (each ``(N, C, H, W)``) and samples of the images
        whose ``keep`` is true."""
        inds = [i for i, k in enumerate(keep) if k]
        index = torch.as_tensor(inds, device=x[0].device)
        feats = tuple(feat[index] for feat in x)
        return feats, [batch_data_samples[i] for i in inds]

    def predict_uncertainty(self,
                            batch_inputs: Tensor,
                            batch_data_samples: SampleList,
                            k: int = 10000) -> Tensor:
        """MI-AOD's instance uncertainty of each image, see
        :meth:`MIAODHead.predict_uncertainty`.

        Args:
            batch_inputs (Tensor): Inputs of shape (N, C, H, W).
            batch_data_samples (list[:obj:`DetDataSample`]): The data
                samples (unused; the signature of the scoring hook).
            k (int): Anchors averaged per image. Defaults to 10000.

        Returns:
            Tensor: ``(N, )``.
        """
        x = self.extract_feat(batch_inputs)
        return self.bbox_head.predict_uncertainty(x, k=k)

    def adversarial_parameters(self) -> Iterator[Tuple[str, nn.Parameter]]:
        """The parameters of the adversarial classifiers f1/f2.

        Yields:
            tuple[str, Parameter]: Names as in ``self.named_parameters()``.
        """
        for name, param in self.bbox_head.adversarial_parameters():
            yield f'bbox_head.{name}', param
