"""Bad input: unreadable images, malformed annotations, empty images, a
budget beyond the pool, a resume with other split settings."""
import json
import re
import shutil

import numpy as np
import pytest

from al_plugin.datasets import DigitsCocoDataset, DigitsVOCDataset
from .conftest import run_tool
from .test_resume import _data_root_options
from .test_strategy_configs import TINY, check_two_cycle_files, run_tiny

SEED = 666  # the configs' randomness seed, which X_L_0 is drawn with


def pool_files(root):
    """Global index -> (image path, annotation path) of the tiny pool, in
    pool order (DIGITS2007 then DIGITS2012 trainval lines)."""
    files = []
    for year in ('2007', '2012'):
        sub = root / 'VOCdevkit' / f'DIGITS{year}'
        ids = (sub / 'ImageSets/Main/trainval.txt').read_text().split()
        for img_id in ids:
            files.append((sub / 'JPEGImages' / f'{img_id}.jpg',
                          sub / 'Annotations' / f'{img_id}.xml'))
    return files


@pytest.fixture
def damaged_root(tmp_path, digits_root):
    """A copy of the tiny set with a corrupt image in X_L_0, a missing and
    a corrupt image in the pool, and an image without objects."""
    root = tmp_path / 'data'
    shutil.copytree(digits_root, root)
    order = np.random.RandomState(SEED).permutation(32)
    files = pool_files(root)
    damage = dict(
        labeled_corrupt=int(order[0]),  # X_L_0 is order[:8]
        pool_missing=int(order[10]),
        pool_corrupt=int(order[11]),
        pool_empty=int(order[12]))
    files[damage['labeled_corrupt']][0].write_bytes(b'not a jpeg')
    files[damage['pool_missing']][0].unlink()
    files[damage['pool_corrupt']][0].write_bytes(b'\xff\xd8 truncated')
    xml = files[damage['pool_empty']][1]
    xml.write_text(re.sub(r'<object>.*?</object>', '', xml.read_text(),
                          flags=re.S))
    return root, damage


def test_unreadable_images_are_skipped_and_never_selected(
        tmp_path, damaged_root):
    root, damage = damaged_root
    work_dir = tmp_path / 'work'
    proc = run_tiny('configs/entropy_digits.py', work_dir, root)
    sel = check_two_cycle_files(work_dir, 'EntropyStrategy', True)
    broken = sorted([damage['pool_missing'], damage['pool_corrupt']])
    assert sel['skipped'] == broken
    assert not set(broken) & set(sel['indices'])
    assert len(sel['indices']) == 4  # the budget is still filled
    log = proc.stdout + proc.stderr
    assert '2 pool image(s) cannot be read and are left out' in log
    # the corrupt labeled image is replaced in training, with a warning
    assert f'pool image {damage["labeled_corrupt"]} cannot be read' in log
    X_L_0 = np.load(work_dir / 'X_L_0.npy')
    assert damage['labeled_corrupt'] in X_L_0
    assert damage['pool_empty'] not in sel['skipped']


def test_random_selection_skips_missing_files(tmp_path, damaged_root):
    root, damage = damaged_root
    work_dir = tmp_path / 'work'
    run_tiny('configs/random_digits.py', work_dir, root,
             'train_cfg.splitter.X_S_size=23')  # all but the missing one
    sel = check_two_cycle_files(work_dir, 'RandomStrategy', False, 23)
    # a strategy that scores nothing reads no image: only the missing file
    # is known, and it is the one pool image left unselected
    assert sel['skipped'] == [damage['pool_missing']]
    assert len(sel['indices']) == 23
    assert damage['pool_missing'] not in sel['indices']


def test_malformed_annotation_files_are_named(tmp_path, digits_root):
    root = tmp_path / 'data'
    shutil.copytree(digits_root, root)
    _, xml = pool_files(root)[3]
    xml.write_text('<annotation><object>')
    with pytest.raises(ValueError, match=f'malformed annotation file {xml}'):
        DigitsVOCDataset(
            data_root=str(root / 'VOCdevkit'),
            ann_file='DIGITS2007/ImageSets/Main/trainval.txt',
            data_prefix=dict(sub_data_root='DIGITS2007/'))
    ann = root / 'annotations' / 'instances_trainval.json'
    ann.write_text('{"images": [')
    with pytest.raises(ValueError, match=f'malformed annotation file {ann}'):
        DigitsCocoDataset(data_root=str(root), ann_file=str(ann))


def test_budget_beyond_the_pool_selects_the_rest_and_stops(
        tmp_path, digits_root):
    proc = run_tiny('configs/random_digits.py', tmp_path, digits_root,
                    'train_cfg.cycles=[0,1,2,3]',
                    'train_cfg.splitter.X_L_0_size=26')
    sizes = [len(np.load(tmp_path / f'X_L_{c}.npy')) for c in (0, 1, 2)]
    assert sizes == [26, 30, 32]  # the last selection takes the 2 left
    assert json.loads(
        (tmp_path / 'selection_2.json').read_text())['pool_size'] == 0
    assert not (tmp_path / 'X_L_3.npy').exists()
    results = json.loads((tmp_path / 'results.json').read_text())
    assert [r['cycle'] for r in results] == [0, 1, 2]
    log = proc.stdout + proc.stderr
    assert 'the pool is exhausted, nothing to select' in log
    assert 'every pool image is labeled): the experiment stops before ' \
        'cycle 3' in log


def test_resume_with_other_split_settings_is_refused(tmp_path, digits_root):
    run_tiny('configs/random_digits.py', tmp_path, digits_root,
             'train_cfg.cycles=[0]')
    args = ['tools/train.py', 'configs/random_digits.py', '--work-dir',
            str(tmp_path), '--resume', '--cfg-options'] + TINY
    proc = run_tool(args + _data_root_options(digits_root) +
                    ['train_cfg.splitter.X_S_size=5'], check=False)
    assert proc.returncode != 0
    assert 'cannot resume: X_S_size=4 in the checkpoint but X_S_size=5' \
        in proc.stderr
