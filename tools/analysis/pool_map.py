"""Draw the pool map of an experiment's cycle: a 2-D t-SNE of the
detector's pooled features, coloured by labeled / newly selected /
unlabeled and by dominant class.

    python tools/analysis/pool_map.py CONFIG CHECKPOINT WORK_DIR --cycle C \
        [--out PNG] [--max-points 500] [--seed 0]

Labeled: ``WORK_DIR/X_L_<C>.npy``; newly selected: the picks of
``selection_<C+1>.json`` (else ``X_L_<C+1>.npy`` less ``X_L_<C>``);
unlabeled: the rest of the config's training pool. The model (best
``cycle_<C>.pth``, the one that made the selection) reads the images with
the config's test pipeline, as the selection hook does. Writes the PNG
(default ``WORK_DIR/pool_map_<C>.png``) and, beside it, the points as JSON
(same name, ``.json``). See :mod:`al_plugin.service.pool_map` for what the map
computes (dominant class, sampling).

The arguments and the work dir's files are checked before the model stack
is imported.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.abspath(osp.join(osp.dirname(__file__), '..', '..')))

from al_plugin.work_dir import indices_file  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Draw the pool map (t-SNE of pooled features) of a '
        'cycle of an experiment')
    parser.add_argument('config', help='the experiment config')
    parser.add_argument('checkpoint', help='checkpoint file of the model')
    parser.add_argument('work_dir', help='the experiment\'s work dir')
    parser.add_argument('--cycle', type=int, required=True,
                        help='the cycle: X_L_<cycle> and the selection '
                        'after it')
    parser.add_argument('--out', help='the PNG (default: '
                        'WORK_DIR/pool_map_<cycle>.png)')
    parser.add_argument('--max-points', type=int, default=500,
                        help='images drawn at most: every selected one and a '
                        'seeded sample of the rest (default 500)')
    parser.add_argument('--seed', type=int, default=0,
                        help='seed of the sample, PCA and t-SNE (default 0)')
    parser.add_argument('--device',
                        help='cuda when available, else cpu (default)')
    args = parser.parse_args(argv)
    for what, path in (('config', args.config),
                       ('checkpoint', args.checkpoint)):
        if not osp.isfile(path):
            parser.error(f'{what} {path} does not exist')
    if not osp.isdir(args.work_dir):
        parser.error(f'work dir {args.work_dir} does not exist')
    labeled = osp.join(args.work_dir, indices_file('X_L', args.cycle)) \
        if args.cycle >= 0 else None
    if labeled is None or not osp.isfile(labeled):
        parser.error(f'--cycle {args.cycle}: {labeled} does not exist')
    if args.max_points < 1:
        parser.error(f'--max-points must be >= 1, got {args.max_points}')
    if args.out is None:
        args.out = osp.join(args.work_dir, f'pool_map_{args.cycle}.png')
    if not args.out.endswith('.png'):
        parser.error(f'--out must name a .png file, got {args.out}')
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    import torch
    from mmengine.config import Config

    from al_plugin.engine.export import load_detector
    from al_plugin.service.pool_map import draw_pool_map, experiment_map
    from al_plugin.utils import atomic_write_json
    cfg = Config.fromfile(args.config)
    model = load_detector(
        cfg, args.checkpoint, args.device
        or ('cuda' if torch.cuda.is_available() else 'cpu'))
    record = experiment_map(cfg, model, args.work_dir, args.cycle,
                            max_points=args.max_points, seed=args.seed)
    record['checkpoint'] = osp.abspath(args.checkpoint)
    sidecar = args.out[:-len('.png')] + '.json'
    atomic_write_json(sidecar, record)
    draw_pool_map(record, args.out, title=f'{osp.basename(args.work_dir)}: '
                  f'pool map of cycle {args.cycle}')
    counts = ', '.join(f'{n} {c}' for c, n in record['counts'].items())
    print(f'cycle {args.cycle}: {counts}; {len(record["broken"])} '
          f'unreadable\n  {args.out}\n  {sidecar}')
    return 0


if __name__ == '__main__':
    try:
        sys.exit(main())
    except (OSError, ValueError, RuntimeError) as error:
        sys.exit(f'pool_map.py: error: {error}')
