"""Validation runs: retrain a plain detector on experiments' labeled sets.

For each experiment work dir, the labeled set X_L of a cycle (default: the
last) is trained on with a plain detector config from its initial weights,
once per seed ``0..N-1``, and tested; the mean and spread of the test metric
per experiment are printed and written to ``<work-dir>/validation.json``.
It judges the picks of a strategy (e.g. MI-AOD's) apart from the detector
the strategy trains. The config must train on the experiments' pool (the
same dataset config; checked against ``X_L_<c>.npy``). Interrupted? Run the
same command again: finished trainings are kept.

Example::

    python tools/validate_splits.py work_dirs/compare/*/seed0 \\
        --config configs/retinanet_digits.py --repeats 3 \\
        --work-dir work_dirs/validate
"""
import argparse
import os.path as osp
import sys

from mmengine.config import Config, DictAction

ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..'))
sys.path.insert(0, ROOT)

from al_plugin.engine.validation import (  # noqa: E402
    REPORT_FILE, format_table, validate_splits)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Retrain a plain detector on experiments\' labeled '
        'sets, N seeds each')
    parser.add_argument('work_dirs', nargs='+',
                        help='work dirs of active-learning experiments')
    parser.add_argument('--config', required=True,
                        help='the plain detector config to retrain')
    parser.add_argument('--repeats', type=int, default=3,
                        help='trainings (seeds 0..N-1) per experiment')
    parser.add_argument('--cycle', type=int,
                        help='the cycle of X_L (default: each run\'s last)')
    parser.add_argument('--work-dir', default='work_dirs/validate_splits',
                        help='trainings and validation.json go here')
    parser.add_argument('--metric',
                        help='test metric (default: pascal_voc/mAP or '
                        'coco/bbox_mAP_50)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='key=value overrides of the config')
    args = parser.parse_args(argv)
    if not osp.isfile(args.config):
        parser.error(f'--config {args.config}: no such file')
    if args.repeats < 1:
        parser.error(f'--repeats must be >= 1, got {args.repeats}')
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    try:
        report = validate_splits(cfg, args.work_dirs, args.repeats,
                                 args.work_dir, args.cycle, args.metric)
    except (OSError, ValueError, KeyError) as e:
        raise SystemExit(f'validate_splits: {e}')
    print(format_table(report))
    print(f'wrote {osp.join(args.work_dir, REPORT_FILE)}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
