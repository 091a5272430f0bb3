"""Pseudo labels: kept by the splitter, written, checkpointed, trained on."""
import json

import numpy as np
import pytest
import torch
from mmcv.transforms import LoadImageFromFile
from mmdet.datasets.transforms import LoadAnnotations, PackDetInputs, Resize

from al_plugin.datasets import ActiveSubset, PseudoLabels
from .test_splitter import build_pool, make
from .test_splitter import voc_root  # noqa: F401 (fixture)

BOXES = {
    5: ([[1, 2, 5, 6], [0, 0, 8, 4]], [1, 0]),
    9: ([[2, 2, 3, 3]], [0]),
}


def test_pseudo_labels_check_shapes_and_round_trip():
    labels = PseudoLabels(BOXES)
    assert sorted(labels) == [5, 9] and labels.num_boxes == 3
    again = PseudoLabels.from_state_dict(labels.state_dict())
    for index in labels:
        np.testing.assert_array_equal(again[index][0], labels[index][0])
        np.testing.assert_array_equal(again[index][1], labels[index][1])
    assert all(
        isinstance(v, torch.Tensor) for v in labels.state_dict().values())
    assert labels.instances(9) == [
        dict(bbox=[2.0, 2.0, 3.0, 3.0], bbox_label=0, ignore_flag=0)
    ]
    assert len(PseudoLabels.from_state_dict(None)) == 0
    with pytest.raises(ValueError, match='index 3'):
        PseudoLabels({3: ([[1, 2, 3]], [0])})
    with pytest.raises(ValueError, match='index 4'):
        PseudoLabels({4: ([[1, 2, 3, 4]], [0, 1])})


def test_splitter_keeps_writes_and_restores_pseudo_labels(
        tmp_path, voc_root):  # noqa: F811
    pool = build_pool(voc_root)
    splitter = make(pool, tmp_path)
    free = [int(i) for i in splitter.pool_indices()]
    selected, (a, b) = free[:3], free[3:5]
    splitter.commit(
        1, selected, pseudo_labels={
            a: BOXES[5],
            b: BOXES[9]
        })
    assert sorted(splitter.pseudo_labels()) == sorted([a, b])
    assert len(splitter.pseudo_labels(0)) == 0
    record = json.loads((tmp_path / 'pseudo_labels_1.json').read_text())
    assert record['num_images'] == 2 and record['num_boxes'] == 3
    by_index = {r['index']: r for r in record['images']}
    assert by_index[a]['bboxes'] == [[1, 2, 5, 6], [0, 0, 8, 4]]
    assert by_index[a]['labels'] == [1, 0]
    assert by_index[b]['img_id'] == pool.get_data_info(b)['img_id']
    # pseudo-labeled images stay in the pool: a later cycle may select them
    assert a in splitter.pool_indices()

    restored = make(pool, tmp_path / 'restored')
    restored.load_state_dict(splitter.state_dict())
    np.testing.assert_array_equal(restored.pseudo_labels()[a][0],
                                  np.array(BOXES[5][0], dtype=float))
    # a selection without pseudo labels writes no file
    restored.commit(2, [free[5]])
    assert len(restored.pseudo_labels()) == 0
    assert not (tmp_path / 'restored' / 'pseudo_labels_2.json').exists()


def test_pseudo_labels_must_name_images_left_in_the_pool(
        tmp_path, voc_root):  # noqa: F811
    splitter = make(build_pool(voc_root), tmp_path)
    labeled = int(splitter.labeled_indices()[0])
    free = [int(i) for i in splitter.pool_indices()]
    for bad in (labeled, free[0]):  # labeled before, or selected now
        with pytest.raises(ValueError, match=f'index {bad}'):
            splitter.commit(1, free[:1], pseudo_labels={bad: BOXES[9]})
    assert splitter.cycle == 0


def test_active_subset_trains_on_pseudo_labels_through_the_pipeline(
        voc_root):  # noqa: F811
    pipeline = [
        LoadImageFromFile(),
        LoadAnnotations(with_bbox=True),
        Resize(scale=(32, 24), keep_ratio=True),  # 16 x 12 images, x2
        PackDetInputs()
    ]
    pool = build_pool(voc_root, pipeline)
    subset = ActiveSubset(
        pool, [2, 12], unlabeled=False, pseudo_labels=PseudoLabels(
            {12: BOXES[5]}))
    real, pseudo = subset[0]['data_samples'], subset[1]['data_samples']
    assert not real.pseudo_labeled and pseudo.pseudo_labeled
    assert pseudo.al_index == 12 and not pseudo.unlabeled
    np.testing.assert_allclose(real.gt_instances.bboxes.numpy(),
                               [[2, 4, 16, 20]])  # the xml's box - 1, x2
    np.testing.assert_allclose(pseudo.gt_instances.bboxes.numpy(),
                               np.array(BOXES[5][0]) * 2)
    assert pseudo.gt_instances.labels.tolist() == BOXES[5][1]
    # the pool's own data info is untouched
    assert len(pool.get_data_info(12)['instances']) == 1
