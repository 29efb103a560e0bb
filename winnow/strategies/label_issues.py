"""Label-issue strategies: which given labels are most likely WRONG.

Each scores a sample by how likely its given label is wrong (higher = flag first), from
out-of-fold probabilities `probs` (N, K) and the given `labels` (N,). They are the ranking
methods of `winnow clean` (`cleaning.rank_label_issues`), named `label_issue_*` so that
`list_strategies("label_issue_*")` finds them and they are not confused with the pruning
strategy `self_confidence` (which KEEPS samples by the same probability).

A score is the negated probability, -p, not 1 - p: 1 - p rounds distinct tiny probabilities
to the same 1.0, and a label with p = 1e-20 must rank above one with p = 1e-17.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .registry import OptionError, register_strategy

# cleanlab.filter.find_label_issues's filters, and the one confident learning uses unless told
FILTERS = ("low_self_confidence", "prune_by_noise_rate", "prune_by_class", "both", "confident_learning",
           "predicted_neq_given", "low_normalized_margin")
DEFAULT_FILTER = "low_self_confidence"


def self_confidence_of(probs, labels) -> np.ndarray:
    """(N,) p[given label]: the out-of-fold probability of each sample's own label."""
    return np.asarray(probs)[np.arange(len(labels)), labels]


def confident_learning_issues(labels, pred_probs, filter_by: str = DEFAULT_FILTER) -> np.ndarray:
    """cleanlab's confident learning with its filter `filter_by`: the positions of the label
    issues it finds, ranked by self-confidence (lowest first, in cleanlab's order). Labels of
    fewer than two classes have none (no other class to have been confused with; cleanlab
    refuses them).

    labels : (N,) ints in [0, K);  pred_probs : (N, K) out-of-fold probabilities
    """
    from cleanlab.filter import find_label_issues

    if filter_by not in FILTERS:
        raise OptionError(f"option filter_by must be one of cleanlab's {', '.join(FILTERS)}; got {filter_by!r}")
    if len(np.unique(labels)) < 2:
        return np.zeros(0, dtype=np.int64)
    return np.asarray(find_label_issues(labels, pred_probs, filter_by=filter_by,
                                        return_indices_ranked_by="self_confidence", n_jobs=1), dtype=np.int64)


@register_strategy("label_issue_self_confidence", needs=("probs", "labels"), rowwise=True)
def label_issue_self_confidence(probs, labels):
    """-p[given label]: the lowest probability of the given label first."""
    return -self_confidence_of(probs, labels).astype(np.float64)


@register_strategy("label_issue_low_max_prob", needs=("probs",), rowwise=True)
def label_issue_low_max_prob(probs):
    """-max_k p_k: the lowest top probability first, whatever the label (images the model finds
    of no class). `least_confidence`'s order, but exact for the tiny differences it rounds away."""
    return -np.asarray(probs, dtype=np.float64).max(1)


@register_strategy("label_issue_confident_learning", needs=("probs", "labels"))
def label_issue_confident_learning(probs, labels, *, filter_by=DEFAULT_FILTER):
    """Confident learning (cleanlab's `find_label_issues` with `filter_by`): the M issues it
    finds first, in cleanlab's order, scored M, M - 1, ..., 1; then every other sample by
    -p[given label] (<= 0). Not row-wise: cleanlab's thresholds are per class over the pool."""
    labels = np.asarray(labels, dtype=np.int64)
    issues = confident_learning_issues(labels, probs, filter_by)
    scores = -self_confidence_of(probs, labels).astype(np.float64)
    scores[issues] = np.arange(len(issues), 0, -1, dtype=np.float64)
    return scores


# An off-diagonal cell of the estimated joint below this share of the largest is taken for the fold
# models' ordinary confusion, not label noise (BENCHMARKS.md, "Cleaning under class-to-class noise").
FLIP_SHARE = 0.25


class NoiseEstimate(NamedTuple):
    """cleanlab's estimate of the label noise, from the confident joint (`estimate_noise`)."""

    joint: np.ndarray  # (K, K) P(given = i, true = j), sums to 1
    flips: np.ndarray  # (K, K) bool at [i, j]: the cells taken for label noise (true j given as i)
    transition: np.ndarray  # (K, K) P(given = i | true = j) at [j, i] with those flips only: rows sum to 1
    rate: float  # the joint's off-diagonal mass: the share of labels the confident joint finds wrong
    flip_rate: float  # the share in the flip cells: the labels expected wrong under `transition`
    concentration: float  # the share of the off-diagonal mass in the joint's K largest off-diagonal cells


def estimate_noise(labels, pred_probs) -> NoiseEstimate:
    """The joint distribution of given and true labels (cleanlab's `estimate_joint`: the
    confident joint, calibrated to the given labels' class counts), the flips it holds, the noise
    transition matrix of those flips, and how concentrated the noise is.

    Flips: the off-diagonal cells of at least `FLIP_SHARE` of the largest one. The smaller cells
    are what any classifier confuses (a few automobiles that look like trucks); counted as noise
    they spread the flags over every class. Their mass goes back to the diagonal of their true
    class. A true class the joint never sees keeps its labels (an identity row).

    Concentration: the share of the off-diagonal mass in the K largest off-diagonal cells. Noise
    spread evenly over the K (K - 1) pairs gives about 1 / (K - 1); a class map that flips each
    class to one other (cat -> dog) gives close to 1.

    labels : (N,) ints in [0, K);  pred_probs : (N, K) out-of-fold probabilities
    """
    from cleanlab.count import estimate_joint

    labels, pred_probs = np.asarray(labels, dtype=np.int64), np.asarray(pred_probs, dtype=np.float64)
    k = pred_probs.shape[1]
    if len(np.unique(labels)) < 2:  # cleanlab refuses one class; nothing can be mistaken for another
        joint = np.diag(np.bincount(labels, minlength=k) / max(len(labels), 1))
    else:
        joint = estimate_joint(labels, pred_probs)
    diagonal = np.eye(k, dtype=bool)
    off = np.where(diagonal, 0.0, joint)
    flips = (off > 0) & (off >= FLIP_SHARE * off.max())
    kept = np.where(flips | diagonal, joint, 0.0)
    kept[diagonal] += (joint - kept).sum(0)  # a dropped cell's mass: labels of their true class after all
    true_mass = kept.sum(0)
    transition = np.eye(k)
    seen = true_mass > 0
    transition[seen] = (kept[:, seen] / true_mass[seen]).T
    rate = float(off.sum())
    largest = np.sort(off.ravel())[::-1][:k].sum()
    return NoiseEstimate(joint, flips, transition, rate, float(off[flips].sum()),
                         float(largest / rate) if rate > 0 else 0.0)


def noise_posterior_of(probs, labels, transition) -> np.ndarray:
    """(N,) P(given label correct | x, given label) under class-conditional noise with `transition`.

    The fold models were trained on the noisy labels, so their probabilities q estimate
    P(given = i | x) = sum_j P(true = j | x) T[j, i]. The true-class posterior is recovered as
    p = q T^-1 (clipped at 0, renormalised), and Bayes' rule gives the chance that the given
    label g is the true one: p[g] T[g, g] / sum_j p[j] T[j, g]. A class that no other class is
    mistaken for keeps every label it is given (probability 1), whatever its self-confidence.
    """
    probs, labels = np.asarray(probs, dtype=np.float64), np.asarray(labels, dtype=np.int64)
    true = probs @ np.linalg.pinv(transition)
    true = np.clip(true, 0, None)
    true /= np.clip(true.sum(1, keepdims=True), 1e-300, None)
    given = true * transition[:, labels].T  # (N, K): P(true = j | x) P(given = g | true = j)
    total = given.sum(1)
    own = given[np.arange(len(labels)), labels]
    return np.where(total > 0, own / np.where(total > 0, total, 1), 0.0)


@register_strategy("label_issue_noise_posterior", needs=("probs", "labels"))
def label_issue_noise_posterior(probs, labels):
    """-P(given label correct | x, given) under the class-conditional noise cleanlab estimates from
    the pool (`estimate_noise`, `noise_posterior_of`): the labels most likely wrong first. Not
    row-wise: the noise matrix is estimated over the pool."""
    labels = np.asarray(labels, dtype=np.int64)
    return -noise_posterior_of(probs, labels, estimate_noise(labels, probs).transition)
