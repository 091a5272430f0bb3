"""Tests of ``tools/make_digits_det.py`` and the digits datasets."""
import hashlib
import importlib.util
import json
import os
import os.path as osp
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from mmengine.dataset import ConcatDataset
from PIL import Image

from al_plugin.datasets import DigitsCocoDataset, DigitsVOCDataset

ROOT = Path(__file__).resolve().parents[1]
TOOL = ROOT / 'tools' / 'make_digits_det.py'
SMALL = ['--min-size', '40', '--max-size', '56']
# images per subset of the ``long_tail`` set
NUM_IMAGES = dict(trainval=240, test=60)


def _load_tool():
    spec = importlib.util.spec_from_file_location('make_digits_det', TOOL)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


mdd = _load_tool()


def _make(out, *flags):
    """Generate a small set into ``out`` through the command line."""
    mdd.main(['--out', str(out), *SMALL, *flags])
    return Path(out)


@pytest.fixture(scope='module')
def long_tail(tmp_path_factory):
    """A set with the default class imbalance and many empty images."""
    out = tmp_path_factory.mktemp('long_tail') / 'digits'
    return _make(out, '--num-trainval', str(NUM_IMAGES['trainval']),
                 '--num-test', str(NUM_IMAGES['test']), '--empty-frac', '0.1')


def _voc(root, year, subset):
    return DigitsVOCDataset(
        data_root=str(root / 'VOCdevkit'),
        ann_file=f'DIGITS{year}/ImageSets/Main/{subset}.txt',
        data_prefix=dict(sub_data_root=f'DIGITS{year}/'),
        filter_cfg=None,
        test_mode=True,
        pipeline=[])


def _coco(root, subset):
    return DigitsCocoDataset(
        data_root=str(root),
        ann_file=f'annotations/instances_{subset}.json',
        data_prefix=dict(img=''),
        filter_cfg=None,
        test_mode=True,
        pipeline=[])


def _voc_subset(root, subset):
    """The VOC side of a subset: 2007 + 2012 trainval, or 2007 test."""
    if subset == 'test':
        return _voc(root, '2007', 'test')
    return ConcatDataset(
        [_voc(root, year, 'trainval') for year in ('2007', '2012')])


def _infos(dataset):
    return [dataset.get_data_info(i) for i in range(len(dataset))]


def _boxes(info):
    return [(inst['bbox'], inst['bbox_label'], inst['ignore_flag'])
            for inst in info['instances']]


def _hash_tree(root):
    return {
        str(path.relative_to(root)):
        hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob('*')) if path.is_file()
    }


def _class_counts(root, subset='trainval'):
    with open(root / 'annotations' / f'instances_{subset}.json') as f:
        anns = json.load(f)['annotations']
    return np.bincount([a['category_id'] - 1 for a in anns], minlength=10)


@pytest.mark.parametrize('subset', ['trainval', 'test'])
def test_voc_and_coco_agree(long_tail, subset):
    voc_infos = _infos(_voc_subset(long_tail, subset))
    coco_infos = _infos(_coco(long_tail, subset))
    assert len(voc_infos) == len(coco_infos) == NUM_IMAGES[subset]
    for v, c in zip(voc_infos, coco_infos):
        assert osp.normpath(v['img_path']) == osp.normpath(c['img_path'])
        assert int(v['img_id']) == c['img_id']
        assert (v['height'], v['width']) == (c['height'], c['width'])
        assert _boxes(v) == _boxes(c)
    assert sum(len(v['instances']) for v in voc_infos) > len(voc_infos)
    # difficult digits come out ignored in both formats
    assert any(inst['ignore_flag'] for v in voc_infos
               for inst in v['instances'])


def test_boxes_inside_images(long_tail):
    infos = [_infos(_voc_subset(long_tail, s)) for s in NUM_IMAGES]
    for info in infos[0] + infos[1]:
        with Image.open(info['img_path']) as img:
            assert img.size == (info['width'], info['height'])
            assert img.mode == 'RGB'
        assert 40 <= min(img.size) and max(img.size) <= 56
        for inst in info['instances']:
            x0, y0, x1, y1 = inst['bbox']
            assert 0 <= x0 < x1 < info['width']
            assert 0 <= y0 < y1 < info['height']


def test_class_probs():
    probs = mdd.class_probs(10.0, seed=3)
    assert probs.sum() == pytest.approx(1)
    assert probs.max() / probs.min() == pytest.approx(10)
    assert len(np.unique(probs.round(12))) == 10
    assert not np.array_equal(
        np.argsort(probs), np.argsort(mdd.class_probs(10.0, seed=4)))
    np.testing.assert_allclose(mdd.class_probs(1.0, seed=3), 0.1)


def test_long_tailed_class_counts(long_tail):
    counts = _class_counts(long_tail)
    expected = mdd.class_probs(10.0, seed=0) * counts.sum()
    # frequent classes come first, and the head / tail ratio is about 10
    order = np.argsort(-expected)
    assert np.corrcoef(
        np.argsort(np.argsort(counts)),
        np.argsort(np.argsort(expected)))[0, 1] > 0.9
    assert 5 < counts[order[0]] / counts[order[-1]] < 20
    assert np.all(np.abs(counts - expected) < 4 * np.sqrt(expected) + 3)


def test_balanced_class_counts(tmp_path):
    root = _make(tmp_path / 'digits', '--num-trainval', '300', '--num-test',
                 '1', '--imbalance', '1')
    counts = _class_counts(root)
    assert counts.sum() > 600
    assert np.all(np.abs(counts / counts.mean() - 1) < 0.3)


def test_same_seed_same_files(tmp_path):
    flags = ['--num-trainval', '12', '--num-test', '4']
    first = _hash_tree(_make(tmp_path / 'a', *flags))
    # per image a JPEG, its XML and its link in images/; 3 image sets,
    # 2 labelmap.txt, meta.json and 2 COCO jsons
    assert len(first) == 3 * 16 + 3 + 2 + 3
    assert first == _hash_tree(_make(tmp_path / 'b', *flags))
    other = _hash_tree(_make(tmp_path / 'c', *flags, '--seed', '1'))
    assert other.keys() == first.keys()
    differ = [k for k in first if first[k] != other[k]]
    assert any(k.endswith('.jpg') for k in differ)
    assert any(k.endswith('.xml') for k in differ)


def test_held_out_handwriting(monkeypatch, tmp_path):
    _, labels = mdd.load_glyphs()
    train, test = mdd.split_glyphs(labels, seed=0)
    assert not set(train) & set(test)
    assert len(train) + len(test) == len(labels) == 1797
    for c in range(10):
        share = np.mean(labels[test] == c) / np.mean(labels == c)
        assert share == pytest.approx(1, abs=0.05)
    assert not np.array_equal(test, mdd.split_glyphs(labels, seed=1)[1])

    # test canvases draw digits and fragments from the held-out glyphs only
    used = []
    render = mdd.render_image

    def spy(rng, kind, height, width, bank, probs):
        used.append(bank)
        return render(rng, kind, height, width, bank, probs)

    monkeypatch.setattr(mdd, 'render_image', spy)
    _make(tmp_path / 'digits', '--num-trainval', '3', '--num-test', '2')
    subsets = [t.subset for t in mdd.plan_images(3, 2, 0.02, 0)]
    for subset, bank in zip(subsets, used):
        expected = test if subset == 'test' else train
        np.testing.assert_array_equal(bank.indices, expected)
        assert all(np.isin(idx, expected).all() for idx in bank.by_class)


def test_empty_images(long_tail):
    for year, subset, num in (('2007', 'trainval', 80), ('2007', 'test', 60),
                              ('2012', 'trainval', 160)):
        folder = long_tail / 'VOCdevkit' / f'DIGITS{year}'
        names = (folder / 'ImageSets' / 'Main' /
                 f'{subset}.txt').read_text().split()
        assert len(names) == num
        empty = [
            name for name in names
            if not ET.parse(folder / 'Annotations' /
                            f'{name}.xml').findall('object')
        ]
        assert len(empty) == round(0.1 * num)


def test_difficult_flags():
    # the second digit covers 60 % of the first, nothing covers the second
    assert mdd.difficult_flags([(0, 0, 9, 9), (0, 0, 9, 5)]) == [True, False]
    assert mdd.difficult_flags([(0, 0, 9, 9), (0, 0, 9, 3)]) == [False, False]
    # two later digits together cover 60 %
    assert mdd.difficult_flags([(0, 0, 9, 9), (0, 0, 2, 9),
                                (7, 0, 9, 9)]) == [True, False, False]


def test_dataset_metainfo(long_tail, tmp_path):
    dataset = _voc_subset(long_tail, 'trainval')
    assert dataset.metainfo['classes'] == tuple('0123456789')
    assert len(dataset.metainfo['palette']) == 10
    assert dataset.metainfo['dataset_type'] not in ('VOC2007', 'VOC2012')
    # even a tree under a VOC-like name keeps the digit identity
    os.symlink(long_tail / 'VOCdevkit' / 'DIGITS2007', tmp_path / 'VOC2007')
    voc_named = DigitsVOCDataset(
        data_root=str(tmp_path),
        ann_file='VOC2007/ImageSets/Main/test.txt',
        data_prefix=dict(sub_data_root='VOC2007/'),
        test_mode=True,
        pipeline=[])
    assert voc_named.metainfo['dataset_type'] not in ('VOC2007', 'VOC2012')
    coco = _coco(long_tail, 'test')
    assert coco.metainfo['classes'] == tuple('0123456789')


def test_existing_output(tmp_path, capsys):
    flags = ['--num-trainval', '4', '--num-test', '2']
    out = _make(tmp_path / 'digits', *flags)
    assert 'trainval: 4 images' in capsys.readouterr().out
    marker = out / 'marker'
    marker.touch()

    _make(out, *flags)
    assert 'up to date' in capsys.readouterr().out
    assert marker.exists()

    with pytest.raises(SystemExit, match='--force'):
        _make(out, *flags, '--seed', '1')
    assert marker.exists()
    assert json.loads((out / 'meta.json').read_text())['seed'] == 0

    _make(out, *flags, '--seed', '1', '--force')
    assert not marker.exists()
    assert json.loads((out / 'meta.json').read_text())['seed'] == 1
    assert sorted(os.listdir(tmp_path)) == ['digits']

    # a folder the tool did not make is never replaced silently
    (tmp_path / 'other').mkdir()
    with pytest.raises(SystemExit, match='--force'):
        _make(tmp_path / 'other', *flags)


def test_cli_up_to_date(tmp_path):
    out = _make(tmp_path / 'digits', '--num-trainval', '2', '--num-test', '1')
    cmd = [sys.executable, str(TOOL), '--out', str(out), *SMALL]
    cmd += ['--num-trainval', '2', '--num-test', '1']
    result = subprocess.run(cmd, capture_output=True, text=True, check=True)
    assert 'up to date' in result.stdout
