"""Export the images a cycle's selection chose, for annotators.

    python tools/export_selection.py CONFIG CHECKPOINT WORK_DIR --cycle C \
        [--score-thr 0.3] [--out DIR]

Reads ``WORK_DIR/selection_<C>.json`` (the images the selection after cycle
C - 1 added to X_L_C), runs the checkpoint's model on them with the test
pipeline over the config's training pool (the pool the selection hook
scores) and writes ``<out>/selection_<C>_coco.json`` (COCO, the detections
with ``score >= --score-thr`` as pre-annotations, original image frame) and
``<out>/selection_<C>_images.txt`` (the image paths, one a line); see
:mod:`al_plugin.engine.export`. CONFIG is best the config the run dumped into
WORK_DIR (it holds the run's ``--cfg-options``); the model that made
selection C is ``cycle_<C-1>.pth``, a later one gives better boxes.

The arguments and the selection file are checked before the model stack is
imported: a wrong cycle or path fails in a fraction of a second.
"""
import argparse
import json
import os
import os.path as osp
import sys

from mmengine.config import Config, DictAction

# `projects.<Name>` packages are imported relative to the repository root.
sys.path.insert(0, osp.abspath(osp.join(osp.dirname(__file__), '..')))

from al_plugin.work_dir import cycle_of, selection_file  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Export a selection (COCO json with the model\'s '
        'detections as pre-annotations, and the list of image paths)')
    parser.add_argument('config', help='the experiment config')
    parser.add_argument('checkpoint', help='checkpoint file of the model')
    parser.add_argument('work_dir', help='the experiment\'s work dir')
    parser.add_argument(
        '--cycle',
        type=int,
        required=True,
        help='export selection_<cycle>.json (cycle >= 1)')
    parser.add_argument(
        '--score-thr',
        type=float,
        default=0.3,
        help='keep detections scoring at least this, in [0, 1] '
        '(default 0.3)')
    parser.add_argument(
        '--out', help='output folder (default: WORK_DIR)')
    parser.add_argument(
        '--device', help='cuda when available, else cpu (default)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, key=value, as tools/train.py')
    args = parser.parse_args(argv)
    check_args(parser, args)
    return args


def check_args(parser, args) -> None:
    """Exit with a message naming the bad argument or file."""
    if not 0 <= args.score_thr <= 1:
        parser.error(f'--score-thr must be in [0, 1], got {args.score_thr}')
    for what, path in (('config', args.config),
                       ('checkpoint', args.checkpoint)):
        if not osp.isfile(path):
            parser.error(f'{what} {path} does not exist')
    if not osp.isdir(args.work_dir):
        parser.error(f'work dir {args.work_dir} does not exist')
    try:
        args.selection = load_selection(args.work_dir, args.cycle)
    except (FileNotFoundError, KeyError, ValueError) as error:
        parser.error(error.args[0])


def load_selection(work_dir: str, cycle: int) -> dict:
    """``work_dir/selection_<cycle>.json``, checked.

    Raises:
        FileNotFoundError: No such file; the message lists the cycles
            that have one.
        ValueError | KeyError: The file is not a selection record.
    """
    path = osp.join(work_dir, selection_file(cycle))
    if not osp.isfile(path):
        cycles = sorted(
            c for c in (cycle_of(name, 'selection')
                        for name in os.listdir(work_dir)) if c is not None)
        why = ('cycle 0 has no selection (X_L_0 is drawn at random)'
               if cycle == 0 else f'cycle {cycle} has no selection')
        raise FileNotFoundError(
            f'{path} does not exist: {why}; {work_dir} has selections of '
            f'cycles {cycles or "(none)"}')
    try:
        with open(path) as f:
            record = json.load(f)
    except json.JSONDecodeError as error:
        raise ValueError(f'{path} is not valid json: {error}') from error
    for key in ('indices', 'img_ids'):
        if not isinstance(record, dict) or key not in record:
            raise KeyError(f'{path} has no {key!r} key: not a selection '
                           'record of ActiveDatasetSplitter')
    if len(record['indices']) != len(record['img_ids']):
        raise ValueError(f'{path}: {len(record["indices"])} indices but '
                         f'{len(record["img_ids"])} img_ids')
    return record


def check_pool(img_ids, tags, selection: dict, path: str) -> None:
    """Raise if the config's pool is not the one the selection indexes.

    Args:
        img_ids (list): Image id of every pool index (``read_pool``).
        tags (list[str]): Subset tag of every pool index.
        selection (dict): The selection record.
        path (str): Its file, for the messages.
    """
    total = selection.get('total_size')
    if total is not None and total != len(img_ids):
        raise ValueError(
            f'the config\'s pool (train_dataloader.dataset) has '
            f'{len(img_ids)} images but {path} was made on a pool of '
            f'{total}: use the config the experiment ran with')
    sel_tags = selection.get('tags') or [None] * len(selection['indices'])
    for index, img_id, tag in zip(selection['indices'], selection['img_ids'],
                                  sel_tags):
        if not 0 <= index < len(img_ids) or str(img_ids[index]) != str(
                img_id) or (tag is not None and tags[index] != tag):
            here = (f'image {img_ids[index]!r} (subset {tags[index]!r})'
                    if 0 <= index < len(img_ids) else 'outside the pool')
            raise ValueError(
                f'pool index {index} is {here} in the config\'s pool but '
                f'image {img_id!r} (subset {tag!r}) in {path}: use the '
                'config the experiment ran with')


def main(argv=None):
    args = parse_args(argv)
    # The model stack, once the arguments are known to be good.
    import torch

    from al_plugin.datasets.pool import read_pool
    from al_plugin.engine.export import (load_detector, predict_images,
                                         subset_loader, to_coco, write_export)
    from al_plugin.engine.selection import build_dataset, pool_loader_cfg

    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    selection, cycle = args.selection, args.cycle
    path = osp.join(args.work_dir, selection_file(cycle))
    loader_cfg = pool_loader_cfg(cfg)
    model = load_detector(
        cfg, args.checkpoint, args.device or
        ('cuda' if torch.cuda.is_available() else 'cpu'))
    dataset = build_dataset(loader_cfg['dataset'])
    check_pool(*read_pool(dataset), selection, path)

    loader = subset_loader(loader_cfg, dataset, selection['indices'])
    records = predict_images(model, loader)
    tags = selection.get('tags') or [None] * len(records)
    for record, img_id, tag in zip(records, selection['img_ids'], tags):
        record['meta'] = dict(img_id=img_id, tag=tag)
    coco = to_coco(
        records,
        dataset.metainfo['classes'],
        args.score_thr,
        info=dict(
            cycle=cycle,
            strategy=selection.get('strategy'),
            config=osp.abspath(args.config),
            checkpoint=osp.abspath(args.checkpoint)))
    files = write_export(args.out or args.work_dir, f'selection_{cycle}',
                         coco)
    print(f'selection {cycle}: {len(records)} images, '
          f'{len(coco["annotations"])} boxes with score >= '
          f'{args.score_thr}\n  {files[0]}\n  {files[1]}')


if __name__ == '__main__':
    main()
