"""Augmented glyph images, a batch at a time, vectorised in torch.

Each image shows one glyph of the bank (its class is the label) under a
random affine map (zoom, aspect, rotation, shear, shift), with a random
stroke width, on a tinted gradient background, with parts of neighbouring
glyphs of the same font at the borders (as in a line of text), clutter
lines and blobs, either polarity and a random contrast, then blur, low
resolution and pixel noise. All draws come from one ``torch.Generator``:
the same generator state gives the same batch.

Images are normalised as the detector's data preprocessor does (RGB,
ImageNet mean / std on the 0-255 scale), so the backbone sees the same
input range in pretraining and in detection.
"""
from typing import Optional, Tuple

import torch
import torch.nn.functional as F

from .glyphs import GlyphBank

#: the detectors' ``data_preprocessor`` normalisation (RGB, 0-255 scale)
MEAN = (123.675, 116.28, 103.53)
STD = (58.395, 57.12, 57.375)

# Glyph placement (output coordinates span [-1, 1]): a zoom of 1 maps a
# bank cell onto the whole image.
ZOOM = (0.85, 1.5)
LOG_ASPECT = 0.2
ROTATION = 0.2  # radians
SHEAR = 0.3
SHIFT = 0.12
# Neighbouring glyphs of the same font: slots, probability of each, and the
# distance of their centre from the glyph's, in cell units (a cell spans 2),
# mapped by the glyph's own affine map.
NEIGHBOUR_SLOTS = 2
NEIGHBOUR_PROB = 0.35
NEIGHBOUR_OFFSET = (1.1, 1.6)
# Stroke width: probability of a one-pixel dilation, and of an erosion.
DILATE_PROB = 0.2
ERODE_PROB = 0.2
# Clutter: slots and probability of lines and of blobs; sizes in pixels.
LINE_SLOTS, LINE_PROB, LINE_WIDTH = 3, 0.3, (0.6, 2.0)
BLOB_SLOTS, BLOB_PROB, BLOB_RADIUS = 2, 0.2, (1.0, 5.0)
# Colours on the 0-1 scale.
BACKGROUND = (0.05, 0.95)
GRADIENT = 0.3
TINT = 0.08
INK_CONTRAST = (0.25, 0.9)
CLUTTER_CONTRAST = (0.1, 0.6)
# Degradations.
BLUR_PROB, BLUR_SIGMA, BLUR_RADIUS = 0.4, (0.4, 1.4), 3
LOW_RES_PROB, LOW_RES_SIZES = 0.25, (10, 14, 20)
NOISE_STD = (0.0, 0.08)


def _uniform(g: torch.Generator, low: float, high: float,
             *shape: int) -> torch.Tensor:
    return low + (high - low) * torch.rand(shape, generator=g)


def _signed_level(g: torch.Generator, base: torch.Tensor,
                  contrast: Tuple[float, float]) -> torch.Tensor:
    """A grey level at a random distance ``contrast`` from ``base`` (B,),
    on the side that stays inside [0, 1] (either side when both do)."""
    delta = _uniform(g, contrast[0], contrast[1], base.numel())
    sign = torch.where(torch.rand(base.numel(), generator=g) < 0.5, -1., 1.)
    level = base + sign * delta
    flipped = base - sign * delta
    outside = (level < 0) | (level > 1)
    return torch.where(outside, flipped, level).clamp(0, 1)


class GlyphSynthesizer:
    """Random augmented images of the glyphs of a bank.

    Args:
        bank (:obj:`GlyphBank`): The glyphs, cells (F, S, C, cell, cell).
        img_size (int): Side H = W of the images.
    """

    def __init__(self, bank: GlyphBank, img_size: int = 40) -> None:
        num_fonts, num_strokes, num_classes, cell, _ = bank.cells.shape
        self.cells = torch.from_numpy(bank.cells).reshape(
            -1, 1, cell, cell)
        self.num_fonts = num_fonts
        self.num_strokes = num_strokes
        self.num_classes = num_classes
        self.img_size = int(img_size)
        coords = (torch.arange(self.img_size, dtype=torch.float32) + 0.5)
        self._ys, self._xs = torch.meshgrid(coords, coords, indexing='ij')

    def _glyphs(self, indices: torch.Tensor,
                theta: torch.Tensor) -> torch.Tensor:
        """Warp bank cells ``indices`` (B,) by ``theta`` (B, 2, 3).

        Returns:
            Tensor: ink coverage in [0, 1] of shape (B, 1, H, W).
        """
        cells = self.cells[indices].float().div_(255)
        size = (len(indices), 1, self.img_size, self.img_size)
        grid = F.affine_grid(theta, size, align_corners=False)
        return F.grid_sample(
            cells, grid, mode='bilinear', padding_mode='zeros',
            align_corners=False)

    def _placement(self, g: torch.Generator,
                   num: int) -> Tuple[torch.Tensor, torch.Tensor]:
        """Random glyph-to-image linear maps T (B, 2, 2) and shifts (B, 2)."""
        zoom = _uniform(g, ZOOM[0], ZOOM[1], num)
        aspect = torch.exp(_uniform(g, -LOG_ASPECT, LOG_ASPECT, num) / 2)
        angle = _uniform(g, -ROTATION, ROTATION, num)
        shear = _uniform(g, -SHEAR, SHEAR, num)
        cos, sin = torch.cos(angle), torch.sin(angle)
        zeros, ones = torch.zeros(num), torch.ones(num)
        rot = torch.stack([cos, -sin, sin, cos], 1).view(num, 2, 2)
        shear_m = torch.stack([ones, shear, zeros, ones], 1).view(num, 2, 2)
        scale = torch.diag_embed(torch.stack(
            [zoom * aspect, zoom / aspect], 1))
        shift = _uniform(g, -SHIFT, SHIFT, num, 2)
        return rot @ shear_m @ scale, shift

    @staticmethod
    def _theta(linear: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
        """``affine_grid``'s output-to-input map of ``p -> T p + shift``."""
        inv = torch.linalg.inv(linear)
        return torch.cat([inv, -(inv @ shift.unsqueeze(-1))], -1)

    def _clutter(self, g: torch.Generator, num: int) -> torch.Tensor:
        """Alpha (B, 1, H, W) of random lines and ellipse blobs."""
        size = self.img_size
        xs, ys = self._xs, self._ys
        # lines: distance of every pixel to each segment
        p0 = _uniform(g, -0.1 * size, 1.1 * size, num, LINE_SLOTS, 2)
        p1 = _uniform(g, -0.1 * size, 1.1 * size, num, LINE_SLOTS, 2)
        width = _uniform(g, LINE_WIDTH[0], LINE_WIDTH[1], num, LINE_SLOTS)
        on = torch.rand(num, LINE_SLOTS, generator=g) < LINE_PROB
        d = p1 - p0
        rel_x = xs - p0[..., 0, None, None]
        rel_y = ys - p0[..., 1, None, None]
        t = ((rel_x * d[..., 0, None, None] + rel_y * d[..., 1, None, None])
             / (d.pow(2).sum(-1)[..., None, None] + 1e-6)).clamp(0, 1)
        dist = torch.hypot(rel_x - t * d[..., 0, None, None],
                           rel_y - t * d[..., 1, None, None])
        lines = (width[..., None, None] / 2 + 0.5 - dist).clamp(0, 1)
        lines = (lines * on[..., None, None]).amax(1)
        # blobs: filled ellipses with a one-pixel soft edge
        center = _uniform(g, 0, size, num, BLOB_SLOTS, 2)
        radius = _uniform(g, BLOB_RADIUS[0], BLOB_RADIUS[1], num,
                          BLOB_SLOTS, 2)
        on = torch.rand(num, BLOB_SLOTS, generator=g) < BLOB_PROB
        ex = (xs - center[..., 0, None, None]) / radius[..., 0, None, None]
        ey = (ys - center[..., 1, None, None]) / radius[..., 1, None, None]
        edge = radius.amin(-1)[..., None, None]
        blobs = ((1 - torch.hypot(ex, ey)) * edge + 0.5).clamp(0, 1)
        blobs = (blobs * on[..., None, None]).amax(1)
        return torch.maximum(lines, blobs).unsqueeze(1)

    def _stroke(self, g: torch.Generator, alpha: torch.Tensor) -> torch.Tensor:
        """Random one-pixel dilation or erosion of ``alpha`` (B, 1, H, W)."""
        draw = torch.rand(len(alpha), generator=g)[:, None, None, None]
        dilated = F.max_pool2d(alpha, 3, stride=1, padding=1)
        eroded = -F.max_pool2d(-alpha, 3, stride=1, padding=1)
        alpha = torch.where(draw < DILATE_PROB, dilated, alpha)
        return torch.where(draw > 1 - ERODE_PROB, eroded, alpha)

    def _colours(self, g: torch.Generator, num: int):
        """Background (B, 3, H, W), ink (B, 3, 1, 1), clutter (B, 3, 1, 1)."""
        base = _uniform(g, BACKGROUND[0], BACKGROUND[1], num)
        angle = _uniform(g, 0, 2 * torch.pi, num)
        slope = _uniform(g, -GRADIENT, GRADIENT, num)
        unit_x = self._xs / self.img_size - 0.5
        unit_y = self._ys / self.img_size - 0.5
        ramp = slope[:, None, None] * (
            torch.cos(angle)[:, None, None] * unit_x +
            torch.sin(angle)[:, None, None] * unit_y)
        tint = _uniform(g, -TINT, TINT, num, 3)
        background = (base[:, None, None, None] + ramp[:, None] +
                      tint[..., None, None]).clamp(0, 1)
        ink = _signed_level(g, base, INK_CONTRAST)
        ink = (ink[:, None] + _uniform(g, -TINT, TINT, num, 3)).clamp(0, 1)
        clutter = _signed_level(g, base, CLUTTER_CONTRAST)
        clutter = (clutter[:, None] +
                   _uniform(g, -TINT, TINT, num, 3)).clamp(0, 1)
        return background, ink[..., None, None], clutter[..., None, None]

    def _blur(self, g: torch.Generator, images: torch.Tensor) -> torch.Tensor:
        """Gaussian blur of a random share of ``images`` (B, 3, H, W)."""
        num, channels = images.shape[:2]
        sigma = _uniform(g, BLUR_SIGMA[0], BLUR_SIGMA[1], num)
        on = torch.rand(num, generator=g) < BLUR_PROB
        taps = torch.arange(-BLUR_RADIUS, BLUR_RADIUS + 1,
                            dtype=torch.float32)
        kernel = torch.exp(-0.5 * (taps / sigma[:, None]).pow(2))
        kernel = kernel / kernel.sum(-1, keepdim=True)
        identity = (taps == 0).float().expand_as(kernel)
        kernel = torch.where(on[:, None], kernel, identity)
        kernel = kernel.repeat_interleave(channels, 0)  # (B * 3, k)
        x = images.reshape(1, num * channels, *images.shape[2:])
        r = BLUR_RADIUS
        x = F.conv2d(F.pad(x, (r, r, 0, 0), mode='reflect'),
                     kernel[:, None, None, :], groups=num * channels)
        x = F.conv2d(F.pad(x, (0, 0, r, r), mode='reflect'),
                     kernel[:, None, :, None], groups=num * channels)
        return x.reshape(images.shape)

    def _low_res(self, g: torch.Generator,
                 images: torch.Tensor) -> torch.Tensor:
        """Down- then up-sample a random share of ``images`` (B, 3, H, W)."""
        on = torch.rand(len(images), generator=g) < LOW_RES_PROB
        which = torch.randint(len(LOW_RES_SIZES), (len(images), ),
                              generator=g)
        out = images.clone()
        for i, size in enumerate(LOW_RES_SIZES):
            idx = torch.nonzero(on & (which == i)).flatten()
            if len(idx) == 0 or size >= self.img_size:
                continue
            small = F.interpolate(images[idx], size=(size, size),
                                  mode='area')
            out[idx] = F.interpolate(small, size=images.shape[2:],
                                     mode='bilinear', align_corners=False)
        return out

    def sample(self, batch_size: int, generator: torch.Generator,
               fonts: Optional[torch.Tensor] = None
               ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Draw a batch of augmented glyph images.

        Args:
            batch_size (int): B.
            generator (torch.Generator): The source of every random draw.
            fonts (Tensor, optional): Font index of each image (B,);
                uniform over the bank's fonts when None.

        Returns:
            tuple[Tensor, Tensor]: Normalised float32 images
            (B, 3, H, W) and their int64 class labels (B,).
        """
        g, num = generator, batch_size
        labels = torch.randint(self.num_classes, (num, ), generator=g)
        if fonts is None:
            fonts = torch.randint(self.num_fonts, (num, ), generator=g)
        strokes = torch.randint(self.num_strokes, (num, ), generator=g)
        first = (fonts * self.num_strokes + strokes) * self.num_classes
        linear, shift = self._placement(g, num)
        text = self._glyphs(first + labels, self._theta(linear, shift))
        for _ in range(NEIGHBOUR_SLOTS):
            on = torch.rand(num, generator=g) < NEIGHBOUR_PROB
            other = torch.randint(self.num_classes, (num, ), generator=g)
            side = torch.where(torch.rand(num, generator=g) < 0.5, -1., 1.)
            along = side * _uniform(g, *NEIGHBOUR_OFFSET, num)
            across = _uniform(g, -SHIFT, SHIFT, num)
            vertical = torch.rand(num, generator=g) < 0.3
            offset = torch.where(vertical[:, None],
                                 torch.stack([across, along], 1),
                                 torch.stack([along, across], 1))
            # the neighbour shares the glyph's map: same size and slant
            offset = (linear @ offset.unsqueeze(-1)).squeeze(-1)
            neighbour = self._glyphs(first + other,
                                     self._theta(linear, shift + offset))
            text = torch.maximum(text, neighbour * on[:, None, None, None])
        text = self._stroke(g, text)
        clutter = self._clutter(g, num)
        background, ink, clutter_ink = self._colours(g, num)
        images = background * (1 - clutter) + clutter_ink * clutter
        images = images * (1 - text) + ink * text
        images = self._low_res(g, self._blur(g, images))
        noise = _uniform(g, NOISE_STD[0], NOISE_STD[1], num)
        images = images + noise[:, None, None, None] * torch.randn(
            images.shape, generator=g)
        images = images.clamp(0, 1) * 255
        mean = torch.tensor(MEAN).view(1, 3, 1, 1)
        std = torch.tensor(STD).view(1, 3, 1, 1)
        return (images - mean) / std, labels
