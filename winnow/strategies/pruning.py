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
    if keep not in ("hard", "easy"):
        raise ValueError(f"keep must be 'hard' or 'easy', got {keep!r}")
    given = np.asarray(probs, dtype=np.float64)[np.arange(len(labels)), labels]
    return 1.0 - given if keep == "hard" else given
