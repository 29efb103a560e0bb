"""The embedded default dataset: scikit-learn's 8x8 handwritten digits."""

from __future__ import annotations

import numpy as np
import torch

from winnow.data.dataset import Dataset
from winnow.data.split import stratified_split

DIGITS_TEST_FRACTION = 0.25
DIGITS_SPLIT_SEED = 0  # fixed, so every run and every seed is scored on the same test images


def load_digits() -> Dataset:
    """1797 grey images (1, 8, 8) of the digits 0-9, with a fixed stratified 75 / 25 % train/test split.

    The source values 0..16 are scaled to 0..255.
    """
    from sklearn.datasets import load_digits as load_sklearn_digits  # slow import, only when asked for

    digits = load_sklearn_digits()
    images = np.rint(digits.images * (255 / 16)).astype(np.uint8)[:, None]  # (N, 1, 8, 8)
    labels = digits.target.astype(np.int64)  # (N,)
    return Dataset(
        images=torch.from_numpy(images),
        labels=torch.from_numpy(labels),
        class_names=[str(digit) for digit in range(10)],
        splits=stratified_split(labels, DIGITS_TEST_FRACTION, DIGITS_SPLIT_SEED),
        source="digits",
    )
