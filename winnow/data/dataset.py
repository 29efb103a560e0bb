"""The in-memory dataset every other part of Winnow works on."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import torch


class DataError(ValueError):
    """Input data that Winnow cannot use; the message names the file, index or option at fault."""


@dataclass
class Dataset:
    """Images, labels and class names in memory; subsets are index arrays into it.

    images : (N, C, H, W) uint8 tensor
    labels : (N,) int64 tensor, values in [0, K) (or -1 for an image without a label)
    class_names : K names
    splits : split name -> int64 index array into the N images: "train", "test", and "val" (a
             validation split, given by the source: a folder's val/ beside test/, or from_arrays'
             val_indices) only when the source has one; the splits are disjoint
    paths : optional N source paths (folder data), for reports and exported selections
    source : where the data came from, e.g. the spec given to `winnow.data.load`
    skipped : how many unreadable images were left out while loading (with skip_bad_images)
    """

    images: torch.Tensor
    labels: torch.Tensor
    class_names: list[str]
    splits: dict[str, np.ndarray] = field(default_factory=dict)
    paths: list[str] | None = None
    source: str = ""
    skipped: int = 0

    def __post_init__(self):
        if not isinstance(self.images, torch.Tensor) or self.images.dtype != torch.uint8 or self.images.dim() != 4:
            raise DataError("images must be a uint8 tensor of shape (N, C, H, W)")
        n = self.images.shape[0]
        if self.labels.shape != (n,):
            raise DataError(f"labels has shape {tuple(self.labels.shape)}, expected ({n},) to match the images")
        if self.paths is not None and len(self.paths) != n:
            raise DataError(f"paths has {len(self.paths)} entries, expected {n} to match the images")
        self.labels = self.labels.to(torch.int64)
        bad = torch.nonzero((self.labels < -1) | (self.labels >= len(self.class_names))).flatten()
        if len(bad):
            i = int(bad[0])
            raise DataError(
                f"label {int(self.labels[i])} at index {i} is out of range for {len(self.class_names)} classes"
            )
        for name, indices in self.splits.items():
            indices = np.asarray(indices, dtype=np.int64)
            if indices.ndim != 1 or (len(indices) and (indices.min() < 0 or indices.max() >= n)):
                raise DataError(f"split {name!r} holds indices outside [0, {n})")
            self.splits[name] = indices
        names = list(self.splits)
        for position, name in enumerate(names):
            for other in names[position + 1:]:
                shared = np.intersect1d(self.splits[name], self.splits[other])
                if len(shared):
                    raise DataError(f"splits {name!r} and {other!r} share index {int(shared[0])}: splits are disjoint")

    def __len__(self) -> int:
        return self.images.shape[0]

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def in_channels(self) -> int:
        return self.images.shape[1]

    @property
    def image_size(self) -> tuple[int, int]:
        return tuple(self.images.shape[2:])

    @property
    def train_indices(self) -> np.ndarray:
        return self.splits.get("train", np.arange(len(self), dtype=np.int64))

    @property
    def test_indices(self) -> np.ndarray:
        return self.splits.get("test", np.zeros(0, dtype=np.int64))

    @property
    def val_indices(self) -> np.ndarray:
        """(V,) int64: the validation split the source gave (a hold-out for early stopping and
        calibration, never trained on); empty when it gave none."""
        return self.splits.get("val", np.zeros(0, dtype=np.int64))

    def with_labels(self, labels, class_names=None) -> Dataset:
        """A copy with other labels (and class names); the images, paths and split arrays are shared,
        not copied.

        labels : (N,) integers in [0, K), -1 for an image without a label
        class_names : K names; default the current ones
        """
        return replace(
            self,
            labels=torch.tensor(np.asarray(labels), dtype=torch.int64),
            class_names=list(self.class_names if class_names is None else class_names),
            splits=dict(self.splits),
        )

    def describe(self) -> str:
        c, h, w = self.images.shape[1:]
        sizes = ", ".join(f"{name} {len(idx)}" for name, idx in self.splits.items() if name != "val" or len(idx))
        return f"{self.source or 'dataset'}: {len(self)} images {c}x{h}x{w}, {self.num_classes} classes ({sizes})"
