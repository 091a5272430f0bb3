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
  :mod:`al_plugin.export` for the K images, in the strategy's order;
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

from mmengine.config import Config, ConfigDict, DictAction

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


def selection_settings(cfg, strategy: str = None):
    """The strategy config, ``scorer_cfg`` and ``adapter`` config to use.

    Args:
        cfg (Config): The experiment config.
        strategy (str, optional): A registered strategy name; replaces the
            hook's strategy (its ``scorer_cfg`` and ``adapter`` stay).

    Returns:
        tuple: ``(strategy cfg, where it comes from, scorer_cfg, adapter)``.
    """
    from al_plugin.engine.config_check import selection_hooks
    for i, hook, _ in selection_hooks(cfg):
        where = f'custom_hooks[{i}].strategy'
        strategy_cfg = hook['strategy']
        break
    else:
        if strategy is None:
            raise KeyError('the config has no ActiveSelectionHook in '
                           'custom_hooks: name a strategy with --strategy')
        hook = {}
    if strategy is not None:
        strategy_cfg, where = dict(type=strategy), '--strategy'
    return (dict(strategy_cfg), where, dict(hook.get('scorer_cfg') or {}),
            hook.get('adapter'))


def config_classes(dataset_cfg):
    """The class names of the config's (first leaf) training dataset."""
    from mmdet.registry import DATASETS

    from al_plugin.datasets.dataset_tree import leaf_datasets
    dataset_cfg = leaf_datasets(dataset_cfg)[0]
    cls = dataset_cfg.get('type')
    cls = DATASETS.get(cls) if isinstance(cls, str) else cls
    metainfo = dict(getattr(cls, 'METAINFO', {}))
    metainfo.update(dataset_cfg.get('metainfo') or {})
    return metainfo.get('classes')


def ranking(chosen, scores, num_images: int) -> list:
    """1-based rank of every readable image (position): the picks in pick
    order, then the rest by decreasing score (ties: position); None for
    the rest when there are no scores."""
    import numpy as np
    ranks = [None] * num_images
    for rank, position in enumerate(chosen, 1):
        ranks[position] = rank
    if scores is not None:
        rest = np.setdiff1d(np.arange(num_images), chosen)
        keys = np.nan_to_num(np.asarray(scores, float)[rest], nan=-np.inf)
        for rank, k in enumerate(np.argsort(-keys, kind='stable'),
                                 len(chosen) + 1):
            ranks[rest[k]] = rank
    return ranks


def folder_loader_cfg(cfg, image_dir: str, classes) -> dict:
    """The scoring loader config of a folder of images: the config's test
    pipeline and ``val_dataloader`` settings over an
    ``ImageFolderDataset``."""
    from al_plugin.engine.selection import pool_loader_cfg
    folder = dict(
        type='ImageFolderDataset',
        data_root=image_dir,
        metainfo=dict(classes=tuple(classes)))
    return pool_loader_cfg(
        ConfigDict(
            val_dataloader=cfg.val_dataloader,
            train_dataloader=dict(dataset=folder)))


def labeled_outputs(model, cfg, labeled_dir, classes, strategy, scorer_cfg,
                    adapter_cfg) -> dict:
    """The strategy's outputs over the labeled images of ``labeled_dir``
    (``requires_labeled``; see ``scoring.LABELED_OUTPUTS``), scored as
    the pool; ``{}`` when it needs none or there is no folder."""
    import numpy as np
    from mmengine.logging import print_log

    from al_plugin.engine.selection import build_dataset, score_labeled
    wanted = strategy.requires_labeled
    if not wanted:
        return {}
    if labeled_dir is None:
        print_log(f'{strategy.name} would use {list(wanted)} of the labeled '
                  'images: no --labeled-dir, so there is no labeled set '
                  '(see the strategy\'s docs for what it does then)',
                  logger='current')
        return {}
    loader_cfg = folder_loader_cfg(cfg, labeled_dir, classes)
    dataset = build_dataset(loader_cfg['dataset'])
    print_log(f'scoring the {len(dataset)} labeled images of {labeled_dir} '
              f'for {list(wanted)}', logger='current')
    scored = score_labeled(model, loader_cfg, dataset,
                           np.arange(len(dataset)), wanted,
                           scorer_cfg=scorer_cfg, adapter_cfg=adapter_cfg)
    for index, message in sorted(scored.broken.items()):
        print_log(f'cannot read labeled image '
                  f'{dataset.get_data_info(index)["img_path"]}, left out: '
                  f'{message}', logger='current', level=30)
    return scored.outputs


def main(argv=None):
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    # The model stack, once the arguments are known to be good.
    import numpy as np
    import torch
    from mmengine.logging import print_log

    from al_plugin.engine.scoring import check_scorer_cfg
    from al_plugin.engine.selection import (build_dataset, build_strategy,
                                            score_indices, select)
    from al_plugin.export import (load_detector, predict_images,
                                  subset_loader, to_coco, write_export)
    from al_plugin.utils import atomic_write_json

    strategy_cfg, where, scorer_cfg, adapter_cfg = selection_settings(
        cfg, args.strategy)
    strategy = build_strategy(strategy_cfg, where)
    check_scorer_cfg(scorer_cfg, 'ActiveSelectionHook.scorer_cfg')
    seed = args.seed if args.seed is not None else cfg.get(
        'randomness', {}).get('seed') or 0

    model = load_detector(
        cfg, args.checkpoint, args.device or
        ('cuda' if torch.cuda.is_available() else 'cpu'))
    classes = model.dataset_meta.get('classes') or config_classes(
        cfg.train_dataloader['dataset'])
    if not classes:
        raise KeyError(f'no class names in {args.checkpoint} (meta.'
                       'dataset_meta) nor in the config\'s training dataset')
    loader_cfg = folder_loader_cfg(cfg, args.image_dir, classes)
    dataset = build_dataset(loader_cfg['dataset'])
    num_images = len(dataset)
    paths = [
        osp.abspath(dataset.get_data_info(i)['img_path'])
        for i in range(num_images)
    ]

    print_log(f'scoring {num_images} images of {args.image_dir} for '
              f'{strategy.name}', logger='current')
    indices, outputs, broken = score_indices(
        model, loader_cfg, dataset, np.arange(num_images), strategy.requires,
        scorer_cfg=scorer_cfg, adapter_cfg=adapter_cfg)
    for index, message in sorted(broken.items()):
        print_log(f'cannot read {paths[index]}, left out: {message}',
                  logger='current', level=30)
    if not len(indices):
        raise RuntimeError(f'none of the {num_images} images of '
                           f'{args.image_dir} can be read')
    outputs.update(
        labeled_outputs(model, cfg, args.labeled_dir, classes, strategy,
                        scorer_cfg, adapter_cfg))
    chosen, scores, _ = select(strategy, outputs, args.budget, len(indices),
                               seed)
    selected = indices[chosen]
    if len(selected) < args.budget:
        print_log(f'{strategy.name} picked {len(selected)} images, fewer '
                  f'than --budget {args.budget} ({len(indices)} readable)',
                  logger='current', level=30)

    records = predict_images(model, subset_loader(loader_cfg, dataset,
                                                  selected))
    for record in records:
        record['meta'] = dict(img_id=dataset.get_data_info(
            record['id'])['img_id'])
    coco = to_coco(
        records,
        classes,
        args.score_thr,
        info=dict(
            strategy=strategy.name,
            budget=args.budget,
            image_dir=osp.abspath(args.image_dir),
            config=osp.abspath(args.config),
            checkpoint=osp.abspath(args.checkpoint)))
    files = write_export(args.out, 'query', coco)

    ranks = ranking(chosen, scores, len(indices))
    picked = set(chosen.tolist())
    table = {}
    for position in sorted(
            range(len(indices)),
            key=lambda p: (ranks[p] is None, ranks[p] or 0, p)):
        score = None if scores is None else float(scores[position])
        table[paths[indices[position]]] = dict(
            score=None if score != score else score,  # NaN: null
            rank=ranks[position],
            selected=position in picked)
    for index, message in sorted(broken.items()):
        table[paths[index]] = dict(
            score=None, rank=None, selected=False, error=message)
    scores_path = osp.join(args.out, 'query_scores.json')
    atomic_write_json(scores_path, table)
    print(f'{strategy.name}: picked {len(selected)} of {num_images} images, '
          f'{len(coco["annotations"])} boxes with score >= '
          f'{args.score_thr}\n  {files[0]}\n  {files[1]}\n  {scores_path}')


if __name__ == '__main__':
    main()
