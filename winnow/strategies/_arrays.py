"""Shared array helpers: chunked distances and kernels (never N x N), seeded tie-breaking,
normalisation and the greedy loop of batch strategies. Private: inputs are assumed valid."""

from __future__ import annotations

import numpy as np

DEFAULT_CHUNK = 2048  # rows (and columns) per block: a block is at most 2048 x 2048 floats


def chunks(n: int, chunk_size: int | None):
    """Slices covering range(n) in order, `chunk_size` rows each (the default when None)."""
    step = chunk_size or DEFAULT_CHUNK
    for start in range(0, n, step):
        yield slice(start, min(start + step, n))


def rng(seed: int, stream: int) -> np.random.Generator:
    """An independent generator per (seed, use), so one use of randomness never shifts another."""
    return np.random.default_rng([stream, seed])


def tiebreak_ranks(n: int, seed: int) -> np.ndarray:
    """(n,) a seeded random permutation: among equal scores, the smaller rank is picked first."""
    return rng(seed, 0).permutation(n)


def argmax_tiebreak(values: np.ndarray, tiebreak: np.ndarray) -> int:
    """Position of the largest value; among equal values the one with the smallest tiebreak rank."""
    candidates = np.flatnonzero(values == values.max())
    return int(candidates[np.argmin(tiebreak[candidates])])


def order_to_scores(order: np.ndarray, n: int) -> np.ndarray:
    """Batch-strategy scores: budget - rank for the picked positions, -inf for the rest."""
    scores = np.full(n, -np.inf)
    scores[order] = len(order) - np.arange(len(order))
    return scores


def sq_norms(x: np.ndarray) -> np.ndarray:
    return np.einsum("ij,ij->i", x, x)


def sq_distances(a: np.ndarray, b: np.ndarray, a_norms=None, b_norms=None) -> np.ndarray:
    """(len(a), len(b)) squared Euclidean distances; callers keep both sides small."""
    a_norms = sq_norms(a) if a_norms is None else a_norms
    b_norms = sq_norms(b) if b_norms is None else b_norms
    return np.maximum(a_norms[:, None] + b_norms[None, :] - 2 * (a @ b.T), 0)


def min_sq_distances(x: np.ndarray, centres: np.ndarray, chunk_size: int | None) -> np.ndarray:
    """(len(x),) squared distance from each row of x to its nearest centre, in blocks."""
    out = np.full(len(x), np.inf)
    x_norms, c_norms = sq_norms(x), sq_norms(centres)
    for rows in chunks(len(x), chunk_size):
        for cols in chunks(len(centres), chunk_size):
            d = sq_distances(x[rows], centres[cols], x_norms[rows], c_norms[cols])
            np.minimum(out[rows], d.min(1), out=out[rows])
    return out


def rbf_row_sums(x: np.ndarray, y: np.ndarray, gamma: float, chunk_size: int | None) -> np.ndarray:
    """(len(x),) sum over the rows of y of exp(-gamma |x_i - y_j|^2), in blocks, in float64."""
    out = np.zeros(len(x))
    x_norms, y_norms = sq_norms(x), sq_norms(y)
    for rows in chunks(len(x), chunk_size):
        for cols in chunks(len(y), chunk_size):
            d = sq_distances(x[rows], y[cols], x_norms[rows], y_norms[cols])
            out[rows] += np.exp(-gamma * d).sum(1, dtype=np.float64)
    return out


def median_bandwidth(sample: np.ndarray) -> float:
    """The median heuristic: the median distance between distinct points of `sample`
    (keep it to about a thousand rows); 1.0 when that is 0 or there is a single point."""
    if len(sample) < 2:
        return 1.0
    d = sq_distances(sample, sample)[np.triu_indices(len(sample), k=1)]
    median = float(np.sqrt(np.median(d)))
    return median if median > 0 else 1.0


def normalize(values: np.ndarray, how: str) -> np.ndarray:
    """Map `values` to a common scale: "rank" -> average rank / (n - 1) in [0, 1] (ties share
    their mean rank); "zscore" -> (v - mean) / std (0 when the std is 0). A vector with a
    non-finite entry (nothing to compare yet) maps to zeros."""
    values = np.asarray(values, dtype=np.float64)
    if len(values) == 0 or not np.isfinite(values).all():
        return np.zeros(len(values))
    if how == "rank":
        if len(values) == 1:
            return np.zeros(1)
        ordered = np.sort(values)
        low = np.searchsorted(ordered, values, "left")
        high = np.searchsorted(ordered, values, "right")
        return (low + high - 1) / 2 / (len(values) - 1)
    std = values.std()
    return (values - values.mean()) / std if std > 0 else np.zeros(len(values))


def greedy_order(gain, add, n: int, budget: int, tiebreak: np.ndarray) -> np.ndarray:
    """The greedy loop of batch strategies: `budget` times, pick the not-yet-picked position with
    the largest `gain(picked)` ((n,) floats, given the (n,) mask of positions picked so far;
    seeded tie-break) and call `add(position)`. Returns the positions in pick order."""
    picked = np.zeros(n, dtype=bool)
    order = np.empty(budget, dtype=np.int64)
    for r in range(budget):
        values = np.where(picked, -np.inf, gain(picked))
        i = argmax_tiebreak(values, tiebreak)
        order[r], picked[i] = i, True
        add(i)
    return order
