"""The one walker of a dataset tree: concatenations down to their leaves.

A pool is a dataset or a (nested) concatenation of datasets; global index
``i`` of the pool is the ``i``-th sample of its leaves, in order. The same
tree exists twice: built (``torch.utils.data.ConcatDataset``, which
``mmengine.dataset.ConcatDataset`` subclasses, holds ``.datasets``) and as
a config dict (``datasets=[...]`` for ``ConcatDataset``, ``dataset=...``
for other wrappers). :func:`children` is the one place that knows both;
pool reading, leaf lookup and config rewriting (e.g. the test pipeline of
pool scoring, a pool cut down to a labeled set) go through it.
"""
import bisect
from typing import Callable, List, Optional, Tuple

import torch


def children(node) -> Optional[list]:
    """The sub-datasets of a node of a dataset tree, or None for a leaf.

    Args:
        node: A built dataset (a ``torch.utils.data.ConcatDataset`` is an
            inner node) or a dataset config dict (one with ``datasets`` or
            ``dataset`` is an inner node).

    Returns:
        list | None: The sub-datasets (built or configs), in order.
    """
    if isinstance(node, torch.utils.data.ConcatDataset):
        return list(node.datasets)
    if isinstance(node, dict):
        if 'datasets' in node:
            return list(node['datasets'])
        if 'dataset' in node:
            return [node['dataset']]
    return None


def leaf_datasets(dataset) -> List:
    """The datasets a (possibly nested) concatenation is made of, in order.

    Args:
        dataset: A dataset, or a ``torch.utils.data.ConcatDataset``, or a
            dataset config dict.

    Returns:
        list: ``[dataset]`` for a plain dataset, else the leaves.
    """
    subs = children(dataset)
    if subs is None:
        return [dataset]
    return [leaf for sub in subs for leaf in leaf_datasets(sub)]


def leaf_of(dataset, index: int) -> Tuple[object, int]:
    """The innermost dataset holding global ``index`` of a (nested)
    built concatenation, and the index in it.

    Args:
        dataset: A built dataset or ``ConcatDataset``.
        index (int): A global index in ``0..len(dataset) - 1``.

    Returns:
        tuple: ``(leaf dataset, local index)``.

    Raises:
        IndexError: If ``index`` is outside the dataset.
    """
    if not 0 <= index < len(dataset):
        raise IndexError(f'index {index} is outside the dataset of '
                         f'{len(dataset)} samples')
    while isinstance(dataset, torch.utils.data.ConcatDataset):
        which = bisect.bisect_right(dataset.cumulative_sizes, index)
        if which:
            index -= dataset.cumulative_sizes[which - 1]
        dataset = dataset.datasets[which]
    return dataset, index


def wrapper_configs(config: dict) -> List[dict]:
    """The wrappers of one dataset (``dataset=...``, e.g. a
    ``RepeatDataset``) in a dataset config tree, outermost first; the
    concatenations (``datasets=[...]``) are not among them.

    Args:
        config (dict): A dataset config.

    Returns:
        list[dict]: The wrapper configs (empty for a dataset or a tree of
        concatenations only).
    """
    subs = children(config)
    if subs is None:
        return []
    own = [config] if 'datasets' not in config else []
    return own + [w for sub in subs for w in wrapper_configs(sub)]


def map_leaf_configs(config: dict,
                     fn: Callable[[dict], Optional[dict]]) -> Optional[dict]:
    """A copy of a dataset config whose leaves are replaced by ``fn(leaf)``.

    ``fn`` is called on the leaves in order (the order of
    :func:`leaf_datasets`: leaf ``k`` holds the ``k``-th range of global
    indices). It may return None to leave a leaf out: a concatenation keeps
    what is left of its sub-datasets, and one (or a wrapper) left with
    none is left out in turn.

    Args:
        config (dict): A dataset config, maybe a ``ConcatDataset``
            (``datasets``) or another wrapper (``dataset``) of others.
        fn (Callable[[dict], dict | None]): Maps a leaf config to its
            replacement, or to None.

    Returns:
        dict | None: The new config (None when every leaf was left out);
        the inner nodes are shallow copies, ``config`` is left as it was.
    """
    subs = children(config)
    if subs is None:
        return fn(config)
    config = dict(config)
    mapped = [map_leaf_configs(sub, fn) for sub in subs]
    mapped = [sub for sub in mapped if sub is not None]
    if not mapped:
        return None
    if 'datasets' in config:
        config['datasets'] = mapped
    else:
        config['dataset'] = mapped[0]
    return config
