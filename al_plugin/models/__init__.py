"""Registered components; see the package README."""
from .adapters import (DenseHeadAdapter, OutputAdapter, TwoStageAdapter,
                       adapter_class, build_adapter)
from .dense_heads import MIAODHead
from .detectors import MIAOD

__all__ = [
    'MIAODHead', 'MIAOD', 'OutputAdapter', 'DenseHeadAdapter',
    'TwoStageAdapter', 'adapter_class', 'build_adapter'
]
