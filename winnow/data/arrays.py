"""Datasets from arrays a user already has in Python (NumPy or PyTorch)."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from winnow.data.dataset import DataError, Dataset

_CHANNEL_COUNTS = (1, 3, 4)


def from_arrays(images, labels, class_names: Sequence[str], *, test_indices=None, val_indices=None) -> Dataset:
    """A Dataset from in-memory arrays.

    images : (N, H, W) grey, (N, C, H, W) or (N, H, W, C) with C in 1, 3, 4 (channels last is
             recognised when the last dim is 1, 3 or 4 and the second is not); uint8 in 0..255 or
             float in [0, 1] (scaled to uint8); a NumPy array or a torch tensor. Or, for several
             aligned inputs per sample, a dict modality name -> such an array, e.g. {"rgb": (N, 3, H, W),
             "depth": (N, H, W)}: stacked as channels in that order (`Dataset.modalities`); every
             modality must have the same N, H and W
    labels : (N,) integers in [0, K), or -1 for an image without a label
    class_names : K names
    test_indices : (T,) indices of the test images; the others are "train". Without it, every image is "train".
    val_indices : (V,) indices of a validation split (Dataset.val_indices), disjoint from test_indices;
                  they leave "train" too. Without it, the dataset has no "val" split.
    """
    modalities = None
    if isinstance(images, dict):
        images, modalities = _stacked_modalities(images)
    else:
        images = _as_uint8_nchw(_to_numpy(images))
    labels = _to_numpy(labels)
    if labels.ndim != 1 or len(labels) != len(images):
        raise DataError(
            f"images holds {len(images)} images but labels has shape {labels.shape}, expected ({len(images)},)"
        )
    if not np.issubdtype(labels.dtype, np.integer):
        raise DataError(f"labels must be integers, got {labels.dtype}")
    class_names = [str(name) for name in class_names]
    if not class_names or len(set(class_names)) != len(class_names):
        raise DataError(f"class_names must be distinct and non-empty, got {class_names}")
    return Dataset(
        images=torch.from_numpy(images),
        labels=torch.from_numpy(labels.astype(np.int64)),  # a label out of range is reported with its index
        class_names=class_names,
        splits=_splits(len(images), test_indices, val_indices),
        source="arrays",
        modalities=modalities,
    )


def _stacked_modalities(views: dict) -> tuple[np.ndarray, dict[str, int]]:
    """(N, C, H, W) uint8 from name -> array, stacked in order, and name -> channel count; views of
    other counts or sizes are an error naming both modalities."""
    if not views:
        raise DataError("images is an empty dict: give modality name -> images")
    arrays = {str(name): _as_uint8_nchw(_to_numpy(array)) for name, array in views.items()}
    first_name, first = next(iter(arrays.items()))
    for name, array in arrays.items():
        if array.shape[0] != first.shape[0] or array.shape[2:] != first.shape[2:]:
            raise DataError(f"modality {name!r} has {array.shape[0]} images of {array.shape[3]}x{array.shape[2]} "
                            f"pixels but {first_name!r} has {first.shape[0]} of {first.shape[3]}x{first.shape[2]}: "
                            "every modality needs the same samples at the same size")
    return np.concatenate(list(arrays.values()), axis=1), {name: a.shape[1] for name, a in arrays.items()}


def _to_numpy(values) -> np.ndarray:
    if isinstance(values, torch.Tensor):
        return values.detach().cpu().numpy()
    return np.asarray(values)


def _as_uint8_nchw(images: np.ndarray) -> np.ndarray:
    """(N, C, H, W) uint8 from any of the layouts and dtypes from_arrays accepts."""
    if images.ndim == 3:
        images = images[:, None]
    elif images.ndim == 4 and images.shape[-1] in _CHANNEL_COUNTS and images.shape[1] not in _CHANNEL_COUNTS:
        images = images.transpose(0, 3, 1, 2)
    elif images.ndim != 4:
        raise DataError(f"images has shape {images.shape}: expected (N, H, W), (N, C, H, W) or (N, H, W, C)")
    if images.dtype == np.uint8:
        return np.ascontiguousarray(images)
    if not np.issubdtype(images.dtype, np.floating):
        raise DataError(f"images has dtype {images.dtype}: expected uint8 (0..255) or float (0..1)")
    outside = ~((images >= 0) & (images <= 1))  # NaN counts as outside
    if outside.any():
        index = int(np.argwhere(outside)[0, 0])
        raise DataError(f"float images must lie in [0, 1]; image {index} holds values from "
                        f"{np.nanmin(images[index])} to {np.nanmax(images[index])}")
    return np.rint(images * 255).astype(np.uint8)


def _splits(image_count: int, test_indices, val_indices) -> dict[str, np.ndarray]:
    """{"train", "val" (when val_indices is given), "test" (when test_indices is given)} -> sorted int64 indices."""
    held_out = {name: _checked_indices(indices, f"{name}_indices", image_count)
                for name, indices in (("val", val_indices), ("test", test_indices)) if indices is not None}
    if len(held_out) == 2:
        shared = np.intersect1d(held_out["val"], held_out["test"])
        if len(shared):
            raise DataError(f"val_indices and test_indices both hold {shared[0]}")
    is_held_out = np.zeros(image_count, dtype=bool)
    for indices in held_out.values():
        is_held_out[indices] = True
    return {"train": np.flatnonzero(~is_held_out), **{name: np.sort(indices) for name, indices in held_out.items()}}


def _checked_indices(indices, argument: str, image_count: int) -> np.ndarray:
    """indices as int64, each in [0, image_count) and given once."""
    indices = _to_numpy(indices)
    if indices.ndim != 1 or not (len(indices) == 0 or np.issubdtype(indices.dtype, np.integer)):
        raise DataError(f"{argument} must be a 1-D array of integers, got {indices.dtype} {indices.shape}")
    outside = np.flatnonzero((indices < 0) | (indices >= image_count))
    if len(outside):
        raise DataError(f"{argument}[{outside[0]}] = {indices[outside[0]]} is outside [0, {image_count})")
    unique_indices, counts = np.unique(indices, return_counts=True)
    if (counts > 1).any():
        raise DataError(f"{argument} holds {unique_indices[counts > 1][0]} more than once")
    return indices.astype(np.int64)
