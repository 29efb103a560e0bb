"""Strategies for pruning a labelled set: which samples to KEEP.

A pruning run keeps the top-scored samples (the same `select` as active learning: higher score
= keep first). The three scores here measure how hard a sample is, and each takes `keep`:

- keep="hard" keeps the hardest first. It wins when data is abundant and much is kept: on all
  50 000 CIFAR-10 images, keeping the hardest half beat random by 1.65 points (BENCHMARKS.md).
- keep="easy" keeps the easiest of every class first, every class in proportion to its size
  (`_easiest_per_class`), which the theory of Sorscher et al. (NeurIPS 2022) says wins when
  data is scarce; on a 9 500-image photo set, keeping the hardest half lost 6.5 points to
  random (issue 16). Per class, because the easiest overall are the classes learnt first: the
  easiest 30 % of 5 000 CIFAR-10 images by el2n held 1 cat (BENCHMARKS.md).
- keep="coverage" keeps what `ccs` keeps over this score (`_coverage`): the hardest share
  dropped, the rest sampled evenly across the range of difficulty.
- keep="auto" (the default) chooses from how much is kept (`auto_keep`): with at least
  `AUTO_HARD_PER_CLASS` kept per class, "hard" when at least half the set is kept and
  "coverage" below; with fewer, "easy". On CIFAR-10 (BENCHMARKS.md, "Data pruning"): all 50 000
  at half kept, hard; at 30 % kept, where the easy end lost 3.6 points to random, coverage; a
  scarce 5 000, easy.

`DEFAULT` is the pruning strategy `winnow prune` and `winnow select --labelled all` use when none
is named: self_confidence with keep="auto".

`ccs` (coverage-centric coreset selection, Zheng et al. ICLR 2023) keeps a spread of
difficulties instead of one end, over any score, with its options (`beta`, `strata`).
"""

from __future__ import annotations

import numpy as np

from ._arrays import order_to_scores, rng
from .registry import OptionError, get_strategy, list_strategies, register_strategy

DEFAULT = "self_confidence"
AUTO_HARD_PER_CLASS = 1000  # keep="auto" keeps the easy end below this many kept samples per class ...
AUTO_HARD_FRACTION = 0.5  # ... and above it the hard end from this share of the set kept, else coverage
KEEPS = ("hard", "easy", "coverage", "auto")  # the values of every pruning score's keep option


def auto_keep(kept: int, pool_size: int, num_classes: int) -> str:
    """What keep="auto" keeps: for a large kept set (at least AUTO_HARD_PER_CLASS per class),
    the hard end when at least AUTO_HARD_FRACTION of the pool is kept, else an even coverage of
    the difficulties (CCS); for a small one, the easy end."""
    if kept / max(num_classes, 1) < AUTO_HARD_PER_CLASS:
        return "easy"
    return "hard" if kept >= AUTO_HARD_FRACTION * pool_size else "coverage"


def resolved_keep(strategy: str, options: dict | None, kept: int, pool_size: int, num_classes: int) -> str | None:
    """What a strategy with a `keep` option keeps ("hard", "easy" or "coverage") under `options`
    when `kept` of `pool_size` samples are kept (keep="auto" resolved by `auto_keep`); None for
    a strategy without one. What a run records, so that its tables say what was kept."""
    defaults = get_strategy(strategy).options
    if "keep" not in defaults:
        return None
    keep = (options or {}).get("keep", defaults["keep"])
    return auto_keep(kept, pool_size, num_classes) if keep == "auto" else keep


def _kept(hardness: np.ndarray, keep: str, budget: int | None, num_classes: int | None,
          labels: np.ndarray | None, seed: int) -> np.ndarray:
    """Scores from a hardness (higher = harder): keep="hard" keeps the hardest first, "easy" the
    easiest of every class (`_easiest_per_class`, when the labels are known), "coverage" the
    `budget` samples CCS keeps (`_coverage`) first and then the rest, easiest first, "auto" one
    of them by `auto_keep`."""
    if keep not in KEEPS:
        raise OptionError(f"option keep must be {', '.join(map(repr, KEEPS[:-1]))} or 'auto', got {keep!r}")
    if keep in ("auto", "coverage") and (budget is None or (keep == "auto" and not num_classes)):
        raise ValueError(f"keep={keep!r} needs how many samples are kept (the budget) and the number of classes")
    if keep == "auto":
        keep = auto_keep(budget, len(hardness), num_classes)
    if keep == "hard":
        return hardness
    if keep == "easy":
        return -hardness if labels is None else _easiest_per_class(hardness, np.asarray(labels))
    chosen = _coverage(hardness, budget, seed)
    rest = np.setdiff1d(np.arange(len(hardness)), chosen)
    order = np.concatenate([chosen, rest[np.argsort(hardness[rest], kind="stable")]])
    return order_to_scores(order, len(hardness))


def _easiest_per_class(hardness: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Scores that keep every class in proportion to its size and the easiest of each first:
    ranked by the share of its class ranked easier (0 for each class's easiest), then by the
    hardness. Globally the easiest samples are those of the classes the model learns first:
    on 5 000 CIFAR-10 images, el2n's easiest 30 % held 1 cat and 341 trucks of 1 500."""
    share = np.empty(len(hardness))
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        share[members[np.argsort(hardness[members], kind="stable")]] = np.arange(len(members)) / len(members)
    return order_to_scores(np.lexsort((hardness, share)), len(hardness))


def _classes(labels: np.ndarray | None, num_classes: int | None) -> int | None:
    return num_classes or (len(np.unique(labels)) if labels is not None and len(labels) else None)


@register_strategy("self_confidence", needs=("probs", "labels"))
def self_confidence(probs, labels, budget, num_classes, seed, *, keep="auto"):
    """Keep by the probability of the given label p[label]: keep="hard" scores 1 - p[label], so
    low-confidence (hard, ambiguous, possibly mislabelled) samples are kept first; keep="easy"
    keeps the most confidently right of every class first (scores are then ranks, not p[label]),
    keep="coverage" an even spread (`ccs`); keep="auto" (default) one of them by `auto_keep`."""
    given = np.asarray(probs, dtype=np.float64)[np.arange(len(labels)), labels]
    return _kept(1.0 - given, keep, budget, num_classes, labels, seed)


@register_strategy("el2n", needs=("early_probs", "labels"))
def el2n(early_probs, labels, budget, num_classes, seed, *, keep="auto"):
    """EL2N (Paul et al. 2021): the L2 norm of the error vector p - onehot(label) early in
    training, averaged over R short runs. early_probs : (R, N, K). A high norm is a sample the
    network has not fitted yet (hard or mislabelled); keep="hard" keeps those first, keep="easy"
    the lowest norms of every class first, keep="coverage" an even spread (`ccs`), keep="auto"
    (default) one of them by `auto_keep`."""
    errors = np.asarray(early_probs, dtype=np.float64).copy()  # (R, N, K)
    errors[:, np.arange(len(labels)), labels] -= 1
    return _kept(np.sqrt((errors**2).sum(-1)).mean(0), keep, budget, num_classes, labels, seed)


@register_strategy("forgetting", needs=("correct_history",), optional=("labels",))
def forgetting(correct_history, labels=None, budget=None, num_classes=None, seed=0, *, keep="auto"):
    """Forgetting events (Toneva et al. 2019) over a training run: how often a sample classified
    correctly when it was trained on is classified wrongly the next time it is trained on.

    correct_history : (E, N), 1 right, 0 wrong, -1 not trained on in that epoch (skipped).
    Score = events + (1 - share of right presentations) / 2, so samples with more forgetting
    events are kept first and, among equal counts, the ones right less often. A sample never
    classified right (or never trained on) counts as forgotten in every epoch (E events): with
    keep="hard" the unlearnt are kept first and the unforgettable (always right) last, as in
    the paper; keep="easy" reverses the order (within every class when `labels` are given);
    keep="coverage" an even spread (`ccs`); keep="auto" (default) is one of them by `auto_keep`
    (the classes counted from `labels` when given).
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
    return _kept(events + (1 - share_right) / 2, keep, budget, _classes(labels, num_classes), labels, seed)


@register_strategy("ccs", needs=("probs", "labels"), kind="batch")
def ccs(probs, labels, inputs, budget, seed, chunk_size, *, score="self_confidence", score_options=None, beta="auto",
        strata=50):
    """Coverage-centric coreset selection (Zheng et al., ICLR 2023): drop the hardest `beta` share
    as likely label noise, split the rest into `strata` equal-width bins of difficulty, and
    sample the kept set evenly across the bins (the emptiest bins first, each giving what it has
    up to an equal share of what is left), at random within a bin.

    score : a registered score strategy whose pick-first end is the hard end (default
        self_confidence, i.e. 1 - p[label]; el2n or forgetting when their inputs are made, margin,
        entropy, ...); score_options : its options (a pruning score's keep is "hard" unless given)
    beta : the share dropped as the hardest; "auto" drops none when at least half is kept, 10 %
        when a fifth to a half is kept, 30 % below a fifth (the paper raises the cut-off with the
        pruning rate)
    """
    from .selection import compute_scores

    if score not in list_strategies():
        raise OptionError(f"option score of strategy 'ccs': unknown strategy {score!r}; known: "
                          f"{', '.join(list_strategies())}")
    if score == "ccs":
        raise OptionError("option score of strategy 'ccs' must be another strategy")
    if isinstance(strata, bool) or not isinstance(strata, int) or strata < 1:
        raise OptionError(f"option strata must be an int >= 1, got {strata!r}")
    if beta != "auto" and (isinstance(beta, bool) or not isinstance(beta, (int, float)) or not 0 <= beta < 1):
        raise OptionError(f"option beta must be 'auto' or a share in [0, 1), got {beta!r}")
    score_options = {**({"keep": "hard"} if "keep" in get_strategy(score).options else {}), **(score_options or {})}
    hardness = compute_scores(score, inputs, seed=seed, chunk_size=chunk_size, **score_options)
    return order_to_scores(_coverage(hardness, budget, seed, beta, strata), len(labels))


def _coverage(hardness: np.ndarray, budget: int, seed: int, beta="auto", strata: int = 50) -> np.ndarray:
    """The `budget` positions CCS keeps (see `ccs`), in a seeded random order: the hardest
    `beta` share dropped ("auto": `ccs_beta`), the rest sampled evenly across `strata` bins."""
    n = len(hardness)
    beta = ccs_beta(budget, n) if beta == "auto" else beta
    order = np.lexsort((rng(seed, 7).permutation(n), -hardness))  # hardest first, ties at random
    cut = min(int(beta * n), n - budget)  # never drop so many that the budget cannot be met
    rest = order[cut:]
    low, high = hardness[rest].min(), hardness[rest].max()
    edges = np.linspace(low, high, strata + 1)
    bins = np.clip(np.searchsorted(edges, hardness[rest], side="right") - 1, 0, strata - 1)
    members = [rest[bins == b] for b in range(strata)]
    draw, chosen, left = rng(seed, 8), [], budget
    for rank, b in enumerate(np.argsort([len(m) for m in members], kind="stable")):
        share = min(len(members[b]), left // (strata - rank))
        chosen.append(draw.choice(members[b], size=share, replace=False))
        left -= share
    chosen = np.concatenate(chosen)
    if left:  # the bins ran short of an equal share: the rest at random
        spare = rest[~np.isin(rest, chosen)]
        chosen = np.concatenate([chosen, draw.choice(spare, size=left, replace=False)])
    return draw.permutation(chosen)


def ccs_beta(kept: int, pool_size: int) -> float:
    """CCS's beta="auto": the share of the hardest dropped grows with the pruning rate (none
    when at least half is kept, 10 % when a fifth to a half is kept, 30 % below a fifth)."""
    return 0.0 if kept >= 0.5 * pool_size else 0.1 if kept >= 0.2 * pool_size else 0.3
