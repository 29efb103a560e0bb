"""Winnow's data: every source becomes one in-memory `Dataset` with "train" and "test" splits, and
a "val" split (`Dataset.val_indices`) where the source has one (a folder with train/, val/ and test/).

Specs for `load`:

- `digits`: scikit-learn's 8x8 digits, embedded (1797 grey images, fixed 75 / 25 % split)
- `cifar10:PATH`, `cifar100:PATH`: the python pickle batches (`cifar-10-batches-py/`,
  `cifar-100-python/`, or the folder holding them)
- `folder:PATH`: an image folder, one sub-folder per class, as a directory or a .zip
  (layout rules in `winnow.data.folder`)
- `synthetic-pad:SEED`: synthetic presentation-attack data with rgb, depth and ir views
  (`winnow.data.synthetic_pad`; options image_size, pad_images, samples)
- `multi:PATH`: a directory or .zip with one image folder per modality, `PATH/{rgb,depth,ir}/...`,
  samples matched by their path (`winnow.data.multimodal`)
- `surf:LIST_FILE` (or `surf:TRAIN,TEST`, `surf:TRAIN,VAL,TEST`): face anti-spoofing list files,
  `color depth ir label` per line, paths relative to the option `root` (`winnow.data.multimodal`)

Any spec takes `modalities`: the views of data with several (`Dataset.modalities`) that are
kept, in that order, e.g. ["rgb", "ir"] (`Dataset.with_modalities`).

`load_unlabelled("folder:PATH")` reads a folder's images without labels (every label -1, all in
"train"; `list_images` lists them without decoding). `from_arrays` wraps arrays already in memory;
`download` fetches CIFAR-10/100 and Imagenette.
"""

from __future__ import annotations

from pathlib import Path

from winnow.data.arrays import from_arrays
from winnow.data.cifar import CIFAR100_LABEL_KINDS, load_cifar10, load_cifar100
from winnow.data.dataset import DataError, Dataset
from winnow.data.digits import load_digits
from winnow.data.download import DOWNLOADS, IMAGENETTE_CLASSES, download
from winnow.data.folder import list_images, load_folder, load_unlabelled
from winnow.data.multimodal import load_multi, load_surf
from winnow.data.synthetic_pad import PAD_CLASSES, synthetic_pad

__all__ = ["DOWNLOADS", "IMAGENETTE_CLASSES", "PAD_CLASSES", "SCHEMES", "DataError", "Dataset", "download",
           "from_arrays", "list_images", "load", "load_unlabelled", "synthetic_pad"]

SCHEMES = ("digits", "cifar10", "cifar100", "folder", "synthetic-pad", "multi", "surf")
_SPEC_FORMS = "digits, cifar10:PATH, cifar100:PATH, folder:PATH, synthetic-pad:SEED, multi:PATH, surf:LIST_FILE"


def load(
    spec: str,
    *,
    image_size: int | None = None,
    test_fraction: float = 0.2,
    seed: int = 0,
    skip_bad_images: bool = False,
    cifar100_labels: str = "fine",
    cache_dir: str | Path | None = None,
    workers: int | None = None,
    modalities=None,
    pad_images: str | None = None,
    samples: int | None = None,
    root: str | Path | None = None,
) -> Dataset:
    """The dataset a spec names, train and test images together, with splits["train"] and splits["test"]
    (and splits["val"] for a folder with val/ or devel/ beside test/).

    image_size : folder: resize the short side to this and centre-crop a square; synthetic-pad:
        the side of its images (default 32)
    test_fraction, seed : folder only, when it has no split folders: the stratified draw of the test split
    skip_bad_images : folder only; leave unreadable images out (counted in Dataset.skipped) instead of failing
    cifar100_labels : "fine" (100 classes) or "coarse" (20 classes)
    cache_dir : where decoded folders are cached; default $WINNOW_CACHE, else ~/.cache/winnow
    workers : decoding threads for a folder; default min(8, CPU count)
    modalities : the modalities to keep, in order (data with several views only), e.g. ["rgb", "ir"]
        or "rgb,ir"; default all
    pad_images, samples : synthetic-pad only: the data spec of its scenes (default procedural
        textures) and how many samples (`winnow.data.synthetic_pad`)
    root : surf only: the folder the list file's paths are relative to (default the list file's)
    """
    scheme, has_path, path_text = spec.partition(":")
    if scheme not in SCHEMES or bool(has_path) != (scheme != "digits") or (has_path and not path_text):
        raise DataError(f"unknown data spec {spec!r}: use one of {_SPEC_FORMS}")
    _check_options(scheme, image_size, test_fraction, skip_bad_images, cifar100_labels, workers)
    if scheme != "synthetic-pad" and (pad_images is not None or samples is not None):
        raise DataError(f"pad_images and samples apply only to synthetic-pad: specs, not to {scheme}")
    if scheme != "surf" and root is not None:
        raise DataError(f"root applies only to surf: specs, not to {scheme}")
    if scheme == "surf":
        dataset = load_surf(path_text, root=root, image_size=image_size, test_fraction=test_fraction, seed=seed,
                            workers=workers)
    else:
        dataset = _load_scheme(spec, scheme, path_text, image_size, test_fraction, seed, skip_bad_images,
                               cifar100_labels, cache_dir, workers, pad_images, samples)
    if modalities is not None:
        dataset = _kept_modalities(dataset, modalities, spec)
    return dataset


def _kept_modalities(dataset: Dataset, modalities, spec: str) -> Dataset:
    """`dataset` with only `modalities` (names, or one comma-separated string)."""
    names = [name.strip() for name in modalities.split(",")] if isinstance(modalities, str) else list(modalities)
    if not dataset.modalities:
        raise DataError(f"modalities {','.join(map(str, names))} given, but {spec} has one input (no modalities)")
    return dataset.with_modalities(names)


def _load_scheme(spec, scheme, path_text, image_size, test_fraction, seed, skip_bad_images, cifar100_labels,
                 cache_dir, workers, pad_images, samples) -> Dataset:
    if scheme == "digits":
        return load_digits()
    if scheme == "synthetic-pad":
        try:
            pad_seed = int(path_text)
        except ValueError:
            raise DataError(f"data spec {spec!r}: the seed of synthetic-pad:SEED must be an int >= 0") from None
        return synthetic_pad(pad_seed, size=image_size or 32, images=pad_images, samples=samples)
    path = Path(path_text).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"{spec}: {path} does not exist")
    if scheme == "cifar10":
        dataset = load_cifar10(path)
    elif scheme == "cifar100":
        dataset = load_cifar100(path, cifar100_labels)
    elif scheme == "multi":
        dataset = load_multi(path, image_size=image_size, test_fraction=test_fraction, seed=seed,
                             cache_dir=cache_dir, workers=workers)
    else:
        dataset = load_folder(
            path,
            image_size=image_size,
            test_fraction=test_fraction,
            seed=seed,
            skip_bad_images=skip_bad_images,
            cache_dir=cache_dir,
            workers=workers,
        )
    dataset.source = spec
    return dataset


def _check_options(scheme, image_size, test_fraction, skip_bad_images, cifar100_labels, workers) -> None:
    """Each option's value, and options that would change the data of a scheme they do not apply to."""
    if image_size is not None and (not isinstance(image_size, int) or image_size < 1):
        raise DataError(f"image_size must be a positive integer, got {image_size!r}")
    if not 0 <= test_fraction < 1:
        raise DataError(f"test_fraction must be in [0, 1), got {test_fraction!r}")
    if workers is not None and (not isinstance(workers, int) or workers < 1):
        raise DataError(f"workers must be a positive integer, got {workers!r}")
    if cifar100_labels not in CIFAR100_LABEL_KINDS:
        raise DataError(f"cifar100_labels must be one of {CIFAR100_LABEL_KINDS}, got {cifar100_labels!r}")
    if scheme not in ("folder", "synthetic-pad", "multi", "surf") and image_size is not None:
        raise DataError(f"image_size applies only to folder:, synthetic-pad:, multi: and surf: specs, not to {scheme}")
    if scheme != "folder" and skip_bad_images:
        raise DataError(f"skip_bad_images applies only to folder: specs, not to {scheme}")
    if scheme != "cifar100" and cifar100_labels != "fine":
        raise DataError(f"cifar100_labels applies only to cifar100: specs, not to {scheme}")
