"""Registered components; see the package README."""
from .active_subset import ActiveSubset
from .digits import DigitsCocoDataset, DigitsVOCDataset
from .splitter import ActiveDatasetSplitter

__all__ = [
    'ActiveDatasetSplitter', 'ActiveSubset', 'DigitsCocoDataset',
    'DigitsVOCDataset'
]
