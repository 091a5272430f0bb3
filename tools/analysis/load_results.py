"""Per-cycle results of one or more active-learning experiments.

Prints, per experiment, a table of cycle, labeled images, labeled fraction
of the pool, labeled boxes (and the pseudo-labeled boxes and SL/AL ratio of
semi-supervised cycles) and the chosen metrics from
``<work_dir>/results.json``, and
with ``--csv`` writes all rows to one CSV file (one row per experiment and
cycle). The loading is :func:`al_plugin.evaluation.analysis.load_results`.

Example:
    python tools/analysis/load_results.py work_dirs/random_digits \\
        work_dirs/miaod_digits --metric pascal_voc/mAP --csv results.csv
"""
import argparse
import csv
import os.path as osp
import sys

from terminaltables import AsciiTable

sys.path.insert(0, osp.abspath(osp.join(osp.dirname(__file__), '..', '..')))

from al_plugin.evaluation.analysis import (  # noqa: E402
    labeled_fraction, load_results)
from al_plugin.utils import atomic_open  # noqa: E402

#: the metric shown when --metric is not given and the results have it
DEFAULT_METRIC = 'pascal_voc/mAP'
CSV_FIELDS = ('work_dir', 'cycle', 'num_labeled', 'num_pool',
              'num_pseudo_labeled', 'labeled_fraction', 'strategy')
#: counts a record holds since they were added (left empty for an older
#: results.json): the annotation cost in boxes and the semi-supervised
#: cycles' model-made boxes (ASM's SL/AL ratio)
COUNT_FIELDS = ('num_labeled_boxes', 'num_pseudo_boxes', 'num_human_boxes',
                'sl_al_ratio')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Print the per-cycle results of experiments')
    parser.add_argument(
        'work_dirs', nargs='+', metavar='WORK_DIR',
        help='work_dirs holding a results.json')
    parser.add_argument(
        '--metric',
        nargs='+',
        default=None,
        help=f'metric names to show (default: {DEFAULT_METRIC} if the '
        'results have it, else the first metric they report)')
    parser.add_argument(
        '--csv', metavar='OUT', help='also write all rows to this CSV file')
    return parser.parse_args(argv)


def choose_metrics(experiments: dict, names=None) -> list:
    """The metric names to show; refuse a name no experiment reports."""
    available = []
    for results in experiments.values():
        for result in results:
            for name in result['metrics']:
                if name not in available:
                    available.append(name)
    if names is None:
        if DEFAULT_METRIC in available or not available:
            return [DEFAULT_METRIC]
        return available[:1]
    for name in names:
        if name not in available:
            raise ValueError(f'metric {name!r} is in none of the results '
                             f'files; available: {", ".join(available)}')
    return list(names)


def _value(result: dict, name: str) -> str:
    value = result['metrics'].get(name)
    if value is None:
        return '-'
    return f'{value:.4f}' if isinstance(value, float) else str(value)


def format_table(work_dir: str, results: list, metrics: list) -> str:
    """One experiment's results: its work_dir and strategy, then a table;
    ``boxes`` (labeled boxes) when the records count them, ``pseudo boxes``
    and ``SL/AL`` when a cycle trained on pseudo labels."""
    strategies = {r['strategy'] for r in results} - {None}
    title = work_dir + (f' ({", ".join(sorted(strategies))})'
                        if strategies else '')
    counts = []
    if any(r.get('num_labeled_boxes') is not None for r in results):
        counts.append(('boxes', 'num_labeled_boxes', '{}'))
    if any(r.get('num_pseudo_boxes') for r in results):
        counts += [('pseudo boxes', 'num_pseudo_boxes', '{}'),
                   ('SL/AL', 'sl_al_ratio', '{:.2f}')]
    rows = [['cycle', 'labeled', 'labeled %'] + [c[0] for c in counts] +
            metrics]
    for r in results:
        fraction = labeled_fraction(r)
        rows.append([
            r['cycle'], r['num_labeled'],
            '-' if fraction is None else f'{100 * fraction:.1f}%'
        ] + ['-' if r.get(key) is None else form.format(r[key])
             for _, key, form in counts] + [_value(r, name)
                                            for name in metrics])
    table = AsciiTable(rows)
    for column in range(1, len(rows[0])):
        table.justify_columns[column] = 'right'
    return f'{title}\n{table.table}'


def write_csv(path: str, experiments: dict, metrics: list) -> None:
    """All rows of all experiments in one CSV file (written atomically)."""
    with atomic_open(path, 'w') as f:
        writer = csv.writer(f, lineterminator='\n')
        writer.writerow(list(CSV_FIELDS) + list(COUNT_FIELDS) + metrics)
        for work_dir, results in experiments.items():
            for r in results:
                fraction = labeled_fraction(r)
                writer.writerow([
                    work_dir, r['cycle'], r['num_labeled'], r['num_pool'],
                    r['num_pseudo_labeled'],
                    '' if fraction is None else fraction,
                    r['strategy'] or ''
                ] + ['' if r.get(key) is None else r[key]
                     for key in COUNT_FIELDS] + [
                    '' if r['metrics'].get(name) is None else
                    r['metrics'][name] for name in metrics
                ])


def main(argv=None) -> int:
    args = parse_args(argv)
    experiments = {}
    for work_dir in args.work_dirs:
        experiments[work_dir] = load_results(work_dir)
    metrics = choose_metrics(experiments, args.metric)
    for work_dir, results in experiments.items():
        print(format_table(work_dir, results, metrics))
    if args.csv:
        write_csv(args.csv, experiments, metrics)
        print(f'written: {args.csv}')
    return 0


if __name__ == '__main__':
    try:
        sys.exit(main())
    except (OSError, ValueError) as error:
        sys.exit(f'load_results.py: error: {error}')
