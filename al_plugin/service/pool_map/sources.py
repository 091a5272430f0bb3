"""The pool map's model passes: features and dominant classes of an
experiment's pool at a cycle, or of image files, through the public
selection pipeline (see :mod:`al_plugin.service.pool_map`)."""
import os.path as osp
from typing import List, Optional, Sequence

import numpy as np

from .embedding import (CATEGORIES, MAX_POINTS, dominant_classes, embed_2d,
                        map_record, sample_points)

#: ``class_probs`` options of the dominant class (see the package doc)
CLASS_OPTIONS = dict(max_boxes=1, box_score_thr=0.0)
#: the scorer outputs a map needs
MAP_OUTPUTS = ('features', 'class_probs')


def map_scorer_cfg(scorer_cfg: Optional[dict]) -> dict:
    """A selection's ``scorer_cfg`` with the dominant class's
    ``class_probs`` options (:data:`CLASS_OPTIONS`)."""
    return dict(scorer_cfg or {}, **CLASS_OPTIONS)


def score_map(model, loader_cfg: dict, dataset, indices: np.ndarray,
              scorer_cfg: Optional[dict] = None,
              adapter_cfg: Optional[dict] = None,
              listener=None) -> tuple:
    """Pooled features and dominant classes of ``dataset[indices]``, in
    one pass (:func:`~al_plugin.engine.selection.score_indices`).

    Returns:
        tuple: ``(readable (R, ) int64, features (R, D) float32, labels
        (R, ) int64, broken: index -> error)``.
    """
    from al_plugin.engine.selection import score_indices
    scored = score_indices(model, loader_cfg, dataset, np.sort(indices),
                           MAP_OUTPUTS, scorer_cfg=map_scorer_cfg(scorer_cfg),
                           adapter_cfg=adapter_cfg, desc='pool map',
                           listener=listener)
    classes = dataset.metainfo['classes']
    return (scored.indices, scored.outputs['features'],
            dominant_classes(scored.outputs['class_probs'], len(classes)),
            scored.broken)


def hook_scoring(cfg, strategy: Optional[str] = None,
                 options: Optional[dict] = None) -> tuple:
    """``(scorer_cfg, adapter)`` of the config's selection hook (none:
    defaults)."""
    from al_plugin.engine.image_query import selection_settings
    try:
        return selection_settings(cfg, strategy, options)[2:]
    except KeyError:
        return {}, None


def build_map(model, loader_cfg: dict, dataset, names: Sequence[str],
              categories: Sequence[str], scoring: tuple, max_points: int,
              seed: int, listener=None, indexed: bool = False,
              **info) -> dict:
    """Sample, score, embed: the record of the images ``names`` (dataset
    index i is ``names[i]``) in ``categories``; ``scoring`` is
    :func:`hook_scoring`'s pair; ``indexed``: points keep their dataset
    ``index``. Unreadable images are left out, listed in ``broken``."""
    categories = np.asarray(categories, dtype=object)
    kept = sample_points(categories, max_points, seed)
    readable, features, labels, broken = score_map(
        model, loader_cfg, dataset, kept, *scoring, listener=listener)
    if not len(readable):
        raise RuntimeError(f'none of the {len(kept)} images sampled for the '
                           'pool map can be read')
    total = {c: int((categories == c).sum()) for c in CATEGORIES}
    return map_record(
        [names[i] for i in readable], categories[readable],
        embed_2d(features, seed), labels, dataset.metainfo['classes'],
        indices=readable if indexed else None, total=total, seed=seed,
        max_points=max_points,
        broken=[dict(image=str(names[i]), error=e)
                for i, e in sorted(broken.items())], **info)


def cycle_categories(work_dir: str, cycle: int, total_size: int) -> tuple:
    """Each pool index's category at ``cycle`` of an experiment: labeled
    (``X_L_<c>.npy``), selected (``selection_<c+1>.json``, else ``X_L_<c+1>
    \\ X_L_<c>``), unlabeled (the rest).

    Returns:
        tuple: ``(categories (N, ) object, the file the picks came from)``.

    Raises:
        FileNotFoundError: No ``X_L_<c>.npy``, or no selection after it.
    """
    from al_plugin.work_dir import (indices_file, load_indices,
                                    load_selection, selection_file)
    labeled = load_indices(work_dir, 'X_L', cycle, total_size)
    source = osp.join(work_dir, selection_file(cycle + 1))
    if osp.isfile(source):
        selected = np.asarray(load_selection(work_dir, cycle + 1)['indices'])
    elif osp.isfile(osp.join(work_dir, indices_file('X_L', cycle + 1))):
        source = osp.join(work_dir, indices_file('X_L', cycle + 1))
        selected = np.setdiff1d(
            load_indices(work_dir, 'X_L', cycle + 1, total_size), labeled)
    else:
        raise FileNotFoundError(
            f'cycle {cycle} has no selection after it: neither {source} nor '
            f'{osp.join(work_dir, indices_file("X_L", cycle + 1))} exists')
    if len(selected) and (selected.max() >= total_size
                          or np.isin(selected, labeled).any()):
        raise ValueError(f'{source}: picks outside the pool of {total_size} '
                         f'or already in X_L_{cycle}')
    categories = np.full(total_size, 'unlabeled', dtype=object)
    categories[labeled] = 'labeled'
    categories[selected] = 'selected'
    return categories, source


def experiment_map(cfg, model, work_dir: str, cycle: int,
                   max_points: int = MAX_POINTS, seed: int = 0,
                   listener=None) -> dict:
    """The map of an experiment's pool at ``cycle`` (see
    :func:`cycle_categories`), scored through the public selection
    pipeline (``pool_loader_cfg``, the selection hook's ``scorer_cfg`` and
    adapter); points carry their pool ``index`` and ``img_id``."""
    from al_plugin.datasets.pool import read_pool
    from al_plugin.engine.selection import build_dataset, pool_loader_cfg
    loader_cfg = pool_loader_cfg(cfg)
    dataset = build_dataset(loader_cfg['dataset'])
    img_ids, _ = read_pool(dataset)
    categories, source = cycle_categories(work_dir, cycle, len(dataset))
    return build_map(model, loader_cfg, dataset, img_ids, categories,
                     hook_scoring(cfg), max_points, seed, listener,
                     indexed=True, cycle=cycle, selection=source)


def images_map(cfg, model, checkpoint: str, root: str, files: List[str],
               categories: Sequence[str], strategy: Optional[str] = None,
               options: Optional[dict] = None, max_points: int = MAX_POINTS,
               seed: int = 0, listener=None) -> dict:
    """The map of image files (paths relative to ``root``, each in
    ``categories``), read with the config's test pipeline as
    :func:`~al_plugin.engine.image_query.query_images` reads them; points
    are named by their path relative to ``root``."""
    from al_plugin.engine.image_query import (Images, images_loader_cfg,
                                              model_classes)
    from al_plugin.engine.selection import build_dataset
    loader_cfg = images_loader_cfg(cfg, Images(root, list(files)),
                                   model_classes(model, cfg, checkpoint))
    dataset = build_dataset(loader_cfg['dataset'])
    return build_map(model, loader_cfg, dataset, list(files), categories,
                     hook_scoring(cfg, strategy, options), max_points, seed,
                     listener)
