"""Uncertainty scores from class probabilities, with optional temperature calibration.

Each score is higher for a less certain prediction, so `select` picks the most uncertain
samples first. `temperature` rescales the logits reconstructed as log(probs) before scoring:
a float, or "fit" to fit it on the hold-out inputs `val_logits` / `val_labels` by negative
log-likelihood (`fit_temperature`). Both live in `winnow.calibration` and are re-exported here.
"""

from __future__ import annotations

import numpy as np

from ..calibration import apply_temperature, fit_temperature
from .registry import OptionError, register_strategy

_TINY = np.finfo(np.float64).tiny


def _calibrated(probs, temperature, val_logits, val_labels) -> np.ndarray:
    if isinstance(temperature, str):
        if temperature != "fit":
            raise OptionError(f"option temperature must be a number > 0 or 'fit', got {temperature!r}")
        if val_logits is None:
            raise ValueError("temperature='fit' needs inputs 'val_logits' and 'val_labels', which were not provided: "
                             "give the proxy model a labelled hold-out, e.g. --set val_fraction=0.1")
        # Row-wise strategies scored in chunks fit once per chunk: the same value, a small cost.
        temperature = fit_temperature(val_logits, val_labels)
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not temperature > 0:
        raise OptionError(f"option temperature must be a number > 0 or 'fit', got {temperature!r}")
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
