"""Pruning strategies on hand-worked cases: el2n, forgetting, self_confidence."""

from __future__ import annotations

import math

import numpy as np
import pytest

from winnow.strategies import StrategyInputs, compute_scores, select


def test_el2n_is_the_mean_error_norm_over_the_runs():
    labels = np.array([0, 1, 1])
    early_probs = np.array([
        [[1.0, 0.0], [0.5, 0.5], [1.0, 0.0]],   # run 1: right, unsure, confidently wrong
        [[1.0, 0.0], [0.0, 1.0], [0.8, 0.2]],   # run 2
    ])
    scores = compute_scores("el2n", StrategyInputs(early_probs=early_probs, labels=labels))
    # sample 1: run 1 |(0.5, -0.5)| = sqrt(0.5), run 2 0; sample 2: sqrt(2) and |(0.8, -0.8)| = 0.8 sqrt(2)
    np.testing.assert_allclose(scores, [0.0, math.sqrt(0.5) / 2, 0.9 * math.sqrt(2)])
    inputs = StrategyInputs(early_probs=early_probs, labels=labels)
    assert select("el2n", inputs, 3).tolist() == [2, 1, 0]
    assert select("el2n", inputs, 3, keep="easy").tolist() == [0, 1, 2]


def test_forgetting_counts_events_between_presentations():
    # rows: epochs; columns: samples. -1 = not trained on in that epoch.
    history = np.array([
        [1, 0, 1, 0, 1, 1],
        [0, 0, 1, 1, -1, 1],
        [1, 0, 0, 1, 0, 1],
        [0, 0, 1, 1, 1, 1],
    ])
    scores = compute_scores("forgetting", StrategyInputs(correct_history=history))
    # events: s0 1->0 twice; s1 never right -> E = 4; s2 one; s3 none; s4 1->(skip)->0: one; s5 none
    events = np.array([2, 4, 1, 0, 1, 0])
    share_right = np.array([2 / 4, 0, 3 / 4, 3 / 4, 2 / 3, 1])
    np.testing.assert_allclose(scores, events + (1 - share_right) / 2)
    order = select("forgetting", StrategyInputs(correct_history=history), 6).tolist()
    assert order == [1, 0, 4, 2, 3, 5]  # never learnt first; the unforgettable, always-right s5 last
    easy = select("forgetting", StrategyInputs(correct_history=history), 6, keep="easy").tolist()
    assert easy == order[::-1]


def test_self_confidence_keeps_the_low_probability_of_the_given_label_first():
    probs = np.array([[0.9, 0.1], [0.4, 0.6], [0.2, 0.8]])
    labels = np.array([0, 0, 1])
    inputs = StrategyInputs(probs=probs, labels=labels)
    np.testing.assert_allclose(compute_scores("self_confidence", inputs), [0.1, 0.6, 0.2])
    assert select("self_confidence", inputs, 1).tolist() == [1]  # the likely mislabelled sample


@pytest.mark.parametrize("name, inputs", [
    ("el2n", dict(early_probs=np.full((1, 2, 2), 0.5), labels=np.array([0, 1]))),
    ("forgetting", dict(correct_history=np.ones((2, 2)))),
    ("self_confidence", dict(probs=np.full((2, 2), 0.5), labels=np.array([0, 1]))),
])
def test_keep_option_is_checked(name, inputs):
    with pytest.raises(ValueError, match="keep must be 'hard' or 'easy'"):
        compute_scores(name, inputs, keep="middle")
