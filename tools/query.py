"""Pick the images of a folder to label first, with a trained model.

    python tools/query.py CONFIG CHECKPOINT IMAGE_DIR --budget K \
        [--strategy NAME] [--labeled-dir DIR] [--out DIR] [--score-thr 0.3]

For a pool that is just a folder of images (jpg, png, ...; subfolders
included, no annotations): scores every image with the config's selection
strategy (the ``ActiveSelectionHook`` of ``custom_hooks``, with its
``scorer_cfg`` and ``adapter``; ``--strategy`` names another registered
one) through the scoring code the hook uses, picks K and writes into
``--out`` (default ``work_dirs/query/<IMAGE_DIR name>``):

- ``query_coco.json`` and ``query_images.txt``: the export of
  :mod:`al_plugin.engine.export` for the K images, in the strategy's order;
- ``query_scores.json``: absolute image path -> ``score`` (null for a
  strategy without per-image scores), ``rank`` (1..K for the picks, in the
  strategy's order; then the rest by score, null without scores) and
  ``selected``; an image that could not be read has ``error`` instead.

The images go through the config's test pipeline (``val_dataloader``'s,
with its batch size and workers). The class names come from the
checkpoint, else from the config's training dataset. The hook's
``scorer_cfg`` is checked as at config load (a misspelt option stops with
the accepted names).

The labeled set: a strategy that uses outputs over the labeled images
(``requires_labeled``: core-set's ``labeled_features``, its initial
centers) gets them from ``--labeled-dir``, a folder of the images already
labeled, scored the same way as IMAGE_DIR. Without it there is no labeled
set, the outputs are left out (said in the log) and the strategy does what
it documents for that case: core-set takes as first center the image
nearest the folder's mean feature, then the farthest from the centers.
Strategies that need none ignore ``--labeled-dir``. A strategy that needs
an output the scorer cannot compute stops with its name and the output's.
"""
import argparse
import os.path as osp
import sys

from mmengine.config import Config, DictAction

# `projects.<Name>` packages are imported relative to the repository root.
sys.path.insert(0, osp.abspath(osp.join(osp.dirname(__file__), '..')))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Score a folder of images with a trained model and '
        'export the top K for labeling')
    parser.add_argument('config', help='the experiment config')
    parser.add_argument('checkpoint', help='checkpoint file of the model')
    parser.add_argument('image_dir', help='folder of images (the pool)')
    parser.add_argument(
        '--budget', type=int, required=True, help='K, images to pick')
    parser.add_argument(
        '--strategy',
        help='a registered strategy, e.g. EntropyStrategy (default: the '
        'config\'s ActiveSelectionHook strategy)')
    parser.add_argument(
        '--labeled-dir',
        help='folder of the images already labeled (X_L), for strategies '
        'that use the labeled set (core-set starts from their features); '
        'default: none, core-set then starts near the pool\'s mean feature')
    parser.add_argument(
        '--score-thr',
        type=float,
        default=0.3,
        help='keep detections scoring at least this as pre-annotations, in '
        '[0, 1] (default 0.3)')
    parser.add_argument(
        '--out', help='output folder (default work_dirs/query/<IMAGE_DIR>)')
    parser.add_argument(
        '--seed',
        type=int,
        help='seed of random picks (default: the config\'s randomness.seed)')
    parser.add_argument(
        '--device', help='cuda when available, else cpu (default)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, key=value, as tools/train.py')
    args = parser.parse_args(argv)
    if args.budget < 1:
        parser.error(f'--budget must be >= 1, got {args.budget}')
    if not 0 <= args.score_thr <= 1:
        parser.error(f'--score-thr must be in [0, 1], got {args.score_thr}')
    for what, path in (('config', args.config),
                       ('checkpoint', args.checkpoint)):
        if not osp.isfile(path):
            parser.error(f'{what} {path} does not exist')
    for what, path in (('image folder', args.image_dir),
                       ('labeled image folder', args.labeled_dir)):
        if path is not None and not osp.isdir(path):
            parser.error(f'{what} {path} does not exist')
    if args.out is None:
        name = osp.basename(osp.normpath(osp.abspath(args.image_dir)))
        args.out = osp.join('work_dirs', 'query', name)
    return args


def main(argv=None):
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    # The model stack, once the arguments are known to be good.
    import torch

    from al_plugin.engine.export import load_detector, write_export
    from al_plugin.engine.image_query import Images, query_images
    from al_plugin.utils import atomic_write_json

    if args.strategy is None:  # a config without a hook: say so at once
        from al_plugin.engine.image_query import selection_settings
        selection_settings(cfg)
    model = load_detector(
        cfg, args.checkpoint, args.device or
        ('cuda' if torch.cuda.is_available() else 'cpu'))
    result = query_images(
        cfg,
        model,
        args.checkpoint,
        Images(args.image_dir),
        args.budget,
        strategy=args.strategy,
        labeled=None if args.labeled_dir is None else Images(
            args.labeled_dir),
        score_thr=args.score_thr,
        seed=args.seed,
        info=dict(
            image_dir=osp.abspath(args.image_dir),
            config=osp.abspath(args.config),
            checkpoint=osp.abspath(args.checkpoint)),
        none_given='no --labeled-dir')
    files = write_export(args.out, 'query', result.coco)
    scores_path = osp.join(args.out, 'query_scores.json')
    atomic_write_json(scores_path, result.table)
    print(f'{result.strategy}: picked {len(result.selected)} of '
          f'{len(result.table)} images, {len(result.coco["annotations"])} '
          f'boxes with score >= {args.score_thr}\n  {files[0]}\n  '
          f'{files[1]}\n  {scores_path}')


if __name__ == '__main__':
    main()
