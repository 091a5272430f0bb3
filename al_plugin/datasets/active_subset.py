"""A view of a pool dataset restricted to the indices of X_L or X_U.

mmengine's ``Runner.build_dataloader`` accepts a built dataset object in
place of a dataset config (``dataloader_cfg['dataset']`` that is not a dict
is used as is), so the training loop builds one dataloader a split::

    labeled = ActiveSubset(pool, splitter.labeled_indices(), unlabeled=False)
    loader = Runner.build_dataloader(dict(cfg.train_dataloader,
                                          dataset=labeled))

Each sample's ``DetDataSample`` carries its role in its metainfo
(``unlabeled``) and its global pool index (``al_index``), so the detector
dispatches on the data, as mmdet's semi-supervised detectors do.
"""
import copy
from typing import Callable, Optional, Sequence

import numpy as np
from mmengine.dataset import pseudo_collate
from mmengine.logging import MMLogger
from torch.utils.data import Dataset

from .dataset_tree import leaf_of
from .pseudo_labels import PseudoLabels


#: key of the stand-in sample ``ActiveSubset(on_broken='mark')`` returns
BROKEN = 'al_broken'


def collate_marking_broken(data_batch: Sequence[dict],
                           collate_fn: Callable = pseudo_collate) -> dict:
    """Collate the readable samples of a batch with ``collate_fn`` and
    list the broken ones apart.

    Returns:
        dict: what ``collate_fn`` returns for the readable samples (nothing
        when there is none), plus ``al_broken``: ``[(global index, error
        message), ...]`` of the samples that could not be read.
    """
    good = [d for d in data_batch if BROKEN not in d]
    batch = collate_fn(good) if good else {}
    batch[BROKEN] = [d[BROKEN] for d in data_batch if BROKEN in d]
    return batch


class ActiveSubset(Dataset):
    """The samples of ``dataset`` at the global indices ``indices``.

    Args:
        dataset: The pool dataset (an mmdet dataset or a ``ConcatDataset``
            of them) whose pipeline packs ``{'inputs', 'data_samples'}``
            (it ends with ``PackDetInputs``).
        indices (Sequence[int] | np.ndarray): Global pool indices, e.g.
            ``splitter.labeled_indices()``; sample ``i`` is
            ``dataset[indices[i]]``.
        unlabeled (bool): Marks every sample as unlabeled (X_U) or not
            (X_L) in its metainfo.
        pseudo_labels (PseudoLabels, optional): Boxes and labels that
            replace the annotations of the images they name; their samples
            are marked ``pseudo_labeled``. Defaults to None.
        pseudo_weight (float): The loss weight of a pseudo-labeled sample,
            set as its metainfo ``al_loss_weight`` (read by the heads of
            :mod:`al_plugin.models.image_weights`); the others get 1.0.
            Defaults to 1.0.
        on_broken (str): What to do when a sample cannot be read (missing or
            corrupt image, unreadable annotations): ``'raise'`` the error;
            ``'mark'`` it: return ``{'al_broken': (index, message)}``, for
            :func:`collate_marking_broken` (pool scoring leaves it out);
            ``'replace'`` it by the next readable sample of the subset, with
            a warning (training goes on). Defaults to ``'raise'``.

    Note:
        In training mode mmengine's ``BaseDataset.__getitem__`` replaces an
        image whose pipeline returns None by a random other one; the pool's
        pipeline must therefore not drop images (no ``FilterAnnotations``),
        or ``al_index`` may name another image than the one returned.
    """

    ON_BROKEN = ('raise', 'mark', 'replace')

    def __init__(self,
                 dataset,
                 indices: Sequence[int],
                 unlabeled: bool,
                 pseudo_labels: Optional[PseudoLabels] = None,
                 on_broken: str = 'raise',
                 pseudo_weight: float = 1.0) -> None:
        if on_broken not in self.ON_BROKEN:
            raise ValueError(f'on_broken must be one of {self.ON_BROKEN}, '
                             f'got {on_broken!r}')
        self.on_broken = on_broken
        self.dataset = dataset
        self.indices = np.array(indices, dtype=np.int64).reshape(-1)
        self.unlabeled = bool(unlabeled)
        self.pseudo_labels = pseudo_labels or PseudoLabels()
        self.pseudo_weight = float(pseudo_weight)
        outside = self.indices[(self.indices < 0)
                               | (self.indices >= len(dataset))]
        if len(outside):
            raise IndexError(f'index {outside[0]} is outside the dataset '
                             f'0..{len(dataset) - 1}')

    @property
    def metainfo(self) -> dict:
        """dict: The pool dataset's metainfo (classes, palette...)."""
        return self.dataset.metainfo

    def __len__(self) -> int:
        return len(self.indices)

    def get_data_info(self, idx: int) -> dict:
        """The pool's data info of sample ``idx`` (no pipeline).

        mmdet's ``AspectRatioBatchSampler`` reads ``width`` / ``height``
        from it.
        """
        return self.dataset.get_data_info(int(self.indices[idx]))

    def __getitem__(self, idx: int) -> dict:
        """The packed sample ``dataset[indices[idx]]``, marked.

        Returns:
            dict: ``{'inputs': Tensor (3, H, W), 'data_samples':
            DetDataSample}``; the data sample's metainfo gains
            ``unlabeled`` (bool), ``al_index`` (int, the global index),
            ``pseudo_labeled`` (bool) and ``al_loss_weight`` (float).
        """
        if self.on_broken == 'raise':
            return self._get(idx)
        for attempt in range(len(self)):
            position = (idx + attempt) % len(self)
            try:
                return self._get(position)
            except Exception as error:  # noqa: B902  any reading failure
                index = int(self.indices[position])
                message = f'{type(error).__name__}: {error}'
                if self.on_broken == 'mark':
                    return {BROKEN: (index, message)}
                MMLogger.get_current_instance().warning(
                    f'pool image {index} cannot be read ({message}); '
                    'training on the next image of the subset instead')
        raise RuntimeError(f'no image of the {len(self)} in this subset can '
                           f'be read; the last error: {message}')

    def _get(self, idx: int) -> dict:
        index = int(self.indices[idx])
        pseudo = index in self.pseudo_labels
        data = self._pseudo_labeled(index) if pseudo else self.dataset[index]
        if not isinstance(data, dict) or 'data_samples' not in data:
            raise KeyError(
                f'sample {index} of {type(self.dataset).__name__} has no '
                '"data_samples": the pipeline must end with PackDetInputs')
        data['data_samples'].set_metainfo(
            dict(
                unlabeled=self.unlabeled,
                al_index=index,
                pseudo_labeled=pseudo,
                al_loss_weight=self.pseudo_weight if pseudo else 1.0))
        return data

    def _pseudo_labeled(self, index: int) -> dict:
        """Sample ``index`` through its dataset's pipeline, with its
        pseudo labels as annotations."""
        leaf, local = leaf_of(self.dataset, index)
        info = copy.deepcopy(leaf.get_data_info(local))
        info['instances'] = self.pseudo_labels.instances(index)
        data = leaf.pipeline(info)
        if data is None:
            raise ValueError(f'the pipeline of {type(leaf).__name__} '
                             f'dropped pseudo-labeled sample {index}')
        return data
