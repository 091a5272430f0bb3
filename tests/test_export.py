"""Exports for annotators: ``tools/export_selection.py`` and
``tools/query.py`` on the files of a tiny real experiment, and the pieces
of :mod:`al_plugin.engine.export` they are made of."""
import json
import os.path as osp
import re
import shutil

import numpy as np
import pytest
from PIL import Image
from pycocotools.coco import COCO

from .conftest import run_tool
from .test_resume import _data_root_options
from .test_strategy_configs import TINY

_ONE_CYCLE = {
    'train_cfg.cycles': '[0]',
    'train_cfg.epochs': '1',
    'train_cfg.lr_decay_epochs': '[]',
    # the selection after the only cycle: selection_1.json
    'custom_hooks.0.select_after_last': 'True',
    # every anchor's class probabilities: the untrained model's entropies
    # then differ from image to image (with the default 0.05 all are 0)
    'custom_hooks.0.scorer_cfg.box_score_thr': '0.0',
}
ONE_CYCLE = [o for o in TINY if o.split('=')[0] not in _ONE_CYCLE
             ] + [f'{k}={v}' for k, v in _ONE_CYCLE.items()]
#: the model keeps its max_per_img best boxes, whatever their score (an
#: untrained RetinaNet scores every box about 0.01, below test_cfg's 0.05)
ALL_BOXES = ['--cfg-options', 'model.test_cfg.score_thr=0.0']
BUDGET = 4
POOL_SIZE = 32


@pytest.fixture(scope='module')
def experiment(tmp_path_factory, digits_root):
    """A one-cycle entropy experiment on the 32 digits images, 8 labeled
    first; its work dir holds ``selection_1.json`` and ``cycle_0.pth``."""
    work_dir = tmp_path_factory.mktemp('export') / 'entropy'
    run_tool([
        'tools/train.py', 'configs/entropy_digits.py', '--work-dir',
        str(work_dir), '--cfg-options'
    ] + ONE_CYCLE + _data_root_options(digits_root))
    return work_dir


def model_args(work_dir):
    """CONFIG CHECKPOINT: the config the run dumped (data roots included)
    and the model that made selection 1."""
    return [str(work_dir / 'entropy_digits.py'), str(work_dir / 'cycle_0.pth')]


@pytest.fixture(scope='module')
def exported(experiment, tmp_path_factory):
    """The export of selection 1 with every detection (``--score-thr 0``)."""
    out = tmp_path_factory.mktemp('exported')
    run_tool([
        'tools/export_selection.py', *model_args(experiment),
        str(experiment), '--cycle', '1', '--score-thr', '0', '--out',
        str(out)
    ] + ALL_BOXES)
    return out


def pool_paths(digits_root):
    """The image of every pool index: the lines of DIGITS2007's
    trainval.txt, then DIGITS2012's (the ConcatDataset's order)."""
    paths = []
    for year in ('2007', '2012'):
        folder = digits_root / 'VOCdevkit' / f'DIGITS{year}'
        ids = (folder / 'ImageSets/Main/trainval.txt').read_text().split()
        paths += [str(folder / 'JPEGImages' / f'{i}.jpg') for i in ids]
    assert len(paths) == POOL_SIZE
    return paths


def check_annotations(coco: COCO, score_thr: float) -> list:
    """Every box of a COCO export scores >= thr, lies inside its image and
    names one of the 10 classes; returns the annotations."""
    anns = coco.dataset['annotations']
    assert anns, 'no box to check'
    images = {im['id']: im for im in coco.dataset['images']}
    touching = 0
    for ann in anns:
        assert ann['score'] >= score_thr
        assert 1 <= ann['category_id'] <= 10
        im = images[ann['image_id']]
        x, y, w, h = ann['bbox']
        assert x >= 0 and y >= 0 and w > 0 and h > 0
        assert x + w <= im['width'] and y + h <= im['height']
        touching += x + w == im['width'] or y + h == im['height']
    # The original frame, not the resized one: in the test pipeline's
    # frame (twice the size) about half the boxes would be clipped to the
    # image's right or bottom edge.
    assert touching < 0.25 * len(anns)
    return anns


def test_export_selection_writes_the_selected_images(experiment, exported,
                                                     digits_root):
    selection = json.loads((experiment / 'selection_1.json').read_text())
    assert len(selection['indices']) == BUDGET
    expected = [pool_paths(digits_root)[i] for i in selection['indices']]

    lines = (exported / 'selection_1_images.txt').read_text().splitlines()
    assert lines == expected
    coco = COCO(str(exported / 'selection_1_coco.json'))
    images = coco.dataset['images']
    assert [im['id'] for im in images] == selection['indices']
    assert [im['img_id'] for im in images] == selection['img_ids']
    root = coco.dataset['info']['image_root']
    assert [osp.join(root, im['file_name']) for im in images] == expected
    for im, path in zip(images, expected):
        with Image.open(path) as image:
            assert (im['width'], im['height']) == image.size
    assert [c['name'] for c in coco.dataset['categories']
            ] == [str(d) for d in range(10)]
    check_annotations(coco, 0.0)
    assert all(coco.getAnnIds(imgIds=[i]) for i in selection['indices'])


def test_query_picks_what_the_selection_hook_picked(experiment, exported,
                                                    digits_root, tmp_path):
    """A folder of the experiment's pool images, scored by query.py with
    the model that made selection 1: the same images, order and scores."""
    selection = json.loads((experiment / 'selection_1.json').read_text())
    paths = pool_paths(digits_root)
    labeled = set(np.load(experiment / 'X_L_0.npy').tolist())
    folder = tmp_path / 'images'
    names = {}  # pool index -> path in the folder
    for index in sorted(set(range(POOL_SIZE)) - labeled):
        year = '07' if 'DIGITS2007' in paths[index] else '12'
        names[index] = folder / year / osp.basename(paths[index])
        names[index].parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(paths[index], names[index])
    # a lossless copy as png: the same pixels, hence the same score
    first = min(names)
    with Image.open(names[first]) as image:
        image.save(names[first].with_suffix('.png'))
    names[first].unlink()
    names[first] = names[first].with_suffix('.png')
    (folder / 'notes.txt').write_text('not an image')
    (folder / 'broken.jpg').write_bytes(b'not a jpeg')
    # pre-annotations: the better half of the exported boxes
    all_boxes = COCO(str(exported / 'selection_1_coco.json'))
    thr = float(np.median([a['score'] for a in all_boxes.dataset[
        'annotations']]))

    out = tmp_path / 'query'
    run_tool([
        'tools/query.py', *model_args(experiment),
        str(folder), '--budget',
        str(BUDGET), '--score-thr', repr(thr), '--out',
        str(out)
    ] + ALL_BOXES)

    picked = (out / 'query_images.txt').read_text().splitlines()
    assert picked == [str(names[i]) for i in selection['indices']]
    table = json.loads((out / 'query_scores.json').read_text())
    np.testing.assert_allclose([table[p]['score'] for p in picked],
                               selection['scores'], rtol=1e-9)
    assert table.pop(str(folder / 'broken.jpg'))['error']
    assert set(table) == {str(p) for p in names.values()}  # no notes.txt
    by_rank = sorted(table.values(), key=lambda r: r['rank'])
    assert [r['rank'] for r in by_rank] == list(range(1, len(names) + 1))
    assert [r['selected'] for r in by_rank
            ] == [True] * BUDGET + [False] * (len(names) - BUDGET)
    scores = np.array([r['score'] for r in by_rank])
    assert np.all(np.diff(scores) <= 0) and scores[0] > scores[-1]

    coco = COCO(str(out / 'query_coco.json'))
    root = coco.dataset['info']['image_root']
    assert [osp.join(root, im['file_name'])
            for im in coco.dataset['images']] == picked
    anns = check_annotations(coco, thr)
    # the same boxes as export_selection's for the same images, >= thr
    by_path = dict(zip(picked, selection['indices']))
    for im in coco.dataset['images']:
        path = osp.join(root, im['file_name'])
        ours = coco.loadAnns(coco.getAnnIds(imgIds=[im['id']]))
        theirs = [
            a for a in all_boxes.loadAnns(
                all_boxes.getAnnIds(imgIds=[by_path[path]]))
            if a['score'] >= thr
        ]
        assert [a['category_id'] for a in ours
                ] == [a['category_id'] for a in theirs]
        np.testing.assert_allclose([a['bbox'] + [a['score']] for a in ours],
                                   [a['bbox'] + [a['score']]
                                    for a in theirs], rtol=1e-5)
    assert 0 < len(anns) < len(all_boxes.dataset['annotations'])


@pytest.mark.parametrize('case', [
    'cycle 2', 'cycle 0', 'no checkpoint', 'score-thr', 'no img_ids'
])
def test_export_selection_refuses_bad_arguments(experiment, tmp_path, case):
    config, checkpoint = model_args(experiment)
    work_dir, cycle, thr = experiment, '1', '0.3'
    if case == 'cycle 2':
        cycle, message = '2', (f'{experiment}/selection_2.json does not '
                               'exist: cycle 2 has no selection; '
                               f'{experiment} has selections of cycles [1]')
    elif case == 'cycle 0':
        cycle, message = '0', 'cycle 0 has no selection'
    elif case == 'no checkpoint':
        checkpoint = str(experiment / 'cycle_7.pth')
        message = f'checkpoint {checkpoint} does not exist'
    elif case == 'score-thr':
        thr, message = '1.5', '--score-thr must be in [0, 1], got 1.5'
    else:
        work_dir = tmp_path
        (tmp_path / 'selection_1.json').write_text('{"indices": [3]}')
        message = f"{tmp_path}/selection_1.json has no 'img_ids' key"
    proc = run_tool([
        'tools/export_selection.py', config, checkpoint,
        str(work_dir), '--cycle', cycle, '--score-thr', thr, '--out',
        str(tmp_path / 'out')
    ], check=False)
    assert proc.returncode != 0
    assert message in proc.stderr
    assert not (tmp_path / 'out').exists()


@pytest.mark.parametrize('case', ['no checkpoint', 'budget', 'no folder'])
def test_query_refuses_bad_arguments(experiment, tmp_path, case):
    config, checkpoint = model_args(experiment)
    folder, budget = tmp_path, '4'
    if case == 'no checkpoint':
        checkpoint = str(tmp_path / 'missing.pth')
        message = f'checkpoint {checkpoint} does not exist'
    elif case == 'budget':
        budget, message = '0', '--budget must be >= 1, got 0'
    else:
        folder = tmp_path / 'missing'
        message = f'image folder {folder} does not exist'
    proc = run_tool([
        'tools/query.py', config, checkpoint,
        str(folder), '--budget', budget, '--out',
        str(tmp_path / 'out')
    ], check=False)
    assert proc.returncode != 0
    assert message in proc.stderr


def test_to_coco_converts_filters_and_clips():
    from al_plugin.engine.export import to_coco
    record = dict(
        id=7,
        img_path='/data/a/b/img.jpg',
        height=40,
        width=50,
        bboxes=np.array([[10, 5, 30, 25], [-4, 2, 8, 60], [45, 1, 70, 9],
                         [60, 10, 80, 20], [1, 1, 2, 2]], np.float32),
        scores=np.array([0.9, 0.5, 0.4, 0.95, 0.2], np.float32),
        labels=np.array([2, 0, 1, 1, 0]),
        meta=dict(img_id='img'))
    coco = to_coco([record], ('x', 'y', 'z'), score_thr=0.4)
    assert coco['images'] == [
        dict(id=7, file_name='img.jpg', width=50, height=40, img_id='img')
    ]
    assert coco['info']['image_root'] == '/data/a/b'
    assert [c['name'] for c in coco['categories']] == ['x', 'y', 'z']
    # xyxy -> xywh; clipped to the 50 x 40 image; the box right of the
    # image (no area left) and the one below the threshold are dropped
    assert [(a['category_id'], a['bbox'], a['area'])
            for a in coco['annotations']] == [(3, [10, 5, 20, 20], 400),
                                              (1, [0, 2, 8, 38], 304),
                                              (2, [45, 1, 5, 8], 40)]
    assert [a['score'] for a in coco['annotations']
            ] == pytest.approx([0.9, 0.5, 0.4])
    assert [a['id'] for a in coco['annotations']] == [1, 2, 3]
    with pytest.raises(ValueError, match='label 3 is not one of the 3'):
        to_coco([dict(record, labels=np.array([3, 0, 0, 0, 0]))],
                ('x', 'y', 'z'))
    with pytest.raises(ValueError, match=r'score_thr must be in \[0, 1\]'):
        to_coco([record], ('x', 'y', 'z'), score_thr=-0.1)


def test_image_folder_dataset_lists_images(tmp_path):
    from al_plugin.datasets import ImageFolderDataset
    for name in ('b.JPG', 'a.png', 'sub/c.jpeg', 'notes.txt', '.hidden.jpg'):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(b'')
    dataset = ImageFolderDataset(data_root=str(tmp_path))
    assert [dataset.get_data_info(i)['img_id'] for i in range(len(dataset))
            ] == ['a.png', 'b.JPG', 'sub/c.jpeg']
    assert dataset.get_data_info(2)['img_path'] == str(tmp_path / 'sub/c.jpeg')
    assert len(ImageFolderDataset(data_root=str(tmp_path),
                                  recursive=False)) == 2
    empty = tmp_path / 'sub' / 'empty'
    empty.mkdir()
    with pytest.raises(FileNotFoundError,
                       match=re.escape(f'no image in {empty} (')):
        ImageFolderDataset(data_root=str(empty))
