"""Label issues on arrays: noise injection, out-of-fold bookkeeping, ranking methods, flag quality.

Like cleanlab's core API this module works on arrays, not on models: training stays outside
(`winnow.experiments.clean` trains the fold models with the one trainer).

    noisy, corrupted = inject_noise(labels, 0.2, "symmetric", class_names, seed=0)
    folds = stratified_folds(noisy, 4, seed=0)              # (N,) fold of each sample
    ... train on folds != k, predict folds == k: pred_probs (N, K), never in-sample ...
    probs, temperature = calibrate_probs(noisy, pred_probs)  # see "Calibration first" below
    ranked, scores = rank_label_issues("confident_learning", noisy, probs)
    flagged = ranked[:auto_flag_count("confident_learning", noisy, probs)]
    flags = flag_label_issues(noisy, pred_probs, "confident_learning")  # the three steps: positions == flagged
    flags = flag_label_issues(noisy, pred_probs)             # method "auto": chosen from the estimated noise
    flag_quality(flagged, corrupted)                         # {"precision", "recall", "f1", ...}

Methods (`METHODS`), each a label-issue strategy of the one registry
(`winnow.strategies.label_issues`: higher score = more likely a wrong label), ranking all
samples, most likely wrong first:

* `confident_learning` (`label_issue_confident_learning`): cleanlab's `find_label_issues` on
  the out-of-fold probabilities, with one of cleanlab's filters (`FILTERS`; default
  `low_self_confidence`: cleanlab's estimate of the number of label issues, taken from the
  lowest self-confidence); its issues first in cleanlab's order, then the other samples by
  self-confidence p[given label], low first.
* `self_confidence` (`label_issue_self_confidence`): the out-of-fold probability of the given
  label, low first.
* `low_max_prob` (`label_issue_low_max_prob`): the top out-of-fold probability, low first (the
  earlier experiments' method: it flags images the model finds of no class, whatever their label).
* `noise_posterior` (`label_issue_noise_posterior`): the chance that the given label is right
  under the class-conditional noise cleanlab estimates from the pool (`estimate_noise`: the
  confident joint, its large off-diagonal cells taken as the flips, and the noise matrix they
  imply), low first; a class nothing is mistaken for keeps its labels. Made for class-to-class
  noise (cat <-> dog), where the fold models learn the flips and self-confidence stops
  separating them.

`--method auto` (`choose_method`) estimates the noise first and takes `noise_posterior` when its
off-diagonal mass sits on a few class pairs, `confident_learning` when it is spread out.

How many to flag when not told (`auto_flag_count`): for `confident_learning`, the number of
issues cleanlab's filter finds; for `self_confidence` and `low_max_prob`, cleanlab's estimate of the number
of label issues, `cleanlab.count.num_label_issues` (the off-diagonal of the confident joint);
for `noise_posterior`, the mass of the joint's flip cells (`estimate_noise`) times N.

Calibration first (`calibrate_probs`): confident learning counts samples whose probability of
a class reaches that class's mean self-confidence, so its counts depend on how sharp the
probabilities are. A model trained with label smoothing is under-confident, and on CIFAR-10
with 20 % injected noise cleanlab's default filter flagged 12 154 (precision 0.73; means of 3
seeds) where 10 000 were wrong. Scaling the out-of-fold logits by one temperature fitted by NLL
to the given labels (no clean labels needed) and counting with the off-diagonal estimate
flagged 9 674 (precision 0.89, recall 0.86). `winnow clean` does this unless told not to
(BENCHMARKS.md).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .strategies import StrategyInputs, compute_scores
from .strategies.label_issues import (DEFAULT_FILTER, FILTERS, NoiseEstimate, confident_learning_issues, estimate_noise,
                                      self_confidence_of)

NOISE_KINDS = ("symmetric", "asymmetric")
# --method -> its strategy in the registry (`winnow.strategies.label_issues`): higher = more likely wrong
METHODS = {
    "confident_learning": "label_issue_confident_learning",
    "self_confidence": "label_issue_self_confidence",
    "low_max_prob": "label_issue_low_max_prob",
    "noise_posterior": "label_issue_noise_posterior",
}
AUTO = "auto"  # --method auto: chosen from the estimated noise (`choose_method`)
# Noise this concentrated (share of the off-diagonal joint in its K largest cells) is class-to-class:
# `choose_method` then ranks by the noise posterior (BENCHMARKS.md, "Cleaning under class-to-class noise").
CONCENTRATED = 0.5

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
# The asymmetric noise of the CIFAR-10 literature (Patrini et al. 2017): a class is mistaken for a similar one.
CIFAR10_ASYMMETRIC = {"truck": "automobile", "bird": "airplane", "deer": "horse", "cat": "dog", "dog": "cat"}


def takes_filter(method: str) -> bool:
    """Whether `method` uses cleanlab's --filter-by: confident_learning, and auto, which may choose it."""
    return method in ("confident_learning", AUTO)


def asymmetric_map(class_names: list[str]) -> dict[int, int]:
    """Class -> the class its labels are flipped to by asymmetric noise.

    For the CIFAR-10 classes (by name, in any order) the standard map truck -> automobile,
    bird -> airplane, deer -> horse, cat -> dog, dog -> cat (the other five classes keep their
    labels); for any other classes c -> (c + 1) mod K.
    """
    if set(class_names) == set(CIFAR10_CLASSES):
        position = {name: c for c, name in enumerate(class_names)}
        return {position[source]: position[target] for source, target in CIFAR10_ASYMMETRIC.items()}
    k = len(class_names)
    return {c: (c + 1) % k for c in range(k)}


def inject_noise(labels, rate: float, kind: str, class_names: list[str], seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A corrupted copy of `labels` and the positions corrupted; `labels` is not changed.

    labels : (N,) ints in [0, K), K = len(class_names) >= 2
    rate : in [0, 1); exactly round(rate * N) samples are corrupted, drawn at random (seeded)
    kind : "symmetric": each corrupted sample gets a class drawn uniformly from the K - 1 others;
        "asymmetric": the corrupted samples are drawn among those whose class `asymmetric_map`
        moves, and get the mapped class (so on CIFAR-10 at most half the samples can be flipped)
    Returns (noisy (N,) int64, corrupted (M,) int64 sorted positions); every corrupted label
    differs from the original one, and the same seed gives the same result.
    """
    labels = np.asarray(labels)
    k = len(class_names)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be a 1-D integer array, got {labels.dtype} of shape {labels.shape}")
    if k < 2 or (len(labels) and (labels.min() < 0 or labels.max() >= k)):
        raise ValueError(f"labels must be in [0, {k}) with at least 2 classes")
    if kind not in NOISE_KINDS:
        raise ValueError(f"unknown noise kind {kind!r}; choose one of {', '.join(NOISE_KINDS)}")
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate < 1:
        raise ValueError(f"the noise rate (--inject-noise) must be in [0, 1), got {rate!r}")
    rng = np.random.default_rng(seed)
    count = round(rate * len(labels))
    noisy = labels.astype(np.int64).copy()
    if kind == "symmetric":
        corrupted = np.sort(rng.choice(len(labels), size=count, replace=False))
        noisy[corrupted] = (noisy[corrupted] + rng.integers(1, k, size=count)) % k  # uniform over the K - 1 others
        return noisy, corrupted.astype(np.int64)
    mapping = asymmetric_map(class_names)
    target = np.array([mapping.get(c, c) for c in range(k)])
    movable = np.flatnonzero(target[labels] != labels)
    if count > len(movable):
        raise ValueError(f"asymmetric noise at rate {rate} needs {count} samples of the classes it flips, but there "
                         f"are {len(movable)}; use a lower --inject-noise")
    corrupted = np.sort(rng.choice(movable, size=count, replace=False))
    noisy[corrupted] = target[noisy[corrupted]]
    return noisy, corrupted.astype(np.int64)


def check_noise(rate, kind: str | None = None, seed: int | None = None) -> dict | None:
    """The noise to inject as a run records it, {"rate", "kind", "seed"} (kind "symmetric" and
    seed 0 unless given), or None without a rate; an error names the option at fault."""
    if rate is None:
        if kind is not None or seed is not None:
            raise ValueError("--noise-kind and --noise-seed apply only with --inject-noise RATE")
        return None
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate < 1:
        raise ValueError(f"--inject-noise must be a rate in [0, 1), got {rate!r}")
    kind = kind or "symmetric"
    if kind not in NOISE_KINDS:
        raise ValueError(f"unknown --noise-kind {kind!r}; choose one of {', '.join(NOISE_KINDS)}")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
        raise ValueError(f"--noise-seed must be an int >= 0, got {seed!r}")
    return {"rate": float(rate), "kind": kind, "seed": 0 if seed is None else seed}


def stratified_folds(labels, folds: int, seed: int, class_names: list[str] | None = None) -> np.ndarray:
    """The fold (0 .. folds - 1) of each sample: every class is shuffled (seeded) and dealt
    round-robin, classes one after another, so fold sizes differ by at most one overall and
    within each class.

    labels : (N,) ints;  folds : >= 2 and at most the size of the smallest class
    class_names : K names, for the error message of a class too small for `folds`
    """
    labels = np.asarray(labels)
    if isinstance(folds, bool) or not isinstance(folds, (int, np.integer)) or folds < 2:
        raise ValueError(f"--folds must be an int >= 2, got {folds!r}")
    classes, counts = np.unique(labels, return_counts=True)
    if len(counts) and folds > counts.min():
        smallest = classes[counts.argmin()]
        name = f"class {class_names[smallest]!r}" if class_names is not None else f"label {smallest}"
        raise ValueError(f"--folds {folds} is larger than the smallest class ({name} has {counts.min()} samples): "
                         "every fold needs every class")
    rng = np.random.default_rng(seed)
    order = np.concatenate([rng.permutation(np.flatnonzero(labels == c)) for c in classes]) if len(labels) \
        else np.zeros(0, dtype=np.int64)
    fold_of = np.empty(len(labels), dtype=np.int64)
    fold_of[order] = np.arange(len(labels)) % folds
    return fold_of


def check_filter(filter_by: str) -> None:
    if filter_by not in FILTERS:
        raise ValueError(f"unknown --filter-by {filter_by!r}; choose one of cleanlab's {', '.join(FILTERS)}")


def calibrate_probs(labels, pred_probs) -> tuple[np.ndarray, float]:
    """(probabilities, T): `pred_probs` with their log scaled by the one temperature T that
    minimises the negative log-likelihood of the given `labels` (`calibration.fit_temperature`),
    renormalised. T < 1 sharpens under-confident probabilities; the ranking of each sample's
    classes is unchanged."""
    from .calibration import fit_temperature

    labels, pred_probs = _check_arrays(labels, pred_probs)
    logits = np.log(np.clip(pred_probs, 1e-12, None))
    temperature = fit_temperature(logits, labels)
    scaled = logits / temperature
    scaled -= scaled.max(1, keepdims=True)
    probs = np.exp(scaled)
    return probs / probs.sum(1, keepdims=True), temperature


def check_method(method: str, auto: bool = False) -> None:
    """A ValueError for a method not in `METHODS` (nor "auto" where `auto`)."""
    known = [*METHODS, *([AUTO] if auto else [])]
    if method not in known:
        raise ValueError(f"unknown --method {method!r}; choose one of {', '.join(known)}")


def choose_method(labels, pred_probs) -> tuple[str, NoiseEstimate]:
    """(method, the noise estimate it was chosen from): `noise_posterior` when the estimated noise
    is concentrated on a few class pairs (`estimate_noise(...).concentration >= CONCENTRATED`),
    else `confident_learning`.

    Why (BENCHMARKS.md): with noise spread over every pair, the lowest self-confidences are the
    wrong labels and cleanlab's count is close; with class-to-class noise the fold models learn
    the flips, a flipped cat labelled dog keeps a fair probability of "dog", and self-confidence
    flags hard images of every class instead. The noise posterior looks only where the
    estimated noise matrix says labels are mistaken, and how often.
    """
    labels, pred_probs = _check_arrays(labels, pred_probs)
    noise = estimate_noise(labels, pred_probs)
    return ("noise_posterior" if noise.concentration >= CONCENTRATED else "confident_learning"), noise


def confused_pairs(noise: NoiseEstimate, class_names, top: int = 5) -> list[dict]:
    """The `top` largest off-diagonal cells of the estimated joint, largest first: {"true",
    "given", "share", "flip"} with share = P(given, true) (of all labels) and flip whether
    `noise_posterior` takes the cell for label noise (`NoiseEstimate.flips`)."""
    off = noise.joint * (1 - np.eye(len(noise.joint)))
    order = np.argsort(-off.ravel(), kind="stable")[:top]
    return [{"true": class_names[j], "given": class_names[i], "share": float(off[i, j]),
             "flip": bool(noise.flips[i, j])} for i, j in zip(*np.unravel_index(order, off.shape)) if off[i, j] > 0]


def _check_arrays(labels, pred_probs) -> tuple[np.ndarray, np.ndarray]:
    labels, pred_probs = np.asarray(labels), np.asarray(pred_probs, dtype=np.float64)
    if pred_probs.ndim != 2 or labels.shape != (len(pred_probs),):
        raise ValueError(f"expected labels (N,) and pred_probs (N, K), got {labels.shape} and {pred_probs.shape}")
    if len(labels) and (labels.min() < 0 or labels.max() >= pred_probs.shape[1]):
        raise ValueError(f"labels must be in [0, {pred_probs.shape[1]})")
    return labels.astype(np.int64), pred_probs


def rank_label_issues(method: str, labels, pred_probs,
                      filter_by: str = DEFAULT_FILTER) -> tuple[np.ndarray, np.ndarray]:
    """(ranked, scores): every position, most likely wrongly labelled first, and each sample's
    label-quality score as flags.csv shows it (low = more likely wrong: p[given label], the
    top probability for `low_max_prob`, P(given label correct) for `noise_posterior`).

    The ranking is the method's strategy (`METHODS`) scored through the registry, highest
    first; equal scores keep their position order (not `select`'s seeded tie-break), so the
    flags depend on the probabilities alone.

    labels : (N,) given labels;  pred_probs : (N, K) out-of-fold probabilities
    filter_by : cleanlab's filter (`FILTERS`), used by `confident_learning` only
    """
    check_method(method)
    check_filter(filter_by)
    labels, pred_probs = _check_arrays(labels, pred_probs)
    options = {"filter_by": filter_by} if method == "confident_learning" else {}
    scores = compute_scores(METHODS[method], StrategyInputs(probs=pred_probs, labels=labels), **options)
    ranked = np.argsort(-scores, kind="stable")
    if method == "noise_posterior":
        quality = -scores  # P(given label correct)
    else:
        quality = pred_probs.max(1) if method == "low_max_prob" else self_confidence_of(pred_probs, labels)
    return ranked.astype(np.int64), quality


def auto_flag_count(method: str, labels, pred_probs, filter_by: str = DEFAULT_FILTER) -> int:
    """How many samples to flag when not told: the issues confident learning finds with
    `filter_by` (`confident_learning`), the estimated share of flipped labels times N
    (`noise_posterior`: `NoiseEstimate.flip_rate`), else cleanlab's estimate of the number of label
    issues."""
    check_method(method)
    check_filter(filter_by)
    labels, pred_probs = _check_arrays(labels, pred_probs)
    if method == "confident_learning":
        return len(confident_learning_issues(labels, pred_probs, filter_by))
    if method == "noise_posterior":
        return round(estimate_noise(labels, pred_probs).flip_rate * len(labels))
    from cleanlab.count import num_label_issues

    return int(num_label_issues(labels, pred_probs, estimation_method="off_diagonal"))


class Flags(NamedTuple):
    """What `flag_label_issues` found."""

    positions: np.ndarray  # (M,) the flagged positions, most likely wrong first
    scores: np.ndarray  # (N,) every sample's label-quality score (`rank_label_issues`)
    probs: np.ndarray  # (N, K) the probabilities flagged on (calibrated unless told not to)
    temperature: float | None  # their temperature; None uncalibrated
    method: str  # the method that ranked them (`choose_method`'s choice for "auto")
    noise: NoiseEstimate  # cleanlab's estimate of the noise in those probabilities


def flag_label_issues(labels, pred_probs, method: str = AUTO, *, filter_by: str = DEFAULT_FILTER,
                      count: int | None = None, calibrate: bool = True) -> Flags:
    """The top `count` samples of `rank_label_issues` (None: `auto_flag_count` many), on
    `pred_probs` temperature-scaled to the given `labels` first (`calibrate_probs`) unless
    `calibrate` is False; method "auto" is `choose_method`'s choice on those probabilities.

    labels : (N,) given labels;  pred_probs : (N, K) out-of-fold probabilities
    """
    check_method(method, auto=True)
    temperature = None
    if calibrate:
        pred_probs, temperature = calibrate_probs(labels, pred_probs)
    chosen, noise = choose_method(labels, pred_probs)
    method = chosen if method == AUTO else method
    ranked, scores = rank_label_issues(method, labels, pred_probs, filter_by)
    count = auto_flag_count(method, labels, pred_probs, filter_by) if count is None else count
    return Flags(ranked[:count], scores, pred_probs, temperature, method, noise)


def flag_quality(flagged, corrupted) -> dict:
    """Precision, recall and F1 of the `flagged` positions against the `corrupted` ones (the
    injected errors): precision = |flagged ∩ corrupted| / |flagged|, recall = ... / |corrupted|
    (NaN when that set is empty), F1 their harmonic mean (0 when both are 0)."""
    flagged, corrupted = np.unique(np.asarray(flagged)), np.unique(np.asarray(corrupted))
    hits = len(np.intersect1d(flagged, corrupted))
    precision = hits / len(flagged) if len(flagged) else float("nan")
    recall = hits / len(corrupted) if len(corrupted) else float("nan")
    if np.isnan(precision) or np.isnan(recall):
        f1 = float("nan")
    else:
        f1 = 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)
    return {"precision": float(precision), "recall": float(recall), "f1": float(f1), "flagged": int(len(flagged)),
            "corrupted": int(len(corrupted)), "true_positives": int(hits)}
