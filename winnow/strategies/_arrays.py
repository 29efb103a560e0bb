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


def top_keys(values: np.ndarray, tiebreak: np.ndarray, k: int) -> tuple[np.ndarray, tuple[float, int]]:
    """The k positions with the best keys (larger value first, then smaller tiebreak rank), and
    the key (value, rank) of the best position left out; (-inf, len(values)) when none is left out."""
    n = len(values)
    if k >= n:
        return np.arange(n), (-np.inf, n)
    boundary = values[np.argpartition(values, n - k - 1)[n - k - 1]]  # the (k + 1)-th largest value
    above = np.flatnonzero(values > boundary)  # at most k
    tied = np.flatnonzero(values == boundary)  # at least k + 1 - len(above)
    tied = tied[np.argsort(tiebreak[tied], kind="stable")]
    need = k - len(above)
    return np.concatenate([above, tied[:need]]), (float(boundary), int(tiebreak[tied[need]]))


def best_key(values: np.ndarray, tiebreak: np.ndarray) -> tuple[float, int]:
    """The key (value, tiebreak rank) of the best position: the largest value, smallest rank."""
    top = values.max()
    return float(top), int(tiebreak[values == top].min())


def _beats(value: float, rank: int, key: tuple[float, int]) -> bool:
    return value > key[0] or (value == key[0] and rank < key[1])


def block_greedy(state, priority, n: int, budget: int, tiebreak: np.ndarray, *, candidates: int = 512,
                 count_dependent: bool = False, plan=None) -> np.ndarray:
    """The same picks as `greedy_order` for greedy pickers whose priorities only fall as centres
    are added, with the pool updated once per block of picks instead of once per pick.

    state : holds `values`, an (N,) per-sample array (a running min distance, a kernel sum)
        that reflects every centre added so far; `pairwise(positions)` -> (B, B) whose column j
        is what adding centre positions[j] does to samples `positions`; `update(local, column)`
        applies one such column in place to a (B,) slice of values; `add_many(positions)`
        adds centres, in order, updating `values` for the whole pool (one matrix product per
        chunk of rows).
    priority(values, positions, extra) : the priorities of samples `positions` (an index
        array or a slice) with state `values`, `extra` picks after the state's last update.
        It must not rise when values are updated by a new centre, and, when
        `count_dependent`, must not fall as `extra` grows (e.g. t - s / (m + 1 + extra) with
        s >= 0); otherwise it must not depend on `extra`.
    plan(done, picked) : optional; called before every round (the state then reflects all
        `done` picks) and returns the most picks the round may make (e.g. up to a
        re-normalisation). Rounds never cross such a limit.

    One round: take the `candidates` free samples with the best priority keys (priority, then
    tiebreak rank), their (B, B) block, and pick greedily among them updating only their
    values, for as long as the best candidate still beats the best key among the other free
    samples. Their priorities can only have fallen since the round began (when
    `count_dependent`, the bound is their priority with `extra` at the round's last pick,
    then, when that is not enough, at the current pick), so every pick is the global argmax
    of the plain greedy loop, ties included. Then the pool is updated for the round's picks
    at once. Exact in exact arithmetic; in floating point a block product and a row product
    may round differently, which can only swap near-equal priorities."""
    picked = np.zeros(n, dtype=bool)
    order = np.empty(budget, dtype=np.int64)
    everything = slice(None)
    done = 0
    while done < budget:
        cap = budget - done if plan is None else max(1, min(budget - done, plan(done, picked)))
        values = np.where(picked, -np.inf, priority(state.values, everything, 0))  # (N,)
        if cap == 1 or candidates <= 1:
            new = [argmax_tiebreak(values, tiebreak)]
        else:
            new = _block_round(state, priority, values, picked, tiebreak, cap, min(candidates, n - done),
                               count_dependent)
        new = np.asarray(new, dtype=np.int64)
        state.add_many(new)
        picked[new] = True
        order[done:done + len(new)] = new
        done += len(new)
    return order


def _block_round(state, priority, values, picked, tiebreak, cap, size, count_dependent) -> list[int]:
    everything = slice(None)
    chosen, threshold = top_keys(values, tiebreak, size)  # (B,) candidates
    others = None
    if count_dependent and threshold[0] > -np.inf:
        others = np.ones(len(values), dtype=bool)
        others[chosen] = False
        others &= ~picked

        def bound(extra):  # the best key the other free samples can have `extra` picks on
            return best_key(np.where(others, priority(state.values, everything, extra), -np.inf), tiebreak)

        threshold = bound(cap - 1)
    local = state.values[chosen].copy()  # (B,)
    block = state.pairwise(chosen)  # (B, B)
    ranks = tiebreak[chosen]
    alive = np.ones(len(chosen), dtype=bool)
    new = []
    for extra in range(min(cap, len(chosen))):
        current = np.where(alive, priority(local, chosen, extra), -np.inf)
        best = argmax_tiebreak(current, ranks)
        if extra and not _beats(current[best], ranks[best], threshold):
            if others is None or not _beats(current[best], ranks[best], bound(extra)):
                break
        new.append(int(chosen[best]))
        alive[best] = False
        state.update(local, block[:, best])
    return new
