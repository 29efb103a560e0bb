"""CIFAR-10 and CIFAR-100 from the python pickle batches that torchvision and the CIFAR site provide.

The batches are pickles, and a pickle can run code. They are read with `ArrayUnpickler`, which
admits only the globals numpy needs to rebuild an array, so a crafted file fails instead of
running.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import torch

from winnow.data.dataset import DataError, Dataset

CIFAR10_FOLDER = "cifar-10-batches-py"
CIFAR10_TRAIN_FILES = tuple(f"data_batch_{number}" for number in range(1, 6))
CIFAR10_TEST_FILE = "test_batch"
CIFAR10_META_FILE = "batches.meta"

CIFAR100_FOLDER = "cifar-100-python"
CIFAR100_LABEL_KINDS = ("fine", "coarse")

_IMAGE_SHAPE = (3, 32, 32)


class ArrayUnpickler(pickle.Unpickler):
    """An unpickler for files that hold only dicts, lists, strings, numbers and numpy arrays."""

    ALLOWED_GLOBALS = frozenset(
        {
            ("numpy.core.multiarray", "_reconstruct"),
            ("numpy._core.multiarray", "_reconstruct"),
            ("numpy", "ndarray"),
            ("numpy", "dtype"),
        }
    )

    def __init__(self, file, path: Path):
        super().__init__(file, encoding="bytes")
        self.path = path

    def find_class(self, module: str, name: str):
        if (module, name) not in self.ALLOWED_GLOBALS:
            raise DataError(
                f"{self.path}: refusing to unpickle the global {module}.{name}; "
                "a CIFAR batch holds only numpy arrays, lists and strings"
            )
        return super().find_class(module, name)


def read_batch(path: Path) -> dict[str, object]:
    """Read one pickled batch; bytes keys (Python 2 pickles) become str keys."""
    if not path.is_file():
        raise FileNotFoundError(f"missing CIFAR file {path}")
    try:
        with open(path, "rb") as file:
            batch = ArrayUnpickler(file, path).load()
    except DataError:
        raise
    except (pickle.UnpicklingError, EOFError, TypeError, ValueError, AttributeError) as error:
        raise DataError(f"{path} is not a readable CIFAR pickle: {error}") from error
    if not isinstance(batch, dict):
        raise DataError(f"{path} holds a {type(batch).__name__}, expected a dict")
    return {_as_str(key): value for key, value in batch.items()}


def load_cifar10(path: Path) -> Dataset:
    """CIFAR-10 from `cifar-10-batches-py/` or its parent folder: 50 000 train + 10 000 test images."""
    folder = _batch_folder(path, CIFAR10_FOLDER, CIFAR10_META_FILE)
    class_names = _names(read_batch(folder / CIFAR10_META_FILE), "label_names", folder / CIFAR10_META_FILE)
    train = [_images_and_labels(folder / name, "labels") for name in CIFAR10_TRAIN_FILES]
    test = [_images_and_labels(folder / CIFAR10_TEST_FILE, "labels")]
    return _dataset(train, test, class_names)


def load_cifar100(path: Path, label_kind: str = "fine") -> Dataset:
    """CIFAR-100 from `cifar-100-python/` or its parent, with the 100 fine or the 20 coarse labels."""
    folder = _batch_folder(path, CIFAR100_FOLDER, "meta")
    class_names = _names(read_batch(folder / "meta"), f"{label_kind}_label_names", folder / "meta")
    train = [_images_and_labels(folder / "train", f"{label_kind}_labels")]
    test = [_images_and_labels(folder / "test", f"{label_kind}_labels")]
    return _dataset(train, test, class_names)


def _batch_folder(path: Path, folder_name: str, marker_file: str) -> Path:
    """The folder holding the batches: path itself, or path/folder_name."""
    for candidate in (path, path / folder_name):
        if (candidate / marker_file).is_file():
            return candidate
    raise FileNotFoundError(f"no {marker_file} in {path} or {path / folder_name}: is this the {folder_name} folder?")


def _images_and_labels(path: Path, label_key: str) -> tuple[np.ndarray, np.ndarray]:
    """images (N, 3, 32, 32) uint8 and labels (N,) int64 from one batch file."""
    batch = read_batch(path)
    for key in ("data", label_key):
        if key not in batch:
            raise DataError(f"{path} has no {key!r} entry (it has {sorted(batch)})")
    rows = np.asarray(batch["data"])
    labels = np.asarray(batch[label_key], dtype=np.int64)
    if rows.dtype != np.uint8 or rows.ndim != 2 or rows.shape[1] != np.prod(_IMAGE_SHAPE):
        raise DataError(f"{path}: data is {rows.dtype} {rows.shape}, expected uint8 rows of 3072 values")
    if labels.shape != (len(rows),):
        raise DataError(f"{path}: {len(rows)} images but {len(labels)} labels")
    return rows.reshape(-1, *_IMAGE_SHAPE), labels


def _names(meta: dict[str, object], key: str, path: Path) -> list[str]:
    if key not in meta:
        raise DataError(f"{path} has no {key!r} entry (it has {sorted(meta)})")
    return [_as_str(name) for name in meta[key]]


def _dataset(
    train: list[tuple[np.ndarray, np.ndarray]], test: list[tuple[np.ndarray, np.ndarray]], class_names: list[str]
) -> Dataset:
    """One Dataset with the train batches first, then the test batches."""
    images = np.concatenate([part[0] for part in train + test])
    labels = np.concatenate([part[1] for part in train + test])
    train_count = sum(len(part[1]) for part in train)
    return Dataset(
        images=torch.from_numpy(images),
        labels=torch.from_numpy(labels),
        class_names=class_names,
        splits={"train": np.arange(train_count), "test": np.arange(train_count, len(labels))},
    )


def _as_str(value: object) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)
