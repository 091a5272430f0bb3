"""Your own data (issue 17): a VOC tree or a COCO json with your own class
names, through the configs a user writes (README, "Your own data").

The user data sets are the tiny built-in set (``digits_root``) renamed: a
VOC tree in ``VOC2007/`` + ``VOC2012/`` whose digits are all one class,
and a COCO json whose digits are 3 classes by shape."""
import json
import logging
import re
import shutil

import numpy as np
import pytest
from mmengine.config import Config
from mmengine.logging import MMLogger

from al_plugin.datasets import (UserCocoDataset, UserVOCDataset,
                                user_coco_data, user_voc_data)
from .conftest import REPO, run_tool

DIGITS = tuple('0123456789')
#: 3 custom classes of the digits, by shape, in the order of their json
#: categories (ids 30, 10, 20: not 1..C, not sorted)
SHAPES = {'loop': (30, '0689'), 'stroke': (10, '147'), 'curve': (20, '235')}
#: loader settings of the tests' tiny experiments
LOADERS = [
    'train_dataloader.num_workers=0',
    'train_dataloader.persistent_workers=False',
    'val_dataloader.num_workers=0',
    'val_dataloader.persistent_workers=False',
    'test_dataloader.num_workers=0',
    'test_dataloader.persistent_workers=False',
]
#: 2 cycles of 4 + 4 labeled images, no drawing
TWO_CYCLES = [
    'train_cfg.cycles=[0,1]',
    'train_cfg.splitter.X_L_0_size=4',
    'train_cfg.splitter.X_S_size=4',
    'default_hooks.al_visualization.draw=False',
]
#: an untrained model scores below mmdet's 0.05, and CocoMetric gives no AP
#: without a detection: the 10 best of each image, whatever their score
ANY_DETECTIONS = [
    'model.test_cfg.score_thr=0.0',
    'model.test_cfg.nms_pre=100',
    'model.test_cfg.max_per_img=10',
]


def voc_tree(digits_root, out, rename):
    """The digits VOC tree as a user's: ``DIGITS20xx`` folders renamed
    ``VOC20xx``, each object's ``<name>`` replaced by ``rename(name)``."""
    for year in ('2007', '2012'):
        sub = out / f'VOC{year}'
        shutil.copytree(digits_root / 'VOCdevkit' / f'DIGITS{year}', sub)
        for xml in (sub / 'Annotations').glob('*.xml'):
            xml.write_text(
                re.sub(r'<name>(\w+)</name>',
                       lambda m: f'<name>{rename(m.group(1))}</name>',
                       xml.read_text()))
    return out


def shapes_json(src, dst):
    """The digits COCO json ``src`` with the :data:`SHAPES` categories."""
    data = json.loads(src.read_text())
    digit = {cat['id']: cat['name'] for cat in data['categories']}
    shape_id = {d: cat_id for cat_id, ds in SHAPES.values() for d in ds}
    for ann in data['annotations']:
        ann['category_id'] = shape_id[digit[ann['category_id']]]
    data['categories'] = [
        dict(id=cat_id, name=name, supercategory='shape')
        for name, (cat_id, _) in SHAPES.items()
    ]
    dst.write_text(json.dumps(data))
    return dst


def user_config(path, base, classes, data_call):
    """Write a user's config: ``base`` (a config of the repo), ``classes``
    and the data part from ``data_call`` (a call of ``user_voc_data`` or
    ``user_coco_data`` with ``classes`` among its arguments)."""
    path.write_text(
        f"_base_ = '{REPO}/{base}'\n"
        f"from al_plugin.datasets import {data_call.split('(')[0]}"
        '  # noqa: E402\n'
        f'classes = {classes!r}\n'
        'model = dict(bbox_head=dict(num_classes=len(classes)))\n'
        '(train_dataloader, val_dataloader, test_dataloader, '
        f'val_evaluator,\n test_evaluator) = {data_call}\n')
    return path


def train(config, work_dir, *options):
    return run_tool(['tools/train.py', str(config), '--work-dir',
                     str(work_dir), '--cfg-options'] + LOADERS +
                    TWO_CYCLES + list(options))


def voc_tables(log):
    """The class column of every VOC AP table in a log."""
    tables, rows = [], None
    for line in log.splitlines():
        if not line.startswith('|'):
            continue
        first = line.strip('|').split('|')[0].strip()
        if first == 'class':
            rows = []
        elif first == 'mAP' and rows is not None:
            tables.append(rows)
            rows = None
        elif rows is not None:
            rows.append(first)
    return tables


def check_two_cycles(work_dir, strategy):
    """X_L / selection / results files of a 2-cycle run with 4 + 4
    labeled images of the 32-image pool; returns results.json."""
    X_L = [np.load(work_dir / f'X_L_{c}.npy') for c in (0, 1)]
    assert [len(x) for x in X_L] == [4, 8] and set(X_L[0]) <= set(X_L[1])
    assert 0 <= X_L[1].min() and X_L[1].max() < 32
    sel = json.loads((work_dir / 'selection_1.json').read_text())
    assert sel['strategy'] == strategy
    assert sorted(sel['indices']) == sorted(set(X_L[1]) - set(X_L[0]))
    results = json.loads((work_dir / 'results.json').read_text())
    assert [r['cycle'] for r in results] == [0, 1]
    assert [r['num_labeled'] for r in results] == [4, 8]
    return results


@pytest.fixture(scope='module')
def one_class_voc(tmp_path_factory, digits_root):
    """The tiny set as a user's VOC tree with C = 1: every digit 'digit'."""
    return voc_tree(digits_root, tmp_path_factory.mktemp('one') / 'my_voc',
                    lambda name: 'digit')


def test_user_configs_point_at_the_users_folder():
    cfg = Config.fromfile(f'{REPO}/configs/miaod_custom_voc.py')
    paper = Config.fromfile(f'{REPO}/configs/miaod_voc0712.py')
    pool = cfg.train_dataloader.dataset
    assert pool.type == 'ConcatDataset'
    assert [(d.type, d.data_root, d.ann_file, d.data_prefix.sub_data_root,
             d.metainfo.classes, d.filter_cfg) for d in pool.datasets] == [
        ('UserVOCDataset', 'data/my_voc/', f'VOC{y}/ImageSets/Main/'
         'trainval.txt', f'VOC{y}/', ('cat', 'dog', 'bird'), None)
        for y in ('2007', '2012')]
    for d in pool.datasets:  # the inherited pipeline, loader settings
        assert d.pipeline == paper.train_dataloader.dataset.datasets[
            0].pipeline
    assert cfg.train_dataloader.batch_size == \
        paper.train_dataloader.batch_size
    for loader in (cfg.val_dataloader, cfg.test_dataloader):
        assert (loader.dataset.type, loader.dataset.data_root,
                loader.dataset.ann_file, loader.dataset.test_mode) == (
            'UserVOCDataset', 'data/my_voc/',
            'VOC2007/ImageSets/Main/test.txt', True)
        assert loader.dataset.pipeline == paper.val_dataloader.dataset.pipeline
    assert cfg.val_evaluator == paper.val_evaluator == cfg.test_evaluator
    assert cfg.model.bbox_head.num_classes == 3

    coco = Config.fromfile(f'{REPO}/configs/miaod_digits_coco.py')
    train = coco.train_dataloader.dataset
    assert (train.type, train.data_root, train.ann_file, train.filter_cfg,
            train.metainfo.classes) == (
        'UserCocoDataset', 'data/digits_det/',
        'annotations/instances_trainval.json', None, DIGITS)
    assert coco.val_evaluator.type == coco.test_evaluator.type == 'CocoMetric'
    assert coco.val_evaluator.ann_file == \
        'data/digits_det/annotations/instances_test.json'


def test_data_helpers_fit_the_evaluator_to_the_format():
    coco_base = Config.fromfile(f'{REPO}/configs/miaod_coco.py')
    # a VOC tree under a COCO-evaluated config: VOC's mAP; one folder: no
    # ConcatDataset
    voc = user_voc_data(coco_base, 'data/mine/', ('cat', ),
                        train_sets=('VOC2007', ))
    assert voc.train_dataloader['dataset']['type'] == 'UserVOCDataset'
    assert voc.val_evaluator['type'] == 'ClasswiseVOCMetric'
    # a COCO json under it: its CocoMetric options, the user's json
    coco = user_coco_data(coco_base, 'data/mine/', ('cat', ), 'a.json',
                          'b.json', img_prefix='images/')
    assert coco.val_evaluator == dict(coco_base.val_evaluator,
                                      ann_file='data/mine/b.json',
                                      _delete_=True)
    assert coco.test_dataloader['dataset']['data_prefix'] == dict(
        img='images/')
    # a list of metrics that read no json: kept for a VOC tree, CocoMetric
    # instead for a json
    metrics = [dict(type='VOCMetric'), dict(type='FROCMetric')]
    listed = dict(coco_base.to_dict(), val_evaluator=metrics)
    assert user_voc_data(listed, 'data/mine/', ('cat', )).val_evaluator \
        == metrics
    coco = user_coco_data(listed, 'data/mine/', ('cat', ), 'a.json', 'b.json')
    assert (coco.val_evaluator['type'], coco.val_evaluator['ann_file']) == (
        'CocoMetric', 'data/mine/b.json')
    with pytest.raises(ValueError, match=r"written \('cat',\) \(note"):
        user_voc_data(coco_base, 'data/mine/', ('cat'))


def test_malformed_annotation_files_are_named(tmp_path, digits_root):
    root = voc_tree(digits_root, tmp_path / 'my_voc', lambda name: 'digit')
    xml = sorted((root / 'VOC2012' / 'Annotations').glob('*.xml'))[2]
    xml.write_text('<annotation><object><name>digit</name>')
    with pytest.raises(ValueError, match=f'malformed annotation file {xml}'):
        UserVOCDataset(
            data_root=str(root), ann_file='VOC2012/ImageSets/Main/'
            'trainval.txt', data_prefix=dict(sub_data_root='VOC2012/'),
            metainfo=dict(classes=('digit', )))
    ann = tmp_path / 'broken.json'
    ann.write_text('{"images": [{"id": 1}], "annotations": [')
    with pytest.raises(ValueError, match=f'malformed annotation file {ann}'):
        UserCocoDataset(ann_file=str(ann), metainfo=dict(classes=('a', )))


def test_class_names_are_checked(tmp_path, digits_root):
    root = voc_tree(digits_root, tmp_path / 'my_voc', lambda name: name)
    voc = dict(data_root=str(root), ann_file='VOC2007/ImageSets/Main/'
               'test.txt', data_prefix=dict(sub_data_root='VOC2007/'))
    with pytest.raises(ValueError, match='UserVOCDataset needs metainfo'):
        UserVOCDataset(**voc)
    with pytest.raises(ValueError, match=r"written \('7',\) \(note"):
        UserVOCDataset(**voc, metainfo=dict(classes='7'))
    with pytest.raises(ValueError, match=r"lists \['7'\] more than once"):
        UserVOCDataset(**voc, metainfo=dict(classes=('7', '1', '7')))
    # names outside the classes: left out, counted in one warning (read
    # from the logger: a stream handler an earlier test's runner set up may
    # write past pytest's capture)
    messages = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = lambda record: messages.append(record.getMessage())
    logger = MMLogger.get_current_instance()
    logger.addHandler(handler)
    try:
        dataset = UserVOCDataset(**voc, metainfo=dict(classes=('7', )))
    finally:
        logger.removeHandler(handler)
    log = '\n'.join(messages)
    names = re.findall(r'<name>(\w+)</name>', ''.join(
        (root / 'VOC2007' / 'Annotations' / f'{img_id}.xml').read_text()
        for img_id in (root / voc['ann_file']).read_text().split()))
    labels = [i['bbox_label'] for d in dataset for i in d['instances']]
    assert labels == [0] * names.count('7') and labels
    counts = re.search(r'are left out: (.*) \(the first in', log)
    assert counts and counts.group(1) == ', '.join(
        f"'{n}' x{names.count(n)}" for n in sorted(set(names) - {'7'}))
    assert dataset.metainfo['dataset_type'] == 'user'  # not VOC2007

    ann = shapes_json(digits_root / 'annotations' / 'instances_test.json',
                      tmp_path / 'shapes.json')
    coco = dict(data_root=str(digits_root), ann_file=str(ann),
                data_prefix=dict(img=''))
    with pytest.raises(ValueError, match=f'{ann}: list metainfo classes in '
                       r"the order of its categories: \('loop', 'curve'\)"):
        UserCocoDataset(**coco, metainfo=dict(classes=('curve', 'loop')))
    with pytest.raises(ValueError, match=f"{ann}: metainfo classes "
                       r"\['7'\] are not among its categories"):
        UserCocoDataset(**coco, metainfo=dict(classes=('loop', '7')))
    dataset = UserCocoDataset(**coco, metainfo=dict(classes=('stroke', )))
    labels = {i['bbox_label'] for d in dataset for i in d['instances']}
    assert labels == {0} and dataset.metainfo['classes'] == ('stroke', )


@pytest.mark.parametrize('base,strategy,options', [
    ('tests/configs/miaod_digits_tiny.py', 'InstanceUncertaintyStrategy',
     []),
    ('tests/configs/entropy_digits_tiny.py', 'EntropyStrategy',
     ['train_cfg.epochs=1']),
], ids=['miaod', 'entropy'])
def test_one_class_voc_experiment(tmp_path, one_class_voc, base, strategy,
                                  options):
    config = user_config(tmp_path / 'my_config.py', base, ('digit', ),
                         f"user_voc_data(_base_, '{one_class_voc}/', classes)")
    proc = train(config, tmp_path / 'work', *options)
    results = check_two_cycles(tmp_path / 'work', strategy)
    assert all('pascal_voc/mAP' in r['metrics'] for r in results)
    log = proc.stdout + proc.stderr
    assert voc_tables(log) == [['digit'], ['digit']]  # one a cycle
    assert 'aeroplane' not in log
    for c in (0, 1):  # a pool of two VOC folders: one id list each
        assert {f.name for f in (tmp_path / 'work' / f'cycle{c}').iterdir()
                } >= {'trainval_X_L_07.txt', 'trainval_X_L_12.txt'}


def coco_split_ids(work_dir, ann):
    """The json image ids of X_L_0 / X_L_1, and those its id lists hold."""
    ids = [img['id'] for img in json.loads(ann.read_text())['images']]
    want = [[str(ids[i]) for i in np.load(work_dir / f'X_L_{c}.npy')]
            for c in (0, 1)]
    have = [(work_dir / f'cycle{c}' / 'trainval_X_L_0.txt').read_text()
            .split() for c in (0, 1)]
    return want, have


def test_coco_miaod_experiment(tmp_path, digits_root):
    ann = 'annotations/instances_trainval.json'
    config = user_config(
        tmp_path / 'my_config.py', 'tests/configs/miaod_digits_tiny.py',
        DIGITS, f"user_coco_data(_base_, '{digits_root}/', classes, '{ann}', "
        "'annotations/instances_test.json')")
    train(config, tmp_path / 'work', *ANY_DETECTIONS)
    results = check_two_cycles(tmp_path / 'work',
                               'InstanceUncertaintyStrategy')
    for r in results:
        assert 0 <= r['metrics']['coco/bbox_mAP_50'] <= 1
    want, have = coco_split_ids(tmp_path / 'work', digits_root / ann)
    assert have == want


def test_coco_random_experiment_with_custom_classes(tmp_path, digits_root):
    train_ann = shapes_json(
        digits_root / 'annotations' / 'instances_trainval.json',
        tmp_path / 'train.json')
    test_ann = shapes_json(digits_root / 'annotations' / 'instances_test.json',
                           tmp_path / 'test.json')
    config = user_config(
        tmp_path / 'my_config.py', 'tests/configs/random_digits_tiny.py',
        tuple(SHAPES), f"user_coco_data(_base_, '{digits_root}/', classes, "
        f"'{train_ann}', '{test_ann}')")
    proc = train(config, tmp_path / 'work', 'train_cfg.epochs=1',
                 *ANY_DETECTIONS, 'val_evaluator.classwise=True',
                 'test_evaluator.classwise=True')
    results = check_two_cycles(tmp_path / 'work', 'RandomStrategy')
    for r in results:
        assert 0 <= r['metrics']['coco/bbox_mAP_50'] <= 1
        assert {k for k in r['metrics'] if k.endswith('_precision')} == {
            f'coco/{name}_precision' for name in SHAPES}
    want, have = coco_split_ids(tmp_path / 'work', train_ann)
    assert have == want
    log = proc.stdout + proc.stderr
    assert re.search(r'\| loop\s+\|', log)
