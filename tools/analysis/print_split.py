"""Per class: images and boxes labeled (X_L of a cycle) vs left in the pool.

The pool is the dataset ``train_dataloader.dataset`` of CONFIG builds (the
experiment's config, or the dump ``<work_dir>/<name>.py``); the labeled set
is ``<work_dir>/X_L_<cycle>.npy``. The image ids the dataset gives X_L are
checked against ``cycle<cycle>/trainval_X_L_<tag>.txt`` first, so another
dataset than the experiment's is refused instead of miscounted.

Example:
    python tools/analysis/print_split.py configs/miaod_digits.py \\
        work_dirs/miaod_digits --cycle 1 --json split_1.json
"""
import argparse
import os.path as osp
import sys

from mmengine.config import Config, DictAction
from terminaltables import AsciiTable

# `projects.<Name>` packages are imported relative to the repository root.
sys.path.insert(0, osp.abspath(osp.join(osp.dirname(__file__), '..', '..')))

from al_plugin.engine.selection import build_pool  # noqa: E402
from al_plugin.evaluation.analysis import (  # noqa: E402
    check_pool, find_cycles, load_indices, load_pseudo_label_counts,
    split_summary)
from al_plugin.utils import atomic_write_json  # noqa: E402
from al_plugin.work_dir import pseudo_labels_file  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Print the per-class labeled / pool split of a cycle')
    parser.add_argument('config', help='the experiment\'s config file')
    parser.add_argument('work_dir', help='the experiment\'s work_dir')
    parser.add_argument(
        '--cycle',
        type=int,
        default=None,
        help='the cycle whose X_L to count (default: the last one)')
    parser.add_argument(
        '--json', metavar='OUT', help='also write the counts to this file')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override some settings in the used config, the key-value pair '
        'in xxx=yyy format will be merged into config file (e.g. '
        'train_dataloader.dataset.datasets.0.data_root=...).')
    return parser.parse_args(argv)


def load_config(path: str, options=None) -> Config:
    """The config at ``path`` with ``--cfg-options`` merged in."""
    try:
        cfg = Config.fromfile(path)
    except SyntaxError as error:
        raise ValueError(f'{path}: malformed config ({error})') from error
    if options is not None:
        cfg.merge_from_dict(options)
    if not isinstance(cfg.get('train_dataloader'), dict) or \
            'dataset' not in cfg.train_dataloader:
        raise ValueError(f'{path}: no train_dataloader.dataset, the pool '
                         'an active-learning experiment splits')
    return cfg


def _percent(fraction) -> str:
    return '-' if fraction is None else f'{100 * fraction:.1f}%'


def format_table(summary: dict) -> str:
    """The summary of :func:`split_summary` as an ascii table."""
    header = [
        'class', 'X_L images', 'X_L boxes', 'pool images', 'pool boxes',
        'labeled images', 'labeled boxes'
    ]
    rows = [header]
    for row in summary['classes'] + [summary['total']]:
        rows.append([
            row['class'], row['labeled_images'], row['labeled_boxes'],
            row['pool_images'], row['pool_boxes'],
            _percent(row['labeled_image_fraction']),
            _percent(row['labeled_box_fraction'])
        ])
    table = AsciiTable(rows)
    table.inner_footing_row_border = True
    for column in range(1, len(header)):
        table.justify_columns[column] = 'right'
    return table.table


def main(argv=None) -> int:
    args = parse_args(argv)
    cfg = load_config(args.config, args.cfg_options)
    cycle = args.cycle
    if cycle is None:
        cycles = find_cycles(args.work_dir)
        if not cycles:
            raise FileNotFoundError(
                f'{osp.join(args.work_dir, "X_L_<cycle>.npy")}: no such '
                'file; is this an active-learning work_dir?')
        cycle = cycles[-1]
    dataset = build_pool(cfg)
    labeled = load_indices(args.work_dir, 'X_L', cycle)
    check_pool(args.work_dir, cycle, dataset, labeled)
    summary = split_summary(dataset, labeled)
    pseudo = load_pseudo_label_counts(args.work_dir, cycle)
    total = summary['total']

    print(f'{args.work_dir}, cycle {cycle}: {total["labeled_images"]} of '
          f'{summary["total_size"]} images labeled '
          f'({_percent(total["labeled_image_fraction"])}), '
          f'{total["pool_images"]} left in the pool')
    print(format_table(summary))
    ignored = total['labeled_ignored'] + total['pool_ignored']
    if ignored:
        print(f'not counted above: {ignored} ignored (difficult / crowd) '
              f'boxes, {total["labeled_ignored"]} in X_L and '
              f'{total["pool_ignored"]} in the pool')
    if pseudo:
        print(f'cycle {cycle} also trains on pseudo labels of '
              f'{pseudo["num_images"]} pool images ({pseudo["num_boxes"]} '
              f'boxes, {pseudo_labels_file(cycle)})')
    if args.json:
        atomic_write_json(
            args.json,
            dict(
                config=args.config,
                work_dir=args.work_dir,
                cycle=cycle,
                pseudo_labels=pseudo,
                **summary))
        print(f'written: {args.json}')
    return 0


if __name__ == '__main__':
    try:
        sys.exit(main())
    except (OSError, ValueError) as error:
        sys.exit(f'print_split.py: error: {error}')
