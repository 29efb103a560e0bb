"""Strategies on the gradient of the loss: `badge` (Ash et al. 2020, "Deep batch active learning
by diverse, uncertain gradient lower bounds").

The gradient embedding of a pool sample is never built: it has K * D entries per sample, but its
distances factorise into (N, K) and (N, D) terms, so memory stays O(N (K + D)).
For large budgets several picks are drawn per distance update (`draws_per_update`).
"""

from __future__ import annotations

import numpy as np

from ._arrays import argmax_tiebreak, chunks, order_to_scores, rng, tiebreak_ranks
from .diversity import _positive_int
from .registry import register_strategy

# A squared distance below this fraction of |g_i|^2 + |g_j|^2 is rounding error of the factorised
# formula (|g_i|^2 + |g_j|^2 - 2 g_i . g_j cancels, and h_i . h_j is summed in float32): it is taken
# as 0, so duplicates are at distance 0.
_ROUNDING = 1e-5
_UPDATES = 1000  # distance updates at most, by default: budget / _UPDATES picks are drawn per update
_AUTO_DIMS, _AUTO_WORK = 128, 1e11  # dims="auto" projects to 128 dimensions above 1e11 multiply-adds


class GradientEmbedding:
    """The gradient embeddings of the pool, kept factorised.

    g_i = a_i outer h_i  (K * D entries), with a_i = p_i - onehot(yhat_i) (K,), yhat_i = argmax p_i,
    and h_i the features (D,): the gradient of the cross-entropy loss for the hypothesised label
    yhat_i with respect to the weights of the last linear layer. Since
    g_i . g_j = (a_i . a_j)(h_i . h_j),

        |g_i - g_j|^2 = |a_i|^2 |h_i|^2 + |a_j|^2 |h_j|^2 - 2 (a_i . a_j)(h_i . h_j),

    so the distances from every pool sample to B samples cost O(N B (K + D)): two float32 matrix
    products that read the pool once for all B.

    dims : None keeps the features; an int below D replaces h_i by R h_i, with R a seeded
        (dims, D) Gaussian matrix scaled by 1 / sqrt(dims) (Johnson-Lindenstrauss), so every
        h_i . h_j, and with it every distance, is approximate (relative error about
        sqrt(2 / dims) of |h_i| |h_j|) and a distance update costs dims / D as much.
    """

    def __init__(self, probs: np.ndarray, features: np.ndarray, chunk_size: int | None,
                 dims: int | None = None, seed: int = 0):
        a = np.array(probs, dtype=np.float64)  # (N, K), a copy
        a[np.arange(len(a)), a.argmax(1)] -= 1.0
        self.a, self.chunk_size = a.astype(np.float32), chunk_size
        d = features.shape[1]
        if dims is not None and dims < d:
            projection = (rng(seed, 5).standard_normal((d, dims)) / np.sqrt(dims)).astype(np.float32)
            self.h = np.empty((len(a), dims), dtype=np.float32)
            for rows in chunks(len(a), chunk_size):
                self.h[rows] = np.asarray(features[rows], dtype=np.float32) @ projection
        else:
            self.h = np.ascontiguousarray(features, dtype=np.float32)  # (N, D')
        h_norms = np.empty(len(a))
        for rows in chunks(len(a), chunk_size):
            block = self.h[rows].astype(np.float64)
            h_norms[rows] = np.einsum("ij,ij->i", block, block)
        self.sq_norms = np.einsum("ij,ij->i", a, a) * h_norms  # (N,) |g_i|^2
        self._sq_norms32 = self.sq_norms.astype(np.float32)  # what each distance update adds

    def sq_distances_to(self, picks) -> np.ndarray:
        """(N, B) float32 |g_i - g_j|^2 for every pool sample i and each j in `picks` (B,), in
        row chunks; (N,) for one pick."""
        one = np.ndim(picks) == 0
        picks = np.atleast_1d(picks)
        a_picks, h_picks = self.a[picks].T, self.h[picks].T  # (K, B), (D', B)
        norms = self._sq_norms32
        out = np.empty((len(self.a), len(picks)), dtype=np.float32)
        for rows in chunks(len(self.a), self.chunk_size):
            scale = norms[rows, None] + norms[None, picks]  # (R, B)
            d = self.a[rows] @ a_picks
            d *= self.h[rows] @ h_picks
            d *= -2
            d += scale
            d[d <= _ROUNDING * scale] = 0.0  # also clips the small negatives of rounding
            out[rows] = d
        return out[:, 0] if one else out


@register_strategy("badge", needs=("probs", "features"), kind="batch")
def badge(probs, features, *, pool_size, budget, seed, chunk_size, draws_per_update=None, dims="auto"):
    """BADGE: k-means++ seeding on the gradient embeddings g_i = (p_i - onehot(argmax p_i)) outer h_i
    (see `GradientEmbedding`), so the picks are both uncertain and diverse.

    Sign: |g_i| is large when the prediction is unsure (p_i far from its own one-hot) and the
    features are large, so uncertain samples are favoured; samples whose gradients point the same
    way as a pick's are near it, so they are unlikely to be picked too.
    First pick: the largest |g_i| (ties by the seeded tie-break ranks). Each next pick is drawn
    (seeded) with probability proportional to the squared distance from g_i to the nearest pick,
    as in k-means++; when every sample left is at distance 0 of a pick (duplicates, or all
    predictions one-hot), the rest follow the tie-break order.

    draws_per_update : picks drawn (without replacement, each in proportion to the squared
        distance) before the distances to the nearest pick are brought up to date; 1 is exact
        k-means++ seeding. Default None: 1 for budgets up to 1 000, else ceil(budget / 1 000), so
        at most 1 000 updates. Picks drawn together do not push each other away, so a large
        value loosens the diversity inside a draw; each update reads the features once for the
        whole draw, which is what makes large budgets affordable (budget 25 000 of 50 000 x 512:
        one pass per pick would read 100 MB 25 000 times).
    dims : "auto" (default), None or an int: the features are projected to `dims` random
        directions (see `GradientEmbedding`). None is exact; "auto" projects to 128 dimensions only
        when the exact distance updates would cost more than about 10^11 multiply-adds
        (N * budget * D > 1e11: 50 000 x 512 with budget 25 000 is 6.4e11), and is exact below.
    Cost O(N (K + D)) per pick; memory O(N (K + D + draws)), never the (N, K * D) embedding nor N x N.
    """
    if draws_per_update is None:
        draws_per_update = -(-budget // _UPDATES)
    draws_per_update = _positive_int("draws_per_update", draws_per_update)
    if dims == "auto":
        dims = _AUTO_DIMS if pool_size * budget * features.shape[1] > _AUTO_WORK else None
    dims = _positive_int("dims", dims, allow_none=True)
    embedding = GradientEmbedding(probs, features, chunk_size, dims, seed)
    tiebreak = tiebreak_ranks(pool_size, seed)
    generator = rng(seed, 4)
    picked = np.zeros(pool_size, dtype=bool)
    order = np.empty(budget, dtype=np.int64)
    nearest_sq = np.full(pool_size, np.inf)  # (N,) squared distance to the nearest pick
    r = 0
    draw = [argmax_tiebreak(embedding.sq_norms, tiebreak)]
    while True:
        order[r:r + len(draw)], picked[draw] = draw, True
        r += len(draw)
        if r == budget:
            return order_to_scores(order, pool_size)
        np.minimum(nearest_sq, embedding.sq_distances_to(draw).min(1), out=nearest_sq)
        nearest_sq[draw] = 0.0
        draw = _draw(nearest_sq, min(draws_per_update, budget - r), picked, tiebreak, generator)


def _draw(weights: np.ndarray, count: int, picked: np.ndarray, tiebreak: np.ndarray,
          generator: np.random.Generator) -> list[int]:
    """`count` unpicked positions drawn one by one without replacement, each with probability
    proportional to `weights` (0 for the picked ones); once every weight left is 0, the unpicked
    positions follow the tie-break order."""
    weights = weights.copy()
    taken = picked.copy()
    out = []
    for _ in range(count):
        cumulative = np.cumsum(weights)
        total = cumulative[-1]
        if total > 0:
            i = int(np.searchsorted(cumulative, generator.random() * total, side="right"))
            if i == len(weights):  # the draw rounded up to the total
                i = int(np.flatnonzero(weights)[-1])
        else:
            i = argmax_tiebreak(np.where(taken, -np.inf, 0.0), tiebreak)
        out.append(i)
        weights[i], taken[i] = 0.0, True
    return out
