"""Registered components; see the package README."""
from .adapters import (DenseHeadAdapter, OutputAdapter, TwoStageAdapter,
                       adapter_class, build_adapter)
from .dense_heads import MIAODHead
from .detectors import MIAOD
from .image_weights import (LOSS_WEIGHT_KEY, ImageWeightedAnchorHeadMixin,
                            ImageWeightedRetinaHead, ImageWeightedRoIHead,
                            ImageWeightedRPNHead, check_image_weights,
                            image_loss_weights)

__all__ = [
    'MIAODHead', 'MIAOD', 'OutputAdapter', 'DenseHeadAdapter',
    'TwoStageAdapter', 'adapter_class', 'build_adapter', 'LOSS_WEIGHT_KEY',
    'ImageWeightedAnchorHeadMixin', 'ImageWeightedRetinaHead',
    'ImageWeightedRoIHead', 'ImageWeightedRPNHead', 'check_image_weights',
    'image_loss_weights'
]
