"""benchmarks/selection_content.py describes the images a run's selections
added by their annotations, and on a pool of bursts how many fall in a burst
already picked."""
import json

import numpy as np
import pytest

from benchmarks.selection_content import (burst_ids, duplicate_stats,
                                          labeled_sets, mean_over_seeds,
                                          pick_stats, picked_indices,
                                          rarest_classes)


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


class FakeBurstPool:
    """Seven images in the generator's layout: bursts 0 (images 1-3),
    1 (image 4) and 2 (images 5-7), the last two from DIGITS2012."""
    metainfo = dict(classes=('a', ))

    def __init__(self, root, bursts_file=True):
        self.infos = [
            dict(img_id=f'{n:06d}',
                 img_path=str(root / 'VOCdevkit' /
                              f'DIGITS{2007 if n < 6 else 2012}' /
                              'JPEGImages' / f'{n:06d}.jpg'),
                 instances=[]) for n in range(1, 8)
        ]
        if bursts_file:
            images = [
                dict(id=n, burst_id=b, burst_index=0)
                for n, b in zip(range(1, 8), [0, 0, 0, 1, 2, 2, 2])
            ]
            (root / 'bursts.json').write_text(json.dumps(dict(images=images)))

    def __len__(self):
        return len(self.infos)

    def get_data_info(self, index):
        return self.infos[index]


def test_burst_ids_from_the_pools_bursts_file(tmp_path):
    assert burst_ids(FakeBurstPool(tmp_path)).tolist() == [0, 0, 0, 1, 2, 2,
                                                           2]
    # the default pool: no bursts.json, no duplicate rate
    assert burst_ids(FakeBurstPool(tmp_path / 'plain', False)) is None
    pool = FakeBurstPool(tmp_path)
    pool.infos[3]['img_id'] = '000009'
    with pytest.raises(ValueError, match='pool image 3 .*000004.jpg'):
        burst_ids(pool)


def test_duplicate_stats_counts_picks_in_bursts_already_picked():
    bursts = np.array([0, 0, 0, 1, 2, 2, 2, 3])
    # X_L_0 holds burst 0; picks: image 2 (burst 0 again), image 3 (burst 1,
    # new), images 4 and 5 (burst 2: one new, one duplicate)
    stats = duplicate_stats(bursts, initial=[0], picked=[2, 3, 4, 5])
    assert stats == dict(duplicate_picks=2, duplicate_rate=0.5, new_bursts=2)
    # only new bursts
    assert duplicate_stats(bursts, [0], [3, 4, 7])['duplicate_rate'] == 0
    # labeling the whole pool: 1 - bursts / images
    whole = duplicate_stats(bursts, [], range(8))
    assert whole['duplicate_rate'] == pytest.approx(1 - 4 / 8)
    assert duplicate_stats(bursts, [0], [])['duplicate_rate'] is None
    with pytest.raises(ValueError, match='initial'):
        duplicate_stats(bursts, [0, 1], [1, 2])


def test_labeled_sets_are_the_first_and_last_cycles(tmp_path):
    np.save(tmp_path / 'X_L_0.npy', np.array([1, 3]))
    np.save(tmp_path / 'X_L_1.npy', np.array([1, 3, 4]))
    np.save(tmp_path / 'X_L_2.npy', np.array([0, 1, 3, 4, 5]))
    first, last = labeled_sets(str(tmp_path))
    assert first.tolist() == [1, 3] and last.tolist() == [0, 1, 3, 4, 5]
