"""Label Studio's formats (:mod:`.label_studio`): its labeling config,
``rectanglelabels`` regions and JSON export, to and from COCO boxes."""
import math
import time
import xml.etree.ElementTree as ET
from typing import Dict, List, NamedTuple, Optional, Tuple


class RectangleTarget(NamedTuple):
    """What a labeling config says about its rectangles.

    Attributes:
        from_name (str): The ``RectangleLabels`` tag's ``name``.
        to_name (str): Its ``toName``: the ``Image`` tag's ``name``.
        data_key (str): The task data field of the image (the ``Image``
            tag's ``value`` without its ``$``).
        labels (list[str]): The ``Label`` values, in order.
    """
    from_name: str
    to_name: str
    data_key: str
    labels: List[str]


def parse_labeling_config(xml: str) -> RectangleTarget:
    """The first ``RectangleLabels`` tag of a Label Studio labeling config
    and the ``Image`` tag it labels.

    Raises:
        ValueError: Not XML, no ``RectangleLabels`` with a ``name``, no
            ``Image`` tag named by its ``toName``, or no labels (said).
    """
    if not isinstance(xml, str) or not xml.strip():
        raise ValueError('the labeling config is empty')
    try:
        root = ET.fromstring(xml)
    except ET.ParseError as e:
        raise ValueError(f'the labeling config is not XML ({e})') from e
    tags = list(root.iter('RectangleLabels'))
    if not tags:
        raise ValueError('the labeling config has no <RectangleLabels> tag: '
                         'this backend pre-annotates rectangles')
    tag = tags[0]
    from_name, to_name = tag.get('name'), tag.get('toName')
    if not from_name or not to_name:
        raise ValueError('<RectangleLabels> needs a name and a toName')
    to_name = to_name.split(',')[0]
    images = [t for t in root.iter('Image') if t.get('name') == to_name]
    if not images or not (images[0].get('value') or '').startswith('$'):
        raise ValueError(f'no <Image name="{to_name}" value="$..."> tag, '
                         'which <RectangleLabels> names as its toName')
    labels = [t.get('value') for t in tag.iter('Label') if t.get('value')]
    if not labels:
        raise ValueError(f'<RectangleLabels name="{from_name}"> has no '
                         '<Label value="..."> inside')
    return RectangleTarget(from_name, to_name, images[0].get('value')[1:],
                           labels)


def project_id(value) -> Optional[int]:
    """Label Studio's project id in a request: ``7``, ``"7"`` or the
    ``"<id>.<created at>"`` of ``/setup`` and ``/predict``; or a
    webhook's ``{"id": 7, ...}``."""
    if isinstance(value, dict):
        value = value.get('id')
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        head = value.split('.')[0]
        return int(head) if head.isdigit() else None
    return None


def ls_regions(annotations: List[dict], width: int, height: int,
               classes: List[str], target: RectangleTarget,
               prefix: str) -> Tuple[List[dict], int]:
    """Detections (COCO annotations of one image: ``bbox`` ``[x, y, w,
    h]`` in pixels, ``category_id`` = class + 1, ``score``) as Label Studio
    ``rectanglelabels`` regions (percent of the image).

    Args:
        annotations (list[dict]): The image's detections.
        width (int): The image's width, pixels.
        height (int): Its height.
        classes (list[str]): The model's class names.
        target (RectangleTarget): The project's rectangles.
        prefix (str): Region ids are ``<prefix>_<k>``.

    Returns:
        tuple: the regions, and how many detections were left out because
        the project has no label of their class.
    """
    regions, dropped = [], 0
    for ann in annotations:
        name = str(classes[ann['category_id'] - 1])
        if name not in target.labels:
            dropped += 1
            continue
        x, y, w, h = ann['bbox']
        regions.append(
            dict(
                id=f'{prefix}_{len(regions)}',
                from_name=target.from_name,
                to_name=target.to_name,
                type='rectanglelabels',
                original_width=width,
                original_height=height,
                image_rotation=0,
                value=dict(
                    x=100.0 * x / width,
                    y=100.0 * y / height,
                    width=100.0 * w / width,
                    height=100.0 * h / height,
                    rotation=0,
                    rectanglelabels=[name]),
                score=float(ann['score'])))
    return regions, dropped


def region_box(value: dict, width: float,
               height: float) -> Optional[List[float]]:
    """A ``rectanglelabels`` region's ``value`` (percent ``x``, ``y``,
    ``width``, ``height``; ``rotation`` degrees clockwise about its
    top-left corner) as a COCO ``[x, y, w, h]`` in pixels: the axis-aligned
    box around it, clipped to the image; None when nothing is left."""
    x = float(value['x']) * width / 100
    y = float(value['y']) * height / 100
    w = float(value['width']) * width / 100
    h = float(value['height']) * height / 100
    angle = math.radians(float(value.get('rotation') or 0))
    cos, sin = math.cos(angle), math.sin(angle)
    xs, ys = [], []
    for cx, cy in ((0, 0), (w, 0), (w, h), (0, h)):
        xs.append(x + cx * cos - cy * sin)
        ys.append(y + cx * sin + cy * cos)
    x1, x2 = max(0.0, min(xs)), min(float(width), max(xs))
    y1, y2 = max(0.0, min(ys)), min(float(height), max(ys))
    if x2 <= x1 or y2 <= y1:
        return None
    return [x1, y1, x2 - x1, y2 - y1]


def final_annotation(task: dict) -> Optional[dict]:
    """A task's annotation to train on: the last one updated that was not
    skipped (``was_cancelled``); None if there is none."""
    kept = [a for a in task.get('annotations') or []
            if not a.get('was_cancelled')]
    if not kept:
        return None
    return max(kept, key=lambda a: (str(a.get('updated_at') or ''),
                                    a.get('id') or 0))


def annotations_to_coco(tasks: List[dict], images: Dict[int, tuple],
                        classes: List[str]) -> Tuple[dict, dict]:
    """Label Studio's JSON export (tasks with their annotations) as a
    COCO dataset to train on.

    Args:
        tasks (list[dict]): Exported tasks (``id``, ``annotations``: each
            with ``result`` regions).
        images (dict): Task id -> ``(file_name, width, height)`` of its
            image (the name relative to the images' folder).
        classes (list[str]): The config's class names; class ``i`` is
            category ``i + 1``; a region's first label picks its class.

    Returns:
        tuple: the COCO dict (``images``: one per task with an annotation
        and an image, ``id`` = the task id; ``annotations`` with ``bbox``
        in pixels and ``segmentation`` ``[]``: a box without a mask, as
        :func:`al_plugin.engine.export.to_coco` writes), and counts of what was
        left out (``no_annotation``, ``no_image``, ``unknown_label``,
        ``empty_box``).
    """
    skipped = dict(no_annotation=0, no_image=0, unknown_label=0,
                   empty_box=0)
    coco_images, coco_anns = [], []
    for task in tasks:
        annotation = final_annotation(task)
        if annotation is None:
            skipped['no_annotation'] += 1
            continue
        if task['id'] not in images:
            skipped['no_image'] += 1
            continue
        file_name, width, height = images[task['id']]
        coco_images.append(dict(id=task['id'], file_name=file_name,
                                width=width, height=height,
                                ls_annotation=annotation.get('id')))
        for region in annotation.get('result') or []:
            if region.get('type') != 'rectanglelabels':
                continue
            value = region.get('value') or {}
            names = value.get('rectanglelabels') or []
            if not names or names[0] not in classes:
                skipped['unknown_label'] += 1
                continue
            box = region_box(value, region.get('original_width') or width,
                             region.get('original_height') or height)
            if box is None:
                skipped['empty_box'] += 1
                continue
            coco_anns.append(dict(
                id=len(coco_anns) + 1, image_id=task['id'],
                category_id=classes.index(names[0]) + 1, bbox=box,
                area=box[2] * box[3], segmentation=[], iscrowd=0))
    coco = dict(
        info=dict(description='annotations exported from Label Studio',
                  date_created=time.strftime('%Y-%m-%d %H:%M:%S')),
        images=coco_images,
        categories=[dict(id=i + 1, name=str(name), supercategory='none')
                    for i, name in enumerate(classes)],
        annotations=coco_anns)
    return coco, skipped
