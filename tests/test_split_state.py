"""The split as one array (``labeled_at``), its checks and its resume; the
dataset-tree walker."""
import numpy as np
import pytest
import torch
from mmengine.dataset import BaseDataset, ConcatDataset

from al_plugin.datasets import PseudoLabels
from al_plugin.datasets.dataset_tree import (leaf_datasets, leaf_of,
                                             map_leaf_configs,
                                             wrapper_configs)
from al_plugin.datasets.split_state import SplitState

N = 10


def selection(indices, pseudo_labels=None):
    return dict(strategy='s', indices=list(indices), scores=None,
                pseudo_labels=PseudoLabels(pseudo_labels), skipped=[])


def keep(unlabeled):
    """A draw that returns a fixed X_U (and checks what it is given)."""

    def draw(labeled, pool):
        assert np.array_equal(np.sort(np.concatenate([labeled, pool])),
                              np.arange(N))
        return np.asarray(unlabeled)

    return draw


@pytest.fixture
def split():
    """Cycle 0 labels {2, 5}; cycle 1 adds 7 and 0 (in that order); cycle
    2 adds 9."""
    split = SplitState(N)
    split.start(np.array([5, 2]), np.array([8, 1]))
    split.add(selection([7, 0]), keep([1, 3]))
    split.add(selection([9]), keep([4, 6, 8]))
    return split


def test_labeled_at_semantics(split):
    assert split.cycle == 2
    assert split.labeled_at.tolist() == [1, -1, 0, -1, -1, 0, -1, 1, -1, 2]
    assert split.labeled(0).tolist() == [2, 5]
    assert split.labeled(1).tolist() == [0, 2, 5, 7]
    assert split.labeled(2).tolist() == [0, 2, 5, 7, 9]
    assert split.pool().tolist() == [1, 3, 4, 6, 8]
    assert split.unlabeled(0).tolist() == [1, 8]  # sorted
    assert split.unlabeled(2).tolist() == [4, 6, 8]
    assert split.selection(1)['indices'] == [7, 0]  # the strategy's order
    assert split.budget(2, 3) == 3 and split.budget(3, 8) == 5
    for array in (split.labeled_at, split.labeled(1), split.pool()):
        assert not array.flags.writeable


def test_undo_returns_the_last_selection_to_the_pool(split):
    digest = split.digest()
    split.undo()
    assert split.cycle == 1
    assert split.labeled_at.tolist() == [1, -1, 0, -1, -1, 0, -1, 1, -1, -1]
    assert split.pool().tolist() == [1, 3, 4, 6, 8, 9]
    split.add(selection([9]), keep([4, 6, 8]))
    assert split.digest() == digest


@pytest.mark.parametrize('indices, message', [
    ([3, -1], r'cycle 3: index -1 is outside the pool 0\.\.9'),
    ([N], rf'cycle 3: index {N} is outside'),
    ([3, 4, 3], 'cycle 3: index 3 appears twice'),
    ([3, 7], r'cycle 3: index 7 is already labeled \(in X_L_1\)'),
])
def test_bad_selection_rejected_and_nothing_changes(split, indices, message):
    before = split.labeled_at.copy()
    with pytest.raises(ValueError, match=message):
        split.add(selection(indices), keep([1]))
    assert split.cycle == 2
    np.testing.assert_array_equal(split.labeled_at, before)


def test_pseudo_labels_must_stay_in_the_pool(split):
    boxes = (np.zeros((1, 4), np.float32), np.zeros(1, np.int64))
    for bad in (3, 5):  # selected now; labeled before
        with pytest.raises(ValueError, match=f'index {bad}, which is not'):
            split.add(selection([3], {bad: boxes}), keep([1]))
    assert split.cycle == 2
    split.add(selection([3], {4: boxes}), keep([1]))
    assert list(split.pseudo_labels(3)) == [4]
    assert len(split.pseudo_labels(0)) == 0


def test_state_dict_round_trip(split):
    state = split.state_dict()
    assert state['cycle'] == 2
    assert [t.tolist() for t in state['labeled']] == [
        split.labeled(c).tolist() for c in range(3)]
    assert state['pool'].tolist() == split.pool().tolist()
    restored = SplitState.from_state_dict(state, N)
    np.testing.assert_array_equal(restored.labeled_at, split.labeled_at)
    assert restored.digest() == split.digest()
    assert restored.selection(1)['indices'] == [7, 0]


def corrupt(state, key, value):
    state = dict(state)
    state[key] = value
    return state


def test_resume_refuses_inconsistent_states(split):
    state = split.state_dict()
    labeled = state['labeled']
    cases = [
        (corrupt(state, 'cycle', 3), 'cycle 3 with 3 X_L, 3 X_U and 2'),
        # X_L_1 lost an image
        (corrupt(state, 'labeled', [labeled[0], labeled[1][1:], labeled[2]]),
         'X_L_1 is not X_L_0 plus selection 1'),
        # X_L_0 repeats an index
        (corrupt(state, 'labeled',
                 [torch.cat([labeled[0], labeled[0][:1]])] + labeled[1:]),
         'cycle 0: index 2 appears twice'),
        # selection 2 picks an image selection 1 labeled
        (corrupt(state, 'selections', [
            state['selections'][0],
            dict(state['selections'][1], indices=torch.tensor([7]))
        ]), r'cycle 2: index 7 is already labeled \(in X_L_1\)'),
    ]
    for bad, message in cases:
        with pytest.raises(ValueError,
                           match=f'inconsistent splitter state: .*{message}'):
            SplitState.from_state_dict(bad, N)
    # the stored pool must be the complement of the last X_L
    with pytest.raises(RuntimeError, match='index 1 is in neither'):
        SplitState.from_state_dict(
            corrupt(state, 'pool', state['pool'][1:]), N)
    with pytest.raises(RuntimeError, match='not disjoint: index 9'):
        SplitState.from_state_dict(
            corrupt(state, 'pool', torch.cat([state['pool'],
                                              torch.tensor([9])])), N)


# --------------------------------------------------------------------------
# the dataset-tree walker
# --------------------------------------------------------------------------
class Ids(BaseDataset):
    """A data-root-free mmengine dataset of bare image ids."""

    def __init__(self, ids):
        self._ids = ids
        super().__init__(serialize_data=False)

    def load_data_list(self):
        return [dict(img_id=i) for i in self._ids]


def test_walker_on_built_datasets():
    a, b, c = Ids(['a0', 'a1']), Ids(['b0']), Ids(['c0', 'c1', 'c2'])
    # mmengine's ConcatDataset nests only inside torch's
    tree = torch.utils.data.ConcatDataset([a, ConcatDataset([b, c])])
    assert leaf_datasets(tree) == [a, b, c]
    assert leaf_datasets(a) == [a]
    where = [leaf_of(tree, i) for i in range(len(tree))]
    assert where == [(a, 0), (a, 1), (b, 0), (c, 0), (c, 1), (c, 2)]
    assert leaf_of(a, 1) == (a, 1)
    with pytest.raises(IndexError, match='index 6 is outside'):
        leaf_of(tree, 6)


def test_walker_on_configs():
    leaf = dict(type='VOC', pipeline=['train'])
    cfg = dict(type='ConcatDataset', datasets=[
        leaf, dict(type='RepeatDataset', times=2, dataset=dict(leaf))
    ])
    assert leaf_datasets(cfg) == [leaf, leaf]
    mapped = map_leaf_configs(cfg, lambda d: dict(d, pipeline=['test']))
    assert leaf_datasets(mapped) == [dict(leaf, pipeline=['test'])] * 2
    assert mapped['datasets'][1]['times'] == 2
    assert cfg['datasets'][0]['pipeline'] == ['train']  # left as it was
    assert wrapper_configs(cfg) == [cfg['datasets'][1]]
    assert wrapper_configs(leaf) == []


def test_walker_leaves_out_what_fn_drops():
    tree = dict(type='ConcatDataset', datasets=[
        dict(type='A'),
        dict(type='ConcatDataset', datasets=[dict(type='B'), dict(type='C')]),
        dict(type='RepeatDataset', times=2, dataset=dict(type='D')),
    ])
    seen = []

    def keep(names):
        def fn(leaf):
            seen.append(leaf['type'])
            return dict(leaf, kept=True) if leaf['type'] in names else None
        return fn

    # leaves in order; an emptied concatenation or wrapper goes too
    cut = map_leaf_configs(tree, keep('AC'))
    assert seen == ['A', 'B', 'C', 'D']
    assert cut == dict(type='ConcatDataset', datasets=[
        dict(type='A', kept=True),
        dict(type='ConcatDataset', datasets=[dict(type='C', kept=True)])])
    assert map_leaf_configs(tree, keep('D'))['datasets'] == [
        dict(type='RepeatDataset', times=2, dataset=dict(type='D',
                                                         kept=True))]
    assert map_leaf_configs(tree, keep('')) is None
    assert len(tree['datasets'][1]['datasets']) == 2  # left as it was
