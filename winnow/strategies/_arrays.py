"""Shared array helpers: chunked distances and kernels (never N x N), seeded tie-breaking,
normalisation and the greedy loop of batch strategies. Private: inputs are assumed valid."""

from __future__ import annotations

import numpy as np
from threadpoolctl import threadpool_limits

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
        n = len(values)
        order = np.argsort(values)  # the order within a run of equal values does not matter
        ordered = values[order]
        first = np.empty(n, dtype=bool)  # the first of each run of equal values
        first[0] = True
        np.not_equal(ordered[1:], ordered[:-1], out=first[1:])
        ranks = np.empty(n)
        if first.all():  # no ties: low + high - 1 = 2 * position
            ranks[order] = np.arange(n) / (n - 1)
            return ranks
        starts = np.flatnonzero(first)  # per run: how many values are smaller (low)
        ends = np.append(starts[1:], n)  # and how many are smaller or equal (high)
        ranks[order] = (starts + ends - 1)[np.cumsum(first) - 1] / 2 / (n - 1)
        return ranks
    std = values.std()
    return (values - values.mean()) / std if std > 0 else np.zeros(len(values))


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


def block_greedy(state, priority, n: int, budget: int, tiebreak: np.ndarray, *, candidates: int = 512) -> np.ndarray:
    """The picks of the plain greedy loop (pick the best priority, update the whole pool,
    repeat) for priorities that never rise as centres are added (a running min
    distance), with the pool updated once per round of picks instead of once per pick.

    state : holds `values`, an (N,) per-sample array reflecting every centre added so far;
        `pairwise(positions)` -> (B, B) whose row j is what adding centre positions[j] does to
        samples `positions`; `update(local, effect)` applies one such row in place to a (B,)
        slice of values; `add_many(positions, rows)` adds centres, in order, updating
        `values` of pool positions `rows` (one matrix product per chunk of rows).
    priority(values, positions) : the priorities of samples `positions` (an index array or a
        slice) with state `values`; higher is picked first, ties by the smaller tiebreak rank.

    A round takes the `candidates` free samples with the best keys (priority, then tiebreak
    rank) and picks greedily among them, updating only their values, for as long as the best
    of them still beats the best key among the other free samples at the start of the round:
    those can only have fallen since, so the pick is the global best, ties included. Then the
    samples not picked yet are updated for the round's picks at once. Exact in exact
    arithmetic; in floating point a block product and a row product may round differently,
    which can only swap priorities that are equal up to rounding."""
    picked = np.zeros(n, dtype=bool)
    order = np.empty(budget, dtype=np.int64)
    done = 0
    while done < budget:
        values = np.where(picked, -np.inf, priority(state.values, slice(None)))  # (N,)
        chosen, threshold = top_keys(values, tiebreak, min(candidates, n - done))  # (B,) candidates
        local = state.values[chosen].copy()  # (B,)
        block = state.pairwise(chosen)  # (B, B)
        ranks = tiebreak[chosen]
        alive = np.ones(len(chosen), dtype=bool)
        new = []
        while len(new) < min(budget - done, len(chosen)):
            current = np.where(alive, priority(local, chosen), -np.inf)
            best = argmax_tiebreak(current, ranks)
            if new and not (current[best] > threshold[0]
                            or (current[best] == threshold[0] and ranks[best] < threshold[1])):
                break
            new.append(int(chosen[best]))
            alive[best] = False
            state.update(local, block[best])
        new = np.asarray(new, dtype=np.int64)
        picked[new] = True
        state.add_many(new, rows=np.flatnonzero(~picked))  # picked samples need no update
        order[done:done + len(new)] = new
        done += len(new)
    return order


def random_groups(n: int, group_size: int | None, seed: int) -> list[np.ndarray]:
    """range(n) split at random (seeded) into groups of about `group_size` (sorted positions);
    one group of everything when group_size is None or >= n."""
    if group_size is None or group_size >= n:
        return [np.arange(n)]
    return [np.sort(g) for g in np.array_split(rng(seed, 4).permutation(n), -(-n // group_size))]


def group_shares(sizes, budget: int) -> np.ndarray:
    """Picks per group, in proportion to the group sizes (at most the size), summing to budget."""
    sizes = np.asarray(sizes)
    shares = sizes * budget // sizes.sum()
    for g in np.argsort(-(sizes * budget % sizes.sum()), kind="stable"):  # largest remainders first
        if shares.sum() == budget:
            break
        if shares[g] < sizes[g]:
            shares[g] += 1
    return shares


def grouped_greedy(state, chooser, budget: int, groups: list[np.ndarray], *, block_limit: int = 4096) -> np.ndarray:
    """Greedy picks made group by group: each group of pool positions takes its share of the
    budget (`group_shares`) by the plain greedy loop over its own samples, with every earlier
    pick, in any group, counted in the state. With one group of the whole pool it is the plain
    loop over the pool.

    state : as for `block_greedy`, plus `effects_of(rows, share, block_limit)` -> a function
        j -> (G,) what adding centre rows[j] does to the samples `rows`.
    chooser(rows) -> choose(values, alive, extra) : for a group of pool positions `rows`, a
        function giving the index into `rows` of the next pick from the values of samples
        `rows`, the mask of those not picked yet and the number of picks made in the group so
        far (not yet counted in the state).
    After each group the samples of the later groups are updated for its picks at once."""
    n = len(state.values)
    order = []
    later = np.ones(n, dtype=bool)
    for rows, share in zip(groups, group_shares([len(g) for g in groups], budget)):
        later[rows] = False
        if share == 0:
            continue
        local = state.values[rows].copy()  # (G,)
        effects = state.effects_of(rows, share, block_limit)
        choose = chooser(rows)
        alive = np.ones(len(rows), dtype=bool)
        picks = np.empty(share, dtype=np.int64)
        # per pick a matrix-vector product at most: BLAS threads only wait on each other (20x
        # slower than one thread on a busy 2-core machine)
        with threadpool_limits(1, user_api="blas"):
            for extra in range(share):
                best = choose(local, alive, extra)
                picks[extra] = rows[best]
                alive[best] = False
                state.update(local, effects(best))
        state.add_many(picks, rows=np.flatnonzero(later))
        order.append(picks)
    return np.concatenate(order)
