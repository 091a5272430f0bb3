"""What changed between two cycles of an active-learning experiment.

The images that entered X_L (global index, subset tag, image id, the cycle
whose selection added it and its score), the selections in between
(strategy, how many, score range), and how the unlabeled training subset
X_U changed (it is re-drawn every cycle). The files are cross-checked:
``X_L_A`` must be a subset of ``X_L_B``, the selections in between must
add exactly ``X_L_B \\ X_L_A``, and the id lists
``cycle<c>/trainval_X_L_<tag>.txt`` must agree; any disagreement is an
error naming the files.

Example:
    python tools/analysis/diff_cycles.py work_dirs/miaod_digits 0 2
"""
import argparse
import os.path as osp
import sys

from terminaltables import AsciiTable

sys.path.insert(0, osp.abspath(osp.join(osp.dirname(__file__), '..', '..')))

from al_plugin.evaluation.analysis import diff_cycles  # noqa: E402
from al_plugin.utils import atomic_write_json  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Show what entered X_L between cycles A and B')
    parser.add_argument('work_dir', help='the experiment\'s work_dir')
    parser.add_argument('a', type=int, help='the earlier cycle')
    parser.add_argument('b', type=int, help='the later cycle')
    parser.add_argument(
        '--json', metavar='OUT', help='also write the diff to this file')
    return parser.parse_args(argv)


def _score(value) -> str:
    return '-' if value is None else f'{value:.4g}'


def _indices(values, limit=20) -> str:
    shown = ', '.join(map(str, values[:limit]))
    return f'[{shown}{", ..." if len(values) > limit else ""}]'


def format_diff(diff: dict) -> str:
    """The result of :func:`al_plugin.evaluation.analysis.diff_cycles` as
    text."""
    a, b = diff['a'], diff['b']
    (l_a, l_b), (u_a, u_b) = diff['X_L_sizes'], diff['X_U_sizes']
    lines = [f'X_L_{a} -> X_L_{b}: {l_a} -> {l_b} labeled '
             f'(+{l_b - l_a})' + (f' of {diff["total_size"]}'
                                  if diff['total_size'] is not None else '')]

    rows = [['cycle', 'strategy', 'selected', 'budget', 'score min',
             'score max', 'skipped']]
    for s in diff['selections']:
        rows.append([
            s['cycle'], s['strategy'], s['num_selected'],
            '-' if s['budget'] is None else s['budget'],
            _score(s['score_min']),
            _score(s['score_max']), s['num_skipped']
        ])
    lines += ['selections:', AsciiTable(rows).table]

    rows = [['index', 'tag', 'img_id', 'cycle', 'score']]
    for r in diff['entered_X_L']:
        rows.append(
            [r['index'], r['tag'], r['img_id'], r['cycle'],
             _score(r['score'])])
    lines += [f'entered X_L ({len(diff["entered_X_L"])} images, left the '
              'pool):', AsciiTable(rows).table]

    lines += [
        f'X_U (re-drawn every cycle): {u_a} -> {u_b} images; '
        f'left {len(diff["left_X_U"])}: {_indices(diff["left_X_U"])}; '
        f'entered {len(diff["entered_X_U"])}: '
        f'{_indices(diff["entered_X_U"])}'
    ]
    return '\n'.join(lines)


def main(argv=None) -> int:
    args = parse_args(argv)
    diff = diff_cycles(args.work_dir, args.a, args.b)
    print(format_diff(diff))
    if args.json:
        atomic_write_json(args.json, dict(work_dir=args.work_dir, **diff))
        print(f'written: {args.json}')
    return 0


if __name__ == '__main__':
    try:
        sys.exit(main())
    except (OSError, ValueError) as error:
        sys.exit(f'diff_cycles.py: error: {error}')
