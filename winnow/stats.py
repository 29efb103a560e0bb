"""Summaries of repeated-seed results: mean and standard deviation, and paired differences with
a t confidence interval. Comparisons in Winnow are paired: two methods run with the same seeds
(the same initial set, the same training seed), so their per-seed differences are compared."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats as _scipy_stats


@dataclass(frozen=True)
class Summary:
    """mean and sample standard deviation (ddof = 1; 0 for a single value) of n values."""

    mean: float
    std: float
    n: int

    def to_dict(self) -> dict:
        return asdict(self)

    def format(self, scale: float = 100.0, digits: int = 2) -> str:
        """e.g. "85.60 ± 0.21" for accuracies given as fractions."""
        if self.n == 0:
            return "–"
        return f"{self.mean * scale:.{digits}f} ± {self.std * scale:.{digits}f}"


@dataclass(frozen=True)
class PairedDifference:
    """The mean per-seed difference a - b over n pairs, its sample std and the two-sided t
    confidence interval [low, high] at `confidence` (NaN bounds when n < 2)."""

    mean: float
    std: float
    low: float
    high: float
    n: int
    confidence: float

    def to_dict(self) -> dict:
        return asdict(self)

    def format(self, scale: float = 100.0, digits: int = 2) -> str:
        """e.g. "+0.62 [+0.10, +1.14]"; without an interval when n < 2."""
        if self.n == 0:
            return "–"
        text = f"{self.mean * scale:+.{digits}f}"
        if math.isfinite(self.low):
            text += f" [{self.low * scale:+.{digits}f}, {self.high * scale:+.{digits}f}]"
        return text


def summarize(values) -> Summary:
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 1:
        raise ValueError(f"values must be one-dimensional, got shape {values.shape}")
    if len(values) == 0:
        return Summary(math.nan, math.nan, 0)
    return Summary(float(values.mean()), float(values.std(ddof=1)) if len(values) > 1 else 0.0, len(values))


def paired_difference(a, b, confidence: float = 0.95) -> PairedDifference:
    """Mean of a - b over paired values (same seeds, same order) with a t interval:
    mean ± t_{(1 + confidence) / 2, n - 1} * std / sqrt(n)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"paired values must be two 1-D arrays of the same length, got {a.shape} and {b.shape}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    summary = summarize(a - b)
    if summary.n < 2:
        return PairedDifference(summary.mean, summary.std, math.nan, math.nan, summary.n, confidence)
    half = float(_scipy_stats.t.ppf((1 + confidence) / 2, summary.n - 1)) * summary.std / math.sqrt(summary.n)
    return PairedDifference(summary.mean, summary.std, summary.mean - half, summary.mean + half, summary.n,
                            confidence)


def paired_by_key(values: dict, reference: dict, confidence: float = 0.95) -> dict | None:
    """`paired_difference` over the keys (seeds, trials) both dicts have, in sorted order, as a
    dict; None when they share none."""
    common = sorted(set(values) & set(reference))
    if not common:
        return None
    return paired_difference([values[k] for k in common], [reference[k] for k in common], confidence).to_dict()
