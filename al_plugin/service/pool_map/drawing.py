"""The pool map as a PNG (matplotlib's Agg canvas, imported when drawn)."""
from typing import Tuple

import numpy as np

from al_plugin.utils import atomic_open
from .embedding import CATEGORIES


#: the colour of "no class" (and of the unlabeled in the left panel)
NONE_COLOUR = '#b0b0b0'


def class_colours(num_classes: int) -> list:
    """One RGBA colour a class, none of them grey: tab10's 9 colours, then
    tab20's 9 light ones; beyond 18 classes a hue wheel."""
    from matplotlib import colormaps
    if num_classes > 18:
        return [colormaps['hsv'](i / num_classes) for i in range(num_classes)]
    palette = [colormaps['tab10'](i) for i in range(10) if i != 7] + [
        colormaps['tab20'](2 * i + 1) for i in range(10) if i != 7
    ]
    return palette[:num_classes]


#: category -> (marker, size, colour of the left panel, label)
STYLE = dict(unlabeled=('o', 14, NONE_COLOUR, 'unlabeled'),
             labeled=('s', 20, '#1f77b4', 'labeled'),
             selected=('*', 110, '#d62728', 'newly selected'))


def draw_pool_map(record: dict, path: str, title: str = 'pool map',
                  size: Tuple[int, int] = (1200, 540)) -> str:
    """Draw a :func:`map_record` as a PNG of two panels.

    Left: by category (unlabeled grey dots, labeled blue squares, newly
    selected red stars, on top). Right: the same markers coloured by
    dominant class (grey: none), with a legend of the classes shown (up
    to 20). Written atomically.

    Args:
        record (dict): The map.
        path (str): The PNG to write.
        title (str): Above the panels.
        size (tuple[int]): ``(width, height)`` in pixels.

    Returns:
        str: ``path``.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    dpi = 100
    fig = Figure(figsize=(size[0] / dpi, size[1] / dpi), dpi=dpi)
    canvas = FigureCanvasAgg(fig)
    by_split, by_class = fig.subplots(1, 2)
    points, classes = record['points'], record['classes']
    colours = class_colours(len(classes))
    for category in CATEGORIES:
        marker, area, colour, label = STYLE[category]
        mine = [p for p in points if p['category'] == category]
        xy = np.array([[p['x'], p['y']] for p in mine]).reshape(-1, 2)
        shown = record['counts'][category]
        total = record['total'].get(category, shown)
        by_split.scatter(
            xy[:, 0], xy[:, 1], s=area, marker=marker, c=colour,
            edgecolors='black' if category == 'selected' else 'none',
            linewidths=0.5,
            label=f'{label} ({shown}' + (f' of {total})'
                                         if total != shown else ')'))
        by_class.scatter(
            xy[:, 0], xy[:, 1], s=area, marker=marker,
            c=[colours[p['label']] if p['label'] >= 0 else NONE_COLOUR
               for p in mine] or None,
            edgecolors='black' if category == 'selected' else 'none',
            linewidths=0.5)
    by_split.legend(fontsize=8, loc='best')
    by_split.set_title('labeled / newly selected / unlabeled', fontsize=10)
    present = sorted({p['label'] for p in points if p['label'] >= 0})
    if len(present) <= 20:
        handles = [
            Line2D([], [], marker='o', linestyle='', color=colours[c],
                   label=classes[c]) for c in present
        ]
        if any(p['label'] < 0 for p in points):
            handles.append(Line2D([], [], marker='o', linestyle='',
                                  color=NONE_COLOUR, label='(none)'))
        by_class.legend(handles=handles, fontsize=8, loc='best',
                        title='dominant class', title_fontsize=8)
    by_class.set_title(f'by dominant class ({len(present)} of '
                       f'{len(classes)} classes)', fontsize=10)
    for ax in (by_split, by_class):
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    with atomic_open(path, 'wb') as f:
        canvas.print_png(f)
    return path
