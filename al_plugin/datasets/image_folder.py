"""A pool that is just a folder of images: no annotations, no split files.

``tools/query.py`` scores such a folder with a trained model and picks what
to label first; the config's test pipeline runs on each image as on any
dataset's.
"""
import os
import os.path as osp
from typing import List, Sequence

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
                 **kwargs) -> None:
        self.extensions = tuple(e.lower() for e in extensions)
        self.recursive = recursive
        kwargs.setdefault('test_mode', True)
        super().__init__(data_root=data_root, ann_file='', **kwargs)

    def load_data_list(self) -> List[dict]:
        """List the folder's images.

        Raises:
            FileNotFoundError: ``data_root`` is not a folder, or holds no
                image.
        """
        root = self.data_root
        if not osp.isdir(root):
            raise FileNotFoundError(f'image folder {root} does not exist')
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
