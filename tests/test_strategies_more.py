"""Tests of the strategies bald, badge and typiclust on constructed pools whose right pick is known
by construction. The contract tests in test_strategies.py run over them too (via the registry)."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from winnow.strategies import StrategyInputs, compute_scores, select
from winnow.strategies._arrays import tiebreak_ranks
from winnow.strategies.gradient import GradientEmbedding
from winnow.strategies.typical import knn_mean_distances


def blobs(centres, per_blob, scale, seed=0):
    r = np.random.default_rng(seed)
    centres = np.asarray(centres, dtype=np.float64)
    per_blob = [per_blob] * len(centres) if np.isscalar(per_blob) else per_blob
    return np.concatenate([c + scale * r.normal(size=(n, centres.shape[1])) for c, n in zip(centres, per_blob)])


def entropy_of(p: np.ndarray) -> np.ndarray:
    return -(p * np.log(np.where(p > 0, p, 1.0))).sum(-1)


# ---------------------------------------------------------------------------------------------
# BALD.


def test_bald_is_zero_when_the_passes_agree_and_log2_when_they_confidently_disagree():
    agree = np.array([[0.7, 0.2, 0.1], [1 / 3, 1 / 3, 1 / 3]])  # two samples; every pass says the same
    disagree = np.array([[[1.0, 0.0]], [[0.0, 1.0]]])  # (T=2, N=1, K=2): sure, and opposite
    np.testing.assert_allclose(compute_scores("bald", StrategyInputs(mc_probs=np.stack([agree] * 5))), 0, atol=1e-12)
    np.testing.assert_allclose(compute_scores("bald", StrategyInputs(mc_probs=disagree)), [np.log(2)], rtol=1e-12)


def test_bald_picks_disagreement_over_a_flat_prediction_that_entropy_prefers():
    # sample 0: the passes are sure but disagree (mean [.5, .5, 0]); sample 1: uniform in every pass
    mc_probs = np.array([[[0.9, 0.1, 0.0], [1 / 3, 1 / 3, 1 / 3]],
                         [[0.1, 0.9, 0.0], [1 / 3, 1 / 3, 1 / 3]]])  # (T=2, N=2, K=3)
    inputs = StrategyInputs(mc_probs=mc_probs, probs=mc_probs.mean(0))
    assert select("bald", inputs, 1).tolist() == [0]
    assert select("entropy", inputs, 1).tolist() == [1]  # log 3 > log 2 on the mean prediction
    h = entropy_of(np.array([0.9, 0.1]))
    np.testing.assert_allclose(compute_scores("bald", inputs), [np.log(2) - h, 0.0], atol=1e-12)


def test_bald_matches_the_definition():
    r = np.random.default_rng(0)
    logits = r.normal(scale=2, size=(6, 25, 4))
    mc_probs = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    expected = [entropy_of(mc_probs[:, i].mean(0)) - np.mean([entropy_of(p) for p in mc_probs[:, i]])
                for i in range(25)]
    np.testing.assert_allclose(compute_scores("bald", StrategyInputs(mc_probs=mc_probs), chunk_size=4), expected,
                               rtol=1e-10)


# ---------------------------------------------------------------------------------------------
# BADGE.


def test_badge_factorised_distance_equals_the_explicit_embedding_distance():
    r = np.random.default_rng(1)
    probs = r.dirichlet(np.ones(4), size=9)  # (N, K)
    features = r.normal(size=(9, 5)).astype(np.float32)  # (N, D)
    onehot = np.eye(4)[probs.argmax(1)]
    g = np.stack([np.outer(p - y, h) for p, y, h in zip(probs, onehot, features.astype(np.float64))]).reshape(9, -1)
    embedding = GradientEmbedding(probs, features, chunk_size=4)
    np.testing.assert_allclose(embedding.sq_norms, (g**2).sum(1), rtol=1e-12)
    for j in (0, 4, 8):
        # float32 products: rounding about 1e-7 of |g_i|^2 + |g_j|^2 per operation
        scale = (g**2).sum(1) + (g[j] ** 2).sum()
        np.testing.assert_allclose(embedding.sq_distances_to(j), ((g - g[j]) ** 2).sum(1), rtol=0, atol=1e-5 * scale.max())
        assert embedding.sq_distances_to(j)[j] == 0
    many = embedding.sq_distances_to([0, 4, 8])  # (N, 3): one column per pick
    assert many.shape == (9, 3)
    np.testing.assert_array_equal(many[:, 1], embedding.sq_distances_to(4))


def test_badge_first_pick_is_the_largest_gradient_norm():
    # |g|^2 = |p - onehot|^2 |h|^2: a confident sample with large features, an unsure one with
    # small features, and the unsure one with medium features, which has the largest product.
    probs = np.array([[0.99, 0.01], [0.55, 0.45], [0.55, 0.45], [1.0, 0.0]])
    features = np.array([[30.0, 0.0], [1.0, 0.0], [0.0, 4.0], [100.0, 100.0]])
    norms = [2 * 0.01**2 * 900, 2 * 0.45**2 * 1, 2 * 0.45**2 * 16, 0.0]
    assert int(np.argmax(norms)) == 2
    for seed in range(5):
        assert select("badge", StrategyInputs(probs=probs, features=features), 1, seed=seed).tolist() == [2]


def test_badge_picks_one_sample_from_each_of_three_separated_clusters():
    features = blobs([[10, 0], [0, 10], [-10, -10]], 30, 0.2)  # clusters 0..29, 30..59, 60..89
    r = np.random.default_rng(2)
    lean = np.repeat(np.arange(3), 30)  # each cluster's uncertain prediction leans to its own class
    probs = np.full((90, 3), 0.3) + r.uniform(0, 0.02, size=(90, 3))
    probs[np.arange(90), lean] += 0.1
    probs /= probs.sum(1, keepdims=True)
    inputs = StrategyInputs(probs=probs, features=features)
    for seed in range(8):
        assert sorted((select("badge", inputs, 3, seed=seed) // 30).tolist()) == [0, 1, 2]


def test_badge_draws_the_next_pick_in_proportion_to_the_squared_distance():
    # one direction of gradient (every a = (-0.4, 0.4)), so |g_i - g_j|^2 = 0.32 (h_i - h_j)^2.
    # Sample 0 (h = 10) is the first pick; samples 1 and 2 are at squared distances 3 : 1 from it,
    # so k-means++ draws sample 1 second 3/4 of the time (farthest-first would always take it).
    probs = np.array([[0.6, 0.4]] * 3)
    features = np.array([[10.0], [10.0 - np.sqrt(3.0)], [9.0]])
    inputs = StrategyInputs(probs=probs, features=features)
    seconds = np.array([select("badge", inputs, 2, seed=seed).tolist() for seed in range(400)])
    assert (seconds[:, 0] == 0).all()
    assert abs((seconds[:, 1] == 1).mean() - 0.75) < 0.08  # binomial std 0.022


def test_badge_with_several_draws_per_update_draws_away_from_the_picks_and_never_twice():
    # 4 far-apart clusters of 25 (spread 0.1, 20 apart). After the first pick, 4 picks are drawn
    # before the next update: they may share a cluster with each other, but none is drawn from
    # the first pick's cluster (squared distances about 0.02 against about 800), and none twice.
    features = blobs([[20, 0], [0, 20], [-20, 0], [0, -20]], 25, 0.1)
    probs = np.full((100, 4), 0.2) + np.random.default_rng(3).uniform(0, 0.02, size=(100, 4))
    probs[np.arange(100), np.repeat(np.arange(4), 25)] += 0.2  # each cluster leans to its own class
    probs /= probs.sum(1, keepdims=True)
    inputs = StrategyInputs(probs=probs, features=features)
    for seed in range(5):
        chosen = select("badge", inputs, 9, seed=seed, draws_per_update=4)
        assert len(set(chosen.tolist())) == 9
        assert chosen[0] // 25 not in (chosen[1:5] // 25).tolist()
    exact = select("badge", inputs, 9, seed=2, draws_per_update=1)
    assert select("badge", inputs, 9, seed=2).tolist() == exact.tolist()  # budget <= 1 000: exact by default
    with pytest.raises(ValueError, match="draws_per_update"):
        select("badge", inputs, 3, draws_per_update=0)


def test_badge_random_projection_keeps_distances_within_the_johnson_lindenstrauss_error():
    r = np.random.default_rng(4)
    probs = r.dirichlet(np.ones(3), size=50)
    features = r.normal(size=(50, 1000)).astype(np.float32)
    exact = GradientEmbedding(probs, features, chunk_size=16).sq_distances_to(np.arange(5))
    projected = GradientEmbedding(probs, features, chunk_size=16, dims=400, seed=1).sq_distances_to(np.arange(5))
    off = exact > 0  # each pick is at distance 0 of itself in both
    relative = np.abs(projected[off] - exact[off]) / exact[off]
    assert np.median(relative) < 0.1  # sqrt(2 / 400) = 0.07 per inner product
    assert not np.allclose(projected, exact)  # it did project
    inputs = StrategyInputs(probs=probs, features=features)
    assert select("badge", inputs, 10, seed=3).tolist() == select("badge", inputs, 10, seed=3, dims=None).tolist()


def test_badge_on_duplicates_follows_the_tiebreak_order():
    probs = np.array([[0.5, 0.3, 0.2]] * 6)
    features = np.array([[1.0, 2.0]] * 6)
    for seed in (0, 3):
        chosen = select("badge", StrategyInputs(probs=probs, features=features), 6, seed=seed)
        assert chosen.tolist() == np.argsort(tiebreak_ranks(6, seed)).tolist()
    # after the two distinct gradients are picked, the duplicates of each follow the tie-break
    two = StrategyInputs(probs=probs, features=np.array([[1.0, 2.0]] * 3 + [[-4.0, 1.0]] * 3))
    chosen = select("badge", two, 6, seed=1)
    assert sorted(chosen[:2] // 3) == [0, 1]


def test_badge_never_builds_an_n_by_n_matrix():
    n, k, d = 20_000, 10, 64
    r = np.random.default_rng(0)
    logits = r.normal(size=(n, k))
    inputs = StrategyInputs(probs=np.exp(logits) / np.exp(logits).sum(1, keepdims=True),
                            features=r.normal(size=(n, d)).astype(np.float32))
    tracemalloc.start()
    try:
        chosen = select("badge", inputs, 200)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 0.02 * n * n * 4  # 32 MB, where one N x N float32 matrix is 1.6 GB (and N x K*D 51 MB)
    assert len(np.unique(chosen)) == 200


# ---------------------------------------------------------------------------------------------
# TypiClust.


def blob_with_a_dense_core(centre, core, ring, seed):
    """`core` points within 0.01 of `centre` (first), then `ring` points at radius 1 to 2 around it."""
    r = np.random.default_rng(seed)
    angle, radius = r.uniform(0, 2 * np.pi, ring), r.uniform(1, 2, ring)
    return np.concatenate([centre + 0.01 * r.uniform(-1, 1, size=(core, 2)),
                           centre + np.stack([radius * np.cos(angle), radius * np.sin(angle)], 1)])


def three_blobs():
    """Blobs A (positions 0..39), B (40..74), C (75..104), far apart; each has a core of 12 points
    (its first 12) inside a sparse ring of radius 1 to 2. A core point's 20 nearest neighbours
    are its 11 core mates (distance < 0.03) and 9 ring points; a ring point is at distance >= 1
    from all 12 core points: the core is the densest, by construction."""
    parts = [blob_with_a_dense_core(np.array(c), 12, n - 12, seed) for seed, (c, n) in
             enumerate([((0, 0), 40), ((30, 0), 35), ((0, 30), 30)])]
    return np.concatenate(parts), np.array([0, 40, 75, 105])


def test_typiclust_picks_the_densest_point_of_each_blob():
    features, bounds = three_blobs()
    for seed in range(3):
        chosen = select("typiclust", StrategyInputs(features=features), 3, seed=seed)
        blob = np.searchsorted(bounds, chosen, side="right") - 1
        assert blob.tolist() == [0, 1, 2]  # equally uncovered: the largest blob first
        for b, i in zip(blob, chosen):
            start, stop = bounds[b], bounds[b + 1]
            assert i - start < 12  # in the core
            x = features[start:stop]
            d = np.sqrt(((x[:, None] - x[None]) ** 2).sum(-1))
            spread = np.sort(d, 1)[:, 1:21].mean(1)  # mean distance to the 20 nearest others
            assert i == start + int(np.argmin(spread))  # the most typical of the blob


def test_typiclust_picks_from_the_blobs_the_labelled_set_does_not_cover():
    features, bounds = three_blobs()
    labelled = blob_with_a_dense_core(np.zeros(2), 2, 3, seed=9)  # covers A, the largest blob
    without = select("typiclust", StrategyInputs(features=features), 2, max_clusters=3)
    assert without[0] < 40  # A first when nothing is labelled
    chosen = select("typiclust", StrategyInputs(features=features, labelled_features=labelled), 2, max_clusters=3)
    assert np.searchsorted(bounds, chosen, side="right").tolist() == [2, 3]  # B (larger), then C; none in A
    assert (chosen - bounds[1:3] < 12).all()  # each blob's core


def test_typiclust_knn_distances_in_blocks_equal_brute_force():
    r = np.random.default_rng(4)
    points = np.concatenate([r.normal(size=(23, 3)), r.normal(size=(2, 3))[[0, 0, 1]]])  # with duplicates
    candidates = np.array([0, 5, 23, 24, 25])
    d = np.sqrt(((points[:, None] - points[None]) ** 2).sum(-1))
    np.fill_diagonal(d, np.inf)
    for knn in (1, 4, 30):
        expected = np.sort(d[candidates], 1)[:, :min(knn, 25)].mean(1)
        for chunk_size in (2, 7, None):
            np.testing.assert_allclose(knn_mean_distances(points, candidates, knn, chunk_size), expected,
                                       rtol=1e-9, atol=1e-7)
    assert knn_mean_distances(points, candidates, 1, None)[2] < 1e-7  # its duplicate, at distance 0
    assert knn_mean_distances(points[:1], np.array([0]), 5, None).tolist() == [np.inf]


def test_typiclust_with_more_than_50_clusters_uses_minibatch_kmeans():
    features = blobs(np.random.default_rng(5).uniform(-50, 50, size=(8, 4)), 40, 1.0, seed=6)
    inputs = StrategyInputs(features=features)
    chosen = select("typiclust", inputs, 60, seed=2)  # k = 60 clusters
    assert len(np.unique(chosen)) == 60
    assert np.array_equal(chosen, select("typiclust", inputs, 60, seed=2))
    assert len(np.unique(chosen // 40)) == 8  # one pick per cluster: every blob gets some


def test_typiclust_checks_its_options():
    inputs = StrategyInputs(features=np.random.default_rng(0).normal(size=(10, 2)))
    for option, bad in (("max_clusters", 0), ("knn", 0), ("knn", 2.5), ("n_init", True), ("max_clusters", None)):
        with pytest.raises(ValueError, match=option):
            select("typiclust", inputs, 3, **{option: bad})


def test_typiclust_never_builds_an_n_by_n_matrix():
    n = 20_000
    features = np.random.default_rng(0).normal(size=(n, 16)).astype(np.float32)
    tracemalloc.start()
    try:
        chosen = select("typiclust", StrategyInputs(features=features), 8, chunk_size=512)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 0.02 * n * n * 4  # 32 MB, where one N x N float32 matrix is 1.6 GB
    assert len(np.unique(chosen)) == 8
