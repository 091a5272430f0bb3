"""The selection pipeline: from a detector and pool images to the images
to label next.

One public function a step, shared by :class:`ActiveSelectionHook` (inside
a run, sharded over the ranks) and the tools (``tools/query.py``,
``tools/export_selection.py``, :mod:`al_plugin.engine.export`, one process):

- :func:`build_strategy`: check a strategy config, build it and check that
  the scorer computes what it ``requires``;
- :func:`pool_loader_cfg`: the scoring loader config of an experiment's
  pool (train dataset, test pipeline, val loader settings);
- :func:`build_dataset`, :func:`build_collate_fn`,
  :func:`subset_loader_cfg`: the loader over given indices of the pool,
  marking unreadable images instead of failing;
- :func:`score_indices` / :func:`score_labeled`: a strategy's outputs for
  given indices (eval mode, ``scoring.score_loader``, the ranks' shards
  gathered back with :func:`gather_outputs`); :func:`missing_images` when
  a strategy reads no image;
- :func:`select`: the one place where ``strategy.select`` and
  ``strategy.pseudo_labels`` are called.
"""
import copy
import os.path as osp
from functools import partial
from typing import (Callable, Dict, NamedTuple, Optional, Sequence, Tuple)

import numpy as np
from mmengine.dist import all_gather_object, get_dist_info, is_main_process
from mmengine.model import is_model_wrapper
from mmengine.registry import FUNCTIONS, init_default_scope
from mmengine.runner import Runner
from mmdet.registry import DATASETS

from al_plugin.datasets import ActiveSubset, collate_marking_broken
from al_plugin.datasets.dataset_tree import leaf_datasets, map_leaf_configs
from al_plugin.registry import STRATEGIES
from al_plugin.strategies import check_strategy_cfg
from .progress import ScoringProgress
from .scoring import LABELED_OUTPUTS, check_output_names, score_loader


class Scored(NamedTuple):
    """Outputs of the readable images among the indices asked for.

    Attributes:
        indices (np.ndarray): ``(I, )`` int64, the readable indices in
            increasing order (``np.setdiff1d(asked, broken)``).
        outputs (dict[str, np.ndarray]): name -> ``(I, ...)`` rows, row i
            of ``indices[i]``.
        broken (dict[int, str]): index -> error message of the images
            that could not be read.
    """
    indices: np.ndarray
    outputs: Dict[str, np.ndarray]
    broken: Dict[int, str]


class Selection(NamedTuple):
    """What a strategy picked from a pool of P images.

    Attributes:
        chosen (np.ndarray): ``(B, )`` int64 positions into the pool, in
            the order chosen (best first), ``B <= budget``.
        scores (np.ndarray | None): ``(P, )`` the strategy's score of every
            pool image (higher = more worth labeling), None for a strategy
            without scores.
        pseudo_labels (dict): position -> ``(boxes (n, 4), labels (n, ))``
            of pool images left out, which the next cycle trains on (empty
            for most strategies).
    """
    chosen: np.ndarray
    scores: Optional[np.ndarray]
    pseudo_labels: Dict[int, Tuple[np.ndarray, np.ndarray]]


def build_strategy(cfg: dict, where: str = 'strategy'):
    """Check a strategy config, build it and check its outputs.

    Args:
        cfg (dict): Config of a ``STRATEGIES`` entry.
        where (str): How messages name the config, e.g.
            ``'ActiveSelectionHook.strategy'``.

    Returns:
        BaseStrategy: The strategy.

    Raises:
        KeyError | TypeError | ValueError: An unknown name or option, a
            bad option value, or an output no scorer computes.
    """
    check_strategy_cfg(cfg, where)
    strategy = STRATEGIES.build(cfg)
    check_output_names(strategy.requires, strategy.requires_labeled,
                       strategy.name)
    return strategy


def pool_loader_cfg(cfg) -> dict:
    """The train dataloader's pool with the val pipeline and loader settings.

    Args:
        cfg (Config): An experiment config with ``train_dataloader`` and
            ``val_dataloader``.

    Returns:
        dict: A dataloader config for scoring the pool: the train dataset
        (wrappers kept, so the same images in the same order) with every
        leaf's ``pipeline`` replaced by ``val_dataloader``'s, its batch
        size and workers, an unshuffled ``DefaultSampler``.
    """
    val = cfg.val_dataloader
    pipeline = leaf_datasets(val['dataset'])[0]['pipeline']

    return dict(
        batch_size=val.get('batch_size', 1),
        num_workers=val.get('num_workers', 0),
        persistent_workers=False,
        sampler=dict(type='DefaultSampler', shuffle=False),
        dataset=map_leaf_configs(
            cfg.train_dataloader['dataset'],
            lambda leaf: dict(leaf, pipeline=copy.deepcopy(pipeline))))


def build_dataset(cfg):
    """A dataset from its config (or as given when already built), fully
    initialised (its ``data_list`` loaded)."""
    dataset = DATASETS.build(cfg) if isinstance(cfg, dict) else cfg
    if hasattr(dataset, 'full_init'):
        dataset.full_init()
    return dataset


def build_pool(cfg):
    """The pool of the experiment config ``cfg``: its training dataset,
    fully initialised (no image is read), under the config's default
    scope."""
    init_default_scope(cfg.get('default_scope', 'mmdet'))
    return build_dataset(copy.deepcopy(cfg.train_dataloader.dataset))


def build_collate_fn(cfg) -> Callable:
    """The function a dataloader config's ``collate_fn`` names.

    Args:
        cfg (dict | callable): ``dict(type=NAME_OR_FN, **kwargs)`` (a
            ``FUNCTIONS`` entry, e.g. ``'pseudo_collate'``) or the function.

    Returns:
        callable: The function, its keyword arguments bound.
    """
    if callable(cfg):
        return cfg
    cfg = dict(cfg)
    fn = cfg.pop('type')
    fn = FUNCTIONS.get(fn) if isinstance(fn, str) else fn
    return partial(fn, **cfg) if cfg else fn


def subset_loader_cfg(loader_cfg: dict,
                      dataset,
                      indices: Sequence[int],
                      on_broken: str = 'mark') -> dict:
    """A dataloader config over ``dataset[indices]``, in that order.

    Args:
        loader_cfg (dict): E.g. what :func:`pool_loader_cfg` returns; its
            ``dataset`` is replaced, its ``sampler`` kept (default: an
            unshuffled ``DefaultSampler``).
        dataset: The built pool dataset.
        indices (Sequence[int]): Its indices to load.
        on_broken (str): ``'raise'`` an unreadable image's error, or
            ``'mark'`` it: the config's ``collate_fn`` is then wrapped by
            :func:`~al_plugin.datasets.collate_marking_broken`, so batches
            carry ``al_broken`` (index -> error).

    Returns:
        dict: The config for ``Runner.build_dataloader``; every data
        sample's metainfo has ``al_index``, its index in ``dataset``.
    """
    cfg = copy.deepcopy(
        {k: v
         for k, v in loader_cfg.items() if k != 'dataset'})
    cfg['dataset'] = ActiveSubset(
        dataset, list(indices), unlabeled=True, on_broken=on_broken)
    cfg.setdefault('sampler', dict(type='DefaultSampler', shuffle=False))
    if on_broken == 'mark':
        cfg['collate_fn'] = partial(
            collate_marking_broken,
            collate_fn=build_collate_fn(
                cfg.get('collate_fn', dict(type='pseudo_collate'))))
    return cfg


def gather_outputs(shards: Sequence[tuple], indices: np.ndarray
                   ) -> Tuple[Dict[str, np.ndarray], Dict[int, str]]:
    """Put the ranks' rows back in index order, dropping sampler padding.

    Args:
        shards (Sequence[tuple]): One ``(indices (n_r, ), outputs: name ->
            (n_r, ...), broken: index -> error)`` a rank, as
            ``scoring.score_loader`` returns; a rank's rows may repeat
            indices of another's (the sampler pads the last shards).
        indices (np.ndarray): ``(I, )`` int64, the indices scored, sorted.

    Returns:
        tuple: name -> ``(R, ...)`` rows of the readable indices
        ``np.setdiff1d(indices, broken)`` in that (increasing) order, and
        ``broken``: index -> error message of the unreadable ones.

    Raises:
        RuntimeError: A shard holds an index not asked for, or a readable
            index has no row.
    """
    broken = {}
    for shard in shards:
        broken.update(shard[2])
    readable = np.setdiff1d(
        indices, np.array(list(broken), dtype=np.int64), assume_unique=True)
    index = np.concatenate([s[0] for s in shards])
    position = np.searchsorted(readable, index)
    if np.any(position >= len(readable)) or np.any(
            readable[np.minimum(position, len(readable) - 1)] != index):
        raise RuntimeError('scored an image that is not in the pool')
    merged = {}
    for name in shards[0][1]:
        rows = np.concatenate([s[1][name] for s in shards])
        out = np.empty((len(readable), ) + rows.shape[1:], dtype=rows.dtype)
        seen = np.zeros(len(readable), dtype=bool)
        out[position] = rows  # padded duplicates write identical rows
        seen[position] = True
        if not seen.all():
            missing = readable[~seen][:5].tolist()
            raise RuntimeError(f'pool images were not scored: {missing}...')
        merged[name] = out
    return merged, broken


def score_indices(model,
                  loader_cfg: dict,
                  dataset,
                  indices: np.ndarray,
                  names: Sequence[str],
                  scorer_cfg: Optional[dict] = None,
                  adapter_cfg: Optional[dict] = None,
                  seed: Optional[int] = None,
                  progress: bool = True,
                  desc: str = 'scoring',
                  log: Optional[Callable[[str], None]] = None,
                  listener: Optional[Callable[[dict], None]] = None
                  ) -> Scored:
    """The named outputs of the images at ``indices`` of ``dataset``.

    The loader (:func:`subset_loader_cfg`, ``on_broken='mark'``) is sharded
    over the ranks by its sampler when there are several (inside a
    distributed run); each rank scores its share in eval mode with
    ``scoring.score_loader`` and the shards are gathered on every rank
    (:func:`gather_outputs`). The model's train / eval mode is restored.

    Args:
        model (nn.Module): The detector, or its DDP wrapper.
        loader_cfg (dict): Loader settings, e.g. :func:`pool_loader_cfg`.
        dataset: The built dataset ``indices`` point into.
        indices (np.ndarray): ``(I, )`` int64, sorted, no repeats.
        names (Sequence[str]): Keys of ``scoring.OUTPUTS``; none: the
            images are only read.
        scorer_cfg (dict, optional): Options of the output functions.
        adapter_cfg (dict, optional): The model's output adapter; defaults
            to the first registered one that applies.
        seed (int, optional): Seed of the loader's workers and sampler
            (``Runner.build_dataloader``).
        progress (bool): Show the images scored, rate and ETA on rank 0
            (:class:`ScoringProgress`; a rank's images count world-size
            times: the ranks score equal shares in step).
        desc (str): The progress lines' prefix.
        log (callable, optional): Where progress lines go off a terminal,
            e.g. ``runner.logger.info``; defaults to stdout.
        listener (callable, optional): Gets the progress as numbers
            (:meth:`ScoringProgress.snapshot`) after every batch.

    Returns:
        Scored: ``indices``, ``outputs`` and ``broken``.
    """
    indices = np.asarray(indices, dtype=np.int64)
    model = model.module if is_model_wrapper(model) else model
    loader = Runner.build_dataloader(
        subset_loader_cfg(loader_cfg, dataset, indices.tolist()), seed=seed)
    _, world_size = get_dist_info()
    bar = None
    if progress and is_main_process():
        bar = ScoringProgress(
            len(indices), desc=desc, log=log, listener=listener)
    was_training = model.training
    model.eval()
    local = score_loader(
        model,
        loader,
        names,
        scorer_cfg or {},
        adapter_cfg,
        progress=bar,
        progress_scale=world_size)
    model.train(was_training)
    if bar is not None:
        bar.close()
    shards = all_gather_object(local) if world_size > 1 else [local]
    outputs, broken = gather_outputs(shards, indices)
    readable = np.setdiff1d(
        indices, np.array(list(broken), dtype=np.int64), assume_unique=True)
    return Scored(readable, outputs, broken)


def score_labeled(model, loader_cfg: dict, dataset, indices: np.ndarray,
                  wanted: Sequence[str], **kwargs) -> Scored:
    """Outputs over labeled images: the names of ``wanted`` (a strategy's
    ``requires_labeled``, keys of ``scoring.LABELED_OUTPUTS``), each the
    ``OUTPUTS`` entry it stands for computed by :func:`score_indices`
    (``kwargs``: its options) for the labeled ``indices``.

    Returns:
        Scored: ``outputs``: name of ``wanted`` -> ``(L, ...)`` rows of the
        readable labeled images.
    """
    sources = list(dict.fromkeys(LABELED_OUTPUTS[n] for n in wanted))
    scored = score_indices(model, loader_cfg, dataset, indices, sources,
                           **kwargs)
    return scored._replace(outputs={
        name: scored.outputs[LABELED_OUTPUTS[name]]
        for name in wanted
    })


def missing_images(dataset, indices: np.ndarray) -> Dict[int, str]:
    """The images at ``indices`` of ``dataset`` whose ``img_path`` does
    not exist (what a strategy that reads no image can find out).

    Returns:
        dict[int, str]: index -> ``'FileNotFoundError: <path>'``.
    """
    missing = {}
    for index in np.asarray(indices).tolist():
        path = dataset.get_data_info(index).get('img_path')
        if path is not None and not osp.exists(path):
            missing[index] = f'FileNotFoundError: {path}'
    return missing


def select(strategy, outputs: Dict[str, np.ndarray], budget: int,
           num_pool: int, seed: int,
           pseudo_label_thr: Optional[float] = None) -> Selection:
    """Let a strategy pick from a pool; the pseudo labels of the rest.

    Args:
        strategy (BaseStrategy): A built strategy.
        outputs (dict[str, np.ndarray]): Its ``requires``, ``(P, ...)``
            rows of the P pool images, and any of its ``requires_labeled``
            (``(L, ...)`` rows of the labeled images); with a pseudo-label
            threshold also ``det_boxes``, ``det_scores``, ``det_labels``.
        budget (int): Images to pick (at most P are).
        num_pool (int): P.
        seed (int): Seed of the strategy's random picks (set as
            ``strategy.seed``).
        pseudo_label_thr (float, optional): The least score of a pseudo
            label (the selection hook's ``pseudo_labels.score_thr``);
            defaults to the strategy's own ``pseudo_label_thr`` (None: no
            pseudo labels).

    Returns:
        Selection: ``chosen``, ``scores`` and ``pseudo_labels``.
    """
    strategy.seed = seed
    chosen, scores = strategy.select(outputs, budget, num_pool)
    left_out = np.setdiff1d(np.arange(num_pool), chosen, assume_unique=True)
    return Selection(
        chosen, scores,
        strategy.pseudo_labels(outputs, left_out, pseudo_label_thr))
