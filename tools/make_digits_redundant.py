"""Compose the digits into a redundant pool made of bursts (issue 18).

Real unlabeled pools are redundant: frames of one video, the same shelf
photographed every hour, bursts of near-identical shots. This sibling of
``make_digits_det.py`` (whose rendering it imports) builds such a pool. Its
trainval images come in **bursts**: a burst is one base scene, drawn like a
default-pool canvas with its clutter extending a few pixels beyond it, seen
``k`` times through a frame that moves a few pixels, zooms a little and
changes brightness, with fresh pixel noise each time. A digit near the border
can leave the frame, partly or wholly, and come back. Burst lengths are
long-tailed, ``P(k) ~ k ** -burst_alpha`` for ``1 <= k <= max_burst``: many
single shots and short bursts, a few very long ones, so the pool keeps its
size while the number of distinct scenes is much smaller; a rare class shows
up in few bursts. The test split has no burst: it is exactly the default
pool's test split of the same flags (distinct scenes, held-out handwriting),
so scores on both pools are comparable.

The layout is the default pool's (so its configs work with ``data_root``
changed), plus the burst record ``bursts.json``::

    <out>/
    ├── meta.json                       # the flags used
    ├── bursts.json                     # burst of every trainval image
    ├── annotations/instances_{trainval,test}.json
    ├── images/VOCdevkit/...            # hard links to the JPEGs (COCO)
    └── VOCdevkit/DIGITS{2007,2012}/{JPEGImages,Annotations,ImageSets/Main,
                                     labelmap.txt}

``bursts.json`` is the home of the burst metadata::

    {"format_version": 2,
     "bursts": [{"id": 0, "year": "2007", "kind": "medium", "length": 3,
                 "first_image": 1, "height": 150, "width": 170,
                 "scene_height": 176, "scene_width": 196}, ...],
     "images": [{"id": 1,               # image number = COCO id = file stem
                 "file_name": "VOCdevkit/DIGITS2007/JPEGImages/000001.jpg",
                 "burst_id": 0, "burst_index": 0,
                 "shift": [dx, dy],     # frame centre - scene centre, px
                 "scale": 1.02,         # zoom of the frame
                 "gain": 0.97, "bias": 0.01,   # pixel * gain + bias * 255
                 "digits": 3,           # annotated digits of the frame
                 "truncated": 1,        # of them, partly outside the frame
                 "dropped": 0},         # scene digits wholly outside it
                ...]}

Only trainval images are listed; the COCO trainval image entries carry
``burst_id`` and ``burst_index`` too. A frame's boxes are the tight boxes of
the digits' ink as seen in that frame (clipped at the frame); a digit with
less than half of its ink inside the frame is marked ``difficult`` (ignored,
like VOC's) and ``truncated``; a digit with no ink inside is not annotated.

Example:
    python tools/make_digits_redundant.py --out data/digits_redundant
"""
import argparse
import json
import os
import os.path as osp
import sys
from collections import Counter
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple

import numpy as np
from PIL import Image

TOOLS = osp.dirname(osp.abspath(__file__))
if TOOLS not in sys.path:
    sys.path.append(TOOLS)

import make_digits_det as mdd  # noqa: E402

# Bump when this generator changes, so stale outputs are not up to date.
# 2: labelmap.txt, images/ and segmentation [] (make_digits_det.py's 2).
FORMAT_VERSION = 2
BURSTS_FILE = 'bursts.json'
# A digit with less of its ink inside the frame is ignored (difficult).
MIN_VISIBLE = 0.5
# Lower edges of the burst-length histogram bins.
LENGTH_BINS = (1, 2, 3, 5, 9, 17, 33, 65, 129)


class BurstPlan(NamedTuple):
    """One burst: a base scene and the images that show it.

    Attributes:
        burst_id (int): Index of the burst in the pool, from 0.
        year (str): One of :data:`make_digits_det.YEARS`.
        kind (str): Key of :data:`make_digits_det.PROFILES`.
        numbers (tuple[int]): Image numbers of its frames, in order.
    """
    burst_id: int
    year: str
    kind: str
    numbers: Tuple[int, ...]


class Frame(NamedTuple):
    """How one frame of a burst differs from its base scene.

    Attributes:
        shift (tuple[int, int]): ``(dx, dy)``, the frame centre minus the
            scene centre, in scene pixels.
        scale (float): Zoom: the frame shows ``1 / scale`` of the base
            frame's width and height, resized to the base frame's size.
        gain (float): Pixel values are multiplied by it...
        bias (float): ...and shifted by ``bias * 255``.
    """
    shift: Tuple[int, int]
    scale: float
    gain: float
    bias: float


def burst_length_probs(alpha: float, max_length: int) -> np.ndarray:
    """Long-tailed burst lengths: ``P(k) ~ k ** -alpha``, ``1 <= k <=
    max_length``.

    Returns:
        np.ndarray: float64 of shape (max_length,), ``P(k)`` at ``k - 1``,
        summing to 1.
    """
    weights = np.arange(1, max_length + 1, dtype=np.float64)**-float(alpha)
    return weights / weights.sum()


def burst_lengths(rng: np.random.Generator, total: int, alpha: float,
                  max_length: int) -> List[int]:
    """Draw burst lengths until they cover ``total`` images.

    The last burst is cut so that the lengths sum to ``total`` exactly.

    Returns:
        list[int]: Lengths, each in ``[1, max_length]``.
    """
    probs = burst_length_probs(alpha, max_length)
    lengths, left = [], total
    while left > 0:
        length = min(int(rng.choice(max_length, p=probs)) + 1, left)
        lengths.append(length)
        left -= length
    return lengths


def plan_bursts(
        num_trainval: int, num_test: int, empty_frac: float, seed: int,
        alpha: float,
        max_length: int) -> Tuple[List[mdd.ImageTask], List[BurstPlan]]:
    """Number the images like the default pool and group trainval in bursts.

    Image numbers, years and subsets are those of
    :func:`make_digits_det.plan_images`, test tasks included unchanged. The
    trainval images of each year are cut into consecutive bursts of
    :func:`burst_lengths`; every burst gets a profile drawn from
    :data:`make_digits_det.PROFILES`, and ``round(empty_frac * bursts)``
    bursts of each year show no digit.

    Returns:
        tuple[list[ImageTask], list[BurstPlan]]: Every image (trainval ones
        with their burst's profile) in number order, and the bursts.
    """
    tasks = mdd.plan_images(num_trainval, num_test, empty_frac, seed)
    digit_probs = np.array([mdd.PROFILES[k].prob for k in mdd.DIGIT_KINDS])
    digit_probs /= digit_probs.sum()
    kinds, bursts = {}, []
    for group, year in enumerate(mdd.YEARS):
        numbers = [
            t.number for t in tasks
            if t.subset == 'trainval' and t.year == year
        ]
        rng = np.random.default_rng([seed, 20, group])
        lengths = burst_lengths(rng, len(numbers), alpha, max_length)
        burst_kinds = [
            mdd.DIGIT_KINDS[i]
            for i in rng.choice(len(mdd.DIGIT_KINDS), len(lengths),
                                p=digit_probs)
        ]
        num_empty = int(round(empty_frac * len(lengths)))
        for i in rng.choice(len(lengths), num_empty, replace=False):
            burst_kinds[i] = 'empty'
        ends = np.cumsum(lengths)
        for kind, end, length in zip(burst_kinds, ends, lengths):
            frames = tuple(numbers[end - length:end])
            bursts.append(BurstPlan(len(bursts), year, kind, frames))
            kinds.update(dict.fromkeys(frames, kind))
    tasks = [t._replace(kind=kinds.get(t.number, t.kind)) for t in tasks]
    return tasks, bursts


def scene_margin(height: int, width: int, max_shift: int,
                 max_scale: float) -> int:
    """Scene pixels around the base frame that every frame stays inside.

    A frame of zoom ``1 - max_scale`` shifted by ``max_shift`` reaches
    ``max_shift + (side / (1 - max_scale) - side) / 2`` beyond the base
    frame on each side.
    """
    side = max(height, width)
    return int(np.ceil(max_shift + (side / (1 - max_scale) - side) / 2)) + 1


def draw_frame(rng: np.random.Generator, max_shift: int, max_scale: float,
               max_brightness: float) -> Frame:
    """Draw one frame's changes, uniformly within the bounds.

    Returns:
        :obj:`Frame`: ``|dx|, |dy| <= max_shift``, ``|scale - 1| <=
        max_scale``, ``|gain - 1| <= max_brightness``, ``|bias| <=
        max_brightness / 2``.
    """
    dx, dy = rng.integers(-max_shift, max_shift + 1, 2)
    scale = 1 + rng.uniform(-max_scale, max_scale)
    gain = 1 + rng.uniform(-max_brightness, max_brightness)
    bias = rng.uniform(-max_brightness, max_brightness) / 2
    return Frame((int(dx), int(dy)), float(scale), float(gain), float(bias))


def crop_box(scene_shape: Tuple[int, int], frame_shape: Tuple[int, int],
             frame: Frame) -> Tuple[float, float, float, float]:
    """The part of the scene a frame shows, ``(x0, y0, x1, y1)`` in scene
    pixel edges (PIL's ``resize(box=...)`` convention)."""
    (scene_h, scene_w), (height, width) = scene_shape, frame_shape
    cx = scene_w / 2 + frame.shift[0]
    cy = scene_h / 2 + frame.shift[1]
    half_w, half_h = width / frame.scale / 2, height / frame.scale / 2
    return cx - half_w, cy - half_h, cx + half_w, cy + half_h


def frame_digits(inks: Sequence[tuple], labels: Sequence[int],
                 scene_shape: Tuple[int, int], frame_shape: Tuple[int, int],
                 box: Tuple[float, float, float, float]
                 ) -> Tuple[List[mdd.DigitObject], int]:
    """The digits of a scene as one frame shows them.

    Each digit's glyph is resampled like the image (bilinear, same crop
    box); its box is the tight box of the resampled ink. The share of its
    ink inside the frame is measured at scene resolution (ink pixels whose
    centres lie in ``box``).

    Args:
        inks (Sequence[tuple]): ``(patch, top, left)`` of every scene digit
            (see :func:`make_digits_det.render_scene`).
        labels (Sequence[int]): Their classes.
        scene_shape (tuple[int, int]): Scene ``(height, width)``.
        frame_shape (tuple[int, int]): Frame ``(height, width)``.
        box (tuple[float]): The frame's :func:`crop_box`.

    Returns:
        tuple[list[DigitObject], int]: The frame's digits in drawing order
        (``difficult`` when more than half covered by later ones or less
        than :data:`MIN_VISIBLE` of the ink inside; ``truncated`` when not
        all of it), and how many scene digits are not in the frame at all.
    """
    (height, width), x0, y0, x1, y1 = frame_shape, *box
    kept, boxes, dropped = [], [], 0
    for (patch, top, left), label in zip(inks, labels):
        rows, cols = np.nonzero(patch > mdd.INK_THRESHOLD)
        xs, ys = cols + left + 0.5, rows + top + 0.5
        visible = np.mean((xs >= x0) & (xs < x1) & (ys >= y0) & (ys < y1))
        alpha = np.zeros(scene_shape, dtype=np.float32)
        alpha[top:top + patch.shape[0], left:left + patch.shape[1]] = patch
        seen = Image.fromarray(alpha).resize((width, height),
                                             Image.BILINEAR,
                                             box=box)
        digit_box = mdd.ink_box(np.asarray(seen))
        if visible == 0 or digit_box is None:
            dropped += 1
            continue
        kept.append((label, visible))
        boxes.append(digit_box)
    covered = mdd.difficult_flags(boxes)
    objects = [
        mdd.DigitObject(label, digit_box,
                        bool(flag or visible < MIN_VISIBLE),
                        bool(visible < 1))
        for (label, visible), digit_box, flag in zip(kept, boxes, covered)
    ]
    return objects, dropped


class Scene(NamedTuple):
    """A burst's base scene.

    Attributes:
        image (PIL.Image.Image): Noise-free RGB scene.
        inks (list[tuple]): ``(patch, top, left)`` of every digit.
        labels (list[int]): Their classes.
        frame_shape (tuple[int, int]): ``(height, width)`` of every frame.
        sigma (float): Pixel noise of every frame, as a share of 255.
    """
    image: Image.Image
    inks: list
    labels: List[int]
    frame_shape: Tuple[int, int]
    sigma: float


def render_burst_scene(burst: BurstPlan, seed: int, min_size: int,
                       max_size: int, max_shift: int, max_scale: float,
                       bank: mdd.GlyphBank, probs: np.ndarray) -> Scene:
    """Render the base scene of ``burst``: a default-pool canvas of the
    frame's size whose background, clutter and stroke fragments extend over
    a margin on each side (:func:`scene_margin`), so that every frame is
    filled. The digits lie within ``max_shift`` pixels of the unshifted
    frame."""
    rng = np.random.default_rng([seed, 21, burst.burst_id])
    height, width = (int(v) for v in rng.integers(min_size, max_size + 1, 2))
    margin = scene_margin(height, width, max_shift, max_scale)
    # digits may reach max_shift beyond the unshifted frame: shifted frames
    # then cut some of them, and a small one can leave or enter wholly
    digit_area = (margin - max_shift, margin - max_shift,
                  height + 2 * max_shift, width + 2 * max_shift)
    inks = []
    image, objects = mdd.render_scene(rng, burst.kind, height + 2 * margin,
                                      width + 2 * margin, bank, probs, inks,
                                      digit_area)
    sigma = float(rng.uniform(*mdd.PROFILES[burst.kind].noise))
    return Scene(image, inks, [obj.label for obj in objects],
                 (height, width), sigma)


def render_frame(scene: Scene, frame: Frame, rng: np.random.Generator
                 ) -> Tuple[np.ndarray, List[mdd.DigitObject], int]:
    """One frame of a scene.

    Returns:
        tuple: uint8 RGB image of shape (H, W, 3) (``scene.frame_shape``),
        its digits and the number of scene digits it does not show
        (:func:`frame_digits`).
    """
    height, width = scene.frame_shape
    scene_shape = (scene.image.height, scene.image.width)
    box = crop_box(scene_shape, scene.frame_shape, frame)
    seen = scene.image.resize((width, height), Image.BILINEAR, box=box)
    pixels = np.asarray(seen, dtype=np.float32) * frame.gain
    pixels += frame.bias * 255
    image = mdd.add_noise(rng, np.clip(pixels, 0, 255), scene.sigma)
    objects, dropped = frame_digits(scene.inks, scene.labels, scene_shape,
                                    scene.frame_shape, box)
    return image, objects, dropped


def generate(out_dir: str, num_trainval: int, num_test: int, seed: int,
             min_size: int, max_size: int, imbalance: float,
             empty_frac: float, burst_alpha: float, max_burst: int,
             max_shift: int, max_scale: float,
             max_brightness: float) -> Tuple[mdd.Records, dict]:
    """Write the whole redundant pool into ``out_dir`` (not atomically).

    Args:
        out_dir (str): An empty or missing directory.
        num_trainval, num_test, seed, min_size, max_size, imbalance,
            empty_frac: As :func:`make_digits_det.generate`; ``empty_frac``
            is the share of bursts (and of test images) without any digit.
        burst_alpha (float): Exponent of the burst-length law.
        max_burst (int): Longest burst.
        max_shift (int): Largest frame shift, pixels each way.
        max_scale (float): Largest zoom change, ``|scale - 1|``.
        max_brightness (float): Largest gain change, ``|gain - 1|``.

    Returns:
        tuple[dict, dict]: The records (as :func:`make_digits_det.generate`:
        per subset, ``(task, (height, width), objects)`` in COCO json
        order) and what ``bursts.json`` holds.
    """
    banks = mdd.glyph_banks(seed)
    probs = mdd.class_probs(imbalance, seed)
    tasks, bursts = plan_bursts(num_trainval, num_test, empty_frac, seed,
                                burst_alpha, max_burst)
    burst_of = {n: b for b in bursts for n in b.numbers}
    records = {'trainval': [], 'test': []}
    images, burst_records, scene = [], [], None
    for task in tasks:
        burst = burst_of.get(task.number)
        if burst is None:
            image, objects = mdd.render_task(task, seed, min_size, max_size,
                                             banks, probs)
        else:
            index = burst.numbers.index(task.number)
            if index == 0:
                scene = render_burst_scene(burst, seed, min_size, max_size,
                                           max_shift, max_scale,
                                           banks['trainval'], probs)
                burst_records.append(_burst_record(burst, scene))
            rng = np.random.default_rng([seed, 22, task.number])
            frame = draw_frame(rng, max_shift, max_scale, max_brightness)
            image, objects, dropped = render_frame(scene, frame, rng)
            images.append(
                dict(
                    id=task.number,
                    file_name=mdd.image_file_name(task),
                    burst_id=burst.burst_id,
                    burst_index=index,
                    shift=list(frame.shift),
                    scale=round(frame.scale, 4),
                    gain=round(frame.gain, 4),
                    bias=round(frame.bias, 4),
                    digits=len(objects),
                    truncated=sum(obj.truncated for obj in objects),
                    dropped=dropped))
        mdd.write_voc_image(out_dir, task, image, objects)
        records[task.subset].append((task, image.shape[:2], objects))
    mdd.write_image_sets(out_dir, tasks)
    fields = {
        image['id']: dict(burst_id=image['burst_id'],
                          burst_index=image['burst_index'])
        for image in images
    }
    mdd.write_coco_subsets(
        out_dir,
        records,
        description='digits_redundant',
        version=FORMAT_VERSION,
        image_fields=fields)
    meta = dict(
        format_version=FORMAT_VERSION, bursts=burst_records, images=images)
    with open(osp.join(out_dir, BURSTS_FILE), 'w') as f:
        json.dump(meta, f, sort_keys=True)
    return records, meta


def _burst_record(burst: BurstPlan, scene: Scene) -> dict:
    """The ``bursts.json`` entry of a burst."""
    return dict(
        id=burst.burst_id,
        year=burst.year,
        kind=burst.kind,
        length=len(burst.numbers),
        first_image=burst.numbers[0],
        height=scene.frame_shape[0],
        width=scene.frame_shape[1],
        scene_height=scene.image.height,
        scene_width=scene.image.width)


def read_bursts(root: str) -> Optional[Dict[int, int]]:
    """The burst of every trainval image of the pool at ``root``.

    Args:
        root (str): A data set root (the folder holding ``VOCdevkit``).

    Returns:
        dict[int, int] | None: Burst id by image number (the COCO image id,
        the VOC file stem as an integer), or None when ``root`` holds no
        ``bursts.json`` (a pool without bursts, like the default one).

    Raises:
        ValueError: If ``bursts.json`` is malformed (names the file).
    """
    path = osp.join(root, BURSTS_FILE)
    if not osp.exists(path):
        return None
    try:
        with open(path) as f:
            images = json.load(f)['images']
        return {int(im['id']): int(im['burst_id']) for im in images}
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(f'malformed burst file {path}: {error!r}') from error


def pool_root(image_path: str) -> Optional[str]:
    """The data set root of an image: the folder holding the last
    ``VOCdevkit`` of its path, or None when there is none."""
    parts = osp.normpath(image_path).split(os.sep)
    if 'VOCdevkit' not in parts:
        return None
    index = len(parts) - 1 - parts[::-1].index('VOCdevkit')
    return os.sep.join(parts[:index]) or os.sep


def burst_statistics(records: mdd.Records, meta: dict) -> dict:
    """What the README reports about a redundant pool.

    Returns:
        dict: ``images`` and ``scenes`` (distinct trainval scenes = bursts),
        ``length_histogram`` (``[[low, high, bursts, images], ...]`` over
        :data:`LENGTH_BINS`), ``longest``, ``classes`` (per class: trainval
        ``boxes``, ``images`` and ``bursts`` with one), ``truncated_boxes``,
        ``dropped_digits``.
    """
    lengths = np.array([b['length'] for b in meta['bursts']])
    edges = [*LENGTH_BINS, max(int(lengths.max()), LENGTH_BINS[-1]) + 1]
    histogram = []
    for low, high in zip(edges[:-1], edges[1:]):
        inside = lengths[(lengths >= low) & (lengths < high)]
        if low < edges[-1] - 1 or inside.size:
            histogram.append([low, high - 1, int(inside.size),
                              int(inside.sum())])
    burst_of = {im['id']: im['burst_id'] for im in meta['images']}
    boxes, images, in_bursts = Counter(), Counter(), {}
    for task, _, objects in records['trainval']:
        labels = {obj.label for obj in objects}
        boxes.update(obj.label for obj in objects)
        images.update(labels)
        for label in labels:
            in_bursts.setdefault(label, set()).add(burst_of[task.number])
    classes = {
        name: dict(
            boxes=boxes[c],
            images=images[c],
            bursts=len(in_bursts.get(c, ())))
        for c, name in enumerate(mdd.CLASSES)
    }
    return dict(
        images=len(records['trainval']),
        scenes=len(meta['bursts']),
        length_histogram=histogram,
        longest=int(lengths.max()),
        classes=classes,
        truncated_boxes=sum(im['truncated'] for im in meta['images']),
        dropped_digits=sum(im['dropped'] for im in meta['images']))


def format_summary(result: Tuple[mdd.Records, dict], elapsed: float) -> str:
    """:func:`make_digits_det.format_summary` plus the burst statistics."""
    records, meta = result
    stats = burst_statistics(records, meta)
    lines = [mdd.format_summary(records, elapsed)]
    lines.append(f'trainval: {stats["images"]} images of {stats["scenes"]} '
                 f'distinct scenes (bursts), longest {stats["longest"]}; '
                 f'{stats["truncated_boxes"]} truncated boxes, '
                 f'{stats["dropped_digits"]} digits out of frame')
    lines.append('  burst length: bursts, images')
    for low, high, num, frames in stats['length_histogram']:
        span = str(low) if low == high else f'{low}-{high}'
        lines.append(f'  {span:>9}: {num:5d} {frames:6d}')
    lines.append('  class: boxes, images, bursts')
    for name, counts in stats['classes'].items():
        lines.append(f'  {name:>9}: {counts["boxes"]:5d} '
                     f'{counts["images"]:6d} {counts["bursts"]:6d}')
    return '\n'.join(lines)


def generation_settings(args: argparse.Namespace) -> dict:
    """The keyword arguments of :func:`generate` given by the flags."""
    return dict(
        mdd.generation_settings(args),
        burst_alpha=args.burst_alpha,
        max_burst=args.max_burst,
        max_shift=args.max_shift,
        max_scale=args.max_scale,
        max_brightness=args.max_brightness)


def make_dataset(args: argparse.Namespace) -> Optional[tuple]:
    """Generate the pool into ``args.out`` atomically
    (:func:`make_digits_det.build_atomically`).

    Returns:
        tuple | None: What :func:`generate` returns, or None when
        ``args.out`` already holds the same pool.

    Raises:
        FileExistsError: If ``args.out`` holds something else and
            ``args.force`` is not set.
    """
    settings = generation_settings(args)
    meta = dict(format_version=FORMAT_VERSION, pool='redundant', **settings)
    return mdd.build_atomically(args.out, meta, args.force,
                                lambda tmp: generate(tmp, **settings))


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse and check the command line."""
    parser = mdd.build_parser(
        'Compose scikit-learn handwritten digits into a redundant VOC + COCO '
        'detection pool made of bursts of near-identical frames',
        'data/digits_redundant')
    parser.add_argument(
        '--burst-alpha',
        type=float,
        default=1.8,
        help='burst lengths k follow P(k) ~ k ** -alpha (larger: shorter '
        'bursts)')
    parser.add_argument(
        '--max-burst', type=int, default=200, help='longest burst')
    parser.add_argument(
        '--max-shift',
        type=int,
        default=6,
        help='largest frame shift in pixels, each way')
    parser.add_argument(
        '--max-scale',
        type=float,
        default=0.05,
        help='largest zoom change of a frame, |scale - 1|')
    parser.add_argument(
        '--max-brightness',
        type=float,
        default=0.1,
        help='largest brightness change of a frame, |gain - 1|')
    args = parser.parse_args(argv)
    mdd.check_args(parser, args)
    if not args.burst_alpha > 0:
        parser.error(f'--burst-alpha must be > 0, got {args.burst_alpha}')
    if args.max_burst < 1:
        parser.error(f'--max-burst must be >= 1, got {args.max_burst}')
    if not 0 <= args.max_shift <= args.min_size // 4:
        parser.error(f'--max-shift must be in [0, --min-size / 4 = '
                     f'{args.min_size // 4}], got {args.max_shift}')
    if not 0 <= args.max_scale <= 0.25:
        parser.error(f'--max-scale must be in [0, 0.25], got '
                     f'{args.max_scale}')
    if not 0 <= args.max_brightness <= 0.5:
        parser.error(f'--max-brightness must be in [0, 0.5], got '
                     f'{args.max_brightness}')
    return args


def main(argv: Optional[Sequence[str]] = None) -> None:
    """Command line entry point."""
    mdd.run(parse_args(argv), make_dataset, format_summary)


if __name__ == '__main__':
    main()
