"""Tests of winnow.strategies: one contract test over every registered strategy, the shared
selection code, and per strategy a constructed pool whose right pick is known by construction."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from winnow.strategies import (StrategyInputs, apply_temperature, compute_scores, fit_temperature, get_strategy,
                               list_strategies, register_strategy, select)
from winnow.strategies import check_options, registry
from winnow.strategies.registry import OptionError
from winnow.strategies.selection import EXAMPLE_BUDGET, example_inputs
from winnow.strategies._arrays import group_shares, normalize as normalize_values, random_groups, tiebreak_ranks
from winnow.strategies.diversity import MMDGain

ALL = list_strategies()
SCORE = [name for name in ALL if get_strategy(name).kind == "score"]


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(1, keepdims=True)


def make_pool(n: int, k: int = 3, d: int = 4, seed: int = 0, one_class: bool = False) -> StrategyInputs:
    """A synthetic pool with every input any strategy may need; labels cycle through the classes
    (or are all 0), and the probabilities lean towards the label, so the predicted class is
    mostly the label and always 0 for a one-class pool."""
    r = np.random.default_rng(seed)
    labels = np.zeros(n, dtype=np.int64) if one_class else np.arange(n) % k
    centres = r.normal(scale=3, size=(k, d))
    logits = r.normal(size=(n, k))
    logits[np.arange(n), labels] += 8 if one_class else 2
    val_labels = r.integers(0, k, 30)
    return StrategyInputs(
        probs=softmax(logits),
        features=(centres[labels] + r.normal(size=(n, d))).astype(np.float32),
        labels=labels,
        mc_probs=np.stack([softmax(logits + r.normal(size=(n, k))) for _ in range(4)]),
        labelled_features=(centres[r.integers(0, k, 10)] + r.normal(size=(10, d))).astype(np.float32),
        val_logits=r.normal(size=(30, k)) + 2 * np.eye(k)[val_labels],
        val_labels=val_labels,
        early_probs=np.stack([softmax(logits / 2 + r.normal(size=(n, k))) for _ in range(3)]),
        correct_history=(r.random((5, n)) < 0.7).astype(np.float32),
    )


# ---------------------------------------------------------------------------------------------
# The contract: every registered strategy, generated from the registry.


@pytest.mark.parametrize("name", ALL)
def test_contract_scores_shape_and_direction(name):
    inputs, budget = make_pool(40), 7
    scores = compute_scores(name, inputs, budget=budget, seed=0)
    assert scores.shape == (40,) and scores.dtype == np.float64
    if get_strategy(name).kind == "score":
        assert np.isfinite(scores).all()
    else:  # picks encoded as budget - rank, the rest -inf
        assert sorted(scores[np.isfinite(scores)]) == list(range(1, budget + 1))
        assert (scores[~np.isfinite(scores)] == -np.inf).all()
    # select takes the top scores, best first
    chosen = select(name, inputs, budget, seed=0)
    assert (np.diff(scores[chosen]) <= 0).all()
    assert scores[chosen].min() >= np.delete(scores, chosen).max()


@pytest.mark.parametrize("name", ALL)
def test_contract_deterministic_under_seed(name):
    inputs = make_pool(40)
    first, second = (compute_scores(name, inputs, budget=9, seed=3) for _ in range(2))
    assert np.array_equal(first, second)
    assert np.array_equal(select(name, inputs, 9, seed=3), select(name, inputs, 9, seed=3))


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("budget", [1, 13, 40])
def test_contract_select_gives_budget_distinct_positions(name, budget):
    chosen = select(name, make_pool(40), budget, seed=1)
    assert chosen.dtype == np.int64 and chosen.shape == (budget,)
    assert len(np.unique(chosen)) == budget and chosen.min() >= 0 and chosen.max() < 40


@pytest.mark.parametrize("name", ALL)
def test_contract_tiny_pools(name):
    assert select(name, make_pool(1), 1).tolist() == [0]
    for budget in (1, 2, 3):
        chosen = select(name, make_pool(3, seed=budget), budget)
        assert len(set(chosen.tolist())) == budget and set(chosen.tolist()) <= {0, 1, 2}
    assert sorted(select(name, make_pool(3), 3, class_balanced=True).tolist()) == [0, 1, 2]


@pytest.mark.parametrize("name", ALL)
def test_contract_one_class_pool(name):
    inputs = make_pool(20, one_class=True)
    assert (inputs.probs.argmax(1) == 0).all()
    for balanced in (False, True):
        chosen = select(name, inputs, 6, class_balanced=balanced)
        assert len(np.unique(chosen)) == 6 and chosen.max() < 20


@pytest.mark.parametrize("name", ALL)
def test_contract_chunked_equals_whole(name):
    inputs = make_pool(40)
    if get_strategy(name).kind == "score":
        np.testing.assert_allclose(compute_scores(name, inputs, budget=12, chunk_size=7),
                                   compute_scores(name, inputs, budget=12), rtol=1e-6)
    assert np.array_equal(select(name, inputs, 12, chunk_size=7), select(name, inputs, 12))


@pytest.mark.parametrize("name", ALL)
def test_contract_class_balanced(name):
    inputs = make_pool(45)  # 15 samples of each of 3 classes
    for budget, expected in ((9, [3, 3, 3]), (10, [3, 3, 4]), (30, [10, 10, 10])):
        chosen = select(name, inputs, budget, class_balanced=True, seed=2)
        assert len(np.unique(chosen)) == budget
        assert sorted(np.bincount(inputs.labels[chosen], minlength=3).tolist()) == expected


@pytest.mark.parametrize("name", ALL)
def test_contract_missing_input_is_named(name):
    strategy, full = get_strategy(name), make_pool(10)
    for need in strategy.needs:
        without = StrategyInputs(**{k: getattr(full, k) for k in registry.INPUTS if k != need})
        with pytest.raises(ValueError, match=need):
            select(name, without, 2)
    if not strategy.needs:
        with pytest.raises(ValueError, match="pool size"):
            select(name, StrategyInputs(), 2)


@pytest.mark.parametrize("name", ALL)
def test_contract_the_options_dry_run_runs_every_strategy_with_its_defaults(name):
    """`check_options` judges values by running the strategy on `example_inputs`: with the
    defaults every strategy must run there, or the dry run would check nothing."""
    scores = compute_scores(name, example_inputs(), budget=EXAMPLE_BUDGET)
    assert scores.shape == (48,)
    check_options(name, {})


@pytest.mark.parametrize("name, options, message", [
    ("self_confidence", {"keep": "medium"}, "option keep must be 'hard', 'easy', 'coverage' or 'auto', got 'medium'"),
    ("el2n", {"keep": 3}, "option keep must be"),
    ("ccs", {"strata": 0}, "option strata must be an int >= 1, got 0"),
    ("ccs", {"score": "nope"}, "option score of strategy 'ccs': unknown strategy 'nope'; known: badge, "),
    ("ccs", {"score": "ccs"}, "option score of strategy 'ccs' must be another strategy"),
    ("hybrid", {"uncertainty": "nope"}, "option uncertainty: unknown strategy 'nope'; known: badge, "),
    ("ccs", {"score_options": {"keep": "x"}}, "option keep must be"),
    ("ccs", {"beta": 1.5}, "option beta must be 'auto' or a share in"),
    ("hybrid", {"lam": -1}, "option lam must be a number >= 0, got -1"),
    ("hybrid", {"uncertainty_options": {"bogus": 1}}, "unknown option.s. bogus for strategy 'margin'"),
    ("margin", {"temperature": -1}, "option temperature must be a number > 0 or 'fit', got -1"),
    ("kmeans_margin", {"k": 0}, "option k must be an int >= 1 or None, got 0"),
    ("label_issue_confident_learning", {"filter_by": "nope"}, "option filter_by must be one of cleanlab's .*; got 'nope'"),
    ("margin", {"nope": 1}, "unknown option.s. nope for strategy 'margin'"),
])
def test_check_options_finds_bad_values_before_any_data(name, options, message):
    with pytest.raises(OptionError, match=message):
        check_options(name, options)


def test_check_options_leaves_what_depends_on_the_data_to_the_real_run():
    """100 k-means clusters cannot be fitted to the made-up pool of 48, but they can to a real
    pool of 200: not an option error."""
    check_options("kmeans_margin", {"k": 100})
    assert compute_scores("kmeans_margin", make_pool(200), k=100, n_init=1).shape == (200,)


@pytest.mark.parametrize("name", ALL)
def test_contract_unknown_option_is_an_error(name):
    with pytest.raises(ValueError, match="not_an_option"):
        select(name, make_pool(10), 2, not_an_option=1)


# ---------------------------------------------------------------------------------------------
# The shared selection code.


def test_budget_is_checked():
    inputs = make_pool(10)
    for bad in (0, -1, 11, 2.5, True, "3", None):
        with pytest.raises(ValueError, match="budget"):
            select("margin", inputs, bad)
    with pytest.raises(ValueError, match="budget"):
        compute_scores("coreset", inputs)  # a batch strategy cannot score without a budget


def test_ties_are_broken_by_a_seeded_permutation():
    inputs = StrategyInputs(probs=np.full((30, 3), 1 / 3))  # every score equal
    orders = {tuple(select("least_confidence", inputs, 30, seed=s)) for s in range(5)}
    assert len(orders) == 5  # five seeds, five different orders
    assert np.array_equal(select("least_confidence", inputs, 30, seed=4),
                          select("least_confidence", inputs, 30, seed=4))


def test_random_depends_on_seed_and_needs_only_the_pool_size():
    inputs = StrategyInputs(pool_size=50)
    assert sorted(select("random", inputs, 50).tolist()) == list(range(50))
    assert not np.array_equal(select("random", inputs, 10, seed=0), select("random", inputs, 10, seed=1))


def test_class_balance_fills_a_small_class_from_the_best_of_the_rest():
    # least confidence 1 - p_max; class 0 has 2 samples, classes 1 and 2 have 20 each.
    labels = np.array([0] * 2 + [1] * 20 + [2] * 20)
    p_max = np.linspace(0.9, 0.4, 42)  # later samples are less confident: higher score
    probs = np.stack([p_max, (1 - p_max) / 2, (1 - p_max) / 2], 1)
    inputs = StrategyInputs(probs=probs, labels=labels)
    chosen = select("least_confidence", inputs, 12, class_balanced=True)
    # quota 12 // 3 = 4: class 0 gives its 2; class 1 its best 4 (samples 18..21); class 2 its
    # best 4 (38..41); the 2 missing go to the best remaining: 36 and 37, both class 2.
    assert sorted(chosen.tolist()) == [0, 1, 18, 19, 20, 21, 36, 37, 38, 39, 40, 41]
    assert chosen.tolist()[:2] == [41, 40]  # best first


def test_class_balance_uses_predicted_classes_without_labels():
    r = np.random.default_rng(0)
    predicted = np.array([0] * 5 + [1] * 30 + [2] * 5)
    logits = r.normal(size=(40, 3))
    logits[np.arange(40), predicted] += 10
    chosen = select("margin", StrategyInputs(probs=softmax(logits)), 6, class_balanced=True)
    assert np.bincount(predicted[chosen], minlength=3).tolist() == [2, 2, 2]
    with pytest.raises(ValueError, match="labels or probs"):
        select("coreset", StrategyInputs(features=r.normal(size=(10, 2))), 3, class_balanced=True)


def test_inputs_are_checked_once():
    with pytest.raises(ValueError, match="pool size"):
        StrategyInputs(probs=np.full((5, 2), 0.5), features=np.zeros((6, 3)))
    with pytest.raises(ValueError, match="outside"):
        StrategyInputs(probs=np.full((3, 2), 0.5), labels=np.array([0, 1, 2]))
    with pytest.raises(ValueError, match="dimensions"):
        StrategyInputs(features=np.zeros((4, 3)), labelled_features=np.zeros((2, 5)))
    with pytest.raises(ValueError, match="non-finite"):
        StrategyInputs(probs=np.array([[np.nan, 1.0]]))


def test_registry_lookup_and_registration_rules(monkeypatch):
    assert list_strategies("*margin") == ["kmeans_margin", "margin"]
    with pytest.raises(ValueError, match="unknown strategy 'nope'.*margin"):
        get_strategy("nope")
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    with pytest.raises(ValueError, match="already registered"):
        register_strategy("margin", needs=("probs",))(lambda probs: probs[:, 0])
    with pytest.raises(ValueError, match="without declaring"):
        register_strategy("t1")(lambda probs: probs[:, 0])
    with pytest.raises(ValueError, match="keyword-only option"):
        register_strategy("t2", needs=("probs",))(lambda probs, scale: probs[:, 0])
    with pytest.raises(ValueError, match="must take the budget"):
        register_strategy("t3", needs=("probs",), kind="batch")(lambda probs: probs[:, 0])
    with pytest.raises(ValueError, match="unknown input"):
        register_strategy("t4", needs=("logits",))

    @register_strategy("first_column", needs=("probs",), rowwise=True)
    def first_column(probs, *, scale=1.0):
        return scale * probs[:, 0]

    assert get_strategy("first_column").options == {"scale": 1.0}
    assert select("first_column", StrategyInputs(probs=np.array([[0.2, 0.8], [0.9, 0.1]])), 1).tolist() == [1]


# ---------------------------------------------------------------------------------------------
# Uncertainty and temperature.


def test_margin_picks_the_near_tie():
    probs = np.array([[0.90, 0.05, 0.05], [0.45, 0.44, 0.11], [0.60, 0.20, 0.20], [0.70, 0.25, 0.05]])
    assert select("margin", StrategyInputs(probs=probs), 4).tolist() == [1, 2, 3, 0]  # gaps .85 .01 .40 .45


def test_least_confidence_picks_the_flattest_row():
    probs = np.array([[0.90, 0.05, 0.05], [0.40, 0.30, 0.30], [0.50, 0.50, 0.00], [0.80, 0.10, 0.10]])
    assert select("least_confidence", StrategyInputs(probs=probs), 4).tolist() == [1, 2, 3, 0]


def test_entropy_picks_the_uniform_row():
    # Row 1 is a perfect two-way tie (margin's favourite); row 2 is uniform over three classes.
    probs = np.array([[0.90, 0.05, 0.05], [0.50, 0.50, 0.00], [1 / 3, 1 / 3, 1 / 3]])
    inputs = StrategyInputs(probs=probs)
    assert select("entropy", inputs, 1).tolist() == [2]
    assert select("margin", inputs, 1).tolist() == [1]
    np.testing.assert_allclose(compute_scores("entropy", inputs)[1:], [np.log(2), np.log(3)])


def test_temperature_rescales_the_logits():
    r = np.random.default_rng(1)
    logits = r.normal(scale=2, size=(50, 4))
    probs = softmax(logits)
    for t in (0.5, 3.0):
        np.testing.assert_allclose(apply_temperature(probs, t), softmax(logits / t), rtol=1e-9)
        calibrated = np.sort(softmax(logits / t), 1)
        np.testing.assert_allclose(compute_scores("margin", StrategyInputs(probs=probs), temperature=t),
                                   calibrated[:, -2] - calibrated[:, -1], atol=1e-12)
    with pytest.raises(ValueError, match="temperature"):
        select("entropy", StrategyInputs(probs=probs), 3, temperature=0)


@pytest.mark.parametrize("true_temperature", [0.5, 2.5])
def test_fit_temperature_recovers_the_temperature_that_made_the_labels(true_temperature):
    r = np.random.default_rng(7)
    logits = r.normal(scale=3, size=(5000, 10))
    p = softmax(logits / true_temperature)
    labels = (p.cumsum(1) < r.random((5000, 1))).sum(1)  # one draw from each row of p
    fitted = fit_temperature(logits, labels)
    assert abs(fitted - true_temperature) / true_temperature < 0.05

    # temperature="fit" fits on the hold-out inputs and equals passing the fitted value
    probs = softmax(r.normal(size=(20, 10)))
    inputs = StrategyInputs(probs=probs, val_logits=logits, val_labels=labels)
    np.testing.assert_allclose(compute_scores("least_confidence", inputs, temperature="fit"),
                               compute_scores("least_confidence", inputs, temperature=fitted))
    with pytest.raises(ValueError, match="val_logits"):
        select("least_confidence", StrategyInputs(probs=probs), 3, temperature="fit")


def test_self_confidence_keeps_hard_or_easy_examples():
    probs = np.array([[0.9, 0.1], [0.8, 0.2], [0.4, 0.6], [0.3, 0.7]])
    labels = np.array([0, 1, 1, 0])  # p[label] = 0.9, 0.2, 0.6, 0.3
    inputs = StrategyInputs(probs=probs, labels=labels)
    assert select("self_confidence", inputs, 4, keep="hard").tolist() == [1, 3, 2, 0]
    assert select("self_confidence", inputs, 4).tolist() == [0, 2, 3, 1]  # auto: 2 a class kept is scarce
    assert select("self_confidence", inputs, 4, keep="easy").tolist() == [0, 2, 3, 1]


# ---------------------------------------------------------------------------------------------
# Feature-space strategies.


def blobs(centres, per_blob, scale, seed=0):
    r = np.random.default_rng(seed)
    centres = np.asarray(centres, dtype=np.float64)
    return np.concatenate([c + scale * r.normal(size=(per_blob, centres.shape[1])) for c in centres])


@pytest.mark.parametrize("per_batch", [None, 61])
def test_kmeans_margin_picks_the_point_between_two_clusters(per_batch):
    features = np.concatenate([blobs([[0, 0], [10, 0], [0, 10]], 40, 0.3), [[5.0, 0.0]]])  # midpoint last
    probs = np.full((121, 3), 1 / 3)  # only gives k = 3 classes
    inputs = StrategyInputs(features=features, probs=probs)
    assert select("kmeans_margin", inputs, 1, per_batch=per_batch).tolist() == [120]
    assert select("kmeans_margin", StrategyInputs(features=features), 1, k=3).tolist() == [120]
    with pytest.raises(ValueError, match="option k"):
        select("kmeans_margin", StrategyInputs(features=features), 1)


def test_coreset_picks_the_farthest_point_then_spreads_out():
    pool = np.concatenate([blobs([[0, 0]], 30, 0.5), [[10.0, 0.0], [10.2, 0.0], [-9.0, 0.0]]])
    labelled = blobs([[0, 0]], 5, 0.5, seed=1)
    chosen = select("coreset", StrategyInputs(features=pool, labelled_features=labelled), 3)
    far, near_duplicate, other_side = 31, 30, 32
    assert chosen[0] == far  # (10.2, 0): the farthest from every labelled point
    assert chosen[1] == other_side  # then the other direction, not the near-duplicate of the first
    assert near_duplicate not in chosen[:2]
    # without a labelled set the first pick is random (seeded), then the farthest from it
    unlabelled = [select("coreset", StrategyInputs(features=pool), 1, seed=s)[0] for s in range(6)]
    assert len(set(unlabelled)) > 1


def test_coreset_never_builds_an_n_by_n_matrix():
    n, budget = 20_000, 5_000
    features = np.random.default_rng(0).normal(size=(n, 64)).astype(np.float32)
    inputs = StrategyInputs(features=features)
    tracemalloc.start()
    try:
        chosen = select("coreset", inputs, budget)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 0.02 * n * n * 4  # 32 MB, where one N x N float32 matrix is 1.6 GB
    assert len(np.unique(chosen)) == budget


def test_mmd_gain_matches_the_definition():
    r = np.random.default_rng(3)
    pool, labelled = r.normal(size=(12, 3)), r.normal(size=(3, 3)) + 1
    gamma = 1 / (2 * 1.5**2)

    def kernel_mean(a, b):
        return np.exp(-gamma * ((a[:, None] - b[None]) ** 2).sum(-1)).mean()

    def mmd2(a):
        return kernel_mean(a, a) - 2 * kernel_mean(a, pool) + kernel_mean(pool, pool)

    state = MMDGain(pool, labelled, seed=0, chunk_size=5, draw_size=100, bandwidth=1.5)  # reference = whole pool
    expected = [mmd2(labelled) - mmd2(np.concatenate([labelled, pool[[i]]])) for i in range(12)]
    np.testing.assert_allclose(state.gain(), expected, atol=1e-12)
    state.add(4)
    grown = np.concatenate([labelled, pool[[4]]])
    expected = [mmd2(grown) - mmd2(np.concatenate([grown, pool[[i]]])) for i in range(12)]
    np.testing.assert_allclose(state.gain(), expected, atol=1e-12)


def test_mmd_prefers_the_clusters_the_labelled_set_does_not_cover():
    pool = blobs([[0, 0], [5, 0], [0, 5]], 30, 0.4)  # A 0..29, B 30..59, C 60..89
    labelled = blobs([[0, 0]], 10, 0.4, seed=1)  # covers A only
    inputs = StrategyInputs(features=pool, labelled_features=labelled)
    first, second = select("mmd", inputs, 2) // 30
    assert first in (1, 2) and {first, second} == {1, 2}  # one pick in each uncovered cluster, none crowded
    # with no labelled set the first pick is in the dense cluster, not an outlier (coreset's choice)
    dense = np.concatenate([blobs([[0, 0]], 40, 0.4), [[8.0, 8.0], [-8.0, 8.0], [8.0, -8.0]]])
    assert select("mmd", StrategyInputs(features=dense), 1)[0] < 40
    assert select("coreset", StrategyInputs(features=dense), 2)[1] >= 40


# ---------------------------------------------------------------------------------------------
# Hybrid.


def uncertain_near_versus_certain_far():
    """U (0..19): near-tie predictions close to the labelled set; F (20..39): confident
    predictions far from it. Features are tiny (distances about 0.01), like the earlier MMD
    scores, so a raw sum of uncertainty and distance ignores the distance."""
    r = np.random.default_rng(5)
    gap = r.uniform(0, 0.05, 20)
    probs = np.concatenate([np.stack([0.5 + gap, 0.5 - gap], 1), np.stack([0.95 + gap / 2, 0.05 - gap / 2], 1)])
    features = 1e-3 * np.concatenate([blobs([[0, 0]], 20, 0.3, seed=2), blobs([[10, 0]], 20, 0.3, seed=3)])
    labelled = 1e-3 * blobs([[0, 0]], 5, 0.3, seed=4)
    return StrategyInputs(probs=probs, features=features, labelled_features=labelled)


def test_hybrid_with_lam_zero_is_the_uncertainty_order():
    inputs = make_pool(40)
    for normalize in ("rank", "zscore"):
        for uncertainty in ("margin", "entropy"):
            assert np.array_equal(select("hybrid", inputs, 15, lam=0.0, normalize=normalize, uncertainty=uncertainty),
                                  select(uncertainty, inputs, 15))


@pytest.mark.parametrize("normalize", ["rank", "zscore"])
@pytest.mark.parametrize("diversity", ["mmd", "distance"])
def test_normalised_hybrid_lets_a_large_lam_change_the_ranking(normalize, diversity):
    inputs = uncertain_near_versus_certain_far()
    uncertain, far = set(range(20)), set(range(20, 40))
    # the raw sum margin + lam * distance, worked out here: still the most uncertain sample first
    margin = inputs.probs.min(1) - inputs.probs.max(1)
    distance = np.sqrt(((inputs.features[:, None] - inputs.labelled_features[None]) ** 2).sum(-1)).min(1)
    assert distance[20:].min() > 5 * distance[:20].max()  # F really is far, U near
    assert int(np.argmax(margin + 10 * distance)) in uncertain
    # normalised, lam = 10 picks a far sample first; lam = 0 picks only uncertain ones
    assert select("hybrid", inputs, 1, lam=10.0, normalize=normalize, diversity=diversity)[0] in far
    assert set(select("hybrid", inputs, 5, lam=0.0, normalize=normalize, diversity=diversity).tolist()) <= uncertain


def test_hybrid_checks_its_options():
    inputs = make_pool(10)
    for bad in (dict(normalize="none"), dict(diversity="kcentre"), dict(lam=-1.0), dict(uncertainty="coreset"),
                dict(uncertainty="hybrid"), dict(uncertainty_options=dict(bogus=1))):
        with pytest.raises(ValueError):
            select("hybrid", inputs, 3, **bad)


# ---------------------------------------------------------------------------------------------
# The fast greedy pickers against their plain one-pick-at-a-time loops.


def plain_coreset(features, labelled, budget, seed):
    """k-centre greedy written out: squared distances in float64 from the differences, the
    whole pool updated after every pick, ties to the smaller seeded tiebreak rank."""
    x = np.asarray(features, dtype=np.float64)
    min_sq = np.full(len(x), np.inf)
    if labelled is not None:
        min_sq = ((x[:, None] - np.asarray(labelled, dtype=np.float64)[None]) ** 2).sum(-1).min(1)
    tiebreak, picked, order = tiebreak_ranks(len(x), seed), np.zeros(len(x), dtype=bool), []
    for _ in range(budget):
        values = np.where(picked, -np.inf, min_sq)
        tied = np.flatnonzero(values == values.max())
        i = tied[np.argmin(tiebreak[tied])]
        order.append(i)
        picked[i] = True
        min_sq = np.minimum(min_sq, ((x - x[i]) ** 2).sum(1))
    return order


def coreset_pools():
    """(name, features, labelled): random float64 pools, and integer grids whose distances are
    exact integers in any order of arithmetic, so exact ties are common and the seeded tiebreak
    decides them; each with and without a labelled set."""
    r = np.random.default_rng(11)
    random_pool = blobs([[0, 0, 0], [6, 0, 0], [0, 6, 0]], 30, 1.0, seed=3)  # 90 x 3
    grid_pool = r.integers(-3, 4, size=(80, 2)).astype(np.float32)  # many duplicates and equal distances
    for name, pool, labelled in (("random", random_pool, r.normal(size=(5, 3)) * 3),
                                 ("grid", grid_pool, r.integers(-3, 4, size=(4, 2)).astype(np.float32))):
        yield name, pool, None
        yield name + "+labelled", pool, labelled


@pytest.mark.parametrize("candidates", [2, 7, 1024])
def test_coreset_rounds_give_exactly_the_plain_greedy_order(monkeypatch, candidates):
    from winnow.strategies import diversity
    monkeypatch.setattr(diversity, "CANDIDATES", candidates)  # few candidates: many rounds, many threshold stops
    for name, pool, labelled in coreset_pools():
        n = len(pool)
        for seed in range(3):
            for budget in (1, 2, 5, n // 3, n - 1, n):
                inputs = StrategyInputs(features=pool, labelled_features=labelled)
                chosen = select("coreset", inputs, budget, seed=seed, chunk_size=16)
                expected = plain_coreset(pool, labelled, budget, seed)
                assert chosen.tolist() == expected, (name, seed, budget)


def test_mmd_exact_setting_is_the_plain_greedy_and_groups_stay_close():
    r = np.random.default_rng(4)
    pool = np.concatenate([blobs([c], size, 0.8, seed=5 + size)  # 130 x 2, uneven density
                           for c, size in (([0, 0], 60), ([4, 0], 40), ([0, 4], 20), ([4, 4], 10))])
    labelled = pool[r.choice(130, 6, replace=False)] + 0.1

    def plain_mmd(lab, budget, seed, groups):
        """The greedy loop over MMDGain.gain, the pool updated after every pick, group by group."""
        state = MMDGain(pool, lab, seed=seed, chunk_size=None)
        picked, order, tiebreak = np.zeros(130, dtype=bool), [], tiebreak_ranks(130, seed)
        for rows, share in zip(groups, group_shares([len(g) for g in groups], budget)):
            for _ in range(share):
                gains = np.full(130, -np.inf)
                gains[rows] = np.where(picked[rows], -np.inf, state.gain()[rows])
                tied = np.flatnonzero(gains == gains.max())
                i = tied[np.argmin(tiebreak[tied])]
                order.append(i)
                picked[i] = True
                state.add(i)
        return order

    for with_labelled in (False, True):
        lab = labelled if with_labelled else None
        inputs = StrategyInputs(features=pool, labelled_features=lab)
        for seed in (0, 1):
            for budget in (1, 4, 40, 129):
                expected = plain_mmd(lab, budget, seed, [np.arange(130)])
                exact = select("mmd", inputs, budget, seed=seed, group_size=None, chunk_size=32)
                assert exact.tolist() == expected
                # the default group (4096) holds this whole pool: the same picks
                assert select("mmd", inputs, budget, seed=seed).tolist() == expected
                groups = random_groups(130, 30, seed)  # 5 groups of 26
                assert select("mmd", inputs, budget, seed=seed, group_size=30).tolist() == plain_mmd(
                    lab, budget, seed, groups)

    # groups of 20: each gives its share, and the MMD reached stays near the exact greedy's, far from random
    def mmd2_of(chosen):
        state = MMDGain(pool, None, seed=0, chunk_size=None)
        state.add_many(chosen)
        return state.mmd2()

    inputs = StrategyInputs(features=pool)
    exact, grouped = (select("mmd", inputs, 40, group_size=g) for g in (None, 20))
    assert len(set(grouped.tolist())) == 40
    random_mmd2 = np.mean([mmd2_of(r.choice(130, 40, replace=False)) for _ in range(20)])
    assert mmd2_of(grouped) < 1.5 * mmd2_of(exact) < random_mmd2
    assert not np.array_equal(grouped, exact)  # the option does something


@pytest.mark.parametrize("diversity", ["mmd", "distance"])
@pytest.mark.parametrize("normalize", ["rank", "zscore"])
def test_hybrid_exact_setting_is_the_plain_per_pick_computation(diversity, normalize):
    from winnow.strategies.diversity import KCentre
    full = make_pool(90, k=3, d=3, seed=8)
    for with_labelled in (False, True):
        lab = full.labelled_features.astype(np.float64) if with_labelled else None
        inputs = StrategyInputs(probs=full.probs, features=full.features.astype(np.float64), labelled_features=lab)
        for seed, budget, lam in ((0, 1, 1.0), (1, 30, 1.0), (2, 90, 3.0)):
            base = normalize_values(compute_scores("margin", inputs), normalize)
            if diversity == "mmd":
                state = MMDGain(inputs.features, lab, seed=seed, chunk_size=None)
                spread = state.gain
            else:
                state = KCentre(inputs.features, lab, chunk_size=None)
                spread = state.distance
            picked, expected, tiebreak = np.zeros(90, dtype=bool), [], tiebreak_ranks(90, seed)
            for _ in range(budget):  # the hybrid of before: the whole pool normalised again after every pick
                combined = base.copy()
                combined[~picked] += lam * normalize_values(spread()[~picked], normalize)
                combined[picked] = -np.inf
                tied = np.flatnonzero(combined == combined.max())
                i = tied[np.argmin(tiebreak[tied])]
                expected.append(i)
                picked[i] = True
                state.add(i)
            options = dict(diversity=diversity, normalize=normalize, lam=lam, seed=seed)
            assert select("hybrid", inputs, budget, group_size=None, **options).tolist() == expected
            assert select("hybrid", inputs, budget, **options).tolist() == expected  # one default group
            grouped = select("hybrid", inputs, budget, group_size=25, **options)
            assert len(set(grouped.tolist())) == budget


def test_rank_normalisation_matches_its_definition():
    r = np.random.default_rng(2)
    for values in (r.normal(size=50), r.integers(0, 4, 50).astype(float), np.zeros(7), np.array([3.0, 1.0])):
        ordered = np.sort(values)
        low, high = np.searchsorted(ordered, values, "left"), np.searchsorted(ordered, values, "right")
        assert np.array_equal(normalize_values(values, "rank"), (low + high - 1) / 2 / (len(values) - 1))
    assert normalize_values(np.array([5.0]), "rank").tolist() == [0.0]


def test_groups_split_the_pool_and_the_budget_in_proportion():
    groups = random_groups(1000, 300, seed=0)
    assert [len(g) for g in groups] == [250] * 4
    assert sorted(np.concatenate(groups).tolist()) == list(range(1000))
    assert random_groups(10, None, seed=0)[0].tolist() == list(range(10))
    for sizes, budget in (([250] * 4, 999), ([3, 5, 2], 10), ([3, 5, 2], 1), ([7, 7, 6], 13)):
        shares = group_shares(sizes, budget)
        assert shares.sum() == budget and (shares <= np.array(sizes)).all()
        assert np.abs(shares - np.array(sizes) * budget / sum(sizes)).max() < 1 + 1e-9


def test_mmd_blocks_of_picks_count_as_the_picks_one_by_one():
    r = np.random.default_rng(6)
    pool, labelled = r.normal(size=(40, 3)), r.normal(size=(4, 3))
    one_by_one, in_blocks = (MMDGain(pool, labelled, seed=0, chunk_size=7, bandwidth=1.2) for _ in range(2))
    picks = r.choice(40, 25, replace=False)
    for i in picks:
        one_by_one.add(i)
    in_blocks.add_many(picks[:3])
    in_blocks.add_many(picks[3:])
    np.testing.assert_allclose(in_blocks.mmd2(), one_by_one.mmd2(), rtol=1e-12)
    np.testing.assert_allclose(in_blocks.gain(), one_by_one.gain(), rtol=1e-9, atol=1e-12)
