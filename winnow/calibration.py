"""Calibration: how far predicted confidences are from observed accuracy, and temperature scaling.

labels : (N,) int, values in [0, K)
probs : (N, K) float, each row a probability distribution (non-negative, summing to 1)
logits : (N, K) float, softmax(logits) = probs

    temperature = fit_temperature(val_logits, val_labels)          # on a hold-out, never the test set
    before = calibration_summary(test_labels, softmax(test_logits))
    after = calibration_summary(test_labels, softmax(test_logits, temperature))

Binned metrics use `bins` equal-width bins of the top-1 confidence over [0, 1]; bin i holds the
confidences c with edges[i] < c <= edges[i + 1] (bin 0 also holds c = 0). Public functions check
their inputs once and raise ValueError naming the argument.
"""

from __future__ import annotations

import math

import numpy as np

_TINY = np.finfo(np.float64).tiny
SUM_TOLERANCE = 1e-3  # rows of `probs` must sum to 1 within this (float32 softmax outputs are off by ~1e-7)


def _check(labels, probs, bins: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    labels = np.asarray(labels)
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim != 2 or probs.shape[0] == 0 or probs.shape[1] == 0:
        raise ValueError(f"probs must have shape (N, K) with N, K >= 1, got {probs.shape}")
    if labels.shape != (len(probs),) or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be ({len(probs)},) integers to match probs, got {labels.dtype} {labels.shape}")
    bad = np.flatnonzero((labels < 0) | (labels >= probs.shape[1]))
    if len(bad):
        raise ValueError(f"labels[{bad[0]}] = {labels[bad[0]]} is outside [0, {probs.shape[1]})")
    if not np.isfinite(probs).all() or (probs < 0).any() or (probs > 1).any():
        raise ValueError("probs must be finite and in [0, 1]")
    sums = probs.sum(1)
    off = np.flatnonzero(np.abs(sums - 1) > SUM_TOLERANCE)
    if len(off):
        raise ValueError(f"probs rows must sum to 1: row {off[0]} sums to {sums[off[0]]:.6g}")
    if bins is not None and (isinstance(bins, bool) or not isinstance(bins, (int, np.integer)) or bins < 1):
        raise ValueError(f"bins must be an int >= 1, got {bins!r}")
    return labels.astype(np.int64), probs


def softmax(logits, temperature: float = 1.0) -> np.ndarray:
    """(N, K) float64 softmax(logits / temperature), computed stably."""
    z = np.asarray(logits, dtype=np.float64) / temperature
    z = z - z.max(1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(1, keepdims=True)


def _bin_statistics(labels: np.ndarray, probs: np.ndarray, bins: int):
    """(edges (B+1,), counts (B,), mean confidence (B,), accuracy (B,)); NaN in empty bins."""
    confidence = probs.max(1)  # (N,)
    correct = (probs.argmax(1) == labels).astype(np.float64)  # (N,)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.searchsorted(edges[1:-1], confidence, side="left")  # (N,): edges[i] < c <= edges[i + 1]
    counts = np.bincount(which, minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_confidence = np.bincount(which, confidence, minlength=bins) / counts
        accuracy = np.bincount(which, correct, minlength=bins) / counts
    return edges, counts, mean_confidence, accuracy


def expected_calibration_error(labels, probs, bins: int = 15) -> float:
    """ECE: sum over bins of (bin count / N) * |accuracy in bin - mean confidence in bin|,
    over `bins` equal-width bins of the top-1 confidence (Guo et al. 2017). A fraction in [0, 1]."""
    labels, probs = _check(labels, probs, bins)
    _, counts, confidence, accuracy = _bin_statistics(labels, probs, bins)
    filled = counts > 0
    return float((counts[filled] * np.abs(accuracy[filled] - confidence[filled])).sum() / len(labels))


def maximum_calibration_error(labels, probs, bins: int = 15) -> float:
    """MCE: the largest |accuracy in bin - mean confidence in bin| over the non-empty bins."""
    labels, probs = _check(labels, probs, bins)
    _, counts, confidence, accuracy = _bin_statistics(labels, probs, bins)
    filled = counts > 0
    return float(np.abs(accuracy[filled] - confidence[filled]).max())


def negative_log_likelihood(labels, probs) -> float:
    """Mean over samples of -log p[label] (nats). A probability of 0 counts as the smallest
    positive float64 (-log = 708.4), so the result stays finite."""
    labels, probs = _check(labels, probs)
    return float(-np.log(np.maximum(probs[np.arange(len(labels)), labels], _TINY)).mean())


def brier_score(labels, probs) -> float:
    """Mean over samples of the sum over the K classes of (p_k - onehot_k)^2: the multi-class
    convention of Brier (1950), in [0, 2]; 0 for a certain, right prediction. (Some libraries
    divide by K as well, or score only the top class; this one does neither.)"""
    labels, probs = _check(labels, probs)
    error = probs.copy()
    error[np.arange(len(labels)), labels] -= 1.0
    return float((error**2).sum(1).mean())


def reliability_diagram(labels, probs, bins: int = 15) -> dict:
    """Per-bin data of a reliability diagram, JSON-ready: {"edges": (B+1,), "counts": (B,),
    "confidence": (B,) mean top-1 confidence, "accuracy": (B,)}; None in the empty bins."""
    labels, probs = _check(labels, probs, bins)
    edges, counts, confidence, accuracy = _bin_statistics(labels, probs, bins)

    def listed(values):
        return [None if count == 0 else float(v) for v, count in zip(values, counts)]

    return {"edges": edges.tolist(), "counts": counts.tolist(), "confidence": listed(confidence),
            "accuracy": listed(accuracy)}


def calibration_summary(labels, probs, bins: int = 15) -> dict:
    """count, accuracy, ece, mce, nll, brier, bins and the reliability diagram as JSON-ready data."""
    labels, probs = _check(labels, probs, bins)
    return {
        "count": int(len(labels)),
        "accuracy": float((probs.argmax(1) == labels).mean()),
        "ece": expected_calibration_error(labels, probs, bins),
        "mce": maximum_calibration_error(labels, probs, bins),
        "nll": negative_log_likelihood(labels, probs),
        "brier": brier_score(labels, probs),
        "bins": int(bins),
        "reliability": reliability_diagram(labels, probs, bins),
    }


# ---------------------------------------------------------------- temperature scaling


def apply_temperature(probs: np.ndarray, temperature: float) -> np.ndarray:
    """(N, K) softmax(log(probs) / temperature) in float64, i.e. softmax(logits / T) for the
    logits that gave `probs`. T > 1 flattens, T < 1 sharpens; T = 1 returns the probabilities."""
    probs = np.asarray(probs, dtype=np.float64)
    if temperature == 1:
        return probs
    return softmax(np.log(np.maximum(probs, _TINY)), temperature)


def _nll(logits: np.ndarray, labels: np.ndarray, temperature: float) -> float:
    z = logits / temperature  # (V, K)
    top = z.max(1)
    log_norm = top + np.log(np.exp(z - top[:, None]).sum(1))
    return float((log_norm - z[np.arange(len(z)), labels]).mean())


def fit_temperature(val_logits, val_labels, *, bounds: tuple[float, float] = (0.01, 100.0),
                    tol: float = 1e-6) -> float:
    """The temperature T in `bounds` that minimises the mean negative log-likelihood of
    softmax(val_logits / T) on `val_labels`.

    val_logits : (V, K) float   val_labels : (V,) int in [0, K)
    The NLL is convex in 1/T, so it has one minimum on log T; a golden-section search on
    log T finds it to `tol` (relative). A minimum outside `bounds` returns the nearest bound.
    """
    logits = np.asarray(val_logits, dtype=np.float64)
    labels = np.asarray(val_labels)
    if logits.ndim != 2 or len(logits) == 0:
        raise ValueError(f"val_logits must have shape (V, K) with V >= 1, got {logits.shape}")
    if labels.shape != (len(logits),) or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"val_labels must be ({len(logits)},) integers, got shape {labels.shape}")
    if labels.min() < 0 or labels.max() >= logits.shape[1]:
        raise ValueError(f"val_labels must be in [0, {logits.shape[1]})")
    if not np.isfinite(logits).all():
        raise ValueError("val_logits has non-finite values")
    if not 0 < bounds[0] < bounds[1]:
        raise ValueError(f"bounds must be 0 < low < high, got {bounds}")
    low, high = math.log(bounds[0]), math.log(bounds[1])
    ratio = (math.sqrt(5) - 1) / 2
    a, b = high - ratio * (high - low), low + ratio * (high - low)
    fa, fb = _nll(logits, labels, math.exp(a)), _nll(logits, labels, math.exp(b))
    while high - low > tol:
        if fa <= fb:
            high, b, fb = b, a, fa
            a = high - ratio * (high - low)
            fa = _nll(logits, labels, math.exp(a))
        else:
            low, a, fa = a, b, fb
            b = low + ratio * (high - low)
            fb = _nll(logits, labels, math.exp(b))
    return math.exp((low + high) / 2)


def temperature_scaling_report(val_logits, val_labels, test_logits, test_labels, bins: int = 15) -> dict:
    """Fit T on the hold-out (val_*) and measure both sets before and after scaling, JSON-ready:

    {"temperature", "bins", "hold_out": {"before": summary, "after": summary}, "test": {...}}
    with each summary from `calibration_summary`. val_logits : (V, K), test_logits : (M, K).
    """
    temperature = fit_temperature(val_logits, val_labels)
    report = {"temperature": temperature, "bins": int(bins)}
    for name, logits, labels in (("hold_out", val_logits, val_labels), ("test", test_logits, test_labels)):
        report[name] = {
            "before": calibration_summary(labels, softmax(logits), bins),
            "after": calibration_summary(labels, softmax(logits, temperature), bins),
        }
    return report
