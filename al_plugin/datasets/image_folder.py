"""A pool that is just a folder of images: no annotations, no split files.

``tools/query.py`` scores such a folder with a trained model and picks what
to label first; the config's test pipeline runs on each image as on any
dataset's.
"""
import os
import os.path as osp
from typing import List, Optional, Sequence

from mmdet.datasets import BaseDetDataset
from mmdet.registry import DATASETS

#: file name endings listed by default (compared case-insensitively)
IMG_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp')


@DATASETS.register_module()
class ImageFolderDataset(BaseDetDataset):
    """The images below ``data_root``, sorted by relative path.

    Every data info is ``dict(img_path, img_id, instances=[])``: ``img_id``
    is the image's path relative to ``data_root`` (``/``-separated), unique
    within the folder. Files whose names end otherwise than ``extensions``
    (notes, annotation files, hidden files) are not listed. Test mode is on
    by default: a pipeline that returns None for an image raises instead of
    silently reading another image.

    Args:
        data_root (str): The folder.
        extensions (Sequence[str]): The endings of image file names,
            lower case. Defaults to :data:`IMG_EXTENSIONS`.
        recursive (bool): Also list the images of subfolders. Defaults to
            True.
        files (Sequence[str], optional): Just these images, paths relative
            to ``data_root`` (``/``-separated), in this order; each must
            be a file below ``data_root``. Defaults to None: the folder's.
        **kwargs: :class:`mmdet.datasets.BaseDetDataset` options
            (``pipeline``, ``metainfo`` with the model's ``classes``...).

    Examples:
        >>> dataset = ImageFolderDataset(
        ...     data_root='new_images/', metainfo=dict(classes=('a', 'b')),
        ...     pipeline=test_pipeline)
    """

    def __init__(self,
                 data_root: str,
                 extensions: Sequence[str] = IMG_EXTENSIONS,
                 recursive: bool = True,
                 files: Optional[Sequence[str]] = None,
                 **kwargs) -> None:
        self.extensions = tuple(e.lower() for e in extensions)
        self.recursive = recursive
        self.files = None if files is None else list(files)
        kwargs.setdefault('test_mode', True)
        super().__init__(data_root=data_root, ann_file='', **kwargs)

    def load_data_list(self) -> List[dict]:
        """List the folder's images.

        Raises:
            FileNotFoundError: ``data_root`` is not a folder, or holds no
                image, or a path of ``files`` is no file.
            ValueError: A path of ``files`` leads out of ``data_root`` or
                is given twice.
        """
        root = self.data_root
        if not osp.isdir(root):
            raise FileNotFoundError(f'image folder {root} does not exist')
        if self.files is not None:
            return [
                dict(img_path=osp.join(root, rel), img_id=rel, instances=[])
                for rel in self._checked_files(root)
            ]
        paths = []
        for folder, subfolders, files in os.walk(root):
            subfolders[:] = sorted(
                d for d in subfolders if not d.startswith('.'))
            if not self.recursive:
                subfolders[:] = []
            paths.extend(
                osp.join(folder, name) for name in files
                if not name.startswith('.')
                and name.lower().endswith(self.extensions))
        if not paths:
            raise FileNotFoundError(
                f'no image in {root} (file names ending in '
                f'{", ".join(self.extensions)}'
                f'{", subfolders included" if self.recursive else ""})')
        relative = sorted(
            osp.relpath(p, root).replace(os.sep, '/') for p in paths)
        return [
            dict(img_path=osp.join(root, rel), img_id=rel, instances=[])
            for rel in relative
        ]

    def _checked_files(self, root: str) -> List[str]:
        """``files``, each checked to be a distinct file inside ``root``."""
        real_root = osp.realpath(root)
        seen = set()
        for i, rel in enumerate(self.files):
            path = osp.realpath(osp.join(root, rel))
            if osp.isabs(rel) or osp.commonpath([real_root, path]) != \
                    real_root:
                raise ValueError(f'files[{i}] {rel!r} is not inside {root}')
            if not osp.isfile(path):
                raise FileNotFoundError(f'files[{i}]: no image file '
                                        f'{osp.join(root, rel)}')
            if rel in seen:
                raise ValueError(f'files[{i}] {rel!r} is given twice')
            seen.add(rel)
        if not self.files:
            raise FileNotFoundError(f'no image in {root}: files is empty')
        return self.files
