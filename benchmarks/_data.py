"""Smaller data for benchmarks that cannot afford all of CIFAR-10 on two cores."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from winnow import data
from winnow.data.split import stratified_split


def stratified_subset(dataset: data.Dataset, train_size: int | None = None,
                      test_size: int | None = None) -> data.Dataset:
    """The dataset with a stratified `train_size` of its training split and `test_size` of its
    test split (seed 0; None or a size >= the split keeps all of it)."""
    labels = dataset.labels.numpy()

    def kept(rows: np.ndarray, size: int | None) -> np.ndarray:
        if size is None or size >= len(rows):
            return rows
        return rows[stratified_split(labels[rows], size / len(rows), seed=0)["test"]]

    train, test = kept(dataset.train_indices, train_size), kept(dataset.test_indices, test_size)
    rows = np.concatenate([train, test])
    return data.from_arrays(dataset.images[rows], labels[rows], dataset.class_names,
                            test_indices=np.arange(len(train), len(rows)))


def missing(path: str | Path) -> bool:
    """Whether the benchmark data file `path` is missing (said on stderr)."""
    if Path(path).exists():
        return False
    print(f"benchmark data {path} does not exist", file=sys.stderr)
    return True
