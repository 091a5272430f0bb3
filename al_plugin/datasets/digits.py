"""Datasets of the built-in digits detection set.

The set is made by ``tools/make_digits_det.py`` from the handwritten digits
bundled with scikit-learn, in both VOC and COCO format.
"""
import json
import xml.etree.ElementTree as ET

from mmdet.datasets import CocoDataset, VOCDataset
from mmdet.registry import DATASETS

#: what a malformed annotation file makes mmdet's parsers raise
_PARSE_ERRORS = (ET.ParseError, json.JSONDecodeError, AttributeError,
                 KeyError, TypeError, ValueError)

DIGITS_METAINFO = {
    'classes': ('0', '1', '2', '3', '4', '5', '6', '7', '8', '9'),
    # palette is a list of color tuples, which is used for visualization.
    'palette': [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40),
                (148, 103, 189), (140, 86, 75), (227, 119, 194),
                (127, 127, 127), (188, 189, 34), (23, 190, 207)]
}


@DATASETS.register_module()
class DigitsVOCDataset(VOCDataset):
    """Digits detection set in VOC format.

    Unlike :class:`mmdet.datasets.VOCDataset`, ``metainfo['dataset_type']``
    is always ``'DIGITS'``, whatever the path, so that
    :class:`mmdet.evaluation.VOCMetric` reports the digit class names instead
    of VOC's and ``ConcatDataset`` joins the 2007 and 2012 parts without
    ``ignore_keys``.

    Examples:
        >>> dataset = DigitsVOCDataset(
        ...     data_root='data/digits_det/VOCdevkit/',
        ...     ann_file='DIGITS2007/ImageSets/Main/test.txt',
        ...     data_prefix=dict(sub_data_root='DIGITS2007/'),
        ...     test_mode=True)
    """

    METAINFO = DIGITS_METAINFO
    DATASET_TYPE = 'DIGITS'

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._metainfo['dataset_type'] = self.DATASET_TYPE

    def parse_data_info(self, img_info: dict) -> dict:
        """mmdet's parser, with an error that names the annotation file."""
        try:
            return super().parse_data_info(img_info)
        except _PARSE_ERRORS as error:
            raise ValueError(f'malformed annotation file '
                             f'{img_info["xml_path"]}: {error}') from error


@DATASETS.register_module()
class DigitsCocoDataset(CocoDataset):
    """Digits detection set in COCO format.

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

    def load_data_list(self) -> list:
        """mmdet's loader, with an error that names the annotation file."""
        try:
            return super().load_data_list()
        except _PARSE_ERRORS as error:
            raise ValueError(f'malformed annotation file {self.ann_file}: '
                             f'{error}') from error
