"""Printed glyphs rendered from the font files that matplotlib ships.

The glyph source of the backbone pretraining: digits and Latin letters
(62 classes) drawn with Pillow's FreeType renderer from the TrueType /
OpenType files in matplotlib's ``mpl-data/fonts/ttf`` folder (DejaVu, STIX,
Computer Modern, ...). Nothing is downloaded and no handwriting is used: the
detection pool (scikit-learn's handwritten digits) is never read here.

Every glyph is rendered once into a :class:`GlyphBank` of square cells.
The cells of one font share a frame (the font's union ink height, baseline
fixed), so a lower-case letter stays smaller than a capital, as in print;
each glyph is centred horizontally.
"""
import io
import os
import os.path as osp
import string
from typing import List, NamedTuple, Optional, Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

#: The 62 classes: digits, then upper-case, then lower-case letters.
CHARSET = string.digits + string.ascii_uppercase + string.ascii_lowercase
FONT_SUFFIXES = ('.ttf', '.otf')
#: Font files that map the ASCII code points to glyphs other than the
#: letters and digits (TeX symbol and extension fonts, size variants,
#: placeholder boxes): their cmap looks complete but the shapes are not
#: the characters.
EXCLUDED_FONT_PREFIXES = ('cmex', 'cmsy', 'STIXSiz', 'STIXNonUni',
                          'LastResort')


class GlyphBank(NamedTuple):
    """Rendered glyphs, ``F`` fonts x ``S`` stroke widths x 62 characters.

    Attributes:
        cells (np.ndarray): uint8 ink coverage (0-255) of shape
            (F, S, 62, cell, cell).
        fonts (tuple[str]): Font file names (basenames), length F.
        strokes (tuple[int]): Extra stroke widths in render pixels, length S.
        charset (str): The characters, one class each (index = class).
    """
    cells: np.ndarray
    fonts: tuple
    strokes: tuple
    charset: str

    @property
    def num_classes(self) -> int:
        return len(self.charset)

    def subset(self, fonts: Sequence[str]) -> 'GlyphBank':
        """The bank restricted to ``fonts`` (names of the bank's fonts).

        Raises:
            ValueError: A name is not a font of the bank.
        """
        missing = [f for f in fonts if f not in self.fonts]
        if missing:
            raise ValueError(f'fonts {missing} are not in the glyph bank '
                             f'(it has {list(self.fonts)})')
        idx = [self.fonts.index(f) for f in fonts]
        return self._replace(cells=self.cells[idx], fonts=tuple(fonts))


def font_dir() -> str:
    """matplotlib's bundled font folder, ``mpl-data/fonts/ttf``."""
    import matplotlib
    return osp.join(matplotlib.get_data_path(), 'fonts', 'ttf')


def _has_charset(path: str) -> bool:
    """Whether the font's cmap has a glyph for every character."""
    from matplotlib.ft2font import FT2Font
    face = FT2Font(path)
    return all(face.get_char_index(ord(ch)) != 0 for ch in CHARSET)


def find_font_files(folder: Optional[str] = None) -> List[str]:
    """The font files of ``folder`` that draw all 62 characters.

    A file is kept when its name ends with ``.ttf`` / ``.otf``, it is not a
    symbol or size-variant font (:data:`EXCLUDED_FONT_PREFIXES`) and its
    cmap covers :data:`CHARSET`.

    Args:
        folder (str, optional): Defaults to matplotlib's font folder.

    Returns:
        list[str]: Sorted absolute paths.

    Raises:
        FileNotFoundError: ``folder`` does not exist or has no usable font.
    """
    folder = font_dir() if folder is None else folder
    if not osp.isdir(folder):
        raise FileNotFoundError(f'font folder {folder} does not exist')
    paths = []
    for name in sorted(os.listdir(folder)):
        if (not name.lower().endswith(FONT_SUFFIXES)
                or name.startswith(EXCLUDED_FONT_PREFIXES)):
            continue
        path = osp.abspath(osp.join(folder, name))
        if _has_charset(path):
            paths.append(path)
    if not paths:
        raise FileNotFoundError(
            f'no font in {folder} draws all of {CHARSET!r}')
    return paths


def render_font(path: str, cell: int = 64, render_px: int = 96,
                strokes: Sequence[int] = (0, 3)) -> np.ndarray:
    """Render the 62 characters of one font file.

    Each character is drawn at ``render_px`` pixels per em on its baseline,
    once per extra stroke width; the font's frame is the union of the
    stroke-0 glyphs' ink rows, widened to a square that holds the widest
    glyph; each glyph is centred horizontally in that square, which is
    then resized (Lanczos) to ``cell`` pixels.

    Args:
        path (str): A TrueType / OpenType file (read here, bytes first).
        cell (int): Side of a bank cell in pixels.
        render_px (int): Font size of the rendering.
        strokes (Sequence[int]): Extra stroke widths (render pixels) drawn
            around the outline; 0 is the font's own weight.

    Returns:
        np.ndarray: uint8 array of shape (len(strokes), 62, cell, cell).

    Raises:
        ValueError: The file is not a font Pillow reads, or a character
            renders without ink.
    """
    with open(path, 'rb') as f:
        data = f.read()
    try:
        font = ImageFont.truetype(io.BytesIO(data), size=render_px)
    except OSError as e:
        raise ValueError(f'{path} is not a font file Pillow can read: '
                         f'{e}') from e
    size = 4 * render_px
    origin = (size // 3, 2 * size // 3)  # left end of the baseline
    inks = np.zeros((len(strokes), len(CHARSET), size, size), np.uint8)
    for s, stroke in enumerate(strokes):
        for c, ch in enumerate(CHARSET):
            image = Image.new('L', (size, size), 0)
            ImageDraw.Draw(image).text(
                origin, ch, font=font, fill=255, anchor='ls',
                stroke_width=int(stroke), stroke_fill=255)
            inks[s, c] = np.asarray(image)
    has_ink = inks.reshape(len(strokes), len(CHARSET), -1).max(-1) > 0
    if not has_ink.all():
        s, c = np.argwhere(~has_ink)[0]
        raise ValueError(f'{path}: character {CHARSET[c]!r} renders '
                         f'without ink (stroke {strokes[s]})')
    rows = np.flatnonzero(inks[0].max(axis=(0, 2)))
    cols_any = inks[0].max(axis=1) > 0  # (62, size)
    widths = [np.flatnonzero(r)[-1] - np.flatnonzero(r)[0] + 1
              for r in cols_any]
    side = max(rows[-1] - rows[0] + 1, max(widths)) + 2 * max(strokes) + 4
    center_y = (rows[0] + rows[-1] + 1) / 2
    cells = np.zeros((len(strokes), len(CHARSET), cell, cell), np.uint8)
    for s in range(len(strokes)):
        for c in range(len(CHARSET)):
            cols = np.flatnonzero(inks[s, c].max(0))
            center_x = (cols[0] + cols[-1] + 1) / 2
            box = (center_x - side / 2, center_y - side / 2,
                   center_x + side / 2, center_y + side / 2)
            crop = Image.fromarray(inks[s, c]).resize(
                (cell, cell), Image.LANCZOS, box=box)
            cells[s, c] = np.asarray(crop)
    return cells


def render_glyph_bank(paths: Sequence[str], cell: int = 64,
                      render_px: int = 96,
                      strokes: Sequence[int] = (0, 3)) -> GlyphBank:
    """Render every character of every font file.

    Args:
        paths (Sequence[str]): Font files (see :func:`find_font_files`).
        cell (int): Side of a bank cell in pixels.
        render_px (int): Font size of the rendering.
        strokes (Sequence[int]): Extra stroke widths in render pixels.

    Returns:
        :obj:`GlyphBank`: cells of shape (F, S, 62, cell, cell).

    Raises:
        ValueError: No path, or duplicate font names.
    """
    if not paths:
        raise ValueError('render_glyph_bank needs at least one font file')
    names = tuple(osp.basename(p) for p in paths)
    if len(set(names)) != len(names):
        raise ValueError(f'duplicate font names in {list(paths)}')
    cells = np.stack([
        render_font(p, cell=cell, render_px=render_px, strokes=strokes)
        for p in paths
    ])
    return GlyphBank(cells, names, tuple(int(s) for s in strokes), CHARSET)
