"""Pruning strategies on hand-worked cases: el2n, forgetting, self_confidence, keep="auto" and ccs."""

from __future__ import annotations

import math

import numpy as np
import pytest

from winnow.strategies import StrategyInputs, compute_scores, select
from winnow.strategies.pruning import auto_keep, resolved_keep


def test_el2n_is_the_mean_error_norm_over_the_runs():
    labels = np.array([0, 1, 1])
    early_probs = np.array([
        [[1.0, 0.0], [0.5, 0.5], [1.0, 0.0]],   # run 1: right, unsure, confidently wrong
        [[1.0, 0.0], [0.0, 1.0], [0.8, 0.2]],   # run 2
    ])
    scores = compute_scores("el2n", StrategyInputs(early_probs=early_probs, labels=labels), keep="hard")
    # sample 1: run 1 |(0.5, -0.5)| = sqrt(0.5), run 2 0; sample 2: sqrt(2) and |(0.8, -0.8)| = 0.8 sqrt(2)
    np.testing.assert_allclose(scores, [0.0, math.sqrt(0.5) / 2, 0.9 * math.sqrt(2)])
    inputs = StrategyInputs(early_probs=early_probs, labels=labels)
    assert select("el2n", inputs, 3, keep="hard").tolist() == [2, 1, 0]
    assert select("el2n", inputs, 3, keep="easy").tolist() == [0, 1, 2]


def test_forgetting_counts_events_between_presentations():
    # rows: epochs; columns: samples. -1 = not trained on in that epoch.
    history = np.array([
        [1, 0, 1, 0, 1, 1],
        [0, 0, 1, 1, -1, 1],
        [1, 0, 0, 1, 0, 1],
        [0, 0, 1, 1, 1, 1],
    ])
    scores = compute_scores("forgetting", StrategyInputs(correct_history=history), keep="hard")
    # events: s0 1->0 twice; s1 never right -> E = 4; s2 one; s3 none; s4 1->(skip)->0: one; s5 none
    events = np.array([2, 4, 1, 0, 1, 0])
    share_right = np.array([2 / 4, 0, 3 / 4, 3 / 4, 2 / 3, 1])
    np.testing.assert_allclose(scores, events + (1 - share_right) / 2)
    order = select("forgetting", StrategyInputs(correct_history=history), 6, keep="hard").tolist()
    assert order == [1, 0, 4, 2, 3, 5]  # never learnt first; the unforgettable, always-right s5 last
    easy = select("forgetting", StrategyInputs(correct_history=history), 6, keep="easy").tolist()
    assert easy == order[::-1]


def test_self_confidence_keeps_the_low_probability_of_the_given_label_first():
    probs = np.array([[0.9, 0.1], [0.4, 0.6], [0.2, 0.8]])
    labels = np.array([0, 0, 1])
    inputs = StrategyInputs(probs=probs, labels=labels)
    np.testing.assert_allclose(compute_scores("self_confidence", inputs, keep="hard"), [0.1, 0.6, 0.2])
    assert select("self_confidence", inputs, 1, keep="hard").tolist() == [1]  # the likely mislabelled sample
    assert select("self_confidence", inputs, 1).tolist() == [0]  # auto: one kept of 2 classes is scarce: easy


@pytest.mark.parametrize("name, inputs", [
    ("el2n", dict(early_probs=np.full((1, 2, 2), 0.5), labels=np.array([0, 1]))),
    ("forgetting", dict(correct_history=np.ones((2, 2)))),
    ("self_confidence", dict(probs=np.full((2, 2), 0.5), labels=np.array([0, 1]))),
])
def test_keep_option_is_checked(name, inputs):
    with pytest.raises(ValueError, match="keep must be 'hard', 'easy', 'coverage' or 'auto', got 'middle'"):
        compute_scores(name, inputs, keep="middle")


@pytest.mark.parametrize("kept, pool, classes, end", [
    (25_000, 50_000, 10, "hard"),  # all of CIFAR-10, keep half: 2 500 a class, where hard won by 1.65 points
    (4_750, 9_500, 10, "easy"),  # the small photo set, keep half: 475 a class, where hard lost 6.5 points
    (15_000, 50_000, 10, "coverage"),  # 1 500 a class but only 30 % kept: the easy end lost 3.6 points there
    (9_999, 50_000, 10, "easy"),
    (10_000, 10_000, 10, "hard"),  # keeping everything at 1 000 a class
    (2_000, 4_000, 2, "hard"), (1_998, 4_000, 2, "easy")])  # the two edges of the rule
def test_auto_keep_chooses_the_end_by_what_is_kept(kept, pool, classes, end):
    assert auto_keep(kept, pool, classes) == end


@pytest.mark.parametrize("name", ["self_confidence", "el2n", "forgetting"])
def test_the_easy_end_keeps_every_class_in_proportion_and_its_easiest_first(name):
    """Class 0 (600 samples) is learnt well (p[label] 0.9-1), class 1 (400) badly (0.3-0.8): the
    easiest 40 % overall would be class 0 alone. keep="easy" keeps 240 of class 0 and 160 of
    class 1, in each the most confident; forgetting without labels cannot balance."""
    r = np.random.default_rng(5)
    labels = np.repeat([0, 1], [600, 400])
    confidence = np.concatenate([r.uniform(0.9, 1.0, 600), r.uniform(0.3, 0.8, 400)])
    probs = np.stack([confidence, 1 - confidence], 1)
    probs[labels == 1] = probs[labels == 1][:, ::-1]  # p[label] = confidence
    history = (r.uniform(size=(40, 1000)) < confidence).astype(np.int8)
    inputs = StrategyInputs(probs=probs, labels=labels, early_probs=probs[None], correct_history=history)
    kept = select(name, inputs, 400, keep="easy")
    assert np.bincount(labels[kept]).tolist() == [240, 160]
    hardness = -compute_scores(name, StrategyInputs(probs=probs, labels=labels, early_probs=probs[None],
                                                    correct_history=history), keep="hard")
    for c in (0, 1):  # within each class, exactly the easiest by the score's own hardness
        members = np.flatnonzero(labels == c)
        easiest = members[np.argsort(-hardness[members], kind="stable")][:len(kept[labels[kept] == c])]
        assert set(kept[labels[kept] == c]) == set(easiest)
    if name == "forgetting":
        unlabelled = select(name, StrategyInputs(correct_history=history), 400, keep="easy")
        assert np.bincount(labels[unlabelled], minlength=2)[1] < 160  # by events alone: class 0 dominates


@pytest.mark.parametrize("name", ["self_confidence", "el2n", "forgetting"])
def test_keep_coverage_keeps_what_ccs_keeps_over_the_same_score(name):
    """keep="coverage" is CCS over the score's own hardness: the same picks as the ccs strategy
    with that score, for the same seed; keep="auto" chooses it for a large kept set under half
    the pool (2 000 of 6 000, 2 classes), and every sample still gets a finite score."""
    n, r = 6000, np.random.default_rng(4)
    labels = np.arange(n) % 2
    confidence = r.uniform(0.05, 0.95, n)
    probs = np.stack([confidence, 1 - confidence], 1)
    probs[labels == 1] = probs[labels == 1][:, ::-1]
    inputs = StrategyInputs(probs=probs, labels=labels, early_probs=probs[None],
                            correct_history=(r.uniform(size=(6, n)) < confidence).astype(np.int8))
    for seed in (0, 3):
        ccs = select("ccs", inputs, 2000, seed=seed, score=name)
        np.testing.assert_array_equal(np.sort(select(name, inputs, 2000, seed=seed, keep="coverage")), np.sort(ccs))
        np.testing.assert_array_equal(select(name, inputs, 2000, seed=seed), select(name, inputs, 2000, seed=seed,
                                                                                      keep="coverage"))
    assert np.isfinite(compute_scores(name, inputs, budget=2000, keep="coverage")).all()
    with pytest.raises(ValueError, match="keep='coverage' needs how many samples are kept"):
        compute_scores(name, inputs, keep="coverage")


def test_resolved_keep_resolves_auto_and_names_no_end_for_other_strategies():
    assert resolved_keep("self_confidence", {}, 25_000, 50_000, 10) == "hard"  # the default keep="auto"
    assert resolved_keep("el2n", {"keep": "auto"}, 15_000, 50_000, 10) == "coverage"
    assert resolved_keep("el2n", {"keep": "auto"}, 1_500, 5_000, 10) == "easy"
    assert resolved_keep("forgetting", {"keep": "hard"}, 100, 50_000, 10) == "hard"  # given, not resolved
    assert resolved_keep("random", {}, 100, 1000, 10) is None and resolved_keep("ccs", {}, 100, 1000, 10) is None


@pytest.mark.parametrize("name", ["self_confidence", "el2n", "forgetting"])
def test_keep_auto_is_hard_for_a_large_kept_set_and_easy_for_a_small_one(name):
    """2 000 samples of 2 classes: keeping 1 000 a class (half) keeps the hard end; keeping 200 a
    class the easy end; the picks equal keep="hard" and keep="easy" exactly."""
    n, r = 4000, np.random.default_rng(3)
    labels = np.arange(n) % 2
    confidence = r.uniform(0.05, 0.95, n)
    probs = np.stack([confidence, 1 - confidence], 1)
    probs[labels == 1] = probs[labels == 1][:, ::-1]  # p[label] = confidence
    inputs = StrategyInputs(probs=probs, labels=labels, early_probs=probs[None],
                            correct_history=(r.uniform(size=(6, n)) < confidence).astype(np.int8))
    for budget, end in ((2000, "hard"), (400, "easy")):
        np.testing.assert_array_equal(select(name, inputs, budget, keep="auto"), select(name, inputs, budget, keep=end))
    with pytest.raises(ValueError, match="keep='auto' needs how many samples are kept"):
        compute_scores(name, inputs, keep="auto")


def ccs_pool(hardness: np.ndarray) -> StrategyInputs:
    """Two classes, label 0, p[label] = 1 - hardness: self_confidence's score is the hardness."""
    probs = np.stack([1 - hardness, hardness], 1)
    return StrategyInputs(probs=probs, labels=np.zeros(len(hardness), dtype=np.int64))


def test_ccs_gives_every_stratum_an_equal_share_and_the_small_ones_all_they_have():
    """Two strata of difficulty (0-0.4: 990 samples, 0.95-1: 10 samples). Keeping 100 with no
    cut-off: the small hard stratum gives all 10 (less than its half), the big one the other 90;
    keeping the hardest only, or at random, would give 100 or about 1 of the hard ones."""
    r = np.random.default_rng(0)
    hardness = np.concatenate([r.uniform(0, 0.4, 990), r.uniform(0.95, 1.0, 10)])
    chosen = select("ccs", ccs_pool(hardness), 100, strata=2, beta=0.0)
    assert len(set(chosen)) == 100 and (chosen >= 990).sum() == 10
    with_cut = select("ccs", ccs_pool(hardness), 100, strata=2, beta=0.01)  # the 10 hardest dropped as noise
    assert not (with_cut >= 990).any()
    kept = hardness[with_cut]  # the easy stratum's own range split in two: 50 from each half
    middle = (hardness[:990].min() + hardness[:990].max()) / 2
    assert (kept < middle).sum() == 50 and (kept >= middle).sum() == 50


def test_ccs_is_seeded_and_drops_the_hardest_share_by_the_pruning_rate():
    hardness = np.linspace(0, 1, 1000)
    inputs = ccs_pool(hardness)
    np.testing.assert_array_equal(select("ccs", inputs, 300, seed=1), select("ccs", inputs, 300, seed=1))
    assert set(select("ccs", inputs, 300, seed=1)) != set(select("ccs", inputs, 300, seed=2))
    # beta="auto": none dropped keeping half or more, 10 % keeping a fifth to a half, 30 % below
    for budget, dropped in ((600, 0), (300, 100), (100, 300)):
        chosen = select("ccs", inputs, budget, strata=10)
        assert hardness[chosen].max() < hardness[999 - dropped] + 1e-12
        assert budget == len(set(chosen))
    hardest_kept = select("ccs", inputs, 600, strata=10)
    assert hardness[hardest_kept].max() > 0.9  # no cut-off: the hardest stratum is kept too


def test_ccs_over_another_score_and_its_option_errors():
    hardness = np.linspace(0, 1, 200)
    inputs = ccs_pool(hardness)
    margin = select("ccs", inputs, 50, score="margin", beta=0.0, strata=1)  # one stratum: at random
    assert len(set(margin)) == 50
    for options, message in (({"score": "ccs"}, "option score of strategy 'ccs' must be another strategy"),
                             ({"beta": 1.0}, "option beta must be 'auto' or a share in \\[0, 1\\), got 1.0"),
                             ({"strata": 0}, "option strata must be an int >= 1, got 0"),
                             ({"score": "nosuch"}, "option score of strategy 'ccs': unknown strategy 'nosuch'; known: ")):
        with pytest.raises(ValueError, match=message):
            select("ccs", inputs, 50, **options)
