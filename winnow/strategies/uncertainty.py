"""Uncertainty scores from class probabilities, with optional temperature calibration.

Each score is higher for a less certain prediction, so `select` picks the most uncertain
samples first. `temperature` rescales the logits reconstructed as log(probs) before scoring:
a float, or "fit" to fit it on the hold-out inputs `val_logits` / `val_labels` by negative
log-likelihood (`fit_temperature`).
"""

from __future__ import annotations

import math

import numpy as np

from .registry import register_strategy

_TINY = np.finfo(np.float64).tiny


def apply_temperature(probs: np.ndarray, temperature: float) -> np.ndarray:
    """(N, K) softmax(log(probs) / temperature) in float64, i.e. softmax(logits / T) for the
    logits that gave `probs`. T > 1 flattens, T < 1 sharpens; T = 1 returns the probabilities."""
    probs = np.asarray(probs, dtype=np.float64)
    if temperature == 1:
        return probs
    logits = np.log(np.maximum(probs, _TINY)) / temperature  # (N, K)
    logits -= logits.max(1, keepdims=True)
    e = np.exp(logits)
    return e / e.sum(1, keepdims=True)


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


def _calibrated(probs, temperature, val_logits, val_labels) -> np.ndarray:
    if isinstance(temperature, str):
        if temperature != "fit":
            raise ValueError(f"temperature must be a number > 0 or 'fit', got {temperature!r}")
        if val_logits is None:
            raise ValueError("temperature='fit' needs inputs 'val_logits' and 'val_labels', which were not provided")
        # Row-wise strategies scored in chunks fit once per chunk: the same value, a small cost.
        temperature = fit_temperature(val_logits, val_labels)
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not temperature > 0:
        raise ValueError(f"temperature must be a number > 0 or 'fit', got {temperature!r}")
    return apply_temperature(probs, float(temperature))


_CALIBRATION = ("val_logits", "val_labels")


@register_strategy("least_confidence", needs=("probs",), optional=_CALIBRATION, rowwise=True)
def least_confidence(probs, val_logits=None, val_labels=None, *, temperature=1.0):
    """1 - max_k p_k: the flattest prediction first."""
    return 1.0 - _calibrated(probs, temperature, val_logits, val_labels).max(1)


@register_strategy("margin", needs=("probs",), optional=_CALIBRATION, rowwise=True)
def margin(probs, val_logits=None, val_labels=None, *, temperature=1.0):
    """-(p_top1 - p_top2): the smallest gap between the two likeliest classes first
    (with one class, the gap is p_top1)."""
    p = _calibrated(probs, temperature, val_logits, val_labels)
    if p.shape[1] < 2:
        return -p[:, 0]
    top2 = np.partition(p, p.shape[1] - 2, axis=1)[:, -2:]  # (N, 2): second, first
    return top2[:, 0] - top2[:, 1]


@register_strategy("entropy", needs=("probs",), optional=_CALIBRATION, rowwise=True)
def entropy(probs, val_logits=None, val_labels=None, *, temperature=1.0):
    """-sum_k p_k log p_k (nats; 0 log 0 = 0): the most spread-out prediction first."""
    p = _calibrated(probs, temperature, val_logits, val_labels)
    return -(p * np.log(np.maximum(p, _TINY))).sum(1)


@register_strategy("bald", needs=("mc_probs",), rowwise=True)
def bald(mc_probs):
    """BALD (Houlsby et al. 2011; Gal et al. 2017): the mutual information between the prediction
    and the model weights, estimated on T MC-dropout passes mc_probs (T, N, K):

        H(mean_t p_t) - mean_t H(p_t)      (nats; 0 log 0 = 0; >= 0 by Jensen)

    Sign: high when the passes are each confident but disagree with one another (the model's
    uncertainty, which a label can reduce), so it is picked first; 0 when all passes agree,
    however flat their common prediction is (noise in the data, which a label does not reduce).
    """
    p = np.asarray(mc_probs, dtype=np.float64)  # (T, N, K)
    mean = p.mean(0)  # (N, K)
    entropy_of_mean = -(mean * np.log(np.maximum(mean, _TINY))).sum(1)
    mean_entropy = -(p * np.log(np.maximum(p, _TINY))).sum(2).mean(0)
    return np.maximum(entropy_of_mean - mean_entropy, 0.0)  # rounding can make agreeing passes -1e-17
