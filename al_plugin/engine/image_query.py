"""Pick the images to label next from a set of image files, with a trained
model: the selection pipeline outside an experiment.

``tools/query.py`` (a folder, on the command line) and the selection
service (:mod:`al_plugin.service`, a folder or a list of files under its
data root) call :func:`query_images`; both go through the public pipeline
of :mod:`al_plugin.engine.selection` that :class:`ActiveSelectionHook` uses
inside a run, so a checkpoint and a pool give the same picks everywhere.
"""
import os.path as osp
from typing import Callable, Dict, List, NamedTuple, Optional, Sequence

import numpy as np
from mmengine.config import ConfigDict
from mmengine.logging import print_log
from mmdet.registry import DATASETS

from al_plugin.datasets.dataset_tree import leaf_datasets
from .config_check import selection_hooks
from .scoring import check_scorer_cfg
from .selection import (build_dataset, build_strategy, pool_loader_cfg,
                        score_indices, score_labeled, select)


class Images(NamedTuple):
    """Image files under one folder.

    Attributes:
        root (str): The folder.
        files (list[str] | None): Paths relative to ``root``; None: every
            image below it (see :class:`ImageFolderDataset`).
    """
    root: str
    files: Optional[List[str]] = None


class QueryResult(NamedTuple):
    """What :func:`query_images` found.

    Attributes:
        strategy (str): The strategy's name.
        paths (list[str]): Absolute paths of the readable pool images.
        selected (list[str]): The picks (a subset of ``paths``), best first.
        table (dict[str, dict]): Absolute path -> ``score`` (None for a
            strategy without per-image scores, or NaN), ``rank`` (1..B for
            the picks in order, then the rest by score; None without
            scores) and ``selected``; an image that could not be read has
            ``error`` instead. Ordered by rank, unreadable ones last.
        coco (dict): The picks with the model's detections as
            pre-annotations (:func:`al_plugin.engine.export.to_coco`).
    """
    strategy: str
    paths: List[str]
    selected: List[str]
    table: Dict[str, dict]
    coco: dict


def selection_settings(cfg, strategy: Optional[str] = None,
                       options: Optional[dict] = None) -> tuple:
    """The strategy config, ``scorer_cfg`` and ``adapter`` config to use.

    Args:
        cfg (Config): The experiment config.
        strategy (str, optional): A registered strategy name; replaces the
            hook's strategy (its ``scorer_cfg`` and ``adapter`` stay).
        options (dict, optional): The named strategy's options.

    Returns:
        tuple: ``(strategy cfg, where it comes from, scorer_cfg, adapter)``.

    Raises:
        KeyError: No ``ActiveSelectionHook`` in the config and no
            ``strategy`` named.
    """
    for i, hook, _ in selection_hooks(cfg):
        where = f'custom_hooks[{i}].strategy'
        strategy_cfg = hook['strategy']
        break
    else:
        if strategy is None:
            raise KeyError('the config has no ActiveSelectionHook in '
                           'custom_hooks: name a strategy')
        hook = {}
    if strategy is not None:
        strategy_cfg = dict(options or {}, type=strategy)
        where = 'strategy'
    return (dict(strategy_cfg), where, dict(hook.get('scorer_cfg') or {}),
            hook.get('adapter'))


def config_classes(dataset_cfg) -> Optional[Sequence[str]]:
    """The class names of the config's (first leaf) training dataset."""
    dataset_cfg = leaf_datasets(dataset_cfg)[0]
    cls = dataset_cfg.get('type')
    cls = DATASETS.get(cls) if isinstance(cls, str) else cls
    metainfo = dict(getattr(cls, 'METAINFO', {}))
    metainfo.update(dataset_cfg.get('metainfo') or {})
    return metainfo.get('classes')


def model_classes(model, cfg, checkpoint: str) -> Sequence[str]:
    """The class names of a loaded detector: the checkpoint's, else the
    config's training dataset's.

    Raises:
        KeyError: Neither has any.
    """
    classes = model.dataset_meta.get('classes') or config_classes(
        cfg.train_dataloader['dataset'])
    if not classes:
        raise KeyError(f'no class names in {checkpoint} (meta.dataset_meta) '
                       'nor in the config\'s training dataset')
    return classes


def ranking(chosen, scores, num_images: int) -> list:
    """1-based rank of every readable image (position): the picks in pick
    order, then the rest by decreasing score (ties: position); None for
    the rest when there are no scores."""
    ranks = [None] * num_images
    for rank, position in enumerate(chosen, 1):
        ranks[position] = rank
    if scores is not None:
        rest = np.setdiff1d(np.arange(num_images), chosen)
        keys = np.nan_to_num(np.asarray(scores, float)[rest], nan=-np.inf)
        for rank, k in enumerate(np.argsort(-keys, kind='stable'),
                                 len(chosen) + 1):
            ranks[rest[k]] = rank
    return ranks


def images_loader_cfg(cfg, images: Images, classes) -> dict:
    """The scoring loader config of image files: the config's test
    pipeline and ``val_dataloader`` settings over an
    ``ImageFolderDataset``."""
    folder = dict(
        type='ImageFolderDataset',
        data_root=images.root,
        metainfo=dict(classes=tuple(classes)))
    if images.files is not None:
        folder['files'] = list(images.files)
    return pool_loader_cfg(
        ConfigDict(
            val_dataloader=cfg.val_dataloader,
            train_dataloader=dict(dataset=folder)))


def labeled_outputs(model, cfg, labeled: Optional[Images], classes,
                    strategy, scorer_cfg, adapter_cfg,
                    none_given: str = 'none given') -> dict:
    """The strategy's outputs over the labeled images
    (``requires_labeled``; see ``scoring.LABELED_OUTPUTS``), scored as the
    pool; ``{}`` when it needs none or there are no labeled images (said
    in the log, ``none_given`` telling why)."""
    wanted = strategy.requires_labeled
    if not wanted:
        return {}
    if labeled is None:
        print_log(f'{strategy.name} would use {list(wanted)} of the labeled '
                  f'images: {none_given}, so there is no labeled set (see '
                  'the strategy\'s docs for what it does then)',
                  logger='current')
        return {}
    loader_cfg = images_loader_cfg(cfg, labeled, classes)
    dataset = build_dataset(loader_cfg['dataset'])
    print_log(f'scoring the {len(dataset)} labeled images of {labeled.root} '
              f'for {list(wanted)}', logger='current')
    scored = score_labeled(model, loader_cfg, dataset,
                           np.arange(len(dataset)), wanted,
                           scorer_cfg=scorer_cfg, adapter_cfg=adapter_cfg)
    for index, message in sorted(scored.broken.items()):
        print_log(f'cannot read labeled image '
                  f'{dataset.get_data_info(index)["img_path"]}, left out: '
                  f'{message}', logger='current', level=30)
    return scored.outputs


def _table(paths: Sequence[str], indices: np.ndarray, chosen: np.ndarray,
           scores, broken: Dict[int, str]) -> Dict[str, dict]:
    """``QueryResult.table``: ``paths`` of every image by dataset index,
    ``indices`` the readable ones (pool positions -> dataset indices)."""
    ranks = ranking(chosen, scores, len(indices))
    picked = set(chosen.tolist())
    table = {}
    for position in sorted(
            range(len(indices)),
            key=lambda p: (ranks[p] is None, ranks[p] or 0, p)):
        score = None if scores is None else float(scores[position])
        table[paths[indices[position]]] = dict(
            score=None if score != score else score,  # NaN: null
            rank=ranks[position],
            selected=position in picked)
    for index, message in sorted(broken.items()):
        table[paths[index]] = dict(
            score=None, rank=None, selected=False, error=message)
    return table


def query_images(cfg,
                 model,
                 checkpoint: str,
                 images: Images,
                 budget: int,
                 strategy: Optional[str] = None,
                 options: Optional[dict] = None,
                 labeled: Optional[Images] = None,
                 score_thr: float = 0.3,
                 seed: Optional[int] = None,
                 listener: Optional[Callable[[dict], None]] = None,
                 info: Optional[dict] = None,
                 none_given: str = 'no labeled images given'
                 ) -> QueryResult:
    """Score image files with a detector and pick ``budget`` of them.

    The images go through the config's test pipeline (``val_dataloader``'s
    settings); the strategy is the config's ``ActiveSelectionHook``'s (its
    ``scorer_cfg`` and ``adapter``) unless ``strategy`` names another
    registered one. Unreadable images are reported in ``table`` with their
    error and never picked.

    Args:
        cfg (Config): The experiment config.
        model (nn.Module): The detector
            (:func:`al_plugin.engine.export.load_detector`).
        checkpoint (str): Where its weights come from (for messages and the
            export's ``info``).
        images (Images): The pool.
        budget (int): Images to pick, >= 1.
        strategy (str, optional): A registered strategy name.
        options (dict, optional): Its options.
        labeled (Images, optional): The images already labeled, for
            strategies with ``requires_labeled`` (core-set's centers).
        score_thr (float): Detections kept as pre-annotations score at
            least this. Defaults to 0.3.
        seed (int, optional): Seed of random picks; default: the config's
            ``randomness.seed``, else 0.
        listener (callable, optional): Gets the progress of the scoring and
            predicting passes (:meth:`ScoringProgress.snapshot`).
        info (dict, optional): More fields of the export's ``info``.
        none_given (str): How the log says that ``labeled`` is None, for a
            strategy that would use it.

    Returns:
        QueryResult: The picks, every image's score and rank, the export.

    Raises:
        KeyError | TypeError | ValueError: A bad strategy or scorer option
            (named).
        RuntimeError: No image can be read.
    """
    from al_plugin.engine.export import predict_images, subset_loader, to_coco
    if budget < 1:
        raise ValueError(f'budget must be >= 1, got {budget}')
    strategy_cfg, where, scorer_cfg, adapter_cfg = selection_settings(
        cfg, strategy, options)
    strategy = build_strategy(strategy_cfg, where)
    check_scorer_cfg(scorer_cfg, 'ActiveSelectionHook.scorer_cfg')
    if seed is None:
        seed = cfg.get('randomness', {}).get('seed') or 0
    classes = model_classes(model, cfg, checkpoint)
    loader_cfg = images_loader_cfg(cfg, images, classes)
    dataset = build_dataset(loader_cfg['dataset'])
    paths = [
        osp.abspath(dataset.get_data_info(i)['img_path'])
        for i in range(len(dataset))
    ]
    print_log(f'scoring {len(dataset)} images of {images.root} for '
              f'{strategy.name}', logger='current')
    indices, outputs, broken = score_indices(
        model, loader_cfg, dataset, np.arange(len(dataset)),
        strategy.requires, scorer_cfg=scorer_cfg, adapter_cfg=adapter_cfg,
        listener=listener)
    for index, message in sorted(broken.items()):
        print_log(f'cannot read {paths[index]}, left out: {message}',
                  logger='current', level=30)
    if not len(indices):
        raise RuntimeError(f'none of the {len(dataset)} images of '
                           f'{images.root} can be read')
    outputs.update(
        labeled_outputs(model, cfg, labeled, classes, strategy, scorer_cfg,
                        adapter_cfg, none_given))
    chosen, scores, _ = select(strategy, outputs, budget, len(indices), seed)
    selected = indices[chosen]
    if len(selected) < budget:
        print_log(f'{strategy.name} picked {len(selected)} images, fewer '
                  f'than the budget {budget} ({len(indices)} readable)',
                  logger='current', level=30)
    records = predict_images(
        model, subset_loader(loader_cfg, dataset, selected), listener)
    for record in records:
        record['meta'] = dict(
            img_id=dataset.get_data_info(record['id'])['img_id'])
    coco = to_coco(
        records,
        classes,
        score_thr,
        info=dict(strategy=strategy.name, budget=budget, **(info or {})))
    return QueryResult(strategy.name, [paths[i] for i in indices],
                       [paths[i] for i in selected],
                       _table(paths, indices, chosen, scores, broken), coco)
