"""The data part of a config for the user's own VOC tree or COCO json.

mmengine merges a config's dicts into its base's but replaces lists, so
pointing the two-part VOC pool (``ConcatDataset(datasets=[VOC2007,
VOC2012])``) at another folder used to mean restating the whole list.
These functions write the dataloaders and evaluators from the inherited
config (mmengine's ``_base_`` inside a config file: its pipelines, loader
settings and evaluator options), the folder and the class names::

    _base_ = './miaod_voc0712.py'
    from al_plugin.datasets import user_voc_data  # noqa: E402
    classes = ('cat', 'dog', 'bird')
    model = dict(bbox_head=dict(num_classes=len(classes)))
    (train_dataloader, val_dataloader, test_dataloader, val_evaluator,
     test_evaluator) = user_voc_data(_base_, 'data/my_voc/', classes)

``_base_ = ...`` must be the config's first statement (mmengine reads a
config whose first statement is an import as a "pure Python" one).
"""
import copy
import os.path as osp
from typing import NamedTuple, Sequence

from .dataset_tree import leaf_datasets
from .user import check_classes

#: the metric of a VOC tree instead of an inherited one that reads a json
#: (mmdet's VOC mAP plus the AP of each class, see ``ClasswiseVOCMetric``)
VOC_METRIC = dict(
    type='ClasswiseVOCMetric', metric='mAP', eval_mode='11points')
#: the metric of a COCO json when no inherited one reads an ``ann_file``
COCO_METRIC = dict(type='CocoMetric', metric='bbox', format_only=False)


class UserData(NamedTuple):
    """The config keys :func:`user_voc_data` and :func:`user_coco_data`
    set, in this order. Each dataset dict carries ``_delete_=True``: it
    replaces the inherited one instead of merging into it."""

    train_dataloader: dict
    val_dataloader: dict
    test_dataloader: dict
    val_evaluator: dict
    test_evaluator: dict


def user_voc_data(base: dict,
                  data_root: str,
                  classes: Sequence[str],
                  train_sets: Sequence[str] = ('VOC2007', 'VOC2012'),
                  test_set: str = 'VOC2007',
                  train_split: str = 'trainval',
                  test_split: str = 'test') -> UserData:
    """Dataloaders and evaluators of a VOC tree with the user's classes.

    The pool is the ``<train_split>.txt`` lines of each of ``train_sets``
    in order (one set: that :class:`UserVOCDataset`; more: their
    ``ConcatDataset``), every image kept (``filter_cfg=None``: pool index
    ``i`` is the ``i``-th line). Validation and test read ``test_set``'s
    ``<test_split>.txt``. The evaluator is the inherited one (a metric or
    a list), but a metric that reads an annotation file (COCO's) is
    replaced by mmdet's VOC mAP.

    Args:
        base (dict): The inherited config (``_base_`` in a config file),
            with ``train_dataloader``, ``val_dataloader``,
            ``test_dataloader`` and ``val_evaluator``.
        data_root (str): The folder holding ``train_sets`` and
            ``test_set``, e.g. ``'data/my_voc/VOCdevkit/'``.
        classes (Sequence[str]): The ``<name>`` of the objects, in label
            order; a tuple, ``('cat',)`` for one class.
        train_sets (Sequence[str]): Sub folders of the pool. Defaults to
            ``('VOC2007', 'VOC2012')``.
        test_set (str): Sub folder of the evaluation split. Defaults to
            ``'VOC2007'``.
        train_split (str): ``ImageSets/Main/<train_split>.txt`` of the
            pool. Defaults to ``'trainval'``.
        test_split (str): ``ImageSets/Main/<test_split>.txt`` evaluated.
            Defaults to ``'test'``.

    Returns:
        UserData: ``train_dataloader``, ``val_dataloader``,
        ``test_dataloader``, ``val_evaluator``, ``test_evaluator``.
    """
    classes = check_classes(classes, 'user_voc_data')

    def voc(sub: str, split: str, loader: str, **options) -> dict:
        return dict(
            type='UserVOCDataset',
            data_root=data_root,
            ann_file=f'{sub}/ImageSets/Main/{split}.txt',
            data_prefix=dict(sub_data_root=f'{sub}/'),
            metainfo=dict(classes=classes),
            **_inherited(base, loader),
            **options)

    pool = [voc(sub, train_split, 'train_dataloader', filter_cfg=None)
            for sub in train_sets]
    if not pool:
        raise ValueError('user_voc_data: train_sets names no folder')
    evaluator = [dict(VOC_METRIC) if 'ann_file' in metric else metric
                 for metric in _metrics(base)]
    val, test = (voc(test_set, test_split, key, test_mode=True)
                 for key in ('val_dataloader', 'test_dataloader'))
    return _user_data(base, pool, val, test, evaluator)


def user_coco_data(base: dict,
                   data_root: str,
                   classes: Sequence[str],
                   train_ann: str,
                   test_ann: str,
                   img_prefix: str = '') -> UserData:
    """Dataloaders and evaluators of COCO jsons with the user's classes.

    The pool is the images of ``train_ann`` in the json's order, every
    image kept (``filter_cfg=None``: pool index ``i`` is the ``i``-th
    image, boxes or not). Validation and test read ``test_ann``. The
    evaluator is the inherited one (a metric or a list) with ``test_ann``
    as the ``ann_file`` of its metrics that read one (COCO's); if none
    does, mmdet's ``CocoMetric`` on ``test_ann`` instead.

    Args:
        base (dict): The inherited config (``_base_`` in a config file).
        data_root (str): The data set's folder, e.g. ``'data/my_coco/'``.
        classes (Sequence[str]): Category names of the json, in the
            json's order (see :class:`UserCocoDataset`).
        train_ann (str): The pool's json, relative to ``data_root``.
        test_ann (str): The evaluation json, relative to ``data_root``.
        img_prefix (str): Folder that the jsons' ``file_name`` values are
            relative to, below ``data_root``. Defaults to ``''``.

    Returns:
        UserData: ``train_dataloader``, ``val_dataloader``,
        ``test_dataloader``, ``val_evaluator``, ``test_evaluator``.
    """
    classes = check_classes(classes, 'user_coco_data')

    def coco(ann_file: str, loader: str, **options) -> dict:
        return dict(
            type='UserCocoDataset',
            data_root=data_root,
            ann_file=ann_file,
            data_prefix=dict(img=img_prefix),
            metainfo=dict(classes=classes),
            **_inherited(base, loader),
            **options)

    evaluator = _metrics(base)
    if not any('ann_file' in metric for metric in evaluator):
        evaluator = [dict(COCO_METRIC, ann_file=None)]
    for metric in evaluator:
        if 'ann_file' in metric:
            metric['ann_file'] = osp.join(data_root, test_ann)
    val, test = (coco(test_ann, key, test_mode=True)
                 for key in ('val_dataloader', 'test_dataloader'))
    return _user_data(
        base, [coco(train_ann, 'train_dataloader', filter_cfg=None)], val,
        test, evaluator)


def _inherited(base: dict, loader: str) -> dict:
    """``pipeline`` and ``backend_args`` of the first leaf dataset of
    ``base[loader]``."""
    leaf = leaf_datasets(base[loader]['dataset'])[0]
    return copy.deepcopy(
        dict(pipeline=leaf['pipeline'],
             backend_args=leaf.get('backend_args')))


def _metrics(base: dict) -> list:
    """Copies of the metric configs of the inherited ``val_evaluator`` (a
    metric or a list of them)."""
    evaluator = base['val_evaluator']
    metrics = evaluator if isinstance(evaluator, list) else [evaluator]
    return [copy.deepcopy(dict(metric)) for metric in metrics]


def _user_data(base: dict, pool: list, val: dict, test: dict,
               metrics: list) -> UserData:
    """The :class:`UserData` of a pool (leaf datasets, concatenated if
    more than one), evaluation datasets and metrics (one: a dict), with the
    inherited loader settings."""
    train = pool[0] if len(pool) == 1 else dict(
        type='ConcatDataset', datasets=pool)

    def loader(key: str, dataset: dict) -> dict:
        return dict(copy.deepcopy(dict(base[key])),
                    dataset=dict(dataset, _delete_=True))

    evaluator = dict(metrics[0], _delete_=True) if len(metrics) == 1 \
        else metrics
    return UserData(
        loader('train_dataloader', train), loader('val_dataloader', val),
        loader('test_dataloader', test), evaluator, copy.deepcopy(evaluator))
