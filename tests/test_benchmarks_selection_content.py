"""benchmarks/selection_content.py describes the images a run's selections
added by their annotations."""
import numpy as np
import pytest

from benchmarks.selection_content import (mean_over_seeds, pick_stats,
                                          picked_indices, rarest_classes)


class FakePool:
    """Three classes; class 2 is the rarest, class 1 next."""
    metainfo = dict(classes=('a', 'b', 'c'))

    def __init__(self):
        def box(label, side, ignore=0):
            return dict(bbox=[0, 0, side, side], bbox_label=label,
                        ignore_flag=ignore)

        self.infos = [
            dict(instances=[box(0, 10), box(0, 20), box(2, 30)]),
            dict(instances=[box(1, 40), box(0, 50, ignore=1)]),
            dict(instances=[]),
            dict(instances=[box(0, 5), box(1, 5), box(2, 5, ignore=1)]),
        ]

    def __len__(self):
        return len(self.infos)

    def get_data_info(self, index):
        return self.infos[index]


def test_rarest_classes_count_boxes_that_are_not_ignored():
    assert rarest_classes(FakePool(), 2).tolist() == [2, 1]


def test_pick_stats_of_some_images():
    stats = pick_stats(FakePool(), [0, 1, 2], rare=[2])
    assert stats == dict(
        images=3,
        boxes_per_image=pytest.approx(4 / 3),
        ignored_per_image=pytest.approx(1 / 3),
        empty_image_fraction=pytest.approx(1 / 3),
        median_box_side=pytest.approx(25.0),
        rare_box_fraction=pytest.approx(1 / 4))
    empty = pick_stats(FakePool(), [2], rare=[2])
    assert empty['median_box_side'] is None
    assert empty['rare_box_fraction'] is None


def test_picked_indices_are_the_last_labeled_set_minus_the_first(tmp_path):
    np.save(tmp_path / 'X_L_0.npy', np.array([1, 3]))
    np.save(tmp_path / 'X_L_2.npy', np.array([0, 1, 3, 5]))
    assert picked_indices(str(tmp_path)).tolist() == [0, 5]
    np.save(tmp_path / 'X_L_0.npy', np.array([1]))
    (tmp_path / 'X_L_2.npy').unlink()
    with pytest.raises(FileNotFoundError, match='fewer than two'):
        picked_indices(str(tmp_path))


def test_mean_over_seeds_skips_missing_values():
    out = mean_over_seeds([dict(a=1.0, b=None), dict(a=3.0, b=2.0)])
    assert out == dict(a=2.0, b=2.0)
