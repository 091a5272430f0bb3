"""Selection strategies on small hand-made inputs with hand-worked picks."""
import math
import tracemalloc

import numpy as np
import pytest

from al_plugin.registry import STRATEGIES
from al_plugin.strategies import (CoreSetStrategy, EntropyStrategy,
                                  HybridStrategy, KMeansStrategy,
                                  LeastConfidenceStrategy,
                                  LocalizationStabilityStrategy,
                                  MarginStrategy,
                                  SelfSupervisedMiningStrategy)
from al_plugin.strategies.localization import box_iou


def per_image(*arrays):
    """An object array of per-image arrays (how the scorer hands them)."""
    out = np.empty(len(arrays), dtype=object)
    for i, array in enumerate(arrays):
        out[i] = np.asarray(array, dtype=np.float64)
    return out


def select(strategy, outputs, budget, num_images):
    positions, scores = strategy.select(outputs, budget, num_images)
    assert positions.dtype == np.int64
    return positions.tolist(), scores


# ---------------------------------------------------------------- uncertainty
def test_entropy_orders_images_by_eye():
    probs = per_image(
        [[1.0, 0.0, 0.0]],  # certain: 0
        [[0.5, 0.5, 0.0]],  # ln 2
        [[1 / 3, 1 / 3, 1 / 3]],  # ln 3, the most uncertain
        [[0.9, 0.1, 0.0]],  # 0.325
    )
    positions, scores = select(EntropyStrategy(), dict(class_probs=probs),
                               2, 4)
    assert positions == [2, 1]
    expected = [0.0, math.log(2), math.log(3),
                -(0.9 * math.log(0.9) + 0.1 * math.log(0.1))]
    np.testing.assert_allclose(scores, expected)


def test_rows_are_normalised():
    # sigmoid-style rows: only their proportions matter
    raw = per_image([[0.2, 0.2, 0.2]], [[0.8, 0.2, 0.0]])
    normalised = per_image([[1 / 3, 1 / 3, 1 / 3]], [[0.8, 0.2, 0.0]])
    for cls in (EntropyStrategy, LeastConfidenceStrategy, MarginStrategy):
        np.testing.assert_allclose(
            cls().score(dict(class_probs=raw)),
            cls().score(dict(class_probs=normalised)))
    np.testing.assert_allclose(
        EntropyStrategy().score(dict(class_probs=raw)),
        [math.log(3), -(0.8 * math.log(0.8) + 0.2 * math.log(0.2))])


def test_least_confidence_and_margin_disagree():
    probs = per_image(
        [[0.5, 0.25, 0.25]],  # least conf 0.5,  margin 0.75
        [[0.55, 0.45, 0.0]],  # least conf 0.45, margin 0.9
        [[0.9, 0.1, 0.0]],  # least conf 0.1,  margin 0.2
    )
    outputs = dict(class_probs=probs)
    np.testing.assert_allclose(LeastConfidenceStrategy().score(outputs),
                               [0.5, 0.45, 0.1])
    np.testing.assert_allclose(MarginStrategy().score(outputs),
                               [0.75, 0.9, 0.2])
    assert select(LeastConfidenceStrategy(), outputs, 1, 3)[0] == [0]
    assert select(MarginStrategy(), outputs, 1, 3)[0] == [1]


def test_single_class_margin():
    # no runner-up: top2 = 0, so a (normalised) single class is certain
    scores = MarginStrategy().score(
        dict(class_probs=per_image([[0.7]], [[0.2], [0.4]])))
    np.testing.assert_allclose(scores, [0.0, 0.0])


@pytest.mark.parametrize('reduction,expected', [
    ('max', 0),  # one very uncertain box
    ('mean', 1),  # uncertain on average
    ('sum', 2),  # many fairly uncertain boxes
])
def test_reduction_changes_the_pick(reduction, expected):
    # per-box least confidence = min(p, 1 - p) for a row [1 - p, p]
    def boxes(*lcs):
        return [[1 - lc, lc] for lc in lcs]

    probs = per_image(
        boxes(0.5, 0.1, 0.1, 0.1),  # max .5   mean .2   sum .8
        boxes(0.45),  # max .45  mean .45  sum .45
        boxes(0.3, 0.3, 0.3, 0.3),  # max .3   mean .3   sum 1.2
        np.zeros((0, 2)),  # no boxes: 0
    )
    strategy = LeastConfidenceStrategy(reduction=reduction)
    positions, scores = select(strategy, dict(class_probs=probs), 1, 4)
    assert positions == [expected]
    assert scores[3] == 0.0


def test_images_without_boxes_score_zero():
    probs = per_image(np.zeros((0, 3)), [[0.5, 0.5, 0.0]], [])
    for cls in (EntropyStrategy, LeastConfidenceStrategy, MarginStrategy):
        for reduction in ('max', 'mean', 'sum'):
            scores = cls(reduction=reduction).score(dict(class_probs=probs))
            assert scores[0] == scores[2] == 0.0 and scores[1] > 0


def test_class_probs_as_a_list():
    probs = [np.array([[0.5, 0.5]]), np.zeros((0, 2)), np.array([[1., 0.]])]
    np.testing.assert_allclose(
        EntropyStrategy().score(dict(class_probs=probs)),
        [math.log(2), 0.0, 0.0])


def test_bad_reduction_lists_the_choices():
    with pytest.raises(ValueError, match="'max', 'mean', 'sum'.*'median'"):
        EntropyStrategy(reduction='median')
    with pytest.raises(ValueError, match='num_boxes, C'):
        EntropyStrategy().score(dict(class_probs=per_image([0.5, 0.5])))


def test_registered_and_built_from_config():
    strategy = STRATEGIES.build(dict(type='MarginStrategy', reduction='sum'))
    assert isinstance(strategy, MarginStrategy)
    assert strategy.reduction == 'sum'
    assert strategy.requires == ('class_probs', )
    for name in ('EntropyStrategy', 'LeastConfidenceStrategy',
                 'CoreSetStrategy', 'KMeansStrategy', 'HybridStrategy',
                 'LocalizationStabilityStrategy',
                 'SelfSupervisedMiningStrategy'):
        assert STRATEGIES.get(name) is not None, name


def test_random_fraction_through_a_subclass():
    # entropy of [1 - p, p]: increasing in p up to 0.5
    p = np.linspace(0.0, 0.45, 10)
    probs = per_image(*[[[1 - q, q]] for q in p])
    strategy = EntropyStrategy(random_fraction=0.5, seed=3)
    positions, _ = select(strategy, dict(class_probs=probs), 4, 10)
    assert positions[:2] == [9, 8]  # the two most uncertain
    assert len(set(positions)) == 4 and not {9, 8} & set(positions[2:])
    assert select(strategy, dict(class_probs=probs), 4, 10)[0] == positions
    assert select(EntropyStrategy(random_fraction=0.5, seed=4),
                  dict(class_probs=probs), 8, 10)[0][:4] == [9, 8, 7, 6]


def test_missing_output_is_named():
    with pytest.raises(KeyError, match='class_probs'):
        EntropyStrategy().select(dict(features=np.zeros((2, 2))), 1, 2)


# ------------------------------------------------------------------ core-set
# a tight cluster at the origin, one far point, one medium point
POINTS = np.array([[0.0, 0.0], [10.0, 10.0], [0.1, 0.0], [3.0, 0.0],
                   [0.0, 0.1], [0.1, 0.1]])


def test_core_set_picks_the_far_point_first():
    outputs = dict(features=POINTS, labeled_features=np.zeros((1, 2)))
    positions, scores = select(CoreSetStrategy(), outputs, 2, 6)
    assert positions == [1, 3]  # (10, 10), then (3, 0)
    assert scores is None
    picks, dists = CoreSetStrategy().k_center(POINTS, 2, np.zeros((1, 2)))
    np.testing.assert_allclose(dists, [math.sqrt(200), 3.0])


def test_core_set_without_labeled_starts_near_the_mean():
    # mean (2.2, 1.7): nearest is (3, 0); then (10, 10); then the origin
    # cluster point farthest from both, (0, 0.1)
    picks, dists = CoreSetStrategy().k_center(POINTS, 3)
    assert picks.tolist() == [3, 1, 4]
    np.testing.assert_allclose(dists,
                               [np.inf, math.sqrt(149), math.sqrt(9.01)])
    assert select(CoreSetStrategy(), dict(features=POINTS), 3,
                  6)[0] == [3, 1, 4]


def test_core_set_chunked_equals_unchunked():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(300, 5)).astype(np.float32)
    labeled = rng.normal(size=(40, 5)).astype(np.float32)
    whole = CoreSetStrategy(chunk_size=4096).k_center(features, 25, labeled)
    chunked = CoreSetStrategy(chunk_size=7).k_center(features, 25, labeled)
    assert whole[0].tolist() == chunked[0].tolist()
    np.testing.assert_allclose(whole[1], chunked[1], rtol=1e-12)
    assert np.all(np.diff(whole[1]) <= 0)  # greedy: non-increasing
    assert len(set(whole[0].tolist())) == 25
    # and the labeled images really are the initial centers
    no_labeled = CoreSetStrategy(chunk_size=7).k_center(features, 25)
    assert no_labeled[0].tolist() != whole[0].tolist()


def test_core_set_distinct_picks_among_duplicates():
    features = np.ones((5, 3))
    assert select(CoreSetStrategy(), dict(features=features), 3,
                  5)[0] == [0, 1, 2]


def test_core_set_random_fraction():
    outputs = dict(features=POINTS, labeled_features=np.zeros((1, 2)))
    strategy = CoreSetStrategy(random_fraction=0.5, seed=1)
    positions, _ = select(strategy, outputs, 4, 6)
    assert positions[:2] == [1, 3]
    assert len(set(positions)) == 4


def test_core_set_scale_never_builds_n_by_n():
    rng = np.random.default_rng(0)
    num_images = 20000
    features = rng.normal(size=(num_images, 16)).astype(np.float32)
    labeled = rng.normal(size=(512, 16)).astype(np.float32)
    strategy = CoreSetStrategy(chunk_size=2048)
    tracemalloc.start()
    try:
        positions, _ = strategy.select(
            dict(features=features, labeled_features=labeled), 10,
            num_images)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(set(positions.tolist())) == 10
    # one N x N float32 matrix would be 1.6 GB; the blocks are 2048 x 512
    assert peak < 64 * 2**20, f'peak {peak / 2**20:.1f} MiB'


# ------------------------------------------------------------------- k-means
# three far-apart clusters of 5, 4 and 3 images, shuffled; each has one
# image at (or nearest) its mean
CLUSTERS = np.array([
    [100.0, 0.0],  # B, nearest its mean (100, 0.25)
    [0.0, 0.0],  # A, its mean
    [0.0, 101.0],  # C
    [1.0, 0.0],  # A
    [101.0, 0.0],  # B
    [0.0, 100.0],  # C, its mean
    [-1.0, 0.0],  # A
    [99.0, 0.0],  # B
    [0.0, 1.0],  # A
    [0.0, 99.0],  # C
    [100.0, 1.0],  # B
    [0.0, -1.0],  # A
])


@pytest.mark.parametrize('seed', [0, 1, 2])
def test_kmeans_one_pick_per_cluster(seed):
    strategy = KMeansStrategy(seed=seed, chunk_size=5)
    positions, scores = select(strategy, dict(features=CLUSTERS), 3, 12)
    assert positions == [1, 0, 5]  # largest cluster first
    assert scores is None


def test_kmeans_picks_are_distinct():
    # budget = N: every image its own cluster
    positions, _ = select(KMeansStrategy(), dict(features=CLUSTERS), 12, 12)
    assert sorted(positions) == list(range(12))
    # all images equal: k-means++ has nothing to go on, picks stay distinct
    positions, _ = select(KMeansStrategy(), dict(features=np.ones((6, 2))),
                          3, 6)
    assert len(set(positions)) == 3


def test_kmeans_is_seeded():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(200, 4))
    first = select(KMeansStrategy(seed=5), dict(features=features), 8, 200)
    again = select(KMeansStrategy(seed=5), dict(features=features), 8, 200)
    assert first[0] == again[0]


# -------------------------------------------------------------- localization
def test_box_iou():
    iou = box_iou([[0, 0, 10, 10]],
                  [[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30]])
    np.testing.assert_allclose(iou, [[1.0, 50 / 150, 0.0]])
    assert box_iou(np.zeros((0, 4)), [[0, 0, 1, 1]]).shape == (0, 1)


def localization_outputs():
    box = [0.0, 0.0, 10.0, 10.0]
    return dict(
        det_boxes=per_image([box], [box], np.zeros((0, 4)),
                            [box, [20, 20, 30, 30]], [box], [box]),
        det_scores=per_image([0.9], [0.9], [], [0.8, 0.4], [0.2], [0.9]),
        det_labels=per_image([1], [1], [], [1, 2], [1], [1]),
        flip_boxes=per_image([box], [[5, 0, 15, 10]], np.zeros((0, 4)),
                             [box], [box], [box]),
        flip_scores=per_image([0.9], [0.9], [], [0.8], [0.9], [0.1]),
        flip_labels=per_image([1], [1], [], [2], [1], [1]),
    )


def test_localization_stability():
    # 0: identical flip -> 0;  1: shifted by half -> 1 - 1/3
    # 2: no detections -> empty;  3: (0.8 * 1 + 0.4 * 0) / 1.2 -> 1/3
    # 4: only a detection below score_thr -> empty
    # 5: the flipped twin is below score_thr -> unmatched -> 1
    outputs = localization_outputs()
    strategy = LocalizationStabilityStrategy()
    assert strategy.requires == ('det_boxes', 'det_scores', 'flip_boxes',
                                 'flip_scores')
    positions, scores = select(strategy, outputs, 2, 6)
    np.testing.assert_allclose(scores, [0, 2 / 3, 0, 1 / 3, 0, 1])
    assert positions == [5, 1]
    scores = LocalizationStabilityStrategy(empty_score=1.0).score(outputs)
    np.testing.assert_allclose(scores, [0, 2 / 3, 1, 1 / 3, 1, 1])


def test_localization_match_labels():
    # image 3's box at the origin is flipped to another label
    strategy = LocalizationStabilityStrategy(match_labels=True)
    assert 'det_labels' in strategy.requires
    assert 'flip_labels' in strategy.requires
    scores = strategy.score(localization_outputs())
    np.testing.assert_allclose(scores, [0, 2 / 3, 0, 1, 0, 1])


# -------------------------------------------------------------------- mining
def mining_outputs():
    return dict(
        det_scores=per_image(
            [0.9, 0.8, 0.5, 0.1],  # 1 uncertain of 3 counted -> 1/3
            [0.4, 0.5],  # all uncertain -> 1
            [0.7, 0.35],  # 1 of 2 -> 1/2
            [0.2],  # nothing counted -> 0
            [],  # no detections -> 0
            [0.6, 0.3],  # boundaries: certain + uncertain -> 1/2
        ),
        det_boxes=per_image(
            [[0, 0, 1, 1], [1, 1, 2, 2], [2, 2, 3, 3], [3, 3, 4, 4]],
            [[0, 0, 1, 1], [1, 1, 2, 2]], [[0, 0, 5, 5], [1, 1, 2, 2]],
            [[0, 0, 1, 1]], np.zeros((0, 4)),
            [[0, 0, 1, 1], [1, 1, 2, 2]]),
        det_labels=per_image([3, 4, 5, 6], [0, 1], [2, 7], [1], [], [8, 9]),
    )


def test_mining_ratio_topk():
    strategy = SelfSupervisedMiningStrategy()
    assert strategy.requires == ('det_scores', )
    positions, scores = select(strategy, mining_outputs(), 3, 6)
    np.testing.assert_allclose(scores, [1 / 3, 1, 0.5, 0, 0, 0.5])
    assert positions == [1, 2, 5]


def test_mining_threshold_mode_leaves_budget_unfilled():
    outputs = mining_outputs()
    strategy = SelfSupervisedMiningStrategy(mode='threshold', ratio_thr=0.5)
    assert select(strategy, outputs, 5, 6)[0] == [1, 2, 5]
    assert select(strategy, outputs, 2, 6)[0] == [1, 2]
    strategy = SelfSupervisedMiningStrategy(mode='threshold', ratio_thr=0.6)
    assert select(strategy, outputs, 5, 6)[0] == [1]
    with pytest.raises(ValueError, match="'topk', 'threshold'"):
        SelfSupervisedMiningStrategy(mode='all')


def test_mining_pseudo_labels():
    outputs = mining_outputs()
    strategy = SelfSupervisedMiningStrategy(use_pseudo_labels=True)
    assert set(strategy.requires) == {'det_boxes', 'det_scores',
                                      'det_labels'}
    labels = strategy.pseudo_labels(outputs, np.array([0, 2, 3, 4, 5]))
    assert sorted(labels) == [0, 2, 5]  # 3 and 4 have no certain box
    boxes, classes = labels[0]
    np.testing.assert_array_equal(boxes, [[0, 0, 1, 1], [1, 1, 2, 2]])
    assert classes.tolist() == [3, 4] and classes.dtype == np.int64
    np.testing.assert_array_equal(labels[2][0], [[0, 0, 5, 5]])
    assert labels[2][1].tolist() == [2]
    assert labels[5][1].tolist() == [8]  # 0.6 is certain
    with pytest.raises(KeyError, match='det_boxes'):
        strategy.pseudo_labels(dict(det_scores=outputs['det_scores']), [0])


# -------------------------------------------------------------------- hybrid
def hybrid_outputs():
    # entropy: 2 > 1 > 0 > 3, 4, 5 (certain); features: 5 is far away
    probs = per_image([[0.5, 0.5, 0.0], [0.1, 0.0, 0.0]],
                      [[0.6, 0.4, 0.0]], [[1 / 3, 1 / 3, 1 / 3]],
                      [[1.0, 0.0, 0.0]], [[1.0, 0.0, 0.0]],
                      [[0.0, 1.0, 0.0]])
    features = np.array([[0.0, 0.0], [0.1, 0.0], [5.0, 0.0], [0.0, 0.2],
                         [0.2, 0.2], [100.0, 100.0]])
    return dict(class_probs=probs, features=features)


def test_hybrid_restricts_diversity_to_the_uncertain():
    outputs = hybrid_outputs()
    strategy = HybridStrategy(
        uncertainty=dict(type='EntropyStrategy', reduction='mean'),
        diversity=dict(type='CoreSetStrategy'), top_n_factor=1.5)
    assert strategy.requires == ('class_probs', 'features')
    # top 3 by mean entropy: 2 (ln 3), 1 (0.673), 0 (ln 2 / 2: its second
    # box is certain)
    positions, scores = select(strategy, outputs, 2, 6)
    np.testing.assert_allclose(
        scores, EntropyStrategy(reduction='mean').score(outputs))
    # core-set inside {0, 1, 2}: nearest their mean (1.7, 0) is image 1,
    # farthest from it image 2; image 5, the pool's far point, is out
    assert positions == [1, 2]
    assert select(CoreSetStrategy(), outputs, 2, 6)[0][1] == 5
    assert select(EntropyStrategy(reduction='mean'), outputs, 2,
                  6)[0] == [2, 1]


def test_hybrid_passes_labeled_features_whole():
    outputs = hybrid_outputs()
    outputs['labeled_features'] = np.zeros((1, 2))
    strategy = HybridStrategy(top_n_factor=1.5)
    # center (0, 0): image 2 is farthest, then image 1 (image 0 sits on it)
    assert select(strategy, outputs, 2, 6)[0] == [2, 1]
    with pytest.raises(KeyError, match='features'):
        strategy.select(dict(class_probs=outputs['class_probs']), 2, 6)


def test_labeled_outputs_are_declared_apart_from_the_pools():
    # the scorer computes X_L's features only for who lists them
    assert CoreSetStrategy.requires_labeled == ('labeled_features', )
    assert EntropyStrategy().requires_labeled == ()
    assert HybridStrategy().requires_labeled == ('labeled_features', )
    assert HybridStrategy(
        diversity=dict(type='KMeansStrategy')).requires_labeled == ()
    # the uncertain subset is images 2 (5, 0) and 0 (0, 0); X_L has a
    # center on image 2, in its last row: image 0 is the farther. Rows
    # taken by pool positions (2, 0) would leave only (-50, 0) as center,
    # and image 2 would be the farther.
    outputs = hybrid_outputs()
    outputs['labeled_features'] = np.array([[-50.0, 0.0]] * 9 + [[5.0, 0.0]])
    assert select(HybridStrategy(top_n_factor=1.5), outputs, 1, 6)[0] == [0]


def test_hybrid_with_kmeans_and_a_full_subset():
    outputs = dict(features=CLUSTERS,
                   class_probs=per_image(*[[[0.5, 0.5]]] * 12))
    strategy = HybridStrategy(diversity=dict(type='KMeansStrategy'),
                              top_n_factor=10)
    assert select(strategy, outputs, 3, 12)[0] == [1, 0, 5]


def test_hybrid_subsets_list_outputs():
    # least confidence keeps images 0 and 1 (0.5, 0.45), margin then
    # prefers 1 (0.9 over 0.75); image 2 is never considered
    probs = [np.array([[0.5, 0.25, 0.25]]), np.array([[0.55, 0.45, 0.0]]),
             np.array([[0.9, 0.1, 0.0]])]
    strategy = HybridStrategy(
        uncertainty=dict(type='LeastConfidenceStrategy'),
        diversity=dict(type='MarginStrategy'), top_n_factor=2)
    assert strategy.requires == ('class_probs', )
    assert select(strategy, dict(class_probs=probs), 1, 3)[0] == [1]
    with pytest.raises(ValueError, match='no per-image score'):
        HybridStrategy(uncertainty=dict(type='CoreSetStrategy')).select(
            dict(features=POINTS), 2, 6)
