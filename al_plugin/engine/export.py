"""Hand chosen images to annotators, with the model's boxes as a start.

For a set of chosen pool images (a cycle's selection, or the top of a
folder that :func:`score_images` scored) an export is two files:

- ``<prefix>_coco.json``: COCO format. ``images`` (``id``, ``file_name``
  relative to ``info.image_root``, ``width``, ``height`` of the original
  image, plus where the image comes from: ``img_id`` and more),
  ``categories`` (``id`` = label + 1, ``name`` = the class name) and
  ``annotations``: the model's detections with ``score >= score_thr`` as
  pre-annotations, ``bbox`` ``[x, y, w, h]`` in the original image frame
  (clipped to the image), ``segmentation`` ``[]`` (a box without a mask,
  as COCO allows; COCO readers such as datumaro expect the field),
  ``score`` kept as an extra field.
- ``<prefix>_images.txt``: the absolute image paths, one a line, in the
  same order as ``images``.

Both are written atomically (temporary file + rename,
:func:`al_plugin.utils.atomic_open`). The model passes show a progress bar
with rate and ETA on rank 0; they run in one process (the tools do not
shard them over ranks).

Used by ``tools/export_selection.py`` and ``tools/query.py``.
"""
import os.path as osp
import time
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.dist import is_main_process
from mmengine.model import revert_sync_batchnorm
from mmengine.registry import init_default_scope
from mmengine.runner import Runner, load_checkpoint
from mmdet.registry import MODELS

from al_plugin.engine.progress import ScoringProgress
from al_plugin.engine.scoring import score_loader
from al_plugin.engine.selection import subset_loader_cfg
from al_plugin.utils import atomic_open, atomic_write_json


def load_detector(cfg, checkpoint: str, device: str = 'cpu'):
    """Build ``cfg.model`` and load a checkpoint's weights into it.

    Nothing is downloaded (no ``init_weights``); ``SyncBN`` layers become
    ``BN``; ``model.dataset_meta`` is the checkpoint's (``classes``...),
    ``{}`` when it has none.

    Args:
        cfg (Config): The experiment config.
        checkpoint (str): A ``.pth`` file written by the Runner
            (``epoch_<n>.pth``, ``cycle_<c>.pth``).
        device (str): Where the model runs. Defaults to ``'cpu'``.

    Returns:
        nn.Module: The detector, in eval mode.
    """
    init_default_scope(cfg.get('default_scope', 'mmdet'))
    model = revert_sync_batchnorm(MODELS.build(cfg.model))
    state = load_checkpoint(
        model, checkpoint, map_location='cpu', logger='current')
    model.dataset_meta = dict(state.get('meta', {}).get('dataset_meta', {}))
    return model.to(device).eval()


def subset_loader(loader_cfg: dict,
                  dataset,
                  indices: Sequence[int],
                  on_broken: str = 'raise'):
    """A dataloader over ``dataset[indices]``, in that order.

    Args:
        loader_cfg (dict): A dataloader config, e.g. what
            :func:`~al_plugin.engine.selection.pool_loader_cfg` returns;
            its ``dataset`` is replaced, its sampler by an unshuffled
            ``DefaultSampler`` (one process, the indices' order).
        dataset: The built pool dataset.
        indices (Sequence[int]): Its indices to load.
        on_broken (str): ``'raise'`` an unreadable image's error, or
            ``'mark'`` it: batches then carry ``al_broken`` (see
            :func:`~al_plugin.datasets.collate_marking_broken`).

    Returns:
        DataLoader: Batches of ``{'inputs', 'data_samples'}``; every data
        sample's metainfo has ``al_index``, its index in ``dataset``.
    """
    cfg = subset_loader_cfg(loader_cfg, dataset, indices, on_broken)
    cfg['sampler'] = dict(type='DefaultSampler', shuffle=False)
    return Runner.build_dataloader(cfg)


def _progress(total: int, desc: str,
              listener=None) -> Optional[ScoringProgress]:
    """Images done, rate and ETA over ``total`` images, on rank 0."""
    return ScoringProgress(total, desc=desc, listener=listener) \
        if total and is_main_process() else None


def _close(bar: Optional[ScoringProgress]) -> None:
    if bar is not None:
        bar.close()


def predict_images(model, loader, listener=None) -> List[dict]:
    """Run the model's ``predict`` (``test_step``) over a loader.

    Args:
        model (nn.Module): A detector in eval mode.
        loader (DataLoader): Over an :class:`ActiveSubset` (see
            :func:`subset_loader`) with ``on_broken='raise'``.
        listener (callable, optional): Gets the progress as numbers
            (:meth:`ScoringProgress.snapshot`) after every image.

    Returns:
        list[dict]: One record an image, in loader order: ``id`` (the
        ``al_index``), ``img_path``, ``height``, ``width`` (``ori_shape``),
        ``bboxes`` ``(n, 4)`` float32 x1, y1, x2, y2 in the original image
        frame, ``scores`` ``(n, )`` float32, ``labels`` ``(n, )`` int64
        (``test_cfg``: score threshold, NMS, ``max_per_img``).
    """
    dataset = loader.dataset
    bar = _progress(len(dataset), 'predicting', listener)
    records = []
    with torch.no_grad():
        for data in loader:
            for sample in model.test_step(data):
                index = int(sample.metainfo['al_index'])
                pred = sample.pred_instances
                height, width = sample.ori_shape[:2]
                records.append(
                    dict(
                        id=index,
                        img_path=dataset.dataset.get_data_info(index)
                        ['img_path'],
                        height=int(height),
                        width=int(width),
                        bboxes=pred.bboxes.detach().cpu().numpy(),
                        scores=pred.scores.detach().cpu().numpy(),
                        labels=pred.labels.detach().cpu().numpy()))
                if bar is not None:
                    bar.update()
    _close(bar)
    return records


def score_images(
    model,
    loader,
    names: Sequence[str],
    scorer_cfg: Optional[dict] = None,
    adapter_cfg: Optional[dict] = None
) -> Tuple[np.ndarray, Dict[str, np.ndarray], Dict[int, str]]:
    """The named outputs of :mod:`al_plugin.engine.scoring` for every
    readable image of a loader, as :class:`ActiveSelectionHook` computes
    them for the pool (one backbone + neck pass per group of a batch's
    images with one padded shape; an image's outputs do not depend on
    its batch).

    Args:
        model (nn.Module): A detector in eval mode (not a DDP wrapper).
        loader (DataLoader): Over an :class:`ActiveSubset` with
            ``on_broken='mark'`` (see :func:`subset_loader`).
        names (Sequence[str]): Keys of ``OUTPUTS`` (a strategy's
            ``requires``); none: the images are only read.
        scorer_cfg (dict, optional): Options of the output functions.
        adapter_cfg (dict, optional): The model's output adapter; defaults
            to the first that applies.

    Returns:
        tuple: ``indices`` ``(P, )`` int64, the dataset indices of the
        readable images in loader order; ``outputs``: name -> ``(P, ...)``
        rows in that order; ``broken``: index -> error message of the
        images that could not be read.
    """
    bar = _progress(len(loader.dataset), 'scoring')
    result = score_loader(model, loader, names, scorer_cfg, adapter_cfg,
                          progress=bar)
    _close(bar)
    return result


def image_root_of(paths: Sequence[str]) -> str:
    """The deepest folder holding every one of ``paths`` (absolute)."""
    if not paths:
        return ''
    return osp.commonpath([osp.dirname(osp.abspath(p)) for p in paths])


def to_coco(records: Sequence[dict],
            classes: Sequence[str],
            score_thr: float = 0.3,
            image_root: Optional[str] = None,
            info: Optional[dict] = None) -> dict:
    """A COCO dataset of the records' images with their detections.

    Args:
        records (Sequence[dict]): One an image (see :func:`predict_images`):
            ``id`` (int, unique), ``img_path``, ``height``, ``width``,
            ``bboxes`` ``(n, 4)`` x1, y1, x2, y2 in the original image
            frame, ``scores`` ``(n, )``, ``labels`` ``(n, )`` (0-based
            indices of ``classes``); optional ``meta``: a dict of extra
            fields for the image's entry (e.g. ``img_id``).
        classes (Sequence[str]): Class names; class ``i`` becomes category
            ``i + 1``.
        score_thr (float): Detections scoring less are left out. Defaults
            to 0.3.
        image_root (str, optional): What ``file_name`` is relative to.
            Defaults to :func:`image_root_of` the images.
        info (dict, optional): More fields of ``info``.

    Returns:
        dict: ``info``, ``images``, ``categories``, ``annotations``. Boxes
        are clipped to the image; a box with no area left is dropped.
    """
    if not 0 <= score_thr <= 1:
        raise ValueError(f'score_thr must be in [0, 1], got {score_thr}')
    paths = [osp.abspath(r['img_path']) for r in records]
    if image_root is None:
        image_root = image_root_of(paths)
    image_root = osp.abspath(image_root) if image_root else ''
    ids = [int(r['id']) for r in records]
    if len(set(ids)) != len(ids):
        raise ValueError(f'image ids are not unique: {ids}')
    images, annotations = [], []
    for record, path, image_id in zip(records, paths, ids):
        width, height = int(record['width']), int(record['height'])
        images.append(
            dict(
                id=image_id,
                file_name=osp.relpath(path, image_root)
                if image_root else path,
                width=width,
                height=height,
                **record.get('meta', {})))
        boxes = np.asarray(record['bboxes'], dtype=np.float64).reshape(-1, 4)
        scores = np.asarray(record['scores'], dtype=np.float64).reshape(-1)
        labels = np.asarray(record['labels'], dtype=np.int64).reshape(-1)
        if not len(boxes) == len(scores) == len(labels):
            raise ValueError(f'image {image_id}: {len(boxes)} boxes, '
                             f'{len(scores)} scores, {len(labels)} labels')
        outside = labels[(labels < 0) | (labels >= len(classes))]
        if len(outside):
            raise ValueError(f'image {image_id}: label {outside[0]} is not '
                             f'one of the {len(classes)} classes')
        boxes[:, 0::2] = boxes[:, 0::2].clip(0, width)
        boxes[:, 1::2] = boxes[:, 1::2].clip(0, height)
        keep = (scores >= score_thr) & (boxes[:, 2] > boxes[:, 0]) & (
            boxes[:, 3] > boxes[:, 1])
        for (x1, y1, x2, y2), score, label in zip(boxes[keep], scores[keep],
                                                  labels[keep]):
            w, h = x2 - x1, y2 - y1
            annotations.append(
                dict(
                    id=len(annotations) + 1,
                    image_id=image_id,
                    category_id=int(label) + 1,
                    bbox=[float(x1), float(y1),
                          float(w), float(h)],
                    area=float(w * h),
                    iscrowd=0,
                    segmentation=[],
                    score=float(score)))
    return dict(
        info=dict(
            description='pre-annotations: detections of an al_plugin model',
            date_created=time.strftime('%Y-%m-%d %H:%M:%S'),
            image_root=image_root,
            score_thr=score_thr,
            **(info or {})),
        images=images,
        categories=[
            dict(id=i + 1, name=str(name), supercategory='none')
            for i, name in enumerate(classes)
        ],
        annotations=annotations)


def write_export(out_dir: str, prefix: str, coco: dict) -> Tuple[str, str]:
    """Write ``<prefix>_coco.json`` and ``<prefix>_images.txt`` into
    ``out_dir``, each atomically; rank 0 only.

    Args:
        out_dir (str): The folder (made if missing).
        prefix (str): E.g. ``'selection_2'``.
        coco (dict): What :func:`to_coco` returns; the list holds its
            images' absolute paths (``info.image_root`` joined with
            ``file_name``), in its order.

    Returns:
        tuple[str, str]: The paths of the two files.
    """
    coco_path = osp.join(out_dir, f'{prefix}_coco.json')
    list_path = osp.join(out_dir, f'{prefix}_images.txt')
    root = coco['info']['image_root']
    if is_main_process():
        atomic_write_json(coco_path, coco)
        with atomic_open(list_path, 'w') as f:
            f.writelines(f'{osp.join(root, image["file_name"])}\n'
                         for image in coco['images'])
    return coco_path, list_path
