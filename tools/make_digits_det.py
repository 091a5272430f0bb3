"""Compose scikit-learn's handwritten digits into a detection data set.

The 1797 real 8x8 handwritten digits bundled with scikit-learn
(``sklearn.datasets.load_digits``, no download) are upscaled and drawn onto
cluttered canvases. The result is written twice, as a VOC-style tree and as
COCO json files, with the same images and boxes::

    <out>/
    ├── meta.json                       # the flags used
    ├── annotations/
    │   ├── instances_trainval.json     # DIGITS2007 + DIGITS2012 trainval
    │   └── instances_test.json         # DIGITS2007 test
    ├── images/VOCdevkit/...            # hard links to the JPEGs (COCO)
    └── VOCdevkit/
        ├── DIGITS2007/{JPEGImages,Annotations,ImageSets/Main,labelmap.txt}
        └── DIGITS2012/{JPEGImages,Annotations,ImageSets/Main,labelmap.txt}

Both open in the annotation tools' own libraries (datumaro, which CVAT
imports with): a year folder is a VOC data set whose ``labelmap.txt`` declares
the digit classes, and the COCO jsons follow COCO's folder layout, their
``file_name`` (``VOCdevkit/DIGITS2007/JPEGImages/000001.jpg``) resolving both
from ``<out>`` (mmdet's ``data_prefix=dict(img='')``) and from ``<out>/images``
(COCO's layout), where the JPEGs are hard-linked (copied where the file system
has no hard links).

The pool is deliberately uneven, like real data: classes are long-tailed,
images range from easy (one or two large clean digits) to crowded (small,
overlapping, low-contrast digits on heavy clutter), some images hold no digit
at all, and unlabelled fragments of digit strokes act as hard negatives. Test
canvases only use a held-out 20 % of the handwriting.
``make_digits_redundant.py`` builds a second, redundant pool (bursts of
near-identical frames) from the same rendering.

Example:
    python tools/make_digits_det.py --out data/digits_det
"""
import argparse
import json
import os
import os.path as osp
import shutil
import sys
import time
from collections import Counter
import xml.etree.ElementTree as ET
from typing import (Callable, Dict, List, NamedTuple, Optional, Sequence,
                    Tuple)

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

CLASSES = tuple(str(i) for i in range(10))
# Bump when the generator changes, so stale outputs are not up to date.
# 2: labelmap.txt in each year folder, images/ (COCO layout), segmentation [].
FORMAT_VERSION = 2
YEARS = ('2007', '2012')
# Share of the trainval images that go to DIGITS2007, the rest to 2012.
TRAINVAL_2007_FRAC = 1 / 3
TEST_GLYPH_FRAC = 0.2
JPEG_QUALITY = 90
# The VOC year folder's class list, read by datumaro / CVAT.
LABELMAP_FILE = 'labelmap.txt'
# What the COCO json's file_name values are relative to in COCO's layout.
COCO_IMAGES_DIR = 'images'
# A pixel of an upscaled glyph (normalised to [0, 1]) is ink above this.
INK_THRESHOLD = 0.3
MIN_DIGIT_SIZE = 10
MAX_DIGIT_SIZE = 64
MIN_CANVAS_SIZE = 24
RESAMPLES = (Image.BILINEAR, Image.BICUBIC)


class Profile(NamedTuple):
    """How one kind of image looks.

    ``(low, high)`` ranges are inclusive for counts and half-open for
    floats; intensities are in [0, 1].

    Attributes:
        prob (float): Share of the kind among the images that hold digits.
        num_digits (tuple[int]): Number of annotated digits.
        size (tuple[int]): Side of a digit (or fragment) glyph in pixels,
            before the aspect jitter.
        contrast (tuple[float]): Grey-level difference between ink and
            background.
        noise (tuple[float]): Standard deviation of the pixel noise.
        blur (float): Largest Gaussian blur radius.
        lines (tuple[int]): Number of clutter lines.
        blobs (tuple[int]): Number of clutter blobs.
        fragments (tuple[int]): Number of unlabelled stroke fragments.
        max_overlap (float): Largest share of a digit's box that one
            earlier digit may cover when placing it.
        clustered (bool): Whether digits crowd around one point.
    """
    prob: float
    num_digits: Tuple[int, int]
    size: Tuple[int, int]
    contrast: Tuple[float, float]
    noise: Tuple[float, float]
    blur: float
    lines: Tuple[int, int]
    blobs: Tuple[int, int]
    fragments: Tuple[int, int]
    max_overlap: float
    clustered: bool


PROFILES = dict(
    easy=Profile(
        prob=0.3,
        num_digits=(1, 2),
        size=(36, 64),
        contrast=(0.5, 0.9),
        noise=(0.0, 0.02),
        blur=0.0,
        lines=(0, 1),
        blobs=(0, 0),
        fragments=(0, 0),
        max_overlap=0.0,
        clustered=False),
    medium=Profile(
        prob=0.45,
        num_digits=(2, 4),
        size=(16, 44),
        contrast=(0.3, 0.7),
        noise=(0.02, 0.06),
        blur=0.6,
        lines=(1, 3),
        blobs=(0, 2),
        fragments=(0, 2),
        max_overlap=0.15,
        clustered=False),
    hard=Profile(
        prob=0.25,
        num_digits=(4, 6),
        size=(10, 24),
        contrast=(0.15, 0.5),
        noise=(0.05, 0.12),
        blur=1.0,
        lines=(3, 8),
        blobs=(2, 5),
        fragments=(2, 6),
        max_overlap=1.0,
        clustered=True),
    # clutter and hard negatives only
    empty=Profile(
        prob=0.0,
        num_digits=(0, 0),
        size=(10, 44),
        contrast=(0.2, 0.7),
        noise=(0.02, 0.1),
        blur=0.6,
        lines=(1, 5),
        blobs=(0, 3),
        fragments=(1, 5),
        max_overlap=0.0,
        clustered=False),
)
DIGIT_KINDS = tuple(k for k, p in PROFILES.items() if p.prob > 0)


class GlyphBank(NamedTuple):
    """The digits a split draws from.

    Attributes:
        glyphs (np.ndarray): All glyphs, float32 of shape (N, 8, 8) in
            [0, 1].
        by_class (list[np.ndarray]): For each class, the indices of the
            glyphs of the split that show it.
        indices (np.ndarray): All glyph indices of the split.
    """
    glyphs: np.ndarray
    by_class: List[np.ndarray]
    indices: np.ndarray


class DigitObject(NamedTuple):
    """One annotated digit.

    Attributes:
        label (int): Class index.
        box (tuple[int]): Inclusive pixel box ``(x0, y0, x1, y1)``, 0-based.
        difficult (bool): Whether the digit is ignored in training and
            scoring: digits drawn later cover more than half of the box (or,
            in a burst frame, less than half of it is inside the frame).
        truncated (bool): Whether part of the digit lies outside the image
            (only burst frames, see ``make_digits_redundant.py``).
    """
    label: int
    box: Tuple[int, int, int, int]
    difficult: bool
    truncated: bool = False


def load_glyphs() -> Tuple[np.ndarray, np.ndarray]:
    """Load the handwritten digits bundled with scikit-learn.

    Returns:
        tuple[np.ndarray, np.ndarray]: Glyphs as float32 of shape (1797, 8, 8)
        in [0, 1], and their int64 labels.
    """
    from sklearn.datasets import load_digits
    digits = load_digits()
    glyphs = digits.images.astype(np.float32) / 16.0
    return glyphs, digits.target.astype(np.int64)


def split_glyphs(
        labels: np.ndarray,
        seed: int,
        test_frac: float = TEST_GLYPH_FRAC) -> Tuple[np.ndarray, np.ndarray]:
    """Split the glyphs into train and held-out test handwriting.

    The split is stratified by class so every class keeps ``test_frac`` of
    its glyphs for the test canvases.

    Args:
        labels (np.ndarray): Label of every glyph.
        seed (int): Random seed.
        test_frac (float): Share of every class held out for test.

    Returns:
        tuple[np.ndarray, np.ndarray]: Sorted train and test glyph indices.
    """
    rng = np.random.default_rng([seed, 1])
    train, test = [], []
    for label in range(len(CLASSES)):
        idx = rng.permutation(np.flatnonzero(labels == label))
        num_test = int(round(len(idx) * test_frac))
        test.append(idx[:num_test])
        train.append(idx[num_test:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


def class_probs(imbalance: float, seed: int) -> np.ndarray:
    """Long-tailed class frequencies.

    Class ``c`` of rank ``r_c`` (a seeded permutation of the classes) gets a
    probability proportional to ``imbalance ** (-r_c / 9)``, so the most
    frequent class is ``imbalance`` times as frequent as the least one.

    Args:
        imbalance (float): Ratio of the largest to the smallest probability;
            1 gives balanced classes.
        seed (int): Random seed of the class order.

    Returns:
        np.ndarray: Probability of every class, summing to 1.
    """
    ranks = np.random.default_rng([seed, 0]).permutation(len(CLASSES))
    weights = float(imbalance)**(-ranks / (len(CLASSES) - 1))
    return weights / weights.sum()


def make_bank(glyphs: np.ndarray, labels: np.ndarray,
              indices: np.ndarray) -> GlyphBank:
    """Group the glyphs of one split by class.

    Args:
        glyphs (np.ndarray): All glyphs.
        labels (np.ndarray): Label of every glyph.
        indices (np.ndarray): Glyph indices of the split.

    Returns:
        :obj:`GlyphBank`: The split's glyphs.
    """
    by_class = [indices[labels[indices] == c] for c in range(len(CLASSES))]
    return GlyphBank(glyphs, by_class, indices)


def _uniform_int(rng: np.random.Generator, bounds: Sequence[int]) -> int:
    """Draw an integer from the inclusive range ``bounds``."""
    return int(rng.integers(bounds[0], bounds[1] + 1))


def _upscale(rng: np.random.Generator, glyph: np.ndarray, height: int,
             width: int) -> np.ndarray:
    """Upscale a glyph with a random bilinear or bicubic interpolation.

    Returns:
        np.ndarray: float32 array of shape (height, width) in [0, 1].
    """
    resample = RESAMPLES[int(rng.integers(len(RESAMPLES)))]
    scaled = Image.fromarray(np.ascontiguousarray(glyph)).resize(
        (width, height), resample)
    return np.clip(np.asarray(scaled), 0.0, 1.0)


def ink_box(patch: np.ndarray) -> Optional[Tuple[int, int, int, int]]:
    """Tight inclusive box ``(x0, y0, x1, y1)`` of the ink of a patch.

    The box spans at least two pixels each way so that it keeps a positive
    area in mmdet's VOC convention (``xmax - xmin`` after subtracting 1).

    Returns:
        tuple[int] | None: The box, or None when the patch has no ink.
    """
    ink = patch > INK_THRESHOLD
    cols, rows = np.flatnonzero(ink.any(0)), np.flatnonzero(ink.any(1))
    if cols.size == 0:
        return None
    height, width = patch.shape
    x0, x1 = _widen(cols[0], cols[-1], width)
    y0, y1 = _widen(rows[0], rows[-1], height)
    return x0, y0, x1, y1


def _widen(low: int, high: int, length: int) -> Tuple[int, int]:
    """Widen a one-pixel inclusive span to two pixels inside ``length``."""
    if high > low:
        return int(low), int(high)
    if high + 1 < length:
        return int(low), int(high) + 1
    return int(low) - 1, int(high)


def _overlap(box: Sequence[int], others: Sequence[Sequence[int]]) -> float:
    """Largest share of ``box`` covered by any one of ``others``."""
    area = (box[2] - box[0] + 1) * (box[3] - box[1] + 1)
    best = 0.0
    for other in others:
        iw = min(box[2], other[2]) - max(box[0], other[0]) + 1
        ih = min(box[3], other[3]) - max(box[1], other[1]) + 1
        if iw > 0 and ih > 0:
            best = max(best, iw * ih / area)
    return best


def _place(rng: np.random.Generator, box: Sequence[int],
           patch_shape: Tuple[int, int], canvas_shape: Tuple[int, int],
           placed: List[Sequence[int]], profile: Profile,
           center: Tuple[float, float]) -> Tuple[int, int]:
    """Choose the top-left corner of a patch inside the canvas.

    Up to 20 candidate corners are tried; the first whose ink box overlaps
    the boxes placed so far by at most ``profile.max_overlap`` wins, else
    the least overlapping one. Crowded profiles draw candidates around a
    cluster ``center`` so that digits touch and overlap.

    Returns:
        tuple[int, int]: ``(top, left)`` of the patch.
    """
    (ph, pw), (height, width) = patch_shape, canvas_shape
    best, best_overlap = None, np.inf
    for _ in range(20):
        if profile.clustered:
            cy, cx = rng.normal(center, (ph, pw))
            top = int(np.clip(round(cy - ph / 2), 0, height - ph))
            left = int(np.clip(round(cx - pw / 2), 0, width - pw))
        else:
            top = int(rng.integers(height - ph + 1))
            left = int(rng.integers(width - pw + 1))
        shifted = (box[0] + left, box[1] + top, box[2] + left, box[3] + top)
        overlap = _overlap(shifted, placed)
        if overlap < best_overlap:
            best, best_overlap = (top, left), overlap
        if overlap <= profile.max_overlap:
            break
    return best


def _composite(canvas: np.ndarray, alpha: np.ndarray, top: int, left: int,
               color: np.ndarray) -> None:
    """Blend ``color`` into ``canvas`` in place with the given alpha."""
    h, w = alpha.shape
    region = canvas[top:top + h, left:left + w]
    a = alpha[..., None]
    region *= 1.0 - a
    region += a * color


def _ink_color(rng: np.random.Generator, base: float,
               contrast: Tuple[float, float]) -> np.ndarray:
    """An RGB colour that differs from the background level ``base``."""
    delta = rng.uniform(*contrast)
    if base + delta > 1.0 or (base - delta >= 0.0 and rng.random() < 0.5):
        delta = -delta
    tint = rng.uniform(-0.08, 0.08, 3)
    return np.clip(base + delta + tint, 0.0, 1.0).astype(np.float32)


def _background(rng: np.random.Generator, height: int,
                width: int) -> Tuple[np.ndarray, float]:
    """A tinted canvas with a linear gradient in a random direction.

    Returns:
        tuple[np.ndarray, float]: float32 RGB canvas of shape
        (height, width, 3), and its mean grey level.
    """
    base = float(rng.uniform(0.1, 0.9))
    theta = rng.uniform(0, 2 * np.pi)
    ys = np.linspace(-0.5, 0.5, height, dtype=np.float32)[:, None]
    xs = np.linspace(-0.5, 0.5, width, dtype=np.float32)[None, :]
    ramp = (np.cos(theta) * xs + np.sin(theta) * ys) * rng.uniform(-0.4, 0.4)
    tint = rng.uniform(-0.1, 0.1, 3).astype(np.float32)
    canvas = np.clip(base + ramp[..., None] + tint, 0.0, 1.0)
    return canvas.astype(np.float32), base


def _draw_clutter(rng: np.random.Generator, canvas: np.ndarray, base: float,
                  profile: Profile) -> np.ndarray:
    """Draw random lines and blobs on the canvas.

    Returns:
        np.ndarray: The new float32 canvas.
    """
    num_lines = _uniform_int(rng, profile.lines)
    num_blobs = _uniform_int(rng, profile.blobs)
    if num_lines + num_blobs == 0:
        return canvas
    height, width = canvas.shape[:2]
    image = Image.fromarray(np.uint8(canvas * 255 + 0.5))
    draw = ImageDraw.Draw(image)

    def color():
        return tuple(int(v * 255) for v in _ink_color(rng, base, (0.1, 0.5)))

    for _ in range(num_lines):
        xy = rng.uniform(0, (width, height, width, height)).tolist()
        draw.line(xy, fill=color(), width=_uniform_int(rng, (1, 3)))
    for _ in range(num_blobs):
        radius = rng.uniform(2, 12, 2)
        cx, cy = rng.uniform(0, (width, height))
        draw.ellipse(
            (cx - radius[0], cy - radius[1], cx + radius[0], cy + radius[1]),
            fill=color())
    return np.asarray(image, dtype=np.float32) / 255


def _draw_fragments(rng: np.random.Generator, canvas: np.ndarray, base: float,
                    bank: GlyphBank, profile: Profile) -> None:
    """Draw unlabelled pieces of digit strokes (hard negatives) in place.

    A fragment is a crop of at most 5x5 of an 8x8 glyph, so it never shows a
    whole digit.
    """
    height, width = canvas.shape[:2]
    for _ in range(_uniform_int(rng, profile.fragments)):
        glyph = bank.glyphs[rng.choice(bank.indices)]
        gh, gw = rng.integers(3, 6, 2)
        gy, gx = rng.integers(0, 9 - gh), rng.integers(0, 9 - gw)
        scale = _uniform_int(rng, profile.size) / 8
        ph = max(2, min(height, int(round(gh * scale))))
        pw = max(2, min(width, int(round(gw * scale))))
        piece = _upscale(rng, glyph[gy:gy + gh, gx:gx + gw], ph, pw)
        top, left = rng.integers(height - ph + 1), rng.integers(width - pw + 1)
        _composite(canvas, piece * rng.uniform(0.5, 1.0), top, left,
                   _ink_color(rng, base, profile.contrast))


def _digit_side(size: float, canvas_side: int) -> int:
    """Clip a digit side to the allowed range and to the canvas."""
    side = int(round(size))
    return max(MIN_DIGIT_SIZE, min(side, MAX_DIGIT_SIZE, canvas_side))


def _draw_digits(rng: np.random.Generator,
                 canvas: np.ndarray,
                 base: float,
                 bank: GlyphBank,
                 probs: np.ndarray,
                 profile: Profile,
                 inks: Optional[list] = None,
                 area: Optional[Tuple[int, int, int, int]] = None
                 ) -> List[DigitObject]:
    """Draw the annotated digits in place.

    Args:
        inks (list, optional): When given, receives ``(patch, top, left)``
            of every annotated digit in drawing order: its upscaled glyph
            (float32 of shape (h, w) in [0, 1], ink above
            :data:`INK_THRESHOLD`) and where it lies on the canvas.
        area (tuple[int], optional): ``(top, left, height, width)`` of the
            part of the canvas the digits are drawn in; defaults to all of
            it.

    Returns:
        list[:obj:`DigitObject`]: The digits in drawing order.
    """
    top0, left0, height, width = area or (0, 0, *canvas.shape[:2])
    center = rng.uniform(0.25, 0.75, 2) * (height, width)
    labels, boxes = [], []
    for _ in range(_uniform_int(rng, profile.num_digits)):
        label = int(rng.choice(len(CLASSES), p=probs))
        glyph = bank.glyphs[rng.choice(bank.by_class[label])]
        size = _uniform_int(rng, profile.size)
        aspect = rng.uniform(0.75, 1.25)
        patch = _upscale(rng, glyph, _digit_side(size, height),
                         _digit_side(size * aspect, width))
        box = ink_box(patch)
        if box is None:
            continue
        top, left = _place(rng, box, patch.shape, (height, width), boxes,
                           profile, tuple(center))
        _composite(canvas, patch * rng.uniform(0.7, 1.0), top0 + top,
                   left0 + left, _ink_color(rng, base, profile.contrast))
        if inks is not None:
            inks.append((patch, top0 + top, left0 + left))
        labels.append(label)
        boxes.append(
            (box[0] + left, box[1] + top, box[2] + left, box[3] + top))
    flags = difficult_flags(boxes)
    boxes = [(x0 + left0, y0 + top0, x1 + left0, y1 + top0)
             for x0, y0, x1, y1 in boxes]
    return [DigitObject(*obj) for obj in zip(labels, boxes, flags)]


def difficult_flags(boxes: Sequence[Sequence[int]]) -> List[bool]:
    """Flag the boxes more than half covered by the boxes drawn after them.

    Args:
        boxes (Sequence[Sequence[int]]): Inclusive pixel boxes
            ``(x0, y0, x1, y1)`` in drawing order.

    Returns:
        list[bool]: Whether each box is difficult.
    """
    flags = []
    for i, (x0, y0, x1, y1) in enumerate(boxes):
        covered = np.zeros((y1 - y0 + 1, x1 - x0 + 1), dtype=bool)
        for ox0, oy0, ox1, oy1 in boxes[i + 1:]:
            covered[max(oy0 - y0, 0):max(oy1 - y0 + 1, 0),
                    max(ox0 - x0, 0):max(ox1 - x0 + 1, 0)] = True
        flags.append(bool(covered.mean() > 0.5))
    return flags


def render_scene(
        rng: np.random.Generator,
        kind: str,
        height: int,
        width: int,
        bank: GlyphBank,
        probs: np.ndarray,
        inks: Optional[list] = None,
        digit_area: Optional[Tuple[int, int, int, int]] = None
) -> Tuple[Image.Image, List[DigitObject]]:
    """Render one canvas without its pixel noise.

    Args:
        rng (np.random.Generator): The image's random generator.
        kind (str): Key of :data:`PROFILES`.
        height (int): Canvas height.
        width (int): Canvas width.
        bank (:obj:`GlyphBank`): Glyphs to draw from.
        probs (np.ndarray): Class probabilities.
        inks (list, optional): Receives every digit's glyph and position,
            see :func:`_draw_digits`.
        digit_area (tuple[int], optional): ``(top, left, height, width)``
            of the part of the canvas that holds the digits (clutter and
            fragments cover all of it); defaults to the whole canvas.

    Returns:
        tuple[PIL.Image.Image, list[:obj:`DigitObject`]]: RGB image of size
        (width, height), blurred but noise-free, and its digits.
    """
    profile = PROFILES[kind]
    canvas, base = _background(rng, height, width)
    canvas = _draw_clutter(rng, canvas, base, profile)
    _draw_fragments(rng, canvas, base, bank, profile)
    objects = _draw_digits(rng, canvas, base, bank, probs, profile, inks,
                           digit_area)
    radius = rng.uniform(0, profile.blur)
    image = Image.fromarray(np.uint8(np.clip(canvas, 0, 1) * 255 + 0.5))
    if radius > 0.3:
        image = image.filter(ImageFilter.GaussianBlur(radius))
    return image, objects


def add_noise(rng: np.random.Generator, pixels: np.ndarray,
              sigma: float) -> np.ndarray:
    """Add grey Gaussian pixel noise and round to uint8.

    Args:
        rng (np.random.Generator): The image's random generator.
        pixels (np.ndarray): RGB image of shape (H, W, 3), values in
            [0, 255] (uint8 or float).
        sigma (float): Noise standard deviation, as a share of 255.

    Returns:
        np.ndarray: uint8 RGB image of shape (H, W, 3).
    """
    height, width = pixels.shape[:2]
    noise = rng.standard_normal((height, width, 1), dtype=np.float32)
    noisy = np.asarray(pixels, dtype=np.float32) + noise * (sigma * 255)
    return np.uint8(np.clip(noisy + 0.5, 0, 255))


def render_image(rng: np.random.Generator, kind: str, height: int, width: int,
                 bank: GlyphBank,
                 probs: np.ndarray) -> Tuple[np.ndarray, List[DigitObject]]:
    """Render one canvas: :func:`render_scene`, then its pixel noise.

    Args:
        rng (np.random.Generator): The image's random generator.
        kind (str): Key of :data:`PROFILES`.
        height (int): Canvas height.
        width (int): Canvas width.
        bank (:obj:`GlyphBank`): Glyphs to draw from.
        probs (np.ndarray): Class probabilities.

    Returns:
        tuple[np.ndarray, list[:obj:`DigitObject`]]: uint8 RGB image and its
        digits.
    """
    image, objects = render_scene(rng, kind, height, width, bank, probs)
    sigma = rng.uniform(*PROFILES[kind].noise)
    return add_noise(rng, np.asarray(image), sigma), objects


def voc_xml(folder: str, name: str, height: int, width: int,
            objects: Sequence[DigitObject]) -> str:
    """Serialise one image's annotation as VOC XML.

    VOC coordinates are 1-based and inclusive, so pixel box ``(x0, y0, x1,
    y1)`` is written as ``xmin = x0 + 1`` etc.; mmdet's ``XMLDataset``
    subtracts 1 again and reads the box ``[x0, y0, x1, y1]``.

    Returns:
        str: The XML document.
    """
    root = ET.Element('annotation')
    ET.SubElement(root, 'folder').text = folder
    ET.SubElement(root, 'filename').text = f'{name}.jpg'
    size = ET.SubElement(root, 'size')
    for key, value in (('width', width), ('height', height), ('depth', 3)):
        ET.SubElement(size, key).text = str(value)
    ET.SubElement(root, 'segmented').text = '0'
    for obj in objects:
        node = ET.SubElement(root, 'object')
        ET.SubElement(node, 'name').text = CLASSES[obj.label]
        ET.SubElement(node, 'pose').text = 'Unspecified'
        ET.SubElement(node, 'truncated').text = str(int(obj.truncated))
        ET.SubElement(node, 'difficult').text = str(int(obj.difficult))
        bndbox = ET.SubElement(node, 'bndbox')
        for key, value in zip(('xmin', 'ymin', 'xmax', 'ymax'), obj.box):
            ET.SubElement(bndbox, key).text = str(value + 1)
    ET.indent(root)
    return ET.tostring(root, encoding='unicode') + '\n'


def coco_annotation(ann_id: int, image_id: int, obj: DigitObject) -> dict:
    """One COCO annotation whose box equals the box mmdet reads from XML.

    mmdet's ``CocoDataset`` turns ``[x, y, w, h]`` into ``[x, y, x + w, y +
    h]``, which gives back the VOC loader's ``[x0, y0, x1, y1]``. Difficult
    digits are marked ``iscrowd``, which mmdet ignores like VOC's difficult.
    ``segmentation`` is ``[]`` (a box without a mask, as COCO allows): COCO
    readers such as datumaro expect the field.
    """
    x0, y0, x1, y1 = obj.box
    return dict(
        id=ann_id,
        image_id=image_id,
        category_id=obj.label + 1,
        bbox=[x0, y0, x1 - x0, y1 - y0],
        area=(x1 - x0) * (y1 - y0),
        iscrowd=int(obj.difficult),
        segmentation=[])


class ImageTask(NamedTuple):
    """Where one image goes and how it looks.

    Attributes:
        number (int): Global image number, also the COCO image id.
        year (str): One of :data:`YEARS`.
        subset (str): ``'trainval'`` or ``'test'``.
        kind (str): Key of :data:`PROFILES`.
    """
    number: int
    year: str
    subset: str
    kind: str

    @property
    def name(self) -> str:
        """str: The file stem, e.g. ``'000001'``."""
        return f'{self.number:06d}'

    @property
    def folder(self) -> str:
        """str: The VOC folder of the year, e.g. ``'DIGITS2007'``."""
        return f'DIGITS{self.year}'


Records = Dict[str, List[Tuple[ImageTask, Tuple[int, int], List[DigitObject]]]]


def plan_images(num_trainval: int, num_test: int, empty_frac: float,
                seed: int) -> List[ImageTask]:
    """Assign every image a number, a year, a subset and a difficulty.

    About a third of trainval goes to 2007 and the rest to 2012; test only
    to 2007. Exactly ``round(empty_frac * n)`` images of each subset are
    empty, the others get a profile drawn from :data:`PROFILES`.

    Returns:
        list[:obj:`ImageTask`]: 2007 trainval, 2007 test, 2012 trainval.
    """
    num_2007 = int(round(num_trainval * TRAINVAL_2007_FRAC))
    groups = ((YEARS[0], 'trainval', num_2007), (YEARS[0], 'test', num_test),
              (YEARS[1], 'trainval', num_trainval - num_2007))
    digit_probs = np.array([PROFILES[k].prob for k in DIGIT_KINDS])
    tasks = []
    for group, (year, subset, num) in enumerate(groups):
        rng = np.random.default_rng([seed, 2, group])
        kinds = [
            DIGIT_KINDS[i] for i in rng.choice(
                len(DIGIT_KINDS), num, p=digit_probs / digit_probs.sum())
        ]
        for i in rng.choice(num, int(round(empty_frac * num)), replace=False):
            kinds[i] = 'empty'
        first = len(tasks) + 1
        tasks += [
            ImageTask(first + i, year, subset, kind)
            for i, kind in enumerate(kinds)
        ]
    return tasks


def glyph_banks(seed: int) -> Dict[str, GlyphBank]:
    """The glyphs of the ``'trainval'`` and the held-out ``'test'`` canvases.
    """
    glyphs, labels = load_glyphs()
    return dict(
        zip(('trainval', 'test'), (make_bank(glyphs, labels, idx)
                                   for idx in split_glyphs(labels, seed))))


def render_task(task: ImageTask, seed: int, min_size: int, max_size: int,
                banks: Dict[str, GlyphBank],
                probs: np.ndarray) -> Tuple[np.ndarray, List[DigitObject]]:
    """Render the image of ``task`` as the default pool does.

    The image's random generator depends only on ``seed`` and the image
    number, so an image does not change when others are added or removed.

    Returns:
        tuple[np.ndarray, list[:obj:`DigitObject`]]: uint8 RGB image of
        shape (H, W, 3), ``min_size <= H, W <= max_size``, and its digits.
    """
    rng = np.random.default_rng([seed, 3, task.number])
    height, width = rng.integers(min_size, max_size + 1, 2)
    return render_image(rng, task.kind, int(height), int(width),
                        banks[task.subset], probs)


def generate(out_dir: str, num_trainval: int, num_test: int, seed: int,
             min_size: int, max_size: int, imbalance: float,
             empty_frac: float) -> Records:
    """Write the whole data set into ``out_dir`` (not atomically).

    Args:
        out_dir (str): An empty or missing directory.
        num_trainval (int): Number of trainval images (2007 + 2012).
        num_test (int): Number of test images.
        seed (int): Random seed.
        min_size (int): Smallest canvas side.
        max_size (int): Largest canvas side.
        imbalance (float): Ratio between the most and the least frequent
            class.
        empty_frac (float): Share of images without any digit.

    Returns:
        dict[str, list[tuple]]: For ``'trainval'`` and ``'test'``, the
        ``(task, (height, width), objects)`` of every image in the order of
        the COCO json.
    """
    banks = glyph_banks(seed)
    probs = class_probs(imbalance, seed)
    tasks = plan_images(num_trainval, num_test, empty_frac, seed)
    records = {'trainval': [], 'test': []}
    for task in tasks:
        image, objects = render_task(task, seed, min_size, max_size, banks,
                                     probs)
        write_voc_image(out_dir, task, image, objects)
        records[task.subset].append((task, image.shape[:2], objects))
    write_image_sets(out_dir, tasks)
    write_coco_subsets(out_dir, records)
    return records


def write_voc_image(out_dir: str, task: ImageTask, image: np.ndarray,
                    objects: Sequence[DigitObject]) -> None:
    """Write one JPEG and its XML annotation.

    Args:
        out_dir (str): The data set root.
        task (:obj:`ImageTask`): Where the image goes.
        image (np.ndarray): uint8 RGB image of shape (H, W, 3).
        objects (Sequence[:obj:`DigitObject`]): Its digits.
    """
    root = osp.join(out_dir, 'VOCdevkit', task.folder)
    img_path = osp.join(root, 'JPEGImages', f'{task.name}.jpg')
    xml_path = osp.join(root, 'Annotations', f'{task.name}.xml')
    for path in (img_path, xml_path):
        os.makedirs(osp.dirname(path), exist_ok=True)
    Image.fromarray(image).save(img_path, quality=JPEG_QUALITY)
    with open(xml_path, 'w') as f:
        f.write(voc_xml(task.folder, task.name, *image.shape[:2], objects))


def write_image_sets(out_dir: str, tasks: Sequence[ImageTask]) -> None:
    """Write ``ImageSets/Main/<subset>.txt`` of every year, in task order,
    and the year's ``labelmap.txt`` (:func:`labelmap`)."""
    lines = {}
    for task in tasks:
        lines.setdefault((task.folder, task.subset), []).append(task.name)
    for (folder, subset), names in lines.items():
        path = osp.join(out_dir, 'VOCdevkit', folder, 'ImageSets', 'Main',
                        f'{subset}.txt')
        os.makedirs(osp.dirname(path), exist_ok=True)
        with open(path, 'w') as f:
            f.write(''.join(f'{name}\n' for name in names))
    for folder in sorted({folder for folder, _ in lines}):
        with open(osp.join(out_dir, 'VOCdevkit', folder, LABELMAP_FILE),
                  'w') as f:
            f.write(labelmap())


def labelmap() -> str:
    """The ``labelmap.txt`` of a VOC year folder: one ``name:color:parts:
    actions`` line a class, in label order, with no colour, parts or
    actions.

    datumaro (and CVAT, which imports VOC with it) read the classes of a VOC
    folder from this file; without it they expect VOC's 20 classes and stop
    at the first digit (``Undeclared label``).

    Returns:
        str: The file's text.
    """
    return '# label:color_rgb:parts:actions\n' + ''.join(
        f'{name}:::\n' for name in CLASSES)


def image_file_name(task: ImageTask) -> str:
    """str: The image path relative to the data set root (COCO
    ``file_name``), e.g. ``'VOCdevkit/DIGITS2007/JPEGImages/000001.jpg'``.
    """
    return f'VOCdevkit/{task.folder}/JPEGImages/{task.name}.jpg'


def write_coco(path: str,
               items: Sequence[tuple],
               description: str = 'digits_det',
               version: int = FORMAT_VERSION,
               image_fields: Optional[Dict[int, dict]] = None) -> None:
    """Write the COCO json of one subset.

    Args:
        path (str): Output json path.
        items (Sequence[tuple]): ``(task, (height, width), objects)`` in
            the order of the subset's ``ImageSets`` files.
        description (str): ``info.description`` of the json.
        version (int): ``info.version`` of the json.
        image_fields (dict[int, dict], optional): More fields of some image
            entries, by image number.
    """
    image_fields = image_fields or {}
    images, annotations = [], []
    for task, (height, width), objects in items:
        images.append(
            dict(
                id=task.number,
                file_name=image_file_name(task),
                height=height,
                width=width,
                **image_fields.get(task.number, {})))
        first_id = len(annotations) + 1
        annotations += [
            coco_annotation(first_id + i, task.number, obj)
            for i, obj in enumerate(objects)
        ]
    categories = [
        dict(id=i + 1, name=name, supercategory='digit')
        for i, name in enumerate(CLASSES)
    ]
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        json.dump(
            dict(
                info=dict(description=description, version=version),
                images=images,
                annotations=annotations,
                categories=categories),
            f,
            sort_keys=True)


def write_coco_subsets(out_dir: str, records: Records, **kwargs) -> None:
    """Write ``annotations/instances_<subset>.json`` of every subset of
    ``records`` and link their images into COCO's layout
    (:func:`link_coco_images`); ``kwargs`` go to :func:`write_coco`."""
    for subset, items in records.items():
        write_coco(
            osp.join(out_dir, 'annotations', f'instances_{subset}.json'),
            items, **kwargs)
        link_coco_images(out_dir, [task for task, _, _ in items])


def link_coco_images(out_dir: str, tasks: Sequence[ImageTask]) -> None:
    """Make ``<out_dir>/images/<file_name>`` the image of every task.

    COCO's layout puts the images in ``images/`` beside ``annotations/``,
    and COCO readers (datumaro, CVAT) resolve ``file_name`` there; mmdet's
    configs resolve the same ``file_name`` from ``out_dir``. Each image is
    hard-linked (no second copy on disk), or copied where the file system
    refuses hard links. A symbolic link would not do: datumaro rejects a
    path that resolves outside ``images/``.

    Args:
        out_dir (str): The data set root, whose ``VOCdevkit`` holds the
            images already.
        tasks (Sequence[:obj:`ImageTask`]): The images to link.
    """
    for task in tasks:
        src = osp.join(out_dir, image_file_name(task))
        dst = osp.join(out_dir, COCO_IMAGES_DIR, image_file_name(task))
        os.makedirs(osp.dirname(dst), exist_ok=True)
        try:
            os.link(src, dst)
        except OSError:
            shutil.copyfile(src, dst)


def generation_settings(args: argparse.Namespace) -> dict:
    """The keyword arguments of :func:`generate` given by the flags."""
    return dict(
        num_trainval=args.num_trainval,
        num_test=args.num_test,
        seed=args.seed,
        min_size=args.min_size,
        max_size=args.max_size,
        imbalance=args.imbalance,
        empty_frac=args.empty_frac)


def read_meta(out: str) -> Optional[dict]:
    """Read ``<out>/meta.json``, or None when it is missing or broken."""
    try:
        with open(osp.join(out, 'meta.json')) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def build_atomically(out: str, meta: dict, force: bool,
                     build: Callable[[str], Records]) -> Optional[Records]:
    """Build a data set into ``out`` atomically, unless it is up to date.

    ``build(tmp)`` writes the files into ``<out>.tmp-<pid>``, then
    ``meta.json`` (``meta``) is added and the folder renamed to ``<out>``.

    Args:
        out (str): The output folder.
        meta (dict): What ``<out>/meta.json`` holds when ``out`` is up to
            date: the generator's format version and flags.
        force (bool): Replace an ``out`` made with other flags.
        build (Callable[[str], dict]): Writes the data set into a folder and
            returns its records.

    Returns:
        dict | None: What ``build`` returned, or None when ``out`` already
        holds the same data set.

    Raises:
        FileExistsError: If ``out`` holds something else and ``force`` is
            not set.
    """
    out = osp.normpath(out)
    if osp.exists(out):
        old = read_meta(out)
        if old == meta:
            return None
        if not force:
            why = 'was not made with these flags'
            version = meta.get('format_version')
            if old is not None and old.get('format_version') != version:
                why = (f'was made by another version of the generator '
                       f'(format_version {old.get("format_version")}, now '
                       f'{version})')
            raise FileExistsError(
                f'{out} exists and {why} (see its meta.json); pass --force '
                'to replace it')
    tmp = f'{out}.tmp-{os.getpid()}'
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        records = build(tmp)
        with open(osp.join(tmp, 'meta.json'), 'w') as f:
            json.dump(meta, f, indent=2, sort_keys=True)
            f.write('\n')
        _replace(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return records


def make_dataset(args: argparse.Namespace) -> Optional[Records]:
    """Generate the data set into ``args.out`` atomically.

    The files are built in ``<out>.tmp-<pid>`` and renamed to ``<out>`` at
    the end (:func:`build_atomically`).

    Args:
        args (argparse.Namespace): Parsed command line.

    Returns:
        dict | None: What :func:`generate` returns, or None when
        ``args.out`` already holds the same data set.

    Raises:
        FileExistsError: If ``args.out`` holds something else and
            ``args.force`` is not set.
    """
    settings = generation_settings(args)
    meta = dict(format_version=FORMAT_VERSION, **settings)
    return build_atomically(args.out, meta, args.force,
                            lambda tmp: generate(tmp, **settings))


def _replace(src: str, dst: str) -> None:
    """Rename ``src`` to ``dst``, moving an existing ``dst`` out first."""
    old = f'{dst}.old-{os.getpid()}'
    if osp.exists(dst):
        os.rename(dst, old)
    os.rename(src, dst)
    shutil.rmtree(old, ignore_errors=True)


def format_summary(records: Records, elapsed: float) -> str:
    """A short report of what :func:`generate` wrote."""
    lines = []
    for subset, items in records.items():
        folders = Counter(task.folder for task, _, _ in items)
        objects = [obj for _, _, objs in items for obj in objs]
        num_empty = sum(not objs for _, _, objs in items)
        num_difficult = sum(obj.difficult for obj in objects)
        counts = np.bincount([obj.label for obj in objects],
                             minlength=len(CLASSES))
        per_folder = ', '.join(f'{k} {v}' for k, v in sorted(folders.items()))
        per_class = ' '.join(f'{c}:{n}' for c, n in zip(CLASSES, counts))
        lines.append(f'{subset}: {len(items)} images ({per_folder}), '
                     f'{num_empty} empty, {len(objects)} boxes, '
                     f'{num_difficult} difficult')
        lines.append(f'  boxes per class: {per_class}')
    lines.append(f'done in {elapsed:.1f}s')
    return '\n'.join(lines)


def _positive_int(text: str) -> int:
    """argparse type of an integer >= 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f'expected >= 1, got {value}')
    return value


def build_parser(description: str,
                 default_out: str) -> argparse.ArgumentParser:
    """The flags every digits generator shares (checked by
    :func:`check_args`)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument('--out', default=default_out, help='output dir')
    parser.add_argument('--num-trainval', type=_positive_int, default=4000)
    parser.add_argument('--num-test', type=_positive_int, default=1000)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--min-size', type=int, default=128, help='smallest canvas side')
    parser.add_argument(
        '--max-size', type=int, default=192, help='largest canvas side')
    parser.add_argument(
        '--imbalance',
        type=float,
        default=10.0,
        help='ratio between the most and the least frequent class '
        '(1 = balanced)')
    parser.add_argument(
        '--empty-frac',
        type=float,
        default=0.02,
        help='share of images without any digit')
    parser.add_argument(
        '--force', action='store_true', help='replace a different --out')
    return parser


def check_args(parser: argparse.ArgumentParser,
               args: argparse.Namespace) -> None:
    """Exit through ``parser.error`` when the shared flags are invalid."""
    if not MIN_CANVAS_SIZE <= args.min_size <= args.max_size:
        parser.error(f'need {MIN_CANVAS_SIZE} <= --min-size <= --max-size')
    if args.num_trainval < 2:
        parser.error('--num-trainval must be >= 2 (2007 and 2012)')
    if args.imbalance < 1:
        parser.error('--imbalance must be >= 1')
    if not 0 <= args.empty_frac < 1:
        parser.error('--empty-frac must be in [0, 1)')


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse and check the command line."""
    parser = build_parser(
        'Compose scikit-learn handwritten digits into a VOC + COCO detection '
        'data set', 'data/digits_det')
    args = parser.parse_args(argv)
    check_args(parser, args)
    return args


def run(args: argparse.Namespace,
        make: Callable[[argparse.Namespace], Optional[Records]],
        summary: Callable[[Records, float], str]) -> None:
    """Make the data set of ``args`` and print ``summary(records, seconds)``
    (or that it is up to date); exit with a message when ``args.out`` holds
    another data set."""
    start = time.perf_counter()
    try:
        records = make(args)
    except FileExistsError as e:
        sys.exit(f'error: {e}')
    if records is None:
        print(f'{args.out} is up to date')
        return
    print(f'wrote {args.out}')
    print(summary(records, time.perf_counter() - start))


def main(argv: Optional[Sequence[str]] = None) -> None:
    """Command line entry point."""
    run(parse_args(argv), make_dataset, format_summary)


if __name__ == '__main__':
    main()
