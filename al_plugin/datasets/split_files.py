"""The files of a split's cycles, written through :mod:`al_plugin.work_dir`.

Per cycle ``c``: ``X_L_<c>.npy``, ``X_U_<c>.npy`` (sorted int64 global
indices), ``cycle<c>/trainval_X_L_<tag>.txt`` and
``cycle<c>/trainval_X_U_<tag>.txt`` (image ids, one a line, in index order,
one file per subset tag, e.g. ``07`` and ``12`` for VOC07+12: usable as an
``ann_file`` of the matching dataset), ``selection_<c>.json`` for
``c >= 1`` and ``pseudo_labels_<c>.json`` when the selection that made
cycle ``c`` gave pseudo labels. Rank 0 writes, each file atomically; every
rank then waits at a barrier.
"""
from typing import Iterable

from mmengine.dist import barrier, is_main_process

from al_plugin import work_dir as files
from .pool import PoolImages
from .split_state import SplitState


def selection_record(split: SplitState, images: PoolImages, cycle: int,
                     budget: int) -> dict:
    """The content of ``selection_<cycle>.json``.

    Keys: ``cycle``, ``strategy``, ``indices`` (global indices, in the
    strategy's order), ``img_ids`` and ``tags`` (of those), ``scores`` (or
    null), ``skipped`` and ``skipped_img_ids`` (pool images that could not
    be read, left out), ``budget``, ``X_L_size`` and ``X_U_size`` (of
    ``cycle``), ``pool_size`` (not-yet-labeled images after the commit) and
    ``total_size`` (N).
    """
    selection = split.selection(cycle)
    indices = selection['indices']
    num_labeled = len(split.labeled(cycle))
    return dict(
        cycle=cycle,
        strategy=selection['strategy'],
        indices=list(indices),
        img_ids=images.ids_of(indices),
        tags=images.tags_of(indices),
        scores=selection['scores'],
        skipped=selection['skipped'],
        skipped_img_ids=images.ids_of(selection['skipped']),
        budget=budget,
        X_L_size=num_labeled,
        X_U_size=len(split.unlabeled(cycle)),
        pool_size=split.pool_size - num_labeled,
        total_size=split.pool_size)


def write_cycle(work_dir: str, split: SplitState, images: PoolImages,
                cycle: int, x_s: int) -> None:
    """Write the npy, txt and (cycle >= 1) json files of a cycle.

    Args:
        work_dir (str): The experiment's work dir.
        split (SplitState): The split, with ``cycle``.
        images (PoolImages): The pool's image ids and tags.
        cycle (int): The cycle to write.
        x_s (int): The budget setting, images a cycle (the selection
            record states the budget of its cycle).
    """
    for name, indices in (('X_L', split.labeled(cycle)),
                          ('X_U', split.unlabeled(cycle))):
        files.write_indices(work_dir, name, cycle, indices)
        for tag, ids in images.ids_by_tag(indices).items():
            files.write_id_list(work_dir, name, cycle, tag, ids)
    if cycle >= 1:
        files.write_selection(work_dir, cycle,
                              selection_record(split, images, cycle,
                                               split.budget(cycle, x_s)))
    pseudo_labels = split.pseudo_labels(cycle)
    if pseudo_labels:
        files.write_pseudo_labels(
            work_dir, cycle,
            dict(cycle=cycle,
                 num_images=len(pseudo_labels),
                 num_boxes=pseudo_labels.num_boxes,
                 images=pseudo_labels.to_json(images.img_ids,
                                              images.tags())))


def publish(work_dir: str, split: SplitState, images: PoolImages,
            cycles: Iterable[int], x_s: int) -> None:
    """Rank 0 writes the files of ``cycles`` (:func:`write_cycle`); every
    rank then waits."""
    try:
        if is_main_process():
            for cycle in cycles:
                write_cycle(work_dir, split, images, cycle, x_s)
    finally:
        barrier()
