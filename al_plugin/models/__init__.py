"""Registered components; see the package README."""
from .adapters import (DenseHeadAdapter, OutputAdapter, TwoStageAdapter,
                       build_adapter)
from .dense_heads import MIAODHead
from .detectors import MIAOD

__all__ = [
    'MIAODHead', 'MIAOD', 'OutputAdapter', 'DenseHeadAdapter',
    'TwoStageAdapter', 'build_adapter'
]
