"""Which of a pool's images already have labels: from a COCO json, a VOC
folder or a list of images.

An image of the pool (a path relative to the images' folder) is labeled
when a label names it: by the same relative path, else by its file name
(COCO ``file_name``'s last part; VOC: the XML's ``<filename>``, else its
stem matched with the image's stem) when exactly one pool image has that
name. Labels that match no pool image are counted, not an error: a COCO
export may list images of another folder.
"""
import json
import os
import os.path as osp
import xml.etree.ElementTree as ET
from collections import defaultdict
from typing import Dict, List, Sequence, Set, Tuple


def coco_names(path: str) -> List[str]:
    """The ``file_name`` of every image of a COCO json.

    Raises:
        ValueError: Not a COCO json with ``images[].file_name`` (names the
            file and the index).
    """
    try:
        with open(path) as f:
            images = json.load(f)['images']
        return [str(image['file_name']) for image in images]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ValueError(f'{path}: not a COCO json with images[].file_name '
                         f'({type(e).__name__}: {e})') from e


def voc_names(folder: str) -> List[str]:
    """The images a VOC folder annotates: ``<filename>`` of every
    ``Annotations/*.xml`` (``folder`` itself when it has no
    ``Annotations``), else the XML's stem.

    Raises:
        ValueError: An XML file cannot be parsed (named).
    """
    ann_dir = osp.join(folder, 'Annotations')
    ann_dir = ann_dir if osp.isdir(ann_dir) else folder
    names = []
    for name in sorted(os.listdir(ann_dir)):
        if not name.lower().endswith('.xml'):
            continue
        path = osp.join(ann_dir, name)
        try:
            filename = ET.parse(path).getroot().findtext('filename')
        except ET.ParseError as e:
            raise ValueError(f'{path}: malformed XML ({e})') from e
        names.append(filename.strip() if filename and filename.strip()
                     else osp.splitext(name)[0])
    return names


def match_labeled(pool: Sequence[str],
                  names: Sequence[str]) -> Tuple[Set[str], int]:
    """The pool images the label ``names`` name.

    Args:
        pool (Sequence[str]): Image paths relative to the images' folder,
            ``/``-separated.
        names (Sequence[str]): What the labels name (relative paths, file
            names or stems).

    Returns:
        tuple: the labeled pool paths, and how many names matched none.
    """
    exact = set(pool)
    by_name: Dict[str, List[str]] = defaultdict(list)
    for path in pool:
        base = path.rsplit('/', 1)[-1]
        by_name[base].append(path)
        stem = osp.splitext(base)[0]
        if stem != base:
            by_name[stem].append(path)
    labeled, unmatched = set(), 0
    for name in names:
        name = name.replace('\\', '/')
        while name.startswith('./'):
            name = name[2:]
        if name in exact:
            labeled.add(name)
            continue
        found = by_name.get(name.rsplit('/', 1)[-1], [])
        if len(found) == 1:
            labeled.add(found[0])
        else:
            unmatched += 1
    return labeled, unmatched
