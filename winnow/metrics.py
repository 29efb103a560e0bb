"""Evaluation metrics as functions of (labels, pred_probs), in the style of cleanlab.

labels : (N,) int, values in [0, K)
pred_probs : (N, K) float, one row of class probabilities (or scores) per sample
"""

from __future__ import annotations

import numpy as np


def _check(labels, pred_probs) -> tuple[np.ndarray, np.ndarray]:
    labels = np.asarray(labels)
    pred_probs = np.asarray(pred_probs, dtype=np.float64)
    if pred_probs.ndim != 2:
        raise ValueError(f"pred_probs must have shape (N, K), got {pred_probs.shape}")
    if labels.shape != (pred_probs.shape[0],):
        raise ValueError(f"labels has shape {labels.shape}, expected ({pred_probs.shape[0]},) to match pred_probs")
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError("labels must be integers")
    bad = np.flatnonzero((labels < 0) | (labels >= pred_probs.shape[1]))
    if len(bad):
        raise ValueError(f"label {labels[bad[0]]} at index {bad[0]} is outside [0, {pred_probs.shape[1]})")
    return labels.astype(np.int64), pred_probs


def accuracy(labels, pred_probs) -> float:
    """Fraction of samples whose highest-probability class is the label."""
    labels, pred_probs = _check(labels, pred_probs)
    return float((pred_probs.argmax(1) == labels).mean()) if len(labels) else float("nan")


def top_k_accuracy(labels, pred_probs, k: int = 5) -> float:
    """Fraction of samples whose label is among the k highest-probability classes.

    Ties at the k-th place count against the sample (a stable sort ranks lower class ids first).
    """
    labels, pred_probs = _check(labels, pred_probs)
    if not 1 <= k:
        raise ValueError(f"k must be >= 1, got {k}")
    top = np.argsort(-pred_probs, axis=1, kind="stable")[:, :k]  # (N, k)
    return float((top == labels[:, None]).any(1).mean()) if len(labels) else float("nan")


def confusion_matrix(labels, pred_probs) -> np.ndarray:
    """(K, K) counts: row = true class, column = predicted class."""
    labels, pred_probs = _check(labels, pred_probs)
    k = pred_probs.shape[1]
    matrix = np.zeros((k, k), dtype=np.int64)
    np.add.at(matrix, (labels, pred_probs.argmax(1)), 1)
    return matrix


def per_class_accuracy(labels, pred_probs) -> np.ndarray:
    """(K,) accuracy on the samples of each true class; NaN for a class with no samples."""
    matrix = confusion_matrix(labels, pred_probs)
    totals = matrix.sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(totals > 0, np.diag(matrix) / np.maximum(totals, 1), np.nan)


def summary(labels, pred_probs, class_names: list[str] | None = None) -> dict:
    """Accuracy, top-5 accuracy (when K > 5), per-class accuracy and confusion matrix as JSON-ready data."""
    labels, pred_probs = _check(labels, pred_probs)
    k = pred_probs.shape[1]
    names = list(class_names) if class_names is not None else [str(c) for c in range(k)]
    if len(names) != k:
        raise ValueError(f"class_names has {len(names)} names, expected {k} to match pred_probs")
    result = {"accuracy": accuracy(labels, pred_probs)}
    if k > 5:
        result["top5_accuracy"] = top_k_accuracy(labels, pred_probs, 5)
    result["per_class_accuracy"] = {
        name: (None if np.isnan(value) else float(value)) for name, value in zip(names, per_class_accuracy(labels, pred_probs))
    }
    result["confusion_matrix"] = confusion_matrix(labels, pred_probs).tolist()
    return result


# ---------------------------------------------------------------- presentation-attack detection
# ISO/IEC 30107-3 terms. A presentation is accepted as bona fide when its score >= threshold.
# APCER (attack presentation classification error rate): the share of attacks accepted, per
# attack type (PAI species), and overall the worst type's. BPCER (bona fide presentation
# classification error rate): the share of bona fide presentations rejected. ACER: their mean.

APCER_TARGETS = (0.01, 0.05, 0.10)  # bpcer_at_apcer: BPCER where the APCER is at most these


def pad_metrics(is_bona_fide, bona_fide_scores, threshold: float, attack_types=None,
                score_range: tuple[float, float] | None = None) -> dict:
    """The presentation-attack detection metrics of ISO/IEC 30107-3 at `threshold`.

    is_bona_fide : (N,) bool; bona_fide_scores : (N,) finite floats, higher = more bona fide
    threshold : accept as bona fide when score >= threshold (fix it on a development split:
        `pad_threshold`, never on the test split)
    attack_types : (N,) names or ids of each attack's type (ignored for bona fide rows); None =
        one type
    score_range : (low, high) the scores can take, e.g. (0, 1) for probabilities: the threshold
        must lie in it. Default: the range of `bona_fide_scores` (a threshold outside it gives every
        presentation the same decision); a threshold fixed on another split may fall outside the
        test scores and still be valid, so give the range there

    Returns apcer (the worst type's), apcer_per_type, bpcer, acer = (apcer + bpcer) / 2,
    accuracy, eer and eer_threshold (from the scores alone: where the worst type's APCER meets
    the BPCER), bpcer_at_apcer {"1%": ..., "5%": ..., "10%": ...} (the BPCER at the lowest
    threshold whose worst-type APCER is at most that), the threshold and the counts.
    """
    curve = _PadCurve(is_bona_fide, bona_fide_scores, attack_types)
    if not np.isfinite(threshold):
        raise ValueError(f"threshold must be a finite number, got {threshold!r}")
    if score_range is None:
        low, high = curve.scores.min(), curve.scores.max()
        if not low <= threshold <= high:
            raise ValueError(f"threshold {threshold:g} is outside the scores' range [{low:g}, {high:g}]: every "
                             "presentation would get the same decision")
    elif not score_range[0] <= threshold <= score_range[1]:
        raise ValueError(f"threshold {threshold:g} is outside the score range [{score_range[0]:g}, {score_range[1]:g}]")
    per_type = curve.apcer_per_type(threshold)
    apcer, bpcer = max(per_type.values()), curve.bpcer(threshold)
    accepted = curve.scores >= threshold
    eer, eer_threshold = curve.eer()
    return {
        "apcer": apcer, "apcer_per_type": per_type, "bpcer": bpcer, "acer": (apcer + bpcer) / 2,
        "accuracy": float((accepted == curve.bona_fide).mean()),
        "eer": eer, "eer_threshold": eer_threshold,
        "bpcer_at_apcer": {f"{round(100 * target)}%": curve.bpcer(curve.threshold_at_apcer(target))
                           for target in APCER_TARGETS},
        "threshold": float(threshold), "bona_fide_count": int(curve.bona_fide.sum()),
        "attack_count": int((~curve.bona_fide).sum()),
    }


def pad_threshold(is_bona_fide, bona_fide_scores, rule: str = "eer", attack_types=None) -> float:
    """The threshold fixed on a development split: rule "eer" (where the worst type's APCER meets
    the BPCER) or "apcer:0.05" (the lowest threshold whose worst-type APCER is at most 5 %)."""
    curve = _PadCurve(is_bona_fide, bona_fide_scores, attack_types)
    if rule == "eer":
        return curve.eer()[1]
    kind, _, value = rule.partition(":")
    try:
        target = float(value)
    except ValueError:
        target = -1.0
    if kind != "apcer" or not 0 <= target <= 1:
        raise ValueError(f"threshold rule {rule!r} is not valid: write eer or apcer:SHARE, e.g. apcer:0.05")
    return curve.threshold_at_apcer(target)


def pad_curve(is_bona_fide, bona_fide_scores, attack_types=None) -> dict:
    """The error rates at every threshold that changes a decision, for ROC and DET curves.

    Same inputs as `pad_metrics`. Returns thresholds (T,) ascending (the distinct scores and one
    above them all), bpcer (T,), apcer (T,) of the worst type, apcer_per_type {type: (T,)} and
    apcer_pooled (T,) (all attacks as one type); arrays of floats in [0, 1].
    """
    curve = _PadCurve(is_bona_fide, bona_fide_scores, attack_types)
    thresholds, apcer, bpcer = curve._rates()
    pooled = np.sort(curve.scores[~curve.bona_fide])
    return {"thresholds": thresholds, "bpcer": bpcer, "apcer": apcer,
            "apcer_per_type": {name: 1 - np.searchsorted(s, thresholds, side="left") / len(s)
                               for name, s in curve.attacks.items()},
            "apcer_pooled": 1 - np.searchsorted(pooled, thresholds, side="left") / len(pooled)}


class _PadCurve:
    """The error rates of every threshold, from sorted scores (no N x N work)."""

    def __init__(self, is_bona_fide, scores, attack_types=None):
        self.bona_fide = np.asarray(is_bona_fide)
        self.scores = np.asarray(scores, dtype=np.float64)
        if self.bona_fide.dtype != bool:
            raise ValueError(f"is_bona_fide must be booleans, got {self.bona_fide.dtype}")
        if self.bona_fide.ndim != 1 or self.scores.shape != self.bona_fide.shape:
            raise ValueError(f"is_bona_fide {self.bona_fide.shape} and bona_fide_scores {self.scores.shape} must be "
                             "two (N,) arrays of the same N")
        bad = np.flatnonzero(~np.isfinite(self.scores))
        if len(bad):
            raise ValueError(f"bona_fide_scores[{bad[0]}] = {self.scores[bad[0]]} is not finite")
        if self.bona_fide.all() or not self.bona_fide.any():
            raise ValueError("PAD metrics need both bona fide and attack presentations; got only "
                             + ("bona fide" if self.bona_fide.all() else "attacks"))
        types = np.zeros(len(self.scores), dtype=np.int64) if attack_types is None else np.asarray(attack_types)
        if types.shape != self.scores.shape:
            raise ValueError(f"attack_types has shape {types.shape}, expected {self.scores.shape}")
        self.genuine = np.sort(self.scores[self.bona_fide])
        attacks = ~self.bona_fide
        self.attacks = {str(t) if attack_types is not None else "attack": np.sort(self.scores[attacks & (types == t)])
                        for t in np.unique(types[attacks])}

    def bpcer(self, threshold: float) -> float:
        return float(np.searchsorted(self.genuine, threshold, side="left") / len(self.genuine))

    def apcer_per_type(self, threshold: float) -> dict[str, float]:
        return {name: float(1 - np.searchsorted(s, threshold, side="left") / len(s)) for name, s in self.attacks.items()}

    def _candidates(self) -> np.ndarray:
        """Every threshold that changes a decision: the distinct scores, and one above them all."""
        unique = np.unique(self.scores)
        return np.append(unique, np.nextafter(unique[-1], np.inf))

    def _rates(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        thresholds = self._candidates()
        bpcer = np.searchsorted(self.genuine, thresholds, side="left") / len(self.genuine)
        apcer = np.max([1 - np.searchsorted(s, thresholds, side="left") / len(s) for s in self.attacks.values()], 0)
        return thresholds, apcer, bpcer

    def eer(self) -> tuple[float, float]:
        """(EER, its threshold): the mean of APCER and BPCER where |APCER - BPCER| is smallest, and
        the middle of the widest gap between scores that gives those decisions. Every threshold
        in (previous score, score] decides alike, so the middle of the gap (not its edge, which
        is a bona fide's own score on a split that separates perfectly) keeps a margin on both
        sides when the threshold is applied to new data."""
        thresholds, apcer, bpcer = self._rates()
        gap = np.abs(apcer - bpcer)
        best = np.flatnonzero(gap == gap.min())
        lower = np.concatenate([[-np.inf], thresholds[:-1]])[best]  # the score below each candidate
        widest = int(np.argmax(thresholds[best] - lower))
        chosen, below = best[widest], lower[widest]
        threshold = thresholds[chosen] if not np.isfinite(below) else (below + thresholds[chosen]) / 2
        return float((apcer[chosen] + bpcer[chosen]) / 2), float(threshold)

    def threshold_at_apcer(self, target: float) -> float:
        """The lowest threshold whose (worst-type) APCER is at most `target`."""
        thresholds, apcer, _ = self._rates()
        return float(thresholds[np.flatnonzero(apcer <= target + 1e-12)[0]])
