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
from typing import Sequence

import numpy as np
from torch.utils.data import Dataset


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

    Note:
        In training mode mmengine's ``BaseDataset.__getitem__`` replaces an
        image whose pipeline returns None by a random other one; the pool's
        pipeline must therefore not drop images (no ``FilterAnnotations``),
        or ``al_index`` may name another image than the one returned.
    """

    def __init__(self, dataset, indices: Sequence[int],
                 unlabeled: bool) -> None:
        self.dataset = dataset
        self.indices = np.array(indices, dtype=np.int64).reshape(-1)
        self.unlabeled = bool(unlabeled)
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
            ``unlabeled`` (bool) and ``al_index`` (int, the global index).
        """
        index = int(self.indices[idx])
        data = self.dataset[index]
        if not isinstance(data, dict) or 'data_samples' not in data:
            raise KeyError(
                f'sample {index} of {type(self.dataset).__name__} has no '
                '"data_samples": the pipeline must end with PackDetInputs')
        data['data_samples'].set_metainfo(
            dict(unlabeled=self.unlabeled, al_index=index))
        return data
