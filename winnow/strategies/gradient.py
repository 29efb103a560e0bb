"""Strategies on the gradient of the loss: `badge` (Ash et al. 2020, "Deep batch active learning
by diverse, uncertain gradient lower bounds").

The gradient embedding of a pool sample is never built: it has K * D entries per sample, but its
distances factorise into (N, K) and (N, D) terms, so memory stays O(N (K + D)).
"""

from __future__ import annotations

import numpy as np

from ._arrays import argmax_tiebreak, chunks, order_to_scores, rng, tiebreak_ranks
from .registry import register_strategy

# A squared distance below this fraction of |g_i|^2 + |g_j|^2 is rounding error of the factorised
# formula (|g_i|^2 + |g_j|^2 - 2 g_i . g_j cancels): it is taken as 0, so duplicates are at distance 0.
_ROUNDING = 1e-9


def _sq_norms64(x: np.ndarray, chunk_size: int | None) -> np.ndarray:
    """(len(x),) float64 squared row norms, converting `chunk_size` rows at a time."""
    out = np.empty(len(x))
    for rows in chunks(len(x), chunk_size):
        block = np.asarray(x[rows], dtype=np.float64)
        out[rows] = np.einsum("ij,ij->i", block, block)
    return out


class GradientEmbedding:
    """The gradient embeddings of the pool, kept factorised.

    g_i = a_i outer h_i  (K * D entries), with a_i = p_i - onehot(yhat_i) (K,), yhat_i = argmax p_i,
    and h_i the features (D,): the gradient of the cross-entropy loss for the hypothesised label
    yhat_i with respect to the weights of the last linear layer. Since
    g_i . g_j = (a_i . a_j)(h_i . h_j),

        |g_i - g_j|^2 = |a_i|^2 |h_i|^2 + |a_j|^2 |h_j|^2 - 2 (a_i . a_j)(h_i . h_j),

    so the distances from every pool sample to one sample cost O(N (K + D)), in float64.
    """

    def __init__(self, probs: np.ndarray, features: np.ndarray, chunk_size: int | None):
        a = np.array(probs, dtype=np.float64)  # (N, K), a copy
        a[np.arange(len(a)), a.argmax(1)] -= 1.0
        self.a, self.features, self.chunk_size = a, features, chunk_size
        self.sq_norms = np.einsum("ij,ij->i", a, a) * _sq_norms64(features, chunk_size)  # (N,) |g_i|^2

    def sq_distances_to(self, j: int) -> np.ndarray:
        """(N,) |g_i - g_j|^2 for every pool sample i, in chunks of rows."""
        a_j, h_j = self.a[j], np.asarray(self.features[j], dtype=np.float64)
        out = np.empty(len(self.a))
        for rows in chunks(len(self.a), self.chunk_size):
            h = np.asarray(self.features[rows], dtype=np.float64)  # (B, D)
            scale = self.sq_norms[rows] + self.sq_norms[j]
            d = (self.a[rows] @ a_j) * (h @ h_j)
            d *= -2
            d += scale
            d[d <= _ROUNDING * scale] = 0.0  # also clips the small negatives of rounding
            out[rows] = d
        return out


@register_strategy("badge", needs=("probs", "features"), kind="batch")
def badge(probs, features, *, pool_size, budget, seed, chunk_size):
    """BADGE: k-means++ seeding on the gradient embeddings g_i = (p_i - onehot(argmax p_i)) outer h_i
    (see `GradientEmbedding`), so the picks are both uncertain and diverse.

    Sign: |g_i| is large when the prediction is unsure (p_i far from its own one-hot) and the
    features are large, so uncertain samples are favoured; samples whose gradients point the same
    way as a pick's are near it, so they are unlikely to be picked too.
    First pick: the largest |g_i| (ties by the seeded tie-break ranks). Each next pick is drawn
    (seeded) with probability proportional to the squared distance from g_i to the nearest pick,
    as in k-means++; when every sample left is at distance 0 of a pick (duplicates, or all
    predictions one-hot), the rest follow the tie-break order.
    Cost O(N (K + D)) per pick; memory O(N (K + D)), never the (N, K * D) embedding nor N x N.
    """
    embedding = GradientEmbedding(probs, features, chunk_size)
    tiebreak = tiebreak_ranks(pool_size, seed)
    generator = rng(seed, 4)
    picked = np.zeros(pool_size, dtype=bool)
    order = np.empty(budget, dtype=np.int64)
    nearest_sq = np.full(pool_size, np.inf)  # (N,) squared distance to the nearest pick
    i = argmax_tiebreak(embedding.sq_norms, tiebreak)
    for r in range(budget):
        if r:
            cumulative = np.cumsum(nearest_sq)
            total = cumulative[-1]
            if total > 0:
                i = int(np.searchsorted(cumulative, generator.random() * total, side="right"))
                if i == pool_size:  # the draw rounded up to the total
                    i = int(np.flatnonzero(nearest_sq)[-1])
            else:  # every sample left is at distance 0 of a pick
                i = argmax_tiebreak(np.where(picked, -np.inf, 0.0), tiebreak)
        order[r], picked[i] = i, True
        np.minimum(nearest_sq, embedding.sq_distances_to(i), out=nearest_sq)
        nearest_sq[i] = 0.0
    return order_to_scores(order, pool_size)
