"""Seed docker_al_v1's methods as strategies (ratio, VAE reconstruction,
Gaussian mixture), on small hand-made arrays."""
import numpy as np
import pytest
import torch

from al_plugin.registry import STRATEGIES
from al_plugin.strategies import (GaussianMixtureStrategy, MarginStrategy,
                                  RatioStrategy, VAEReconstructionStrategy,
                                  check_strategy_cfg, proportional_quotas)


def per_image(*arrays):
    """An object array of per-image arrays (how the scorer hands them)."""
    out = np.empty(len(arrays), dtype=object)
    for i, array in enumerate(arrays):
        out[i] = (np.asarray(array, dtype=np.float64)
                  if np.size(array) else np.zeros((0, 3)))
    return out


@pytest.mark.parametrize('name', [
    'RatioStrategy', 'VAEReconstructionStrategy', 'GaussianMixtureStrategy'
])
def test_registered_and_misspelt_options_are_named(name):
    assert STRATEGIES.get(name) is not None
    check_strategy_cfg(dict(type=name, seed=1))
    with pytest.raises(TypeError, match=rf"{name} \(strategy\) got unknown "
                       r"option\(s\) 'sed' \(did you mean 'seed'\?\)"):
        check_strategy_cfg(dict(type=name, sed=1))


# ---------------------------------------------------------------- ratio
def test_ratio_picks_the_image_whose_top2_are_closest():
    probs = per_image(
        [[0.9, 0.05, 0.05]],  # 0.05 / 0.9
        [[0.5, 0.4, 0.1]],  # 0.8
        [[0.45, 0.44, 0.11]],  # 0.978: the closest top two
        [[0.7, 0.2, 0.1], [0.6, 0.3, 0.1]],  # max(2 / 7, 0.5)
    )
    positions, scores = RatioStrategy().select(dict(class_probs=probs), 2, 4)
    assert positions.tolist() == [2, 1]
    np.testing.assert_allclose(scores, [0.05 / 0.9, 0.8, 0.44 / 0.45, 0.5])
    mean = RatioStrategy(reduction='mean').score(dict(class_probs=probs))
    np.testing.assert_allclose(mean[3], (2 / 7 + 0.5) / 2)


def test_ratio_is_relative_where_margin_is_absolute():
    # A: top two 0.2 / 0.05 (gap 0.15, ratio 0.25) among 17 classes;
    # B: 0.6 / 0.4 (gap 0.2, ratio 0.67). Margin prefers A, ratio B.
    a = [[0.2] + [0.05] * 16]
    b = [[0.6, 0.4] + [0.0] * 15]
    outputs = dict(class_probs=per_image(a, b))
    assert MarginStrategy().select(outputs, 1, 2)[0].tolist() == [0]
    assert RatioStrategy().select(outputs, 1, 2)[0].tolist() == [1]
    np.testing.assert_allclose(RatioStrategy().score(outputs),
                               [0.25, 0.4 / 0.6])


def test_ratio_of_one_class_zero_rows_and_no_boxes_is_zero():
    one_class = np.empty(2, dtype=object)
    one_class[0] = np.array([[0.7], [0.2]])
    one_class[1] = np.zeros((0, 1))
    np.testing.assert_array_equal(
        RatioStrategy().score(dict(class_probs=one_class)), [0.0, 0.0])
    zeros = per_image([[0.0, 0.0, 0.0]], [])
    np.testing.assert_array_equal(
        RatioStrategy().score(dict(class_probs=zeros)), [0.0, 0.0])


# ---------------------------------------------------------------- VAE
def plane_data(seed=0, dim=16):
    """Labeled features on a 2-D plane of R^dim, a pool of 30 more on it
    and one off it (row 30) that lies nearer the labeled mean than most."""
    rng = np.random.default_rng(seed)
    basis = np.linalg.qr(rng.normal(size=(dim, dim)))[0]
    labeled = 3 * rng.normal(size=(200, 2)) @ basis[:, :2].T
    pool = 3 * rng.normal(size=(30, 2)) @ basis[:, :2].T
    pool = np.vstack([pool, basis[:, 2]]).astype(np.float32)
    return labeled.astype(np.float32), pool


def test_vae_ranks_the_off_distribution_feature_first():
    labeled, pool = plane_data()
    # not an outlier by distance: 26 of the 30 in-plane images lie farther
    # from the labeled mean, so only a learned model of X_L finds it
    dist = np.linalg.norm(pool - labeled.mean(axis=0), axis=1)
    assert (dist[:30] > dist[30]).sum() >= 25
    strategy = VAEReconstructionStrategy(seed=3)
    positions, scores = strategy.select(
        dict(features=pool, labeled_features=labeled), 3, 31)
    assert positions[0] == 30
    assert scores.shape == (31, ) and np.all(scores >= 0)
    assert scores[30] > 5 * np.median(scores[:30])


def test_vae_is_deterministic_per_seed_and_leaves_global_rng_alone():
    labeled, pool = plane_data()
    outputs = dict(features=pool, labeled_features=labeled)
    torch.manual_seed(123)
    expected_draw = torch.rand(3)
    torch.manual_seed(123)
    first = VAEReconstructionStrategy(seed=5, num_steps=50).score(outputs)
    assert torch.equal(torch.rand(3), expected_draw)
    again = VAEReconstructionStrategy(seed=5, num_steps=50).score(outputs)
    other = VAEReconstructionStrategy(seed=6, num_steps=50).score(outputs)
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first, other)
    chunked = VAEReconstructionStrategy(seed=5, num_steps=50,
                                        chunk_size=7).score(outputs)
    np.testing.assert_allclose(chunked, first, rtol=1e-5)


def test_vae_without_labeled_features_models_the_pool():
    labeled, pool = plane_data(seed=1)
    pool = np.vstack([labeled[:60], pool[30:]])  # 60 in-plane, 1 off
    positions, _ = VAEReconstructionStrategy().select(dict(features=pool), 1,
                                                      61)
    assert positions.tolist() == [60]


def test_vae_bad_values_and_shapes_are_named():
    with pytest.raises(ValueError, match='latent_dim'):
        VAEReconstructionStrategy(latent_dim=0)
    with pytest.raises(ValueError, match='num_steps'):
        VAEReconstructionStrategy(num_steps=-1)
    with pytest.raises(ValueError, match=r'labeled_features must be \(M, 4'):
        VAEReconstructionStrategy().score(
            dict(features=np.zeros((3, 4)), labeled_features=np.zeros((2, 5))))


# ---------------------------------------------------------------- mixture
@pytest.mark.parametrize('sizes, budget, quotas', [
    ([30, 10], 8, [6, 2]),
    ([5, 3, 2], 3, [1, 1, 1]),  # 1.5, 0.9, 0.6: remainders .5 < .6 < .9
    ([2, 2], 1, [1, 0]),  # a tie: the lower index
    ([1, 4], 2, [0, 2]),  # 0.4 and 1.6: the larger fraction first
    ([0, 7, 3], 10, [0, 7, 3]),
])
def test_proportional_quotas(sizes, budget, quotas):
    assert proportional_quotas(np.array(sizes), budget).tolist() == quotas


def two_clusters(big=30, small=10, seed=0):
    """Features of two far blobs (rows ``:big`` and ``big:``) and class
    probabilities whose entropy rises with the position, so the small
    cluster holds the most uncertain images."""
    rng = np.random.default_rng(seed)
    feats = np.vstack([rng.normal(0, 1, (big, 2)),
                       rng.normal(20, 1, (small, 2))]).astype(np.float32)
    top = np.linspace(0.99, 0.55, big + small)  # lower: more entropy
    probs = per_image(*[[[p, 1 - p, 0.0]] for p in top])
    return feats, probs


def test_mixture_splits_the_budget_by_cluster_size():
    feats, probs = two_clusters()
    strategy = GaussianMixtureStrategy(num_components=2)
    positions, scores = strategy.select(
        dict(features=feats, class_probs=probs), 8, 40)
    # entropy alone would take rows 32..39, all of the small cluster;
    # the mixture takes 6 of the 30 and 2 of the 10, the most uncertain
    # of each, highest score first
    assert positions.tolist() == [39, 38, 29, 28, 27, 26, 25, 24]
    assert np.all(np.diff(scores[positions]) <= 0)
    entropy = STRATEGIES.build(dict(type='EntropyStrategy'))
    np.testing.assert_allclose(scores,
                               entropy.score(dict(class_probs=probs)))


def test_mixture_subsample_chunks_and_pca_keep_the_split():
    feats, probs = two_clusters(big=60, small=20, seed=1)
    wide = np.hstack([feats, np.random.default_rng(2).normal(
        0, 0.1, (80, 62))]).astype(np.float32)  # D = 64 > pca_dims
    strategy = GaussianMixtureStrategy(num_components=2, max_fit_samples=30,
                                       chunk_size=7, pca_dims=4)
    labels = strategy.components(wide)
    assert len(set(labels[:60])) == 1 and len(set(labels[60:])) == 1
    assert labels[0] != labels[60]
    positions, _ = strategy.select(dict(features=wide, class_probs=probs), 8,
                                   80)
    assert (positions < 60).sum() == 6 and (positions >= 60).sum() == 2


def test_mixture_uncertainty_is_a_checked_sub_strategy():
    feats, probs = two_clusters()
    strategy = GaussianMixtureStrategy(
        num_components=2, uncertainty=dict(type='LeastConfidenceStrategy'))
    assert strategy.requires == ('features', 'class_probs')
    positions, scores = strategy.select(
        dict(features=feats, class_probs=probs), 4, 40)
    assert positions.tolist() == [39, 29, 28, 27]
    np.testing.assert_allclose(scores[39], 1 - 0.55)
    with pytest.raises(TypeError, match=r'strategy\.uncertainty\) got '
                       r"unknown option\(s\) 'reductoin'"):
        check_strategy_cfg(
            dict(type='GaussianMixtureStrategy',
                 uncertainty=dict(type='EntropyStrategy', reductoin='max')))
    with pytest.raises(ValueError, match='RandomStrategy gives no per-image'):
        GaussianMixtureStrategy(uncertainty=dict(type='RandomStrategy'))
    with pytest.raises(ValueError, match='covariance_type'):
        GaussianMixtureStrategy(covariance_type='diagonal')
