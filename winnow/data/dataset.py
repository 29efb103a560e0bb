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
    modalities : for several aligned inputs per sample (e.g. a colour, a depth and an infrared
             view): modality name -> channel count, in channel order, the counts summing to C;
             `images` holds them stacked as channels, so subsets, the trainer and the caches
             work unchanged. None (or empty) for ordinary data, which has one input.
    """

    images: torch.Tensor
    labels: torch.Tensor
    class_names: list[str]
    splits: dict[str, np.ndarray] = field(default_factory=dict)
    paths: list[str] | None = None
    source: str = ""
    skipped: int = 0
    modalities: dict[str, int] | None = None

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
        self.modalities = _checked_modalities(self.modalities, self.images.shape[1])

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
        inputs = (" (" + " + ".join(f"{name} {count}" for name, count in self.modalities.items()) + ")"
                  if self.modalities else "")
        return (f"{self.source or 'dataset'}: {len(self)} images {c}x{h}x{w}{inputs}, {self.num_classes} classes "
                f"({sizes})")

    # ------------------------------------------------------------ several inputs per sample

    def modality_channels(self, name: str) -> slice:
        """The channels of modality `name` in `images`, as a slice; a DataError naming the
        modalities there are when it is not one of them."""
        slices = modality_slices(self.modalities)
        if name not in slices:
            raise DataError(f"{self.source or 'the dataset'} has no modality {name!r}; "
                            + (f"its modalities are {', '.join(slices)}" if self.modalities
                               else "it has one input (no modalities)"))
        return slices[name]

    def channel_indices(self, names) -> list[int]:
        """The channels of `images` the modalities `names` occupy, in the order of `names`."""
        return [channel for name in names for channel in range(self.modality_channels(name).start,
                                                                 self.modality_channels(name).stop)]

    def modality(self, name: str) -> torch.Tensor:
        """(N, C_m, H, W) uint8: the images of modality `name` (a view, nothing copied)."""
        return self.images[:, self.modality_channels(name)]

    def with_modalities(self, names) -> Dataset:
        """The dataset with only the modalities `names` (in the order given), as the input a
        model sees: same labels, splits and paths; the images are a view when the channels
        chosen are contiguous in the data, else one copy of those channels. An unknown or
        repeated name is a DataError naming it."""
        names = [str(name) for name in names]
        if not names:
            raise DataError("give at least one modality")
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise DataError(f"modality {repeated[0]!r} is given twice")
        slices = [self.modality_channels(name) for name in names]
        channels = torch.cat([torch.arange(s.start, s.stop) for s in slices])
        if len(channels) and bool((channels == torch.arange(int(channels[0]), int(channels[0]) + len(channels))).all()):
            images = self.images[:, int(channels[0]):int(channels[0]) + len(channels)]  # a view
        else:
            images = self.images.index_select(1, channels)
        return replace(self, images=images, splits=dict(self.splits),
                       modalities={name: self.modalities[name] for name in names})


def modality_slices(modalities: dict[str, int] | None) -> dict[str, slice]:
    """Modality name -> its channels, from a `Dataset.modalities` mapping (in channel order)."""
    slices, start = {}, 0
    for name, count in (modalities or {}).items():
        slices[name] = slice(start, start + count)
        start += count
    return slices


def zero_modalities(images: torch.Tensor, modalities: dict[str, int], present) -> torch.Tensor:
    """`images` (N, C, H, W) with every modality not in `present` set to 0 (a missing sensor, as
    the model is evaluated without it); a new tensor, the input is left as it is."""
    slices = modality_slices(modalities)
    unknown = sorted(set(present) - set(slices))
    if unknown:
        raise DataError(f"no modality {unknown[0]!r}; the modalities are {', '.join(slices)}")
    images = images.clone()
    for name, channels in slices.items():
        if name not in present:
            images[:, channels] = 0
    return images


def _checked_modalities(modalities, channels: int) -> dict[str, int] | None:
    """The modalities as an ordered name -> positive count mapping summing to `channels`; None for none."""
    if not modalities:
        return None
    if not isinstance(modalities, dict):
        raise DataError(f"modalities must be a mapping name -> channel count, got {type(modalities).__name__}")
    checked = {}
    for name, count in modalities.items():
        if not isinstance(name, str) or not name.isidentifier():
            raise DataError(f"modality name {name!r} must be a word (letters, digits, _), e.g. rgb or depth")
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise DataError(f"modality {name!r} has {count!r} channels; expected a positive integer")
        checked[name] = count
    if sum(checked.values()) != channels:
        parts = " + ".join(f"{name} {count}" for name, count in checked.items())
        raise DataError(f"the modalities' channels ({parts} = {sum(checked.values())}) do not add up to the "
                        f"images' {channels} channels")
    return checked
