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

Example::

    python tools/plot_curves.py work_dirs/compare/compare.json \\
        --out work_dirs/compare/curves --metric AP50 [--baseline random] \\
        [--x boxes]
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

from al_plugin.curves import curves, paired_differences  # noqa: E402
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


def plot(rows: list, metric: str, title=None, baseline=None,
         x_axis: str = 'fraction'):
    """Return a matplotlib figure of the curves in ``rows`` (of their gain
    over ``baseline`` when given) against ``x_axis`` (a key of
    ``X_AXES``)."""
    label = LABELS.get(metric, metric)
    if baseline is None:
        data = curves(rows, metric)
    else:
        if not any(r['strategy'] == baseline for r in rows):
            raise SystemExit(f'--baseline {baseline}: no such strategy in '
                             'the rows')
        data = paired_differences(rows, baseline, metric)
        label = f'{label} - {baseline}, same seed'
    if not data:
        raise SystemExit(f'no {metric!r} values in the rows: nothing to '
                         'plot (see --metric)')
    x_label, x_of = X_AXES[x_axis]
    if x_axis == 'boxes':
        lacking = sorted({r['strategy'] for r in rows
                          if r.get('num_labeled_boxes') is None})
        if lacking:
            raise SystemExit(
                f'--x boxes: the rows of {", ".join(lacking)} have no '
                'num_labeled_boxes (a results.json written before boxes '
                'were counted); plot --x fraction or run them again')
    # a strategy keeps its colour with or without a baseline
    order = list(dict.fromkeys(r['strategy'] for r in rows))
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
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
    ax.set_ylabel(label)
    ax.set_title(title or f'{label}: mean \u00b1 std over seeds')
    ax.grid(alpha=0.3)
    ax.legend(fontsize='small')
    fig.tight_layout()
    return fig


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
    fig = plot(rows, args.metric, args.title, args.baseline, args.x)
    for path in save(fig, out, args.dpi):
        print(f'wrote {path}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
