"""Datasets of the built-in digits detection set.

The set is made by ``tools/make_digits_det.py`` from the handwritten digits
bundled with scikit-learn, in both VOC and COCO format.
"""
from mmdet.registry import DATASETS

from .user import UserCocoDataset, UserVOCDataset

DIGITS_METAINFO = {
    'classes': ('0', '1', '2', '3', '4', '5', '6', '7', '8', '9'),
    # palette is a list of color tuples, which is used for visualization.
    'palette': [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40),
                (148, 103, 189), (140, 86, 75), (227, 119, 194),
                (127, 127, 127), (188, 189, 34), (23, 190, 207)]
}


@DATASETS.register_module()
class DigitsVOCDataset(UserVOCDataset):
    """Digits detection set in VOC format: a :class:`UserVOCDataset` with
    the digit classes, ``metainfo['dataset_type']`` ``'DIGITS'``.

    Examples:
        >>> dataset = DigitsVOCDataset(
        ...     data_root='data/digits_det/VOCdevkit/',
        ...     ann_file='DIGITS2007/ImageSets/Main/test.txt',
        ...     data_prefix=dict(sub_data_root='DIGITS2007/'),
        ...     test_mode=True)
    """

    METAINFO = DIGITS_METAINFO
    DATASET_TYPE = 'DIGITS'


@DATASETS.register_module()
class DigitsCocoDataset(UserCocoDataset):
    """Digits detection set in COCO format: a :class:`UserCocoDataset`
    with the digit classes.

    The json files hold the same images and boxes as the VOC tree; file
    names are relative to the data set root.

    Examples:
        >>> dataset = DigitsCocoDataset(
        ...     data_root='data/digits_det/',
        ...     ann_file='annotations/instances_test.json',
        ...     data_prefix=dict(img=''),
        ...     test_mode=True)
    """

    METAINFO = DIGITS_METAINFO
    DATASET_TYPE = 'DIGITS'
