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
