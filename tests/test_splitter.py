"""Tests of the active-dataset splitter and the ActiveSubset view.

The pool is two tiny VOC-format trees (``DIGITS2007``: 6 images,
``DIGITS2012``: 9 images) written into a temporary folder and loaded with
mmdet's ``VOCDataset`` in an mmengine ``ConcatDataset``: global indices 0..5
are the 2007 images, 6..14 the 2012 ones.
"""
import json
import os
import os.path as osp
import socket

import numpy as np
import pytest
import torch
import torch.distributed as torch_dist
import torch.multiprocessing as mp
from mmcv.transforms import LoadImageFromFile
from mmdet.datasets import VOCDataset
from mmdet.datasets.transforms import LoadAnnotations, PackDetInputs
from mmdet.structures import DetDataSample
from mmengine.dataset import BaseDataset, ConcatDataset
from PIL import Image

from al_plugin.datasets import ActiveDatasetSplitter, ActiveSubset
from al_plugin.datasets.splitter import check_partition, year_tag
from al_plugin.registry import SPLITTERS

CLASSES = ('a', 'b')
IDS = {
    '2007': [f'{i:06d}' for i in range(1, 7)],
    '2012': [f'2012_{i:06d}' for i in range(1, 10)],
}
# global index -> (tag, image id)
POOL = [('07', i) for i in IDS['2007']] + [('12', i) for i in IDS['2012']]
N = len(POOL)

XML = """<annotation>
  <size><width>{w}</width><height>{h}</height><depth>3</depth></size>
  <object><name>{name}</name><difficult>0</difficult>
    <bndbox><xmin>2</xmin><ymin>3</ymin><xmax>9</xmax><ymax>11</ymax></bndbox>
  </object>
</annotation>
"""


def write_voc(root, year, ids, images=False):
    """Write ``root/DIGITS<year>`` with one box an image (and jpgs)."""
    sub = osp.join(root, f'DIGITS{year}')
    for folder in ('Annotations', 'ImageSets/Main', 'JPEGImages'):
        os.makedirs(osp.join(sub, folder), exist_ok=True)
    with open(osp.join(sub, 'ImageSets/Main/trainval.txt'), 'w') as f:
        f.write(''.join(f'{i}\n' for i in ids))
    for k, img_id in enumerate(ids):
        with open(osp.join(sub, 'Annotations', f'{img_id}.xml'), 'w') as f:
            f.write(XML.format(w=16, h=12, name=CLASSES[k % 2]))
        if images:
            Image.new('RGB', (16, 12), (k * 20, 0, 0)).save(
                osp.join(sub, 'JPEGImages', f'{img_id}.jpg'))


def voc(root, year, pipeline=()):
    return VOCDataset(
        data_root=str(root),
        ann_file=f'DIGITS{year}/ImageSets/Main/trainval.txt',
        data_prefix=dict(sub_data_root=f'DIGITS{year}/'),
        metainfo=dict(classes=CLASSES),
        filter_cfg=None,
        pipeline=list(pipeline),
        lazy_init=False)


def build_pool(root, pipeline=()):
    return ConcatDataset([voc(root, y, pipeline) for y in ('2007', '2012')])


@pytest.fixture(scope='module')
def voc_root(tmp_path_factory):
    root = tmp_path_factory.mktemp('voc')
    for year, ids in IDS.items():
        write_voc(root, year, ids, images=True)
    return root


@pytest.fixture(scope='module')
def pool(voc_root):
    return build_pool(voc_root)


def make(pool, work_dir, **kwargs):
    cfg = dict(type='ActiveDatasetSplitter', X_L_0_size=4, X_S_size=3)
    cfg.update(kwargs)
    splitter = SPLITTERS.build(cfg)
    splitter.setup(pool, str(work_dir))
    return splitter


def first_pool(splitter, n):
    """The n lowest not-yet-labeled indices, as python ints."""
    return [int(i) for i in splitter.pool_indices()[:n]]


def read_lines(path):
    with open(path) as f:
        return f.read().splitlines()


def read_tree(folder):
    """{relative path: bytes} of every file below ``folder``."""
    files = {}
    for dirpath, _, names in os.walk(folder):
        for name in names:
            path = osp.join(dirpath, name)
            with open(path, 'rb') as f:
                files[osp.relpath(path, folder)] = f.read()
    return files


def tmp_leftovers(folder):
    return [p for p in read_tree(folder) if '.tmp' in p]


# --------------------------------------------------------------------------
# the pool
# --------------------------------------------------------------------------
def test_pool_ids_and_tags(pool, tmp_path):
    splitter = make(pool, tmp_path)
    assert splitter.pool_size == N
    assert splitter.tags == ['07', '12']
    assert splitter.cycle == 0
    np.testing.assert_array_equal(
        np.sort(
            np.concatenate(
                [splitter.labeled_indices(),
                 splitter.pool_indices()])), np.arange(N))


def test_year_tag_ignores_years_above_data_root(tmp_path):
    root = tmp_path / 'runs2019' / 'VOCdevkit'
    write_voc(root, '2012', IDS['2012'][:2])
    assert year_tag(voc(root, '2012')) == '12'
    # no data_root: absolute paths, the year nearest to their end wins
    sub = root / 'DIGITS2012'
    absolute = VOCDataset(
        ann_file=str(sub / 'ImageSets/Main/trainval.txt'),
        data_prefix=dict(sub_data_root=str(sub)),
        metainfo=dict(classes=CLASSES),
        pipeline=[])
    assert year_tag(absolute) == '12'


class IdDataset(BaseDataset):
    """A data-root-free mmengine dataset of bare image ids."""

    def __init__(self, ids):
        self._ids = ids
        super().__init__(serialize_data=False)

    def load_data_list(self):
        return [dict(img_id=i) for i in self._ids]


def test_plain_and_yearless_datasets(pool, tmp_path):
    plain = make(IdDataset(list(range(10))), tmp_path / 'plain')
    assert plain.tags == ['0']
    assert read_lines(tmp_path / 'plain/cycle0/trainval_X_L_0.txt') == [
        str(i) for i in plain.labeled_indices()
    ]
    mixed = ConcatDataset(
        [pool.datasets[1], IdDataset(['x', 'y', 'z'])],
        ignore_keys=list(pool.metainfo))
    assert make(mixed, tmp_path / 'mixed').tags == ['12', '1']


def test_duplicate_image_ids_rejected(tmp_path):
    # the same id in two subsets is fine, twice in one subset is not
    ok = ConcatDataset([IdDataset(['p', 'q']), IdDataset(['p', 'r'])])
    make(ok, tmp_path / 'ok', X_L_0_size=1, X_S_size=1)
    bad = ConcatDataset([IdDataset(['p', 'q']), IdDataset(['r', 's', 'r'])])
    with pytest.raises(ValueError, match=r"'r'.*'1'.*indices 2 and 4"):
        make(bad, tmp_path / 'bad', X_L_0_size=1, X_S_size=1)


@pytest.mark.parametrize('size', [0, N, N + 5, 0.01])
def test_x_l_0_size_out_of_range_rejected(pool, tmp_path, size):
    with pytest.raises(ValueError, match=rf'X_L_0_size.*pool size {N}'):
        make(pool, tmp_path, X_L_0_size=size)


def test_fraction_sizes(pool, tmp_path):
    splitter = make(pool, tmp_path, X_L_0_size=0.2, X_S_size=0.2)
    assert len(splitter.labeled_indices()) == 3  # 15 * 0.2
    assert splitter.budget() == 3


def test_setup_needs_work_dir(pool):
    with pytest.raises(ValueError, match='work_dir'):
        ActiveDatasetSplitter(X_L_0_size=4, X_S_size=3).setup(pool)


# --------------------------------------------------------------------------
# the split and its files
# --------------------------------------------------------------------------
def test_cycle_0_and_1_sizes_and_npy_files(pool, tmp_path):
    splitter = make(pool, tmp_path)
    x_l_0, x_u_0 = (np.load(tmp_path / f'X_{s}_0.npy') for s in 'LU')
    # the reference: seed numpy, shuffle arange(N), first / last X_L_0_size
    perm = np.random.RandomState(666).permutation(N)
    np.testing.assert_array_equal(x_l_0, np.sort(perm[:4]))
    np.testing.assert_array_equal(x_u_0, np.sort(perm[-4:]))
    splitter.commit(1, first_pool(splitter, 3))
    x_l_1, x_u_1 = (np.load(tmp_path / f'X_{s}_1.npy') for s in 'LU')
    assert (len(x_l_0), len(x_u_0), len(x_l_1), len(x_u_1)) == (4, 4, 7, 7)
    for array in (x_l_0, x_u_0, x_l_1, x_u_1):
        assert array.dtype == np.int64
        assert np.all(np.diff(array) > 0)
    assert np.intersect1d(x_l_1, x_u_1).size == 0  # 8 left: no padding
    np.testing.assert_array_equal(x_l_1, splitter.labeled_indices())
    np.testing.assert_array_equal(x_u_1, splitter.unlabeled_indices())
    np.testing.assert_array_equal(x_l_0, splitter.labeled_indices(0))
    np.testing.assert_array_equal(splitter.pool_indices(),
                                  np.setdiff1d(np.arange(N), x_l_1))
    assert splitter.cycle == 1
    assert not tmp_leftovers(tmp_path)


def test_txt_files_per_tag(pool, tmp_path):
    splitter = make(pool, tmp_path)
    splitter.commit(1, [int(i) for i in splitter.pool_indices()[-3:]])
    for cycle in (0, 1):
        for name in ('X_L', 'X_U'):
            indices = np.load(tmp_path / f'{name}_{cycle}.npy')
            for tag in ('07', '12'):
                expected = [POOL[i][1] for i in indices if POOL[i][0] == tag]
                path = tmp_path / f'cycle{cycle}/trainval_{name}_{tag}.txt'
                assert read_lines(path) == expected


def test_selection_json(pool, tmp_path):
    splitter = make(pool, tmp_path)
    selected = [int(i) for i in splitter.pool_indices()[[-1, 0, 5]]]
    unreadable = int(splitter.pool_indices()[1])
    splitter.commit(1, selected, scores=[0.9, 0.5, 0.25], strategy='MIAOD',
                    skipped=[unreadable])
    with open(tmp_path / 'selection_1.json') as f:
        record = json.load(f)
    assert record == dict(
        cycle=1,
        strategy='MIAOD',
        indices=selected,
        img_ids=[POOL[i][1] for i in selected],
        tags=[POOL[i][0] for i in selected],
        scores=[0.9, 0.5, 0.25],
        skipped=[unreadable],
        skipped_img_ids=[POOL[unreadable][1]],
        budget=3,
        X_L_size=7,
        X_U_size=7,
        pool_size=N - 7,
        total_size=N)
    assert not (tmp_path / 'selection_0.json').exists()


def test_seed_determinism(pool, tmp_path):
    trees = []
    for name, seed in (('a', 1), ('b', 1), ('c', 2)):
        splitter = make(pool, tmp_path / name, seed=seed)
        splitter.commit(1, first_pool(splitter, 3))
        trees.append(read_tree(tmp_path / name))
    assert trees[0] == trees[1]
    assert trees[0]['X_L_0.npy'] != trees[2]['X_L_0.npy']


def test_padding_budget_and_exhaustion(pool, tmp_path):
    splitter = make(pool, tmp_path, X_S_size=5)
    splitter.commit(1, first_pool(splitter, 5))
    labeled, pool_left = splitter.labeled_indices(), splitter.pool_indices()
    x_u = np.load(tmp_path / 'X_U_1.npy')
    # 9 labeled, 6 left: X_U = the whole pool + 3 random labeled images
    assert (len(labeled), len(pool_left), len(x_u)) == (9, 6, 9)
    assert len(np.unique(x_u)) == 9
    assert set(pool_left) <= set(x_u)
    assert len(np.intersect1d(x_u, labeled)) == 3
    assert splitter.budget() == 5
    splitter.commit(2, first_pool(splitter, 5))
    assert splitter.budget() == 1 and splitter.remaining_pool() == 1
    assert not splitter.is_exhausted
    splitter.commit(3, first_pool(splitter, 1))
    assert splitter.is_exhausted and splitter.budget() == 0
    np.testing.assert_array_equal(
        np.load(tmp_path / 'X_U_3.npy'), np.arange(N))
    splitter.commit(4, [])
    assert splitter.cycle == 4 and len(splitter.labeled_indices()) == N


def test_fixed_unlabeled_size(pool, tmp_path):
    splitter = make(pool, tmp_path, unlabeled_size=6)
    splitter.commit(1, first_pool(splitter, 3))
    assert len(splitter.unlabeled_indices(0)) == 6
    assert len(splitter.unlabeled_indices()) == 6


@pytest.mark.parametrize('case', [
    'duplicate', 'negative', 'too_large', 'labeled', 'float', 'bool',
    'over_budget'
])
def test_invalid_selection_rejected(pool, tmp_path, case):
    splitter = make(pool, tmp_path)
    free = splitter.pool_indices().tolist()
    done = int(splitter.labeled_indices()[0])
    selected, message = {
        'duplicate': ([free[0], free[0]], f'index {free[0]} appears twice'),
        'negative': ([-1], r'index -1 is outside the pool 0\.\.14'),
        'too_large': ([free[0], N], rf'index {N} is outside the pool'),
        'labeled': ([free[0],
                     done], f'index {done} is already labeled .in X_L_0'),
        'float': ([free[0], 1.0], r'selected\[1\] = 1\.0 is not an int'),
        'bool': ([True], r'selected\[0\] = True is not an int'),
        'over_budget': (free[:4], '4 indices selected for cycle 1, more '
                        r'than the budget 3 \(X_S_size=3'),
    }[case]
    with pytest.raises((ValueError, TypeError), match=message):
        splitter.commit(1, selected)
    assert splitter.cycle == 0
    assert not (tmp_path / 'X_L_1.npy').exists()


def test_commit_wrong_cycle_rejected(pool, tmp_path):
    splitter = make(pool, tmp_path)
    with pytest.raises(ValueError, match='current cycle is 0'):
        splitter.commit(2, first_pool(splitter, 1))


def test_check_partition():
    check_partition(np.array([0, 3]), np.array([1, 2, 4]), 5)
    cases = [
        ([0, 3], [1, 2, 3, 4], 'not disjoint: index 3'),
        ([0, 3], [1, 4], 'index 2 is in neither'),
        ([0, 5], [1, 2, 3, 4], 'X_L holds index 5 outside'),
        ([0, 0, 3], [1, 2, 4], 'X_L holds index 0 more than once'),
    ]
    for labeled, pool, message in cases:
        with pytest.raises(RuntimeError, match=message):
            check_partition(np.array(labeled), np.array(pool), 5)


# --------------------------------------------------------------------------
# atomic files
# --------------------------------------------------------------------------
def test_failing_save_leaves_old_file(pool, tmp_path, monkeypatch):
    make(pool, tmp_path, seed=1)
    before = read_tree(tmp_path)

    def broken_save(f, array, *args, **kwargs):
        f.write(b'\x93NUMPY half a file')
        raise OSError('disk full')

    monkeypatch.setattr(np, 'save', broken_save)
    with pytest.raises(OSError, match='disk full'):
        make(pool, tmp_path, seed=2)  # would overwrite X_L_0.npy
    assert read_tree(tmp_path) == before
    assert not tmp_leftovers(tmp_path)


def test_failing_replace_undoes_commit(pool, tmp_path, monkeypatch):
    splitter = make(pool, tmp_path)
    selected = first_pool(splitter, 3)

    def broken_replace(src, dst):
        raise OSError(f'cannot replace {dst}')

    monkeypatch.setattr(os, 'replace', broken_replace)
    with pytest.raises(OSError, match='cannot replace'):
        splitter.commit(1, selected)
    monkeypatch.undo()
    assert splitter.cycle == 0
    assert not (tmp_path / 'X_L_1.npy').exists()
    assert not tmp_leftovers(tmp_path)
    splitter.commit(1, selected)  # a retry works from the same state
    assert len(np.load(tmp_path / 'X_L_1.npy')) == 7


# --------------------------------------------------------------------------
# checkpoints
# --------------------------------------------------------------------------
def assert_plain(obj, path='state'):
    """Only what torch.load(weights_only=True) restores without help."""
    if isinstance(obj, dict):
        for key, value in obj.items():
            assert isinstance(key, str), path
            assert_plain(value, f'{path}[{key!r}]')
    elif isinstance(obj, list):
        for k, value in enumerate(obj):
            assert_plain(value, f'{path}[{k}]')
    else:
        assert obj is None or type(obj) in (bool, int, float, str,
                                            torch.Tensor), (path, type(obj))


def test_state_dict_weights_only_round_trip(pool, tmp_path):
    splitter = make(pool, tmp_path / 'run')
    splitter.commit(
        1, first_pool(splitter, 3), scores=[3, 2, 1], strategy='random')
    state = splitter.state_dict()
    assert_plain(state)
    torch.save(dict(splitter=state), tmp_path / 'ckpt.pth')
    loaded = torch.load(tmp_path / 'ckpt.pth', weights_only=True)['splitter']
    assert loaded['cycle'] == 1
    assert loaded['settings'] == dict(
        X_L_0_size=4, X_S_size=3, seed=666, unlabeled_size=None, pool_size=N)
    assert [t.tolist() for t in loaded['labeled']
            ] == [splitter.labeled_indices(c).tolist() for c in (0, 1)]


@pytest.mark.parametrize('load_before_setup', [False, True])
def test_resume_draws_identically(pool, tmp_path, load_before_setup):
    """Checkpoint after cycle 1, resume in a fresh folder, continue."""

    def selections(splitter):
        return first_pool(splitter, 3)

    straight = make(pool, tmp_path / 'straight')
    for cycle in (1, 2, 3):
        straight.commit(cycle, selections(straight), strategy='s')

    first = make(pool, tmp_path / 'first')
    first.commit(1, selections(first), strategy='s')
    torch.save(first.state_dict(), tmp_path / 'ckpt.pth')
    state = torch.load(tmp_path / 'ckpt.pth', weights_only=True)

    resumed = ActiveDatasetSplitter(X_L_0_size=4, X_S_size=3)
    if load_before_setup:
        resumed.load_state_dict(state)
        resumed.setup(pool, str(tmp_path / 'resumed'))
    else:
        resumed.setup(pool, str(tmp_path / 'resumed'))
        resumed.load_state_dict(state)
    assert resumed.cycle == 1
    for cycle in (2, 3):
        resumed.commit(cycle, selections(resumed), strategy='s')
    assert read_tree(tmp_path / 'resumed') == read_tree(tmp_path / 'straight')


@pytest.mark.parametrize('key, value', [('X_S_size', 4), ('seed', 1),
                                        ('X_L_0_size', 0.2),
                                        ('unlabeled_size', 4)])
def test_resume_refuses_other_settings(pool, tmp_path, key, value):
    state = make(pool, tmp_path / 'a').state_dict()
    other = make(pool, tmp_path / 'b', **{key: value})
    with pytest.raises(ValueError, match=rf'{key}=.*checkpoint.*{key}='):
        other.load_state_dict(state)
    # refused before setup too
    with pytest.raises(ValueError, match=key):
        SPLITTERS.build(
            dict(
                dict(type='ActiveDatasetSplitter', X_L_0_size=4, X_S_size=3),
                **{key: value})).load_state_dict(state)


def test_resume_refuses_other_pool(pool, tmp_path):
    state = make(pool, tmp_path / 'a').state_dict()
    smaller = make(pool.datasets[1], tmp_path / 'b')
    with pytest.raises(ValueError, match=rf'pool_size={N}.*pool_size=9'):
        smaller.load_state_dict(state)
    renamed = make(IdDataset([f'x{i}' for i in range(N)]), tmp_path / 'c')
    with pytest.raises(ValueError, match='pool_digest'):
        renamed.load_state_dict(state)


def test_resume_refuses_corrupted_state(pool, tmp_path):
    splitter = make(pool, tmp_path)
    splitter.commit(1, first_pool(splitter, 3))
    state = splitter.state_dict()
    labeled = splitter.labeled_indices().copy()
    # an index both labeled and in the pool
    state['pool'] = torch.cat([state['pool'], state['labeled'][-1][:1]])
    fresh = make(pool, tmp_path / 'fresh')
    with pytest.raises(RuntimeError, match='not disjoint'):
        fresh.load_state_dict(state)
    assert fresh.cycle == 0  # the refused state changed nothing
    state = splitter.state_dict()
    state['labeled'][1] = state['labeled'][1][1:]
    with pytest.raises(ValueError, match='X_L_1 is not X_L_0 plus'):
        fresh.load_state_dict(state)
    np.testing.assert_array_equal(splitter.labeled_indices(), labeled)


# --------------------------------------------------------------------------
# distributed
# --------------------------------------------------------------------------
def _dist_worker(rank, world_size, port, root, work_dirs):
    torch_dist.init_process_group(
        'gloo',
        init_method=f'tcp://127.0.0.1:{port}',
        rank=rank,
        world_size=world_size)
    try:
        splitter = make(build_pool(root), work_dirs[rank])
        splitter.verify_consistent()
        # rank 1 selects other images: the splits diverge
        pool = splitter.pool_indices().tolist()
        splitter.commit(1, pool[:3] if rank == 0 else pool[-3:])
        try:
            splitter.verify_consistent()
            error = None
        except RuntimeError as e:
            error = str(e)
        with open(osp.join(root, f'rank{rank}.json'), 'w') as f:
            json.dump(dict(error=error), f)
    finally:
        torch_dist.destroy_process_group()


def test_verify_consistent_and_rank_0_writes(voc_root, tmp_path):
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    work_dirs = [str(tmp_path / f'rank{r}') for r in range(2)]
    mp.spawn(_dist_worker, args=(2, port, str(voc_root), work_dirs), nprocs=2)
    for rank in range(2):
        with open(voc_root / f'rank{rank}.json') as f:
            error = json.load(f)['error']
        assert 'ranks [1]' in error and 'cycle 1' in error
    assert 'X_L_1.npy' in read_tree(work_dirs[0])
    assert not osp.exists(work_dirs[1]) or not read_tree(work_dirs[1])


def test_verify_consistent_without_dist(pool, tmp_path):
    make(pool, tmp_path).verify_consistent()


# --------------------------------------------------------------------------
# ActiveSubset
# --------------------------------------------------------------------------
def test_active_subset_marks_samples(voc_root):
    pipeline = [
        LoadImageFromFile(),
        LoadAnnotations(with_bbox=True),
        PackDetInputs()
    ]
    pool = build_pool(voc_root, pipeline)
    subset = ActiveSubset(pool, np.array([7, 2]), unlabeled=True)
    assert len(subset) == 2
    assert subset.metainfo['classes'] == CLASSES
    assert subset.get_data_info(0)['img_id'] == POOL[7][1]
    data = subset[0]
    sample = data['data_samples']
    assert isinstance(sample, DetDataSample)
    assert data['inputs'].shape == (3, 12, 16)
    assert sample.unlabeled is True and sample.al_index == 7
    assert sample.img_id == POOL[7][1]
    labeled = ActiveSubset(pool, [2], unlabeled=False)[0]['data_samples']
    assert labeled.unlabeled is False and labeled.al_index == 2
    with pytest.raises(IndexError, match=f'index {N} is outside'):
        ActiveSubset(pool, [0, N], unlabeled=False)
