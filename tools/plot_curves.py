"""Draw mAP against the labeled fraction from ``tools/compare.py``'s output:
one line per strategy, the mean over seeds with a band of one standard
deviation. Writes a PNG and an SVG.

With ``--baseline random``, each other strategy's gain over random is drawn
instead: its metric minus random's in the same seed and cycle, averaged
over seeds. Seeds move every strategy's curve alike (another first labeled
set, another first model); the paired gain leaves that out.

With ``--x boxes`` the x axis is the annotation cost in boxes (every
annotated box of X_L, ignored ones included; the mean over seeds at each
cycle) instead of the labeled fraction: a strategy that picks crowded
images pays more per image.

With ``--per-class``, one panel a class: each class's AP (the
``per_class_AP`` of ``results.json``; ``--metric AP50`` picks VOC's
``pascal_voc/AP50``, ``AP`` COCO's ``coco/precision``, or name the family),
one line a strategy, as above; ``--baseline`` and ``--x`` apply per panel.
A class without ground truth in the evaluated set has no panel.

Example::

    python tools/plot_curves.py work_dirs/compare/compare.json \\
        --out work_dirs/compare/curves --metric AP50 [--baseline random] \\
        [--x boxes] [--per-class]
"""
import argparse
import io
import json
import os.path as osp
import sys

import matplotlib

matplotlib.use('Agg')  # noqa: E402 (no display needed)
import matplotlib.pyplot as plt  # noqa: E402

ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..'))
sys.path.insert(0, ROOT)

from al_plugin.evaluation.curves import (  # noqa: E402
    curves, paired_differences, per_class_curves, per_class_families)
from al_plugin.utils import atomic_open  # noqa: E402

LABELS = {'AP50': 'mAP (IoU 0.5)', 'AP': 'COCO AP (IoU 0.5:0.95)'}
#: --x choices: (label of the axis, the x value of a CurvePoint)
X_AXES = {
    'fraction': ('labeled images (% of the pool)',
                 lambda p: 100 * p.labeled_fraction),
    'boxes': ('labeled boxes (annotated, mean over seeds)',
              lambda p: p.labeled_boxes),
}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Plot active-learning curves of tools/compare.py')
    parser.add_argument('compare_json', help='compare.json of compare.py')
    parser.add_argument(
        '--out', help='output path without extension (default: curves '
        'next to compare.json); .png and .svg are written')
    parser.add_argument(
        '--metric', default='AP50',
        help='AP50 (VOC mAP), AP (COCO) or a metric name of results.json')
    parser.add_argument(
        '--seeds', type=int, nargs='+',
        help='only these seeds (default: every run in the file)')
    parser.add_argument(
        '--baseline',
        help='draw every other strategy minus this one, paired by seed')
    parser.add_argument(
        '--x', default='fraction', choices=list(X_AXES),
        help='x axis: the labeled fraction of the pool, or the annotated '
        'boxes of X_L (default: fraction)')
    parser.add_argument(
        '--per-class', action='store_true',
        help='one panel a class: the per-class AP of results.json')
    parser.add_argument('--title', default=None)
    parser.add_argument('--dpi', type=int, default=120)
    return parser.parse_args(argv)


def load_rows(path: str) -> list:
    try:
        with open(path) as f:
            rows = json.load(f)['rows']
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise SystemExit(f'{path}: not a compare.json of tools/compare.py '
                         f'({type(e).__name__}: {e})')
    return rows


def check_options(rows: list, baseline, x_axis: str) -> None:
    """Exit with a message naming the option that ``rows`` cannot serve."""
    if baseline is not None and not any(r['strategy'] == baseline
                                        for r in rows):
        raise SystemExit(f'--baseline {baseline}: no such strategy in the '
                         'rows')
    if x_axis == 'boxes':
        lacking = sorted({r['strategy'] for r in rows
                          if r.get('num_labeled_boxes') is None})
        if lacking:
            raise SystemExit(
                f'--x boxes: the rows of {", ".join(lacking)} have no '
                'num_labeled_boxes (a results.json written before boxes '
                'were counted); plot --x fraction or run them again')


def plot(rows: list, metric: str, title=None, baseline=None,
         x_axis: str = 'fraction'):
    """Return a matplotlib figure of the curves in ``rows`` (of their gain
    over ``baseline`` when given) against ``x_axis`` (a key of
    ``X_AXES``)."""
    check_options(rows, baseline, x_axis)
    label = LABELS.get(metric, metric)
    if baseline is None:
        data = curves(rows, metric)
    else:
        data = paired_differences(rows, baseline, metric)
        label = f'{label} - {baseline}, same seed'
    if not data:
        raise SystemExit(f'no {metric!r} values in the rows: nothing to '
                         'plot (see --metric)')
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    draw(ax, data, rows, x_axis, baseline)
    ax.set_ylabel(label)
    ax.set_title(title or f'{label}: mean \u00b1 std over seeds')
    ax.legend(fontsize='small')
    fig.tight_layout()
    return fig


def per_class_family(rows: list, metric: str) -> str:
    """The ``per_class_AP`` family ``--metric`` names: a family itself, or
    ``AP50`` / ``AP`` for the one ending ``/AP50`` / ``/precision``."""
    families = per_class_families(rows)
    suffix = {'AP50': '/AP50', 'AP': '/precision'}.get(metric)
    for family in families:
        if family == metric or (suffix and family.endswith(suffix)):
            return family
    held = ', '.join(families) or 'no family (evaluate with ' \
        'ClasswiseVOCMetric or CocoMetric(classwise=True))'
    raise SystemExit(f'--per-class --metric {metric}: the rows hold '
                     f'per-class APs of {held}')


def plot_per_class(rows: list, metric: str, title=None, baseline=None,
                   x_axis: str = 'fraction'):
    """Return a figure with one panel a class of ``rows``' per-class AP
    (of its gain over ``baseline``) against ``x_axis``."""
    check_options(rows, baseline, x_axis)
    family = per_class_family(rows, metric)
    data = per_class_curves(rows, family, baseline)
    if not data:
        raise SystemExit(f'--per-class: no class has a {family} value')
    cols = min(4, len(data))
    nrows = -(-len(data) // cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(3.2 * cols, 2.6 * nrows),
                             sharex=True, sharey=True, squeeze=False)
    for ax, (name, class_data) in zip(axes.flat, data.items()):
        draw(ax, class_data, rows, x_axis, baseline)
        ax.set_title(f'class {name}', fontsize='medium')
    for ax in axes.flat[len(data):]:
        ax.set_visible(False)
    for ax in axes[:, 0]:
        ax.set_ylabel('AP' if baseline is None else f'AP - {baseline}')
    axes.flat[0].legend(fontsize='x-small')
    label = f'{family} per class' + (
        f' - {baseline}, same seed' if baseline else '')
    fig.suptitle(title or f'{label}: mean \u00b1 std over seeds')
    fig.tight_layout()
    return fig


def draw(ax, data: dict, rows: list, x_axis: str, baseline=None) -> None:
    """Draw the curves ``data`` (strategy -> points) on ``ax``: mean lines
    with a band of one std; a strategy's colour follows its first row."""
    x_label, x_of = X_AXES[x_axis]
    # a strategy keeps its colour with or without a baseline
    order = list(dict.fromkeys(r['strategy'] for r in rows))
    for name, points in data.items():
        x = [x_of(p) for p in points]
        mean = [p.mean for p in points]
        std = [p.std for p in points]
        seeds = max(p.num_seeds for p in points)
        line, = ax.plot(x, mean, marker='o', ms=4,
                        color=f'C{order.index(name) % 10}',
                        label=f'{name} (n={seeds})')
        ax.fill_between(x, [m - s for m, s in zip(mean, std)],
                        [m + s for m, s in zip(mean, std)],
                        color=line.get_color(), alpha=0.2, lw=0)
    if baseline is not None:
        ax.axhline(0, color='black', lw=0.8)
    ax.set_xlabel(x_label)
    ax.grid(alpha=0.3)


def save(fig, out: str, dpi: int) -> list:
    """Write ``out.png`` and ``out.svg`` atomically; return the paths."""
    paths = []
    for ext in ('png', 'svg'):
        buf = io.BytesIO()
        fig.savefig(buf, format=ext, dpi=dpi)
        path = f'{out}.{ext}'
        with atomic_open(path, 'wb') as f:
            f.write(buf.getvalue())
        paths.append(path)
    return paths


def main(argv=None) -> int:
    args = parse_args(argv)
    out = args.out or osp.join(osp.dirname(args.compare_json), 'curves')
    rows = load_rows(args.compare_json)
    if args.seeds is not None:
        rows = [r for r in rows if r['seed'] in args.seeds]
    draw_figure = plot_per_class if args.per_class else plot
    fig = draw_figure(rows, args.metric, args.title, args.baseline, args.x)
    for path in save(fig, out, args.dpi):
        print(f'wrote {path}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
