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
