"""TypiClust (Hacohen, Dekel and Weinshall 2022, "Active learning on a budget: opposite strategies
suit high and low budgets"): pick the most typical sample of each cluster the labelled set does
not cover yet. Meant for small budgets (tens to a few hundred picks), where typical samples help
more than uncertain ones; for large budgets use an uncertainty or diversity strategy.

Memory stays bounded: k-means is sklearn's, and neighbour distances inside a cluster are computed
in blocks of `chunk_size` x `chunk_size`, never cluster size x cluster size nor N x N.
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.cluster import KMeans, MiniBatchKMeans
from sklearn.exceptions import ConvergenceWarning

from ._arrays import chunks, order_to_scores, sq_norms, tiebreak_ranks
from .diversity import _positive_int
from .registry import register_strategy

_FULL_KMEANS_UP_TO = 50  # clusters; more use MiniBatchKMeans, as in the TypiClust code
_MINI_BATCH = 5000


def knn_mean_distances(points: np.ndarray, candidates: np.ndarray, knn: int, chunk_size: int | None) -> np.ndarray:
    """(len(candidates),) the mean Euclidean distance from points[c] to its min(knn, len(points) - 1)
    nearest other rows of `points` (a duplicate counts, at distance 0; the row itself does not);
    inf when `points` has one row. Typicality is the inverse: 1 / this.

    Blocks of chunk_size x chunk_size distances, keeping the running knn smallest per candidate.
    """
    m = len(points)
    k = min(knn, m - 1)
    out = np.full(len(candidates), np.inf)
    if k == 0:
        return out
    points = np.asarray(points, dtype=np.float64)  # (m, D)
    norms = sq_norms(points)  # (m,)
    for rows in chunks(len(candidates), chunk_size):
        own = candidates[rows]  # (B,) positions in points
        x = points[own]  # (B, D)
        nearest = np.full((len(own), k), np.inf)  # (B, k) the k smallest squared distances so far
        for cols in chunks(m, chunk_size):
            d = x @ points[cols].T  # (B, C)
            d *= -2
            d += norms[own][:, None]
            d += norms[cols][None, :]
            np.maximum(d, 0, out=d)
            inside = (own >= cols.start) & (own < cols.stop)
            d[np.flatnonzero(inside), own[inside] - cols.start] = np.inf  # not its own neighbour
            if d.shape[1] > k:
                d.partition(k - 1, axis=1)  # in place: each row's k smallest first
            both = np.concatenate([nearest, d[:, :k]], 1)  # (B, <= 2k)
            nearest = np.partition(both, k - 1, axis=1)[:, :k]
        out[rows] = np.sqrt(nearest).mean(1)
    return out


def _cluster(points: np.ndarray, k: int, seed: int, n_init: int) -> np.ndarray:
    """(len(points),) k-means cluster ids in [0, k), seeded."""
    with warnings.catch_warnings():  # fewer distinct points than clusters: duplicate centres, expected
        warnings.simplefilter("ignore", ConvergenceWarning)
        if k <= _FULL_KMEANS_UP_TO:
            model = KMeans(n_clusters=k, n_init=n_init, random_state=seed)
        else:
            model = MiniBatchKMeans(n_clusters=k, n_init=n_init, random_state=seed,
                                    batch_size=min(_MINI_BATCH, len(points)))
        return model.fit_predict(np.asarray(points, dtype=np.float64))  # float32 input costs sklearn an upcast per block


@register_strategy("typiclust", needs=("features",), optional=("labelled_features",), kind="batch")
def typiclust(features, labelled_features=None, *, pool_size, budget, seed, chunk_size, max_clusters=500, knn=20,
              n_init=1):
    """TypiClust: cluster the pool and the labelled set together with k-means into
    k = min(L + budget, max_clusters) clusters, then `budget` times take the cluster with the
    fewest labelled-or-picked members (ties: the larger cluster, then the seeded tie-break) and
    pick its most typical pool sample not yet picked. Clusters with no pool sample left are skipped.

    Typicality of a pool sample = 1 / (mean Euclidean distance to its `knn` nearest neighbours
    among all members of its cluster, pool and labelled; fewer when the cluster is smaller; a
    sample alone in its cluster has typicality 0, and it is that cluster's only choice anyway).
    Sign: the densest, most representative sample of an uncovered cluster is picked first; one
    pick per cluster keeps the picks diverse. Meant for small budgets (see the module docstring).

    max_clusters : cap on k (default 500). k <= 50 uses sklearn KMeans, more MiniBatchKMeans
        (batch 5000), both seeded with random_state=seed and `n_init` restarts (default 1: at
        50 000 x 512 and k = 500, each restart's k-means++ seeding costs about 10 s on one core).
    knn : neighbours for typicality (default 20).
    Cost: the k-means fit, plus m^2 D per visited cluster of m members (so one big cluster, e.g.
    budget 1 with no labelled set, costs N^2 D time); memory O((N + L) D), distances in blocks.
    """
    max_clusters = _positive_int("max_clusters", max_clusters)
    knn = _positive_int("knn", knn)
    n_init = _positive_int("n_init", n_init)
    labelled = 0 if labelled_features is None else len(labelled_features)
    points = features if not labelled else np.concatenate([features, labelled_features])  # (N + L, D)
    k = min(labelled + budget, max_clusters)
    cluster_of = _cluster(points, k, seed, n_init)  # (N + L,)
    pool_cluster = cluster_of[:pool_size]

    size = np.bincount(cluster_of, minlength=k)  # members, pool and labelled
    covered = np.bincount(cluster_of[pool_size:], minlength=k)  # labelled members, then + picks
    left = np.bincount(pool_cluster, minlength=k)  # pool members not yet picked
    tiebreak = tiebreak_ranks(pool_size, seed)
    cluster_rank = np.full(k, pool_size)  # a cluster's tie-break: the smallest rank of its pool members
    np.minimum.at(cluster_rank, pool_cluster, tiebreak)

    queues: dict[int, np.ndarray] = {}  # cluster -> its pool positions, most typical first
    order = np.empty(budget, dtype=np.int64)
    for r in range(budget):
        open_clusters = np.flatnonzero(left > 0)
        c = int(open_clusters[np.lexsort((cluster_rank[open_clusters], -size[open_clusters],
                                          covered[open_clusters]))[0]])
        if c not in queues:
            members = np.flatnonzero(cluster_of == c)  # pool positions first, then labelled
            in_pool = members[members < pool_size]
            spread = knn_mean_distances(points[members], np.arange(len(in_pool)), knn, chunk_size)
            queues[c] = in_pool[np.lexsort((tiebreak[in_pool], spread))]
        order[r] = queues[c][len(queues[c]) - left[c]]
        left[c] -= 1
        covered[c] += 1
    return order_to_scores(order, pool_size)
