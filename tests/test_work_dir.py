"""The work-dir contract: names, writers and readers of a run's files."""
import json
import os
import re

import numpy as np
import pytest

from al_plugin import work_dir as wd


def test_names():
    assert wd.indices_file('X_L', 3) == 'X_L_3.npy'
    assert wd.indices_file('X_U', 0) == 'X_U_0.npy'
    assert wd.id_list_file('X_U', 2, '07') == os.path.join(
        'cycle2', 'trainval_X_U_07.txt')
    assert wd.selection_file(4) == 'selection_4.json'
    assert wd.pseudo_labels_file(1) == 'pseudo_labels_1.json'
    assert wd.cycle_checkpoint(5) == 'cycle_5.pth'
    assert wd.trained_checkpoint(5) == 'trained_cycle_5.pth'
    assert wd.RESULTS_FILE == 'results.json'


@pytest.mark.parametrize('kind, name_of', [
    ('X_L', lambda c: wd.indices_file('X_L', c)),
    ('X_U', lambda c: wd.indices_file('X_U', c)),
    ('selection', wd.selection_file),
    ('pseudo_labels', wd.pseudo_labels_file),
    ('cycle_checkpoint', wd.cycle_checkpoint),
    ('trained_checkpoint', wd.trained_checkpoint),
    # mmengine's CheckpointHook names them
    ('epoch_checkpoint', 'epoch_{}.pth'.format),
    ('iter_checkpoint', 'iter_{}.pth'.format),
])
def test_names_round_trip(kind, name_of):
    for cycle in (0, 7, 12):
        assert wd.cycle_of(name_of(cycle), kind) == cycle
    # a name of another kind is not one of this kind
    others = {'X_L_1.npy', 'X_U_1.npy', 'selection_1.json',
              'pseudo_labels_1.json', 'cycle_1.pth', 'trained_cycle_1.pth',
              'epoch_1.pth', 'iter_1.pth'}
    assert [n for n in others if wd.cycle_of(n, kind) is not None] == [
        name_of(1)
    ]


def test_bad_names_rejected():
    with pytest.raises(ValueError, match="one of .*'X_V'"):
        wd.indices_file('X_V', 1)
    for cycle in (-1, 1.0, True, '2'):
        with pytest.raises(ValueError, match='a cycle is an int >= 0'):
            wd.selection_file(cycle)
    with pytest.raises(ValueError, match='kind must be one of'):
        wd.cycle_of('X_L_1.npy', 'labels')


def test_writers_and_readers_round_trip(tmp_path):
    work = str(tmp_path)
    wd.write_indices(work, 'X_L', 0, [1, 4, 9])
    wd.write_indices(work, 'X_L', 2, np.array([1, 4, 5, 9]))
    wd.write_indices(work, 'X_U', 0, [0, 2])
    assert wd.find_cycles(work) == [0, 2]
    loaded = wd.load_indices(work, 'X_L', 2, total_size=10)
    assert loaded.dtype == np.int64 and loaded.tolist() == [1, 4, 5, 9]
    wd.write_id_list(work, 'X_L', 0, '07', ['a', 'b'])
    wd.write_id_list(work, 'X_L', 0, '12', [])
    wd.write_id_list(work, 'X_U', 0, '07', ['z'])
    assert wd.read_id_lists(work, 0) == {'07': ['a', 'b'], '12': []}
    assert wd.read_id_lists(work, 0, 'X_U') == {'07': ['z']}
    record = dict(cycle=2, strategy='s', indices=[5], img_ids=['e'],
                  tags=['07'], scores=[0.5], budget=1, total_size=10)
    wd.write_selection(work, 2, record)
    assert wd.load_selection(work, 2) == dict(record, skipped=[])
    assert wd.recorded_pool_size(work) == (
        10, os.path.join(work, 'selection_2.json'))
    wd.write_pseudo_labels(work, 2, dict(cycle=2, num_images=1, num_boxes=3,
                                         images=[]))
    assert wd.load_pseudo_label_counts(work, 2) == dict(num_images=1,
                                                        num_boxes=3)
    assert wd.load_pseudo_label_counts(work, 1) is None
    results = [dict(cycle=0, num_labeled=3, num_pool=7, metrics={})]
    wd.write_results(work, results)
    assert wd.load_results(work) == [
        dict(results[0], num_pseudo_labeled=0, strategy=None)
    ]


def test_pool_size_from_results_without_selections(tmp_path):
    wd.write_indices(str(tmp_path), 'X_L', 0, [0])
    assert wd.recorded_pool_size(str(tmp_path)) is None
    wd.write_results(str(tmp_path),
                     [dict(cycle=0, num_labeled=3, num_pool=7, metrics={})])
    assert wd.recorded_pool_size(str(tmp_path)) == (
        10, os.path.join(str(tmp_path), 'results.json'))


@pytest.mark.parametrize('content, message', [
    (b'not an npy', 'not a readable .npy file'),
    (np.array([[1, 2]]), r'expected a 1-d integer array, got shape \(1, 2\)'),
    (np.array([0.5]), 'expected a 1-d integer array'),
    (np.array([3, 1]), 'indices are not sorted and distinct'),
    (np.array([1, 1]), 'indices are not sorted and distinct'),
    (np.array([-2, 1]), 'negative index -2'),
    (np.array([1, 10]), r'index 10 outside the pool 0\.\.9'),
])
def test_load_indices_rejects_bad_files(tmp_path, content, message):
    path = tmp_path / 'X_L_1.npy'
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        np.save(path, content)
    with pytest.raises(ValueError, match=f'{re.escape(str(path))}: {message}'):
        wd.load_indices(str(tmp_path), 'X_L', 1, total_size=10)


def test_missing_files_named(tmp_path):
    work = str(tmp_path)
    for read, name in (
        (lambda: wd.load_indices(work, 'X_U', 3), 'X_U_3.npy'),
        (lambda: wd.load_selection(work, 2), 'selection_2.json'),
        (lambda: wd.load_results(work), 'results.json'),
        (lambda: wd.read_id_lists(work, 1),
         os.path.join('cycle1', 'trainval_X_L_<tag>.txt')),
    ):
        expected = re.escape(f'{os.path.join(work, name)}: no such file')
        with pytest.raises(FileNotFoundError, match=expected):
            read()
    with pytest.raises(FileNotFoundError, match='no such work_dir'):
        wd.find_cycles(os.path.join(work, 'absent'))


@pytest.mark.parametrize('record, message', [
    ('{"indices": [1', 'malformed JSON'),
    ('[1]', 'expected an object, got list'),
    ('{"indices": [-1], "img_ids": ["a"], "tags": ["07"]}',
     '"indices" must be a list of ints >= 0'),
    ('{"indices": [1], "img_ids": [], "tags": ["07"]}',
     '"img_ids" must be a list of 1 entries'),
    ('{"indices": [1], "img_ids": ["a"], "tags": ["07"], "scores": [1, 2]}',
     '"scores" must be null or a list of 1 numbers'),
    ('{"indices": [], "img_ids": [], "tags": [], "skipped": 3}',
     '"skipped" must be a list'),
])
def test_load_selection_rejects_bad_files(tmp_path, record, message):
    path = tmp_path / 'selection_1.json'
    path.write_text(record)
    with pytest.raises(ValueError, match=f'{re.escape(str(path))}: {message}'):
        wd.load_selection(str(tmp_path), 1)


@pytest.mark.parametrize('records, message', [
    ({}, 'expected a list of per-cycle records, got dict'),
    ([3], 'record 0 is a int, not an object'),
    ([dict(cycle=0, num_labeled=-1, num_pool=0, metrics={})],
     'record 0: "num_labeled" must be an int >= 0'),
    ([dict(cycle=0, num_labeled=1, num_pool=0, metrics=[])],
     'record 0: "metrics" must be an object'),
    ([dict(cycle=1, num_labeled=1, num_pool=0, metrics={}),
      dict(cycle=1, num_labeled=2, num_pool=0, metrics={})],
     'record 1: cycle 1 after cycle 1'),
])
def test_load_results_rejects_bad_files(tmp_path, records, message):
    path = tmp_path / 'results.json'
    path.write_text(json.dumps(records))
    with pytest.raises(ValueError, match=f'{re.escape(str(path))}: {message}'):
        wd.load_results(str(tmp_path))


def test_pseudo_label_counts_reject_bad_file(tmp_path):
    path = tmp_path / 'pseudo_labels_2.json'
    path.write_text('{"num_images": 1}')
    with pytest.raises(ValueError,
                       match=f'{re.escape(str(path))}: expected an object'):
        wd.load_pseudo_label_counts(str(tmp_path), 2)


def test_writers_are_atomic(tmp_path, monkeypatch):
    """A writer that fails leaves the old file and no temporary file."""
    work = str(tmp_path)
    wd.write_indices(work, 'X_L', 0, [1, 2])
    wd.write_selection(work, 1, dict(indices=[]))
    before = {p: p.read_bytes() for p in tmp_path.iterdir()}

    def broken_save(f, array, *args, **kwargs):
        f.write(b'\x93NUMPY half a file')
        raise OSError('disk full')

    monkeypatch.setattr(np, 'save', broken_save)
    with pytest.raises(OSError, match='disk full'):
        wd.write_indices(work, 'X_L', 0, [3])
    with pytest.raises(TypeError):  # not JSON: nothing is replaced
        wd.write_selection(work, 1, dict(indices=object()))
    assert {p: p.read_bytes() for p in tmp_path.iterdir()} == before
    assert wd.load_indices(work, 'X_L', 0).tolist() == [1, 2]
