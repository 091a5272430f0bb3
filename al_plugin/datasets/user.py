"""Datasets of the user's own data: a VOC tree or a COCO json with the
user's class names.

mmdet's :class:`~mmdet.datasets.VOCDataset` sets ``metainfo['dataset_type']``
to ``'VOC2007'`` or ``'VOC2012'`` whenever its folder is named so, and
:class:`~mmdet.evaluation.VOCMetric` then labels its table with VOC's 20
class names, whatever ``metainfo['classes']`` says: a one-class set in
``VOC2007/`` is reported as "aeroplane". The classes here keep a fixed
``dataset_type`` of their own, so the metric reads the names from
``metainfo['classes']``, and a malformed annotation file raises an error
that names it. ``configs``-side, :mod:`al_plugin.datasets.user_configs`
writes their dataloader configs.
"""
import json
import logging
import xml.etree.ElementTree as ET
from collections import Counter
from typing import List, Optional, Sequence

from mmdet.datasets import CocoDataset, VOCDataset
from mmdet.datasets.api_wrappers import COCO
from mmdet.registry import DATASETS
from mmengine.logging import print_log

#: what a malformed annotation file makes mmdet's parsers raise
PARSE_ERRORS = (ET.ParseError, json.JSONDecodeError, AttributeError,
                KeyError, TypeError, ValueError)


class ClassMismatchError(ValueError):
    """``metainfo['classes']`` does not fit an annotation file."""


def check_classes(classes, owner: str) -> tuple:
    """The class names of ``metainfo['classes']``, checked.

    Args:
        classes: The value of ``metainfo['classes']`` (after mmengine read
            it, a file of names one a line already turned into a list).
        owner (str): The dataset class, for the message.

    Returns:
        tuple[str]: The names, in label order.

    Raises:
        ValueError: No names, a single string (``('cat')`` is ``'cat'``
            in Python: one class is ``('cat',)``), a name that is not a
            string, or a name listed twice.
    """
    if isinstance(classes, str):
        raise ValueError(
            f'{owner}: metainfo classes is the string {classes!r}, not a '
            f'tuple of class names; one class is written ({classes!r},) '
            '(note the comma)')
    if not classes:
        raise ValueError(
            f'{owner} needs metainfo=dict(classes=(...)): the class names '
            'of the annotation files, in label order')
    classes = tuple(classes)
    for name in classes:
        if not isinstance(name, str):
            raise ValueError(f'{owner}: metainfo classes {classes} holds '
                             f'{name!r}, not a string')
    repeated = sorted(n for n, k in Counter(classes).items() if k > 1)
    if repeated:
        raise ValueError(f'{owner}: metainfo classes lists {repeated} more '
                         'than once')
    return classes


class UserClassesMixin:
    """What the user datasets share: ``metainfo['classes']`` required and
    checked (:func:`check_classes`), ``metainfo['dataset_type']`` fixed to
    :attr:`DATASET_TYPE`.

    Put it before the mmdet dataset class: ``class X(UserClassesMixin,
    VOCDataset)``.
    """

    #: ``metainfo['dataset_type']``; mmdet's VOC metric names the classes
    #: after VOC's for ``'VOC2007'`` and ``'VOC2012'`` only
    DATASET_TYPE = 'user'

    @classmethod
    def _load_metainfo(cls, metainfo: Optional[dict] = None) -> dict:
        """mmengine's metainfo, with the class names checked and this
        class's ``dataset_type``."""
        metainfo = super()._load_metainfo(metainfo)
        metainfo['classes'] = check_classes(
            metainfo.get('classes'), cls.__name__)
        metainfo['dataset_type'] = cls.DATASET_TYPE
        return metainfo

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        # mmdet's VOCDataset.__init__ sets it from the folder name
        self._metainfo['dataset_type'] = self.DATASET_TYPE


@DATASETS.register_module()
class UserVOCDataset(UserClassesMixin, VOCDataset):
    """A VOC tree (``<sub_data_root>/Annotations/<id>.xml``,
    ``JPEGImages/<id>.jpg``, ``ImageSets/Main/<split>.txt``) with the
    user's classes.

    ``metainfo=dict(classes=(...))`` is required: the names of the
    ``<object><name>`` tags, in label order. Unlike mmdet's
    :class:`~mmdet.datasets.VOCDataset`, ``metainfo['dataset_type']`` is
    always :attr:`DATASET_TYPE`, whatever the folder is called, so that
    :class:`~mmdet.evaluation.VOCMetric` labels its table with these names
    (not VOC's) and ``ConcatDataset`` joins a ``VOC2007`` and a ``VOC2012``
    part without ``ignore_keys``. A malformed XML file raises a
    ``ValueError`` naming it; objects of names outside ``classes`` are left
    out, as mmdet does, with one warning that counts them.

    Examples:
        >>> dataset = UserVOCDataset(
        ...     data_root='data/my_voc/VOCdevkit/',
        ...     ann_file='VOC2007/ImageSets/Main/trainval.txt',
        ...     data_prefix=dict(sub_data_root='VOC2007/'),
        ...     metainfo=dict(classes=('cat', 'dog', 'bird')))
    """

    METAINFO: dict = {}

    def load_data_list(self) -> List[dict]:
        """mmdet's loader, then one warning for the objects left out."""
        self._left_out: Counter = Counter()
        self._left_out_file: Optional[str] = None
        data_list = super().load_data_list()
        if self._left_out:
            counts = ', '.join(f'{name!r} x{k}'
                               for name, k in sorted(self._left_out.items()))
            print_log(
                f'{self.ann_file}: objects of names not in metainfo classes '
                f'{self._metainfo["classes"]} are left out: {counts} (the '
                f'first in {self._left_out_file})',
                logger='current', level=logging.WARNING)
        return data_list

    def parse_data_info(self, img_info: dict) -> dict:
        """mmdet's parser, with an error that names the annotation file."""
        self._xml_path = img_info['xml_path']
        try:
            return super().parse_data_info(img_info)
        except PARSE_ERRORS as error:
            raise ValueError(f'malformed annotation file '
                             f'{img_info["xml_path"]}: {error}') from error

    def _parse_instance_info(self, raw_ann_info: ET.ElementTree,
                             minus_one: bool = True) -> List[dict]:
        """mmdet's objects of ``classes``; counts the names left out."""
        classes = self._metainfo['classes']
        for obj in raw_ann_info.findall('object'):
            name = obj.findtext('name')
            if name is not None and name not in classes:
                self._left_out[name] += 1
                self._left_out_file = self._left_out_file or self._xml_path
        return super()._parse_instance_info(raw_ann_info, minus_one)


class CategoryCheckedCOCO(COCO):
    """mmdet's COCO api whose ``get_cat_ids(cat_names=...)`` requires every
    name to be a category of the json, listed in the json's order.

    mmdet's :class:`~mmdet.datasets.CocoDataset` and
    :class:`~mmdet.evaluation.CocoMetric` number the classes in the order
    of the json's ``categories`` and silently drop a name the json lacks;
    a ``classes`` tuple in another order would name every label wrongly.
    """

    def get_cat_ids(self, cat_names: Sequence[str] = (), sup_names=(),
                    cat_ids=()) -> list:
        """The category ids of ``cat_names`` (and the other filters).

        Raises:
            ClassMismatchError: A name is not a category, or the names are
                not in the json's order.
        """
        if cat_names:
            known = [cat['name'] for cat in self.dataset['categories']]
            missing = [name for name in cat_names if name not in known]
            if missing:
                raise ClassMismatchError(
                    f'metainfo classes {missing} are not among its '
                    f'categories {tuple(known)}')
            order = tuple(name for name in known if name in cat_names)
            if order != tuple(cat_names):
                raise ClassMismatchError(
                    'list metainfo classes in the order of its categories: '
                    f'{order}, not {tuple(cat_names)}')
        return super().get_cat_ids(list(cat_names), list(sup_names),
                                   list(cat_ids))


@DATASETS.register_module()
class UserCocoDataset(UserClassesMixin, CocoDataset):
    """A COCO json (``images``, ``annotations``, ``categories``) with the
    user's classes.

    ``metainfo=dict(classes=(...))`` is required: category names of the
    json, in the json's order (a subset is fine: annotations of the other
    categories are left out, as mmdet does). A malformed json, a class the
    json lacks or classes in another order raise a ``ValueError`` naming
    the file. Images are listed in the json's order (with
    ``filter_cfg=None`` every image stays: pool index ``i`` is the
    ``i``-th image).

    Examples:
        >>> dataset = UserCocoDataset(
        ...     data_root='data/my_coco/',
        ...     ann_file='annotations/train.json',
        ...     data_prefix=dict(img='images/'),
        ...     metainfo=dict(classes=('cat', 'dog')))
    """

    METAINFO: dict = {}
    COCOAPI = CategoryCheckedCOCO

    def load_data_list(self) -> List[dict]:
        """mmdet's loader, with errors that name the annotation file."""
        try:
            return super().load_data_list()
        except ClassMismatchError as error:
            raise ClassMismatchError(f'{self.ann_file}: {error}') from None
        except PARSE_ERRORS as error:
            raise ValueError(f'malformed annotation file {self.ann_file}: '
                             f'{error}') from error
