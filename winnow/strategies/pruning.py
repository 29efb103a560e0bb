"""Strategies for pruning a labelled set: which samples to KEEP.

A pruning run keeps the top-scored samples (the same `select` as active learning: higher score
= keep first). Each strategy here documents which end it keeps. Keeping the hard examples is
the usual choice for a large data set (it matches "the lowest-confidence 60 % matches full
data"); keeping the easy ones can be better when little data is kept, so it is an option.
"""

from __future__ import annotations

import numpy as np

from .registry import register_strategy


@register_strategy("self_confidence", needs=("probs", "labels"), rowwise=True)
def self_confidence(probs, labels, *, keep="hard"):
    """Keep by the probability of the given label p[label]: keep="hard" (default) scores
    1 - p[label], so low-confidence (hard, ambiguous, possibly mislabelled) samples are kept
    first; keep="easy" scores p[label], so the most confidently right samples are kept first."""
    given = np.asarray(probs, dtype=np.float64)[np.arange(len(labels)), labels]
    return _kept(1.0 - given, keep)


def _kept(hardness: np.ndarray, keep: str) -> np.ndarray:
    """Scores from a hardness (higher = harder): keep="hard" keeps the hardest first, "easy" the easiest."""
    if keep not in ("hard", "easy"):
        raise ValueError(f"option keep must be 'hard' or 'easy', got {keep!r}")
    return hardness if keep == "hard" else -hardness


@register_strategy("el2n", needs=("early_probs", "labels"), rowwise=True)
def el2n(early_probs, labels, *, keep="hard"):
    """EL2N (Paul et al. 2021): the L2 norm of the error vector p - onehot(label) early in
    training, averaged over R short runs. early_probs : (R, N, K). A high norm is a sample the
    network has not fitted yet (hard or mislabelled); keep="hard" (default) keeps those first,
    keep="easy" the lowest norms first."""
    errors = np.asarray(early_probs, dtype=np.float64).copy()  # (R, N, K)
    errors[:, np.arange(len(labels)), labels] -= 1
    return _kept(np.sqrt((errors**2).sum(-1)).mean(0), keep)


@register_strategy("forgetting", needs=("correct_history",), rowwise=True)
def forgetting(correct_history, *, keep="hard"):
    """Forgetting events (Toneva et al. 2019) over a training run: how often a sample classified
    correctly when it was trained on is classified wrongly the next time it is trained on.

    correct_history : (E, N), 1 right, 0 wrong, -1 not trained on in that epoch (skipped).
    Score = events + (1 - share of right presentations) / 2, so samples with more forgetting
    events are kept first and, among equal counts, the ones right less often. A sample never
    classified right (or never trained on) counts as forgotten in every epoch (E events): with
    keep="hard" (default) the unlearnt are kept first and the unforgettable (always right)
    last, as in the paper; keep="easy" reverses the order.
    """
    history = np.asarray(correct_history)  # (E, N)
    events = np.zeros(history.shape[1])
    previous = np.full(history.shape[1], -1.0)
    for epoch in history:
        presented = epoch >= 0
        events += presented & (previous == 1) & (epoch == 0)
        previous = np.where(presented, epoch, previous)
    presented = (history >= 0).sum(0)
    right = (history == 1).sum(0)
    share_right = np.divide(right, presented, out=np.zeros(len(events)), where=presented > 0)
    never_learnt = right == 0
    events[never_learnt] = len(history)
    return _kept(events + (1 - share_right) / 2, keep)
