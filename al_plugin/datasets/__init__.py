"""Registered components; see the package README."""
from .active_subset import BROKEN, ActiveSubset, collate_marking_broken
from .digits import DigitsCocoDataset, DigitsVOCDataset
from .image_folder import ImageFolderDataset
from .pseudo_labels import PseudoLabels
from .splitter import ActiveDatasetSplitter
from .user import UserCocoDataset, UserVOCDataset
from .user_configs import user_coco_data, user_voc_data

__all__ = [
    'ActiveDatasetSplitter', 'ActiveSubset', 'BROKEN',
    'collate_marking_broken', 'DigitsCocoDataset', 'DigitsVOCDataset',
    'ImageFolderDataset', 'PseudoLabels', 'UserCocoDataset', 'UserVOCDataset',
    'user_coco_data', 'user_voc_data'
]
