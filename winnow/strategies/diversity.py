"""Strategies on penultimate features: cluster-boundary uncertainty (`kmeans_margin`) and
batch pickers that spread their picks over the pool (`coreset`, `mmd`).

Memory stays bounded: distances and kernels are computed in blocks of `chunk_size` rows and
columns, and the greedy pickers keep (N,) vectors, never an N x N matrix.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
from sklearn.cluster import KMeans
from sklearn.exceptions import ConvergenceWarning

from ._arrays import (block_greedy, chunks, median_bandwidth, min_sq_distances, order_to_scores, rbf_row_sums, rng,
                      sq_norms, tiebreak_ranks)
from .registry import register_strategy


def _positive_int(name: str, value, allow_none: bool = False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"option {name} must be an int >= 1{' or None' if allow_none else ''}, got {value!r}")
    return int(value)


@register_strategy("kmeans_margin", needs=("features",))
def kmeans_margin(features, *, num_classes, seed, chunk_size, k=None, per_batch=None, n_init=3, eps=1e-8):
    """1 / (d2 - d1 + eps), with d1 <= d2 the distances to the two nearest k-means centres: a
    sample about as close to two clusters as to one lies on a cluster boundary, so it is
    uncertain and picked first.

    k : clusters; default the number of classes (from probs, mc_probs or val_logits).
    per_batch : None (default) fits one clustering on the whole pool; an int splits the pool
        at random into batches of about that size and clusters each on its own (the earlier
        experiments found the whole pool better: 94.3 % vs 93.4 % at the last cycle).
    n_init : k-means restarts (sklearn, seeded). A batch with fewer than 2 samples scores 0.
    """
    k = _positive_int("k", k if k is not None else num_classes, allow_none=True)
    if k is None:
        raise ValueError("kmeans_margin needs option k, or probs to take the number of classes from")
    per_batch = _positive_int("per_batch", per_batch, allow_none=True)
    n_init = _positive_int("n_init", n_init)
    n = len(features)
    if per_batch is None or per_batch >= n:
        batches = [np.arange(n)]
    else:
        batches = np.array_split(rng(seed, 2).permutation(n), math.ceil(n / per_batch))
    scores = np.zeros(n)
    for rows in batches:
        x = features[rows]  # (B, D)
        clusters = min(k, len(rows))
        if clusters < 2:
            continue
        with warnings.catch_warnings():  # fewer distinct points than clusters: duplicate centres, expected
            warnings.simplefilter("ignore", ConvergenceWarning)
            model = KMeans(n_clusters=clusters, n_init=n_init, random_state=seed).fit(x)
        for part in chunks(len(rows), chunk_size):
            d = np.partition(model.transform(x[part]), 1, axis=1)[:, :2].astype(np.float64)  # (b, 2): d1, d2
            scores[rows[part]] = 1.0 / (d[:, 1] - d[:, 0] + eps)
    return scores


CANDIDATES = 512  # samples per round of the block greedy (`block_greedy`); speed only, not the picks


def _centre_terms(centres, centre_norms, scale: float):
    """(P, D) and (P,): `scale * (-2 c)` and `scale * |c|^2` for the centres c, in their dtype."""
    return (centres * (-2 * scale)).astype(centres.dtype), (centre_norms * scale).astype(centres.dtype)


def _scaled_sq_distances(x, x_norms, weights, offsets, scale: float) -> np.ndarray:
    """(len(x), P) `scale * |x - c|^2` (>= 0 when scale > 0, <= 0 when < 0) from the centre terms
    of `_centre_terms(centres, norms, scale)`: one matrix product and three passes over the block."""
    d = x @ weights.T
    d += offsets
    d += (x_norms * scale).astype(d.dtype)[:, None]
    return np.maximum(d, 0, out=d) if scale > 0 else np.minimum(d, 0, out=d)


class KCentre:
    """Running (N,) squared distance from every pool sample to its nearest centre; the centres
    are the labelled samples plus the picks so far. A block of P new centres costs one pass
    over the pool: a (rows, D) x (D, P) product per chunk of rows. The state of `block_greedy`."""

    count_dependent = False

    def __init__(self, features, labelled_features, chunk_size):
        self.features, self.chunk_size = features, chunk_size
        self.norms = sq_norms(features)  # (N,)
        if labelled_features is not None and len(labelled_features):
            self.min_sq = min_sq_distances(features, labelled_features, chunk_size).astype(self.norms.dtype)
        else:
            self.min_sq = np.full(len(features), np.inf, dtype=self.norms.dtype)  # no centre yet: all tie
        self.count = 0 if labelled_features is None else len(labelled_features)  # centres so far

    @property
    def values(self) -> np.ndarray:
        return self.min_sq

    def gain(self, picked=None) -> np.ndarray:
        return self.min_sq

    def distance(self) -> np.ndarray:
        return np.sqrt(self.min_sq)

    @staticmethod
    def priority(values, positions, extra) -> np.ndarray:
        return values

    def pairwise(self, positions) -> np.ndarray:
        """(B, B) squared distances between the samples `positions`; column j: to positions[j]."""
        x = self.features[positions]
        weights, offsets = _centre_terms(x, self.norms[positions], 1.0)
        return _scaled_sq_distances(x, self.norms[positions], weights, offsets, 1.0)

    @staticmethod
    def update(local, column) -> None:
        np.minimum(local, column, out=local)

    def add(self, i: int) -> None:
        self.add_many(np.array([i]))

    def add_many(self, positions) -> None:
        weights, offsets = _centre_terms(self.features[positions], self.norms[positions], 1.0)
        for rows in chunks(len(self.features), self.chunk_size):
            d = _scaled_sq_distances(self.features[rows], self.norms[rows], weights, offsets, 1.0)  # (rows, P)
            np.minimum(self.min_sq[rows], d.min(1), out=self.min_sq[rows])
        self.count += len(positions)


@register_strategy("coreset", needs=("features",), optional=("labelled_features",), kind="batch")
def coreset(features, labelled_features=None, *, pool_size, budget, seed, chunk_size):
    """k-centre greedy: repeatedly pick the pool sample farthest from its nearest centre (the
    labelled samples and the picks so far), so the picks cover the feature space. With no
    labelled set the first pick is random (seeded). Memory O(N + chunk * 512): a running
    min-distance vector, never N x N. The picks are those of the plain one-pick-at-a-time loop;
    `block_greedy` makes them in rounds of up to 512 with one pass over the pool per round."""
    state = KCentre(features, labelled_features, chunk_size)
    order = block_greedy(state, state.priority, pool_size, budget, tiebreak_ranks(pool_size, seed),
                         candidates=CANDIDATES)
    return order_to_scores(order, pool_size)


class MMDGain:
    """The reduction of MMD^2 (RBF kernel) between the labelled set L and the pool P that adding
    each pool sample x to L gives, for every x at once, kept up to date as samples are added.

        MMD^2(L, P) = S_LL / m^2 - 2 S_LP / m + C      (m = |L|; MMD^2 of an empty L is C)
        gain(x)    = MMD^2(L, P) - MMD^2(L + {x}, P)
        MMD^2(L + {x}, P) = (S_LL + 2 s(x) + 1) / (m + 1)^2 - 2 (S_LP + t(x)) / (m + 1) + C

    s(x) = sum over L of k(x, a) (an (N,) vector, one kernel column added per pick);
    t(x) = mean over the reference of k(x, r). The pool mean embedding is estimated on
    `repeats` random draws of `draw_size` pool samples; t and C are averaged over the draws,
    which averages MMD^2, and so the gain, over them (the terms are linear in the draw).
    Bandwidth: `bandwidth`, or the median distance between the points of the first draw.
    """

    def __init__(self, features, labelled_features, seed, chunk_size, repeats=5, draw_size=1000, bandwidth=None):
        repeats, draw_size = _positive_int("repeats", repeats), _positive_int("draw_size", draw_size)
        if bandwidth is not None and (isinstance(bandwidth, bool) or not isinstance(bandwidth, (int, float))
                                      or not bandwidth > 0):
            raise ValueError(f"option bandwidth must be a number > 0 or None, got {bandwidth!r}")
        n = len(features)
        self.features, self.chunk_size = features, chunk_size
        self.norms = sq_norms(features)
        generator = rng(seed, 3)
        draws = ([np.arange(n)] if draw_size >= n
                 else [np.sort(generator.choice(n, draw_size, replace=False)) for _ in range(repeats)])
        sigma = bandwidth or median_bandwidth(features[draws[0]])
        self.gamma = 1.0 / (2 * sigma**2)

        def mean_kernel(x):  # (len(x),) mean kernel value to each draw, averaged over the draws
            return np.mean([rbf_row_sums(x, features[d], self.gamma, chunk_size) / len(d) for d in draws], axis=0)

        self.t = mean_kernel(features)  # (N,)
        self.c = float(np.mean([rbf_row_sums(features[d], features[d], self.gamma, chunk_size).sum() / len(d) ** 2
                                for d in draws]))
        if labelled_features is not None and len(labelled_features):
            self.m = len(labelled_features)
            self.s = rbf_row_sums(features, labelled_features, self.gamma, chunk_size)  # (N,)
            self.s_ll = float(rbf_row_sums(labelled_features, labelled_features, self.gamma, chunk_size).sum())
            self.s_lp = float(mean_kernel(labelled_features).sum())
        else:
            self.m, self.s, self.s_ll, self.s_lp = 0, np.zeros(n), 0.0, 0.0

    def mmd2(self) -> float:
        """MMD^2 between the current labelled set and the pool."""
        m = self.m
        return self.s_ll / m**2 - 2 * self.s_lp / m + self.c if m else self.c

    def gain(self, picked=None) -> np.ndarray:
        m = self.m
        after = (self.s_ll + 2 * self.s + 1) / (m + 1) ** 2 - 2 * (self.s_lp + self.t) / (m + 1) + self.c
        return self.mmd2() - after

    count_dependent = True

    @property
    def values(self) -> np.ndarray:
        return self.s

    @property
    def count(self) -> int:
        return self.m

    def priority(self, values, positions, extra) -> np.ndarray:
        """t(x) - s(x) / (m + 1): gain(x) is 2 / (m + 1) times this plus a term that does not
        depend on x, so both order the pool alike. `values` are s, `extra` picks ago."""
        return self.t[positions] - values / (self.m + 1 + extra)

    def pairwise(self, positions) -> np.ndarray:
        """(B, B) kernel between the samples `positions`; column j: k(., positions[j])."""
        x = self.features[positions]
        weights, offsets = _centre_terms(x, self.norms[positions], -self.gamma)
        return np.exp(_scaled_sq_distances(x, self.norms[positions], weights, offsets, -self.gamma))

    @staticmethod
    def update(local, column) -> None:
        local += column

    def add(self, i: int) -> None:
        self.add_many(np.array([i]))

    def add_many(self, positions) -> None:
        """Add samples `positions` to L, in order."""
        within = np.tril(self.pairwise(positions), -1).sum(1)  # kernel to the earlier ones of the block
        self.s_ll += float((2 * (self.s[positions] + within) + 1).sum())
        self.s_lp += float(self.t[positions].sum())
        self.m += len(positions)
        weights, offsets = _centre_terms(self.features[positions], self.norms[positions], -self.gamma)
        for rows in chunks(len(self.features), self.chunk_size):
            d = _scaled_sq_distances(self.features[rows], self.norms[rows], weights, offsets, -self.gamma)
            self.s[rows] += np.exp(d, out=d).sum(1)


@register_strategy("mmd", needs=("features",), optional=("labelled_features",), kind="batch")
def mmd(features, labelled_features=None, *, pool_size, budget, seed, chunk_size, repeats=5, draw_size=1000,
        bandwidth=None):
    """Greedy MMD reduction: repeatedly pick the pool sample whose addition to the labelled set
    (and the picks so far) most reduces the maximum mean discrepancy between that set and the
    pool. Sign: a large reduction means the sample represents pool mass the labelled set does
    not yet cover, so it is picked first; once a region is covered its samples gain little,
    so the picks do not crowd together. With no labelled set the first pick is the sample
    nearest the pool's mean embedding (the densest).

    repeats, draw_size : the pool mean embedding is estimated on `repeats` random draws of
        `draw_size` samples (the whole pool when it is smaller); the gain is their average.
    bandwidth : RBF bandwidth sigma, k(x, y) = exp(-|x - y|^2 / (2 sigma^2)); default the
        median distance between points of a draw (median heuristic).
    Cost: O(N * draw_size * repeats * D) once, then O(N * D) per pick, made in blocks of
    picks (`block_greedy`: the picks of the plain one-pick-at-a-time loop, with one pass over
    the pool per block); memory O(N + chunk * 512).
    """
    state = MMDGain(features, labelled_features, seed, chunk_size, repeats, draw_size, bandwidth)
    order = block_greedy(state, state.priority, pool_size, budget, tiebreak_ranks(pool_size, seed),
                         candidates=CANDIDATES, count_dependent=True)
    return order_to_scores(order, pool_size)
