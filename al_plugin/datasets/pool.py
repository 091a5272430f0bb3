"""What the splitter knows of a pool: an image id and a subset tag per index.

The pool is the (fully initialised) training dataset; global index ``i`` is
position ``i`` of the dataset (see :mod:`.dataset_tree`). For a
``ConcatDataset`` of VOC-style datasets that is the line order of the
sub-datasets' ``trainval.txt`` files, concatenated (VOC2007 first, then
VOC2012). Each leaf gets a subset tag (its 2-digit year, e.g. ``07``), used
to write one image-id list per subset.
"""
import hashlib
import re
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from .dataset_tree import leaf_datasets

#: A 4-digit year (1900..2099) not embedded in a longer number.
_YEAR = re.compile(r'(?<!\d)(?:19|20)(\d{2})(?!\d)')


def year_tag(dataset) -> Optional[str]:
    """The 2-digit year a dataset's paths name, e.g. ``'07'``, if any.

    The paths below ``data_root`` (``data_prefix`` values, ``ann_file``) are
    searched before ``data_root`` itself, and within a path the year nearest
    to its end wins, so that a year in a temporary or home folder name does
    not hide the dataset's own (``.../DIGITS2012/ImageSets/...``).

    Args:
        dataset: A dataset with (some of) ``data_root``, ``data_prefix`` and
            ``ann_file`` attributes, as ``mmengine.dataset.BaseDataset`` has.

    Returns:
        str | None: The last two digits of the year, or None.
    """
    root = getattr(dataset, 'data_root', None) or ''
    prefix = getattr(dataset, 'data_prefix', None) or {}
    paths = [*prefix.values(), getattr(dataset, 'ann_file', None)]
    relative = [
        path[len(root):] if root and path.startswith(root) else path
        for path in paths if isinstance(path, str)
    ]
    for text in relative + [root]:
        years = _YEAR.findall(text)
        if years:
            return years[-1]
    return None


def read_pool(dataset) -> Tuple[List, List[str]]:
    """Read each index's image id and subset tag, without the pipeline.

    Tags: for a concatenation, per sub-dataset, the 2-digit year its paths
    name (see :func:`year_tag`), else its position as a string; a plain
    dataset gets one tag, its year or ``'0'``.

    Args:
        dataset: A fully initialised dataset with ``get_data_info(i)``
            returning a dict with ``'img_id'`` (any mmdet dataset), or a
            concatenation of such datasets.

    Returns:
        tuple[list, list[str]]: Image ids and tags, one per global index.

    Raises:
        ValueError: If an image id appears twice within one subset.
    """
    leaves = leaf_datasets(dataset)
    img_ids, tags = [], []
    for position, leaf in enumerate(leaves):
        default = str(position) if len(leaves) > 1 else '0'
        tag = year_tag(leaf) or default
        if not hasattr(leaf, 'get_data_info'):
            raise TypeError(
                f'{type(leaf).__name__} has no get_data_info(): the splitter '
                'reads image ids from mmdet/mmengine datasets')
        for local in range(len(leaf)):
            info = leaf.get_data_info(local)
            if 'img_id' not in info:
                raise KeyError(
                    f'data info {local} of {type(leaf).__name__} (global '
                    f'index {len(img_ids)}) has no "img_id"')
            img_id = info['img_id']
            if isinstance(img_id, np.generic):
                img_id = img_id.item()
            img_ids.append(img_id)
            tags.append(tag)
    _check_unique_ids(img_ids, tags)
    return img_ids, tags


def _check_unique_ids(img_ids: Sequence, tags: Sequence[str]) -> None:
    """Raise if an image id appears twice within one subset tag."""
    first: Dict[Tuple[str, str], int] = {}
    for index, (img_id, tag) in enumerate(zip(img_ids, tags)):
        key = (tag, str(img_id))
        if key in first:
            raise ValueError(
                f'duplicate image id {img_id!r} in subset {tag!r}: global '
                f'indices {first[key]} and {index}; the per-subset '
                'trainval_X_*.txt files would be ambiguous')
        first[key] = index


class PoolImages:
    """The image id and subset tag of every global index of a pool.

    Args:
        img_ids (Sequence): One image id per global index, shape (N, ).
        tags (Sequence[str]): One subset tag per global index, shape (N, ).

    Attributes:
        tag_names (list[str]): The distinct tags, in index order.
        tag_codes (np.ndarray): int64, shape (N, ): each index's position
            in :attr:`tag_names`.
    """

    def __init__(self, img_ids: Sequence, tags: Sequence[str]) -> None:
        if len(img_ids) != len(tags):
            raise ValueError(f'{len(img_ids)} image ids for {len(tags)} '
                             'tags')
        self.img_ids = list(img_ids)
        self.tag_names = list(dict.fromkeys(tags))
        code = {tag: c for c, tag in enumerate(self.tag_names)}
        self.tag_codes = np.array([code[t] for t in tags], dtype=np.int64)

    @classmethod
    def read(cls, dataset) -> 'PoolImages':
        """The ids and tags of a dataset's pool (:func:`read_pool`)."""
        return cls(*read_pool(dataset))

    def __len__(self) -> int:
        return len(self.img_ids)

    def img_id(self, index: int):
        """The image id of global index ``index``."""
        return self.img_ids[int(index)]

    def ids_of(self, indices) -> list:
        """The image ids of global indices, shape (n, )."""
        return [self.img_ids[i] for i in indices]

    def tags_of(self, indices) -> List[str]:
        """The subset tags of global indices, shape (n, )."""
        return [self.tag_names[self.tag_codes[i]] for i in indices]

    def tags(self) -> List[str]:
        """The subset tag of every global index, shape (N, )."""
        return [self.tag_names[code] for code in self.tag_codes]

    def ids_by_tag(self, indices: np.ndarray) -> Dict[str, list]:
        """Tag -> image ids of those of ``indices`` (int64, shape (n, ))
        with that tag, in the order of ``indices``; every tag is a key."""
        indices = np.asarray(indices, dtype=np.int64)
        return {
            tag: self.ids_of(indices[self.tag_codes[indices] == code])
            for code, tag in enumerate(self.tag_names)
        }

    def digest(self) -> str:
        """sha1 of the pool's (tag, image id) list, in index order."""
        sha = hashlib.sha1()
        for img_id, code in zip(self.img_ids, self.tag_codes):
            sha.update(f'{self.tag_names[code]}\t{img_id}\n'.encode())
        return sha.hexdigest()
