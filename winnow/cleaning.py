"""Label issues on arrays: noise injection, out-of-fold bookkeeping, ranking methods, flag quality.

Like cleanlab's core API this module works on arrays, not on models: training stays outside
(`winnow.experiments.clean` trains the fold models with the one trainer).

    noisy, corrupted = inject_noise(labels, 0.2, "symmetric", num_classes=10, seed=0)
    folds = stratified_folds(noisy, 4, seed=0)              # (N,) fold of each sample
    ... train on folds != k, predict folds == k: pred_probs (N, K), never in-sample ...
    ranked, scores = rank_label_issues("self_confidence", noisy, pred_probs)
    flagged = ranked[:auto_flag_count("self_confidence", noisy, pred_probs)]
    flag_quality(flagged, corrupted)                         # {"precision", "recall", "f1", ...}

Methods (`METHODS`), each giving every sample a label-quality score (LOW = more likely a wrong
label) and a ranking of all samples, most likely wrong first:

* `confident_learning`: cleanlab's `find_label_issues` (prune by noise rate) on the
  out-of-fold probabilities; its issues first, ranked by self-confidence, then the other
  samples by self-confidence. Score: self-confidence p[given label].
* `self_confidence`: the out-of-fold probability of the given label, low first.
* `low_max_prob`: the top out-of-fold probability, low first (the earlier experiments' method:
  it flags images the model finds of no class, whatever their label).

How many to flag when not told (`auto_flag_count`): for `confident_learning`, the number of
issues cleanlab's confident learning finds; for the two ranking methods, cleanlab's estimate of
the number of label issues, `cleanlab.count.num_label_issues(..., estimation_method=
"off_diagonal_calibrated")`, which cleanlab documents as the cut-off to use with a ranking.
"""

from __future__ import annotations

import numpy as np

NOISE_KINDS = ("symmetric", "asymmetric")

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
# The asymmetric noise of the CIFAR-10 literature (Patrini et al. 2017): a class is mistaken for a similar one.
CIFAR10_ASYMMETRIC = {"truck": "automobile", "bird": "airplane", "deer": "horse", "cat": "dog", "dog": "cat"}


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


def stratified_folds(labels, folds: int, seed: int) -> np.ndarray:
    """The fold (0 .. folds - 1) of each sample: every class is shuffled (seeded) and dealt
    round-robin, classes one after another, so fold sizes differ by at most one overall and
    within each class.

    labels : (N,) ints;  folds : >= 2 and at most the size of the smallest class
    """
    labels = np.asarray(labels)
    if isinstance(folds, bool) or not isinstance(folds, (int, np.integer)) or folds < 2:
        raise ValueError(f"--folds must be an int >= 2, got {folds!r}")
    classes, counts = np.unique(labels, return_counts=True)
    if len(counts) and folds > counts.min():
        raise ValueError(f"--folds {folds} is larger than the smallest class ({classes[counts.argmin()]} has "
                         f"{counts.min()} samples): every fold needs every class")
    rng = np.random.default_rng(seed)
    order = np.concatenate([rng.permutation(np.flatnonzero(labels == c)) for c in classes]) if len(labels) \
        else np.zeros(0, dtype=np.int64)
    fold_of = np.empty(len(labels), dtype=np.int64)
    fold_of[order] = np.arange(len(labels)) % folds
    return fold_of


def _self_confidence(labels, pred_probs) -> np.ndarray:
    return pred_probs[np.arange(len(labels)), labels]


def _ranked(scores: np.ndarray) -> np.ndarray:
    """Positions by score, low first; ties by position (a stable sort)."""
    return np.argsort(scores, kind="stable")


def rank_self_confidence(labels, pred_probs) -> tuple[np.ndarray, np.ndarray]:
    scores = _self_confidence(labels, pred_probs)
    return _ranked(scores), scores


def rank_low_max_prob(labels, pred_probs) -> tuple[np.ndarray, np.ndarray]:
    scores = pred_probs.max(1)
    return _ranked(scores), scores


def rank_confident_learning(labels, pred_probs) -> tuple[np.ndarray, np.ndarray]:
    issues = confident_learning_issues(labels, pred_probs)
    scores = _self_confidence(labels, pred_probs)
    is_issue = np.zeros(len(labels), dtype=bool)
    is_issue[issues] = True
    rest = np.flatnonzero(~is_issue)
    return np.concatenate([issues, rest[_ranked(scores[rest])]]).astype(np.int64), scores


def confident_learning_issues(labels, pred_probs) -> np.ndarray:
    """cleanlab's confident learning: the positions of the label issues it finds, ranked by
    self-confidence (lowest first)."""
    from cleanlab.filter import find_label_issues

    return np.asarray(find_label_issues(labels, pred_probs, return_indices_ranked_by="self_confidence", n_jobs=1),
                      dtype=np.int64)


METHODS = {
    "confident_learning": rank_confident_learning,
    "self_confidence": rank_self_confidence,
    "low_max_prob": rank_low_max_prob,
}


def check_method(method: str) -> None:
    if method not in METHODS:
        raise ValueError(f"unknown --method {method!r}; choose one of {', '.join(METHODS)}")


def _check_arrays(labels, pred_probs) -> tuple[np.ndarray, np.ndarray]:
    labels, pred_probs = np.asarray(labels), np.asarray(pred_probs, dtype=np.float64)
    if pred_probs.ndim != 2 or labels.shape != (len(pred_probs),):
        raise ValueError(f"expected labels (N,) and pred_probs (N, K), got {labels.shape} and {pred_probs.shape}")
    if len(labels) and (labels.min() < 0 or labels.max() >= pred_probs.shape[1]):
        raise ValueError(f"labels must be in [0, {pred_probs.shape[1]})")
    return labels.astype(np.int64), pred_probs


def rank_label_issues(method: str, labels, pred_probs) -> tuple[np.ndarray, np.ndarray]:
    """(ranked, scores): every position, most likely wrongly labelled first, and each sample's
    label-quality score (low = more likely wrong; see the module doc for each method).

    labels : (N,) given labels;  pred_probs : (N, K) out-of-fold probabilities
    """
    check_method(method)
    labels, pred_probs = _check_arrays(labels, pred_probs)
    return METHODS[method](labels, pred_probs)


def auto_flag_count(method: str, labels, pred_probs) -> int:
    """How many samples to flag when not told: the issues confident learning finds
    (`confident_learning`), else cleanlab's calibrated estimate of the number of label issues."""
    check_method(method)
    labels, pred_probs = _check_arrays(labels, pred_probs)
    if method == "confident_learning":
        return len(confident_learning_issues(labels, pred_probs))
    from cleanlab.count import num_label_issues

    return int(num_label_issues(labels, pred_probs, estimation_method="off_diagonal_calibrated"))


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
