"""Uncertainty plus diversity, each normalised first."""

from __future__ import annotations

import numpy as np

from ._arrays import greedy_order, normalize as normalized, order_to_scores, tiebreak_ranks
from .diversity import KCentre, MMDGain
from .registry import get_strategy, register_strategy
from .selection import compute_scores


@register_strategy("hybrid", needs=("features",), optional=("labelled_features",), kind="batch")
def hybrid(features, labelled_features=None, *, inputs, pool_size, budget, seed, chunk_size, uncertainty="margin",
           uncertainty_options=None, diversity="mmd", lam=1.0, normalize="rank", repeats=5, draw_size=1000,
           bandwidth=None):
    """Greedy batch: repeatedly pick the sample with the largest
    norm(uncertainty) + lam * norm(diversity), where

    uncertainty : a registered score strategy (default "margin"; it gets the same inputs, so
        "margin" needs probs), with `uncertainty_options`; normalised once over the pool.
    diversity : "mmd" (default; the MMD reduction of `mmd`, with its repeats, draw_size and
        bandwidth) or "distance" (the distance to the nearest labelled sample or pick, as in
        `coreset`); updated after every pick and normalised again over the samples not yet
        picked, so its spread, which shrinks as picks fill the space, keeps its weight.
    normalize : "rank" (average rank scaled to [0, 1]; default, robust to outliers) or
        "zscore" ((v - mean) / std).
    lam : the weight of diversity; 0 gives exactly the uncertainty order.

    Why normalise: raw sums are wrong. In the earlier experiments the uncertainty score ran
    from 1 to 600 while the MMD term ran from 0.004 to 0.02, so uncertainty + lam * MMD was
    the uncertainty order for any sensible lam: lam did nothing. After normalisation both
    terms have the same spread and lam means what it says.
    """
    if normalize not in ("rank", "zscore"):
        raise ValueError(f"option normalize must be 'rank' or 'zscore', got {normalize!r}")
    if diversity not in ("mmd", "distance"):
        raise ValueError(f"option diversity must be 'mmd' or 'distance', got {diversity!r}")
    if isinstance(lam, bool) or not isinstance(lam, (int, float)) or not lam >= 0:
        raise ValueError(f"option lam must be a number >= 0, got {lam!r}")
    if uncertainty == "hybrid" or get_strategy(uncertainty).kind != "score":
        raise ValueError(f"option uncertainty must name a score strategy, got {uncertainty!r}")
    scores = compute_scores(uncertainty, inputs, seed=seed, chunk_size=chunk_size, **(uncertainty_options or {}))
    base = normalized(scores, normalize)  # (N,)

    if lam == 0:
        state, spread = None, None
    elif diversity == "mmd":
        state = MMDGain(features, labelled_features, seed, chunk_size, repeats, draw_size, bandwidth)
        spread = state.gain
    else:
        state = KCentre(features, labelled_features, chunk_size)
        spread = state.distance

    def gain(picked: np.ndarray) -> np.ndarray:
        if state is None:
            return base
        free = ~picked
        combined = base.copy()
        combined[free] += lam * normalized(spread()[free], normalize)
        return combined

    order = greedy_order(gain, state.add if state else (lambda i: None), pool_size, budget,
                         tiebreak_ranks(pool_size, seed))
    return order_to_scores(order, pool_size)
