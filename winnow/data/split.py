"""Seeded, stratified train/test splits."""

from __future__ import annotations

import numpy as np


def stratified_split(labels: np.ndarray, test_fraction: float, seed: int) -> dict[str, np.ndarray]:
    """Split image indices into "train" and "test", drawing the same fraction of every class.

    labels : (N,) int array
    test_fraction : in [0, 1); class c gives round(n_c * test_fraction) of its n_c images to "test"
    Returns {"train": (N - T,) int64, "test": (T,) int64}, both sorted; the same seed gives the same split.
    """
    rng = np.random.default_rng(seed)
    is_test = np.zeros(len(labels), dtype=bool)
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        test_count = int(round(len(members) * test_fraction))
        is_test[rng.permutation(members)[:test_count]] = True
    return {"train": np.flatnonzero(~is_test), "test": np.flatnonzero(is_test)}
