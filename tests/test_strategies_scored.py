"""`select_scored` over every registered strategy: the same picks as `select`, and the scores
the picks were ranked by."""

from __future__ import annotations

import numpy as np
import pytest

from winnow.strategies import compute_scores, get_strategy, list_strategies, select, select_scored

from test_strategies import make_pool


@pytest.mark.parametrize("name", list_strategies())
@pytest.mark.parametrize("balanced", [False, True])
def test_select_scored_returns_the_picks_of_select_and_their_scores(name, balanced):
    inputs = make_pool(45)
    positions, scores = select_scored(name, inputs, 12, seed=4, class_balanced=balanced)
    assert np.array_equal(positions, select(name, inputs, 12, seed=4, class_balanced=balanced))
    assert scores.shape == (12,) and scores.dtype == np.float64
    if get_strategy(name).kind == "score":
        np.testing.assert_allclose(scores, compute_scores(name, inputs, budget=12, seed=4)[positions])
    else:  # the pick order: budget - rank
        assert scores.tolist() == list(range(12, 0, -1))
