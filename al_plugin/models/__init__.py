"""Registered components; see the package README."""
from .dense_heads import MIAODHead
from .detectors import MIAOD

__all__ = ['MIAODHead', 'MIAOD']
