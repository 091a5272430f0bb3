"""Train the tiny ResNet-18 of the digits detectors as a glyph classifier.

The backbone is mmdet's ``ResNet`` built exactly as in
``configs/_base_/models/retinanet_tiny.py`` (depth 18, ``base_channels=16``),
followed by global average pooling and one linear layer over the 62 glyph
classes. Fonts listed as held out are never trained on: the accuracy on
them measures how well the features carry over to unseen letterforms.
"""
import dataclasses
import logging
import math
import os.path as osp
import time
from typing import Callable, Dict, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from .glyphs import GlyphBank, find_font_files, render_glyph_bank
from .synth import GlyphSynthesizer

#: the backbone of the tiny digits detectors (retinanet_tiny.py,
#: faster_rcnn_tiny.py), without its ``init_cfg``
BACKBONE = dict(
    depth=18,
    base_channels=16,
    num_stages=4,
    out_indices=(0, 1, 2, 3),
    frozen_stages=-1,
    norm_cfg=dict(type='BN', requires_grad=True),
    norm_eval=False,
    style='pytorch')
#: fonts kept out of training, for the held-out accuracy: a typewriter
#: face of another family, a serif italic and a sans bold oblique
HELD_OUT_FONTS = ('cmtt10.ttf', 'STIXGeneralItalic.ttf',
                  'DejaVuSans-BoldOblique.ttf')
#: the held-out evaluation draws from this seed whatever the training seed,
#: so accuracies of runs with different seeds are comparable
EVAL_SEED = 2024


@dataclasses.dataclass(frozen=True)
class PretrainSettings:
    """Everything that decides the pretrained weights.

    Attributes:
        steps (int): SGD steps.
        batch_size (int): Images per step.
        img_size (int): Side of the glyph images in pixels.
        lr (float): Peak learning rate (SGD, Nesterov momentum 0.9), reached
            after a linear warm-up, then cosine decay to 0.
        warmup_steps (int): Steps of the linear warm-up.
        weight_decay (float): L2 weight decay of conv and linear weights.
        label_smoothing (float): Cross-entropy label smoothing.
        seed (int): Seed of the initial weights and of every image drawn.
        fonts (tuple[str], optional): Font file names to use (basenames in
            matplotlib's font folder); all usable fonts when None.
        held_out_fonts (tuple[str]): Fonts evaluated on, never trained on.
        eval_images (int): Images drawn for each accuracy.
        cell (int): Side of a glyph-bank cell in pixels.
        render_px (int): Font size the bank is rendered at.
        strokes (tuple[int]): Extra stroke widths of the bank (render px).
        threads (int): torch CPU threads of the training. The weights
            depend on it (the order of the float reductions), so it is a
            setting: the same weights on any machine (2: the cores of the
            machines this is built on; fewer cores only take longer).
    """
    steps: int = 3000
    batch_size: int = 64
    img_size: int = 40
    lr: float = 0.1
    warmup_steps: int = 100
    weight_decay: float = 5e-4
    label_smoothing: float = 0.1
    seed: int = 0
    fonts: Optional[Tuple[str, ...]] = None
    held_out_fonts: Tuple[str, ...] = HELD_OUT_FONTS
    eval_images: int = 2048
    cell: int = 64
    render_px: int = 96
    strokes: Tuple[int, ...] = (0, 3)
    threads: int = 2

    def check(self) -> None:
        """Raise ValueError naming the first invalid field."""
        positive = ('steps', 'batch_size', 'eval_images', 'cell',
                    'render_px', 'threads')
        for name in positive:
            if int(getattr(self, name)) <= 0:
                raise ValueError(f'pretrain setting {name} must be > 0, got '
                                 f'{getattr(self, name)}')
        if self.img_size < 32:
            raise ValueError('pretrain setting img_size must be >= 32 (the '
                             f'backbone strides by 32), got {self.img_size}')
        if not self.lr > 0:
            raise ValueError(f'pretrain setting lr must be > 0, got '
                             f'{self.lr}')
        if self.warmup_steps < 0 or self.weight_decay < 0:
            raise ValueError('pretrain settings warmup_steps and '
                             'weight_decay must be >= 0')
        if not 0 <= self.label_smoothing < 1:
            raise ValueError('pretrain setting label_smoothing must be in '
                             f'[0, 1), got {self.label_smoothing}')
        if not self.strokes or min(self.strokes) < 0:
            raise ValueError('pretrain setting strokes must be non-empty '
                             f'widths >= 0, got {self.strokes}')
        if len(set(self.held_out_fonts)) != len(self.held_out_fonts):
            raise ValueError('pretrain setting held_out_fonts has '
                             f'duplicates: {self.held_out_fonts}')

    def as_dict(self) -> dict:
        """The settings as JSON-able builtins (tuples become lists)."""
        return json_ready(dataclasses.asdict(self))


def json_ready(obj):
    """``obj`` with tuples turned into lists, recursively."""
    if isinstance(obj, dict):
        return {k: json_ready(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_ready(v) for v in obj]
    return obj


def build_backbone() -> nn.Module:
    """The tiny ResNet-18 of the digits detectors (mmdet ``ResNet``) with
    mmdet's own initialisation (Kaiming convs, zero-init residual BN)."""
    from mmdet.models.backbones import ResNet
    from mmengine.logging import MMLogger
    backbone = ResNet(**BACKBONE)
    # init_weights logs one paragraph per parameter: keep it quiet
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        backbone.init_weights()
    finally:
        logger.setLevel(level)
    return backbone


class GlyphClassifier(nn.Module):
    """The tiny backbone, global average pooling and a linear layer.

    Args:
        num_classes (int): C.
    """

    def __init__(self, num_classes: int) -> None:
        super().__init__()
        self.backbone = build_backbone()
        self.fc = nn.Linear(self.backbone.feat_dim, num_classes)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Class logits (B, C) of normalised images (B, 3, H, W)."""
        features = self.backbone(images)[-1]  # (B, 128, H/32, W/32)
        return self.fc(features.mean((2, 3)))


def select_fonts(settings: PretrainSettings,
                 folder: Optional[str] = None) -> Tuple[list, list]:
    """Split the usable font files into training and held-out fonts.

    Returns:
        tuple[list[str], list[str]]: Paths of the training fonts and of the
        held-out fonts (in ``settings.held_out_fonts`` order).

    Raises:
        ValueError: A named font is not a usable font, or no training font
            is left.
    """
    paths = {osp.basename(p): p for p in find_font_files(folder)}
    names = list(paths) if settings.fonts is None else list(settings.fonts)
    for key, wanted in (('fonts', names),
                        ('held_out_fonts', settings.held_out_fonts)):
        unknown = [n for n in wanted if n not in paths]
        if unknown:
            raise ValueError(f'pretrain setting {key}: {unknown} are not '
                             f'usable fonts (usable: {sorted(paths)})')
    train = [paths[n] for n in names if n not in settings.held_out_fonts]
    if not train:
        raise ValueError('pretrain settings leave no training font: fonts '
                         f'{names}, held_out_fonts '
                         f'{list(settings.held_out_fonts)}')
    return train, [paths[n] for n in settings.held_out_fonts]


def lr_at(step: int, settings: PretrainSettings) -> float:
    """Learning rate of ``step`` (0-based): linear warm-up from 10 % of the
    peak, then cosine decay to 0 at ``settings.steps``."""
    if step < settings.warmup_steps:
        return settings.lr * (0.1 + 0.9 * step / settings.warmup_steps)
    span = max(settings.steps - settings.warmup_steps, 1)
    progress = (step - settings.warmup_steps) / span
    return settings.lr * 0.5 * (1 + math.cos(math.pi * progress))


@torch.no_grad()
def evaluate(model: GlyphClassifier, synth: GlyphSynthesizer,
             num_images: int, batch_size: int = 256) -> Dict[str, float]:
    """Accuracy on ``num_images`` augmented images drawn from
    :data:`EVAL_SEED`, over all classes and over the digit glyphs.

    Returns:
        dict: ``acc`` (62-way top-1) and ``digit_acc`` (top-1 of the images
        that show a digit, still among 62 classes).
    """
    was_training = model.training
    model.eval()
    g = torch.Generator().manual_seed(EVAL_SEED)
    correct = digits = digits_correct = 0
    for start in range(0, num_images, batch_size):
        images, labels = synth.sample(min(batch_size, num_images - start), g)
        hit = model(images).argmax(1) == labels
        correct += int(hit.sum())
        is_digit = labels < 10
        digits += int(is_digit.sum())
        digits_correct += int((hit & is_digit).sum())
    model.train(was_training)
    return dict(acc=correct / num_images,
                digit_acc=digits_correct / max(digits, 1))


def _param_groups(model: nn.Module, weight_decay: float) -> list:
    """Weight decay on conv / linear weights only (not BN, not biases)."""
    decay, no_decay = [], []
    for param in model.parameters():
        (decay if param.ndim > 1 else no_decay).append(param)
    return [dict(params=decay, weight_decay=weight_decay),
            dict(params=no_decay, weight_decay=0.0)]


def train_backbone(settings: PretrainSettings,
                   log: Callable[[str], None] = print,
                   font_folder: Optional[str] = None
                   ) -> Tuple[Dict[str, torch.Tensor], dict]:
    """Render the glyph bank, train the classifier, evaluate it.

    Args:
        settings (:obj:`PretrainSettings`): What to train.
        log (callable): Receives progress lines.
        font_folder (str, optional): Where the fonts are; matplotlib's
            font folder when None.

    Returns:
        tuple[dict, dict]: The backbone's ``state_dict`` (the keys of mmdet's
        ``ResNet``) and a JSON-able record: settings, fonts, accuracies,
        seconds.
    """
    settings.check()
    before = torch.get_num_threads()
    torch.set_num_threads(settings.threads)
    try:
        return _train_backbone(settings, log, font_folder)
    finally:
        torch.set_num_threads(before)


def _train_backbone(settings: PretrainSettings, log: Callable[[str], None],
                    font_folder: Optional[str]
                    ) -> Tuple[Dict[str, torch.Tensor], dict]:
    """:func:`train_backbone` at ``settings.threads`` threads."""
    start = time.perf_counter()
    train_paths, held_out_paths = select_fonts(settings, font_folder)
    bank_args = dict(cell=settings.cell, render_px=settings.render_px,
                     strokes=settings.strokes)
    train_bank = render_glyph_bank(train_paths, **bank_args)
    held_out_bank: Optional[GlyphBank] = (
        render_glyph_bank(held_out_paths, **bank_args)
        if held_out_paths else None)
    render_s = time.perf_counter() - start
    log(f'glyph bank: {len(train_bank.fonts)} training fonts, '
        f'{len(held_out_paths)} held out, {train_bank.num_classes} classes, '
        f'{train_bank.cells.shape[1]} stroke widths ({render_s:.1f} s)')

    torch.manual_seed(settings.seed)
    model = GlyphClassifier(train_bank.num_classes)
    synth = GlyphSynthesizer(train_bank, settings.img_size)
    optimizer = torch.optim.SGD(
        _param_groups(model, settings.weight_decay), lr=settings.lr,
        momentum=0.9, nesterov=True)
    g = torch.Generator().manual_seed(settings.seed)
    model.train()
    every = max(settings.steps // 20, 1)
    loss_sum = hits = seen = 0.0
    train_start = time.perf_counter()
    for step in range(settings.steps):
        lr = lr_at(step, settings)
        for group in optimizer.param_groups:
            group['lr'] = lr
        images, labels = synth.sample(settings.batch_size, g)
        logits = model(images)
        loss = F.cross_entropy(
            logits, labels, label_smoothing=settings.label_smoothing)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        loss_sum += loss.item() * len(labels)
        hits += float((logits.argmax(1) == labels).sum())
        seen += len(labels)
        if (step + 1) % every == 0 or step + 1 == settings.steps:
            log(f'step {step + 1}/{settings.steps}  lr {lr:.4f}  '
                f'loss {loss_sum / seen:.3f}  acc {hits / seen:.3f}  '
                f'{time.perf_counter() - train_start:.0f} s')
            loss_sum = hits = seen = 0.0
    train_s = time.perf_counter() - train_start

    accuracy = dict(train_fonts=evaluate(model, synth, settings.eval_images))
    if held_out_bank is not None:
        accuracy['held_out_fonts'] = evaluate(
            model, GlyphSynthesizer(held_out_bank, settings.img_size),
            settings.eval_images)
    log('accuracy (augmented, 62 classes): ' + ', '.join(
        f'{k} {v["acc"]:.3f} (digits {v["digit_acc"]:.3f})'
        for k, v in accuracy.items()))
    state = {
        k: v.detach().clone()
        for k, v in model.backbone.state_dict().items()
    }
    record = dict(
        settings=settings.as_dict(),
        classes=train_bank.charset,
        train_fonts=list(train_bank.fonts),
        held_out_fonts=[osp.basename(p) for p in held_out_paths],
        accuracy=accuracy,
        torch_threads=torch.get_num_threads(),
        seconds=dict(render=round(render_s, 1), train=round(train_s, 1),
                     total=round(time.perf_counter() - start, 1)))
    return state, record
