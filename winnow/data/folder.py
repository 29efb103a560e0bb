"""Image folders, read from a directory or straight from a .zip.

Layout:

- One sub-folder per class, searched recursively; class names are the sorted folder names.
- Split folders at the top hold the splits, each with the same class folders (a class folder in
  test/ or val/ but not in train/ is an error; train/ may have classes the others lack):
  - `train/`, `val/` and `test/`: the training, validation (`Dataset.val_indices`) and test splits.
    `devel/` (the face anti-spoofing challenges' name) is read as `val/`.
  - `train/` and `test/`: the training and test splits; no validation split.
  - `train/` and `val/` (or `devel/`) without `test/`: val/ is the test split, not a validation
    split, since it is the only held-out data (Imagenette's layout).
  - `val/` and `devel/` together, or any split folder without `train/`, is an error.
  Without split folders, the images are split by a seeded, stratified draw of `test_fraction`.
- A single folder wrapping everything (`cifar10/` in `cifar10/train/cat/0001.jpg`) is descended
  through.
- Images end in .jpg .jpeg .png .bmp .gif .webp .tif .tiff (any case); hidden files and folders
  and `__MACOSX` are ignored.
- Every image is converted to RGB, so C = 3 (a grey image gets three equal channels).
- With `image_size`, the short side is resized to it and the centre cropped to a square; without,
  every image must have the same size.
- Class folders named by Imagenette's WordNet ids (n01440764, ...) get readable names (tench, ...).
- `Dataset.paths` holds each image's path inside the folder or zip, e.g. `cifar10/train/cat/0001.jpg`.

Unlabelled folders (`load_unlabelled`, for people labelling images in active learning):

- A folder is read as unlabelled only when asked for: `load_unlabelled("folder:PATH")`. `load`
  keeps requiring class folders, because a folder without them is more often a mistake than a
  request to drop every label.
- Every image anywhere under the folder (or in the zip) is one unlabelled image, whatever folders
  it sits in: the layout is ignored, class folders and train/ and test/ included. The same files
  are ignored as above (hidden ones, `__MACOSX`, other extensions).
- Images are in sorted path order; every label is -1; class names are the ones given (none by
  default; labels come later with `Dataset.with_labels`); the train split holds every image and
  the test split is empty. `paths` are as above, so `list_images` gives them without decoding.

Decoded folders are cached on disk (see `winnow.data.cache`), so only the first load decodes.
Decoding runs on a thread pool: Pillow releases the GIL while it decodes and resizes, which pays
for large images; for tiny ones (CIFAR's 32x32) Python's per-image work dominates and the cache is
what makes loading fast.
"""

from __future__ import annotations

import io
import logging
import os
import zipfile
import zlib
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from winnow.data.cache import entry_name, load_entry, resolve_cache_dir, save_entry
from winnow.data.dataset import DataError, Dataset
from winnow.data.download import IMAGENETTE_CLASSES
from winnow.data.split import stratified_split

logger = logging.getLogger(__name__)

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"})
TRAIN_FOLDER = "train"
TEST_FOLDER = "test"
VAL_FOLDERS = ("val", "devel")  # the validation split beside test/; the test split without it
SPLIT_FOLDERS = frozenset({TRAIN_FOLDER, TEST_FOLDER, *VAL_FOLDERS})
FOLDER_SPLITS = ("train", "val", "test")  # in load order; FolderImages.split_ids are positions in it
DECODE_CHUNK_SIZE = 512

# What reading or decoding a broken image raises.
_UNREADABLE = (OSError, SyntaxError, ValueError, zipfile.BadZipFile, zlib.error, Image.DecompressionBombError)


@dataclass
class FolderImages:
    """An image folder, decoded; what the cache stores.

    images : (N, 3, H, W) uint8
    labels : (N,) int64
    class_names : K names
    paths : N image paths inside the folder or zip
    split_ids : (N,) int8, each image's split as a position in FOLDER_SPLITS; None when the folder
                has no split folders
    skipped : how many unreadable images were left out
    """

    images: np.ndarray
    labels: np.ndarray
    class_names: list[str]
    paths: list[str]
    split_ids: np.ndarray | None
    skipped: int = 0

    def to_cache(self) -> tuple[dict[str, np.ndarray], dict]:
        arrays = {"images": self.images, "labels": self.labels}
        if self.split_ids is not None:
            arrays["split_ids"] = self.split_ids
        return arrays, {"class_names": self.class_names, "paths": self.paths, "skipped": self.skipped}

    def splits(self) -> dict[str, np.ndarray] | None:
        """Split name -> sorted int64 indices ("val" only when it holds images); None without split folders."""
        if self.split_ids is None:
            return None
        splits = {name: np.flatnonzero(self.split_ids == split_id) for split_id, name in enumerate(FOLDER_SPLITS)}
        if not len(splits["val"]):
            del splits["val"]
        return splits

    @classmethod
    def from_cache(cls, arrays: dict[str, np.ndarray], meta: dict) -> FolderImages:
        return cls(
            images=arrays["images"],
            labels=arrays["labels"],
            class_names=meta["class_names"],
            paths=meta["paths"],
            split_ids=arrays.get("split_ids"),
            skipped=meta["skipped"],
        )


def load_folder(
    path: Path,
    *,
    image_size: int | None = None,
    test_fraction: float = 0.2,
    seed: int = 0,
    skip_bad_images: bool = False,
    cache_dir: str | Path | None = None,
    workers: int | None = None,
    within: str = "",
) -> Dataset:
    """An image folder (a directory or a .zip) as a Dataset; see the module docstring for the layout.

    Arguments are checked by `winnow.data.load`; seed and test_fraction draw the split only when the
    folder has no split folders. `within`: the folder inside `path` that is the image folder
    (e.g. "rgb/": one modality of a `multi:` directory or zip); paths are relative to it.
    """
    with closing(open_source(path, within)) as files:
        folder = _cached_or_decoded(files, image_size, skip_bad_images, cache_dir, workers or _default_workers())
    splits = folder.splits()
    if splits is None:
        splits = stratified_split(folder.labels, test_fraction, seed)
    return Dataset(
        images=torch.from_numpy(folder.images),
        labels=torch.from_numpy(folder.labels),
        class_names=folder.class_names,
        splits=splits,
        paths=folder.paths,
        skipped=folder.skipped,
    )


def load_unlabelled(
    spec: str,
    *,
    class_names: list[str] | tuple[str, ...] = (),
    image_size: int | None = None,
    skip_bad_images: bool = False,
    cache_dir: str | Path | None = None,
    workers: int | None = None,
) -> Dataset:
    """The images of `folder:PATH` (a directory or a .zip) without labels; see the module docstring.

    class_names : the K classes the images will be labelled with (labels stay -1 here)
    image_size, skip_bad_images, cache_dir, workers : as for `winnow.data.load`
    """
    path = _folder_spec_path(spec)
    if image_size is not None and (isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < 1):
        raise DataError(f"image_size must be a positive integer, got {image_size!r}")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise DataError(f"workers must be a positive integer, got {workers!r}")
    class_names = [str(name) for name in class_names]
    if len(set(class_names)) != len(class_names) or not all(class_names):
        raise DataError(f"class_names must be distinct and non-empty, got {class_names}")
    with closing(open_source(path)) as files:
        folder = _cached_or_decoded(files, image_size, skip_bad_images, cache_dir, workers or _default_workers(),
                                    unlabelled=True)
    count = len(folder.paths)
    return Dataset(
        images=torch.from_numpy(folder.images),
        labels=torch.full((count,), -1, dtype=torch.int64),
        class_names=class_names,
        splits={"train": np.arange(count, dtype=np.int64), "test": np.zeros(0, dtype=np.int64)},
        paths=folder.paths,
        source=spec,
        skipped=folder.skipped,
    )


def list_images(spec: str) -> list[str]:
    """The image paths `load_unlabelled(spec)` reads, sorted, without decoding any image
    (unreadable images are listed too: they are left out, or named, only when decoded)."""
    with closing(open_source(_folder_spec_path(spec))) as files:
        return _unlabelled_layout(*files.listing(), files.location).paths


def decode_image(data: bytes, image_size: int | None) -> np.ndarray:
    """One encoded image as (3, H, W) uint8 RGB; resized and centre-cropped to (3, S, S) when image_size=S."""
    with Image.open(io.BytesIO(data)) as image:
        image = image.convert("RGB")
    if image_size is not None:
        image = _resize_and_crop(image, image_size)
    return np.asarray(image).transpose(2, 0, 1)


class _DirectoryFiles:
    """The image files under a directory."""

    def __init__(self, root: Path):
        self.location = root
        self._listing: tuple[list[str], set[str]] | None = None

    def listing(self) -> tuple[list[str], set[str]]:
        """Sorted image paths and the set of folder paths, relative to the root with '/' separators."""
        if self._listing is None:
            image_paths, folder_paths = [], set()
            for directory, subdirectories, filenames in os.walk(self.location):
                subdirectories[:] = [name for name in subdirectories if not _is_hidden(name)]
                relative = Path(directory).relative_to(self.location).as_posix()
                prefix = "" if relative == "." else f"{relative}/"
                folder_paths.update(prefix + name for name in subdirectories)
                image_paths.extend(prefix + name for name in filenames if _is_image(name))
            self._listing = (sorted(image_paths), folder_paths)
        return self._listing

    def fingerprint(self) -> str:
        """Changes when any image or folder is added, removed, resized or touched."""
        image_paths, folder_paths = self.listing()
        image_stats = []
        for image_path in image_paths:
            stat = os.stat(self.location / image_path)
            image_stats.append(f"{image_path}\t{stat.st_size}\t{stat.st_mtime_ns}")
        return "\n".join(image_stats + sorted(folder_paths))

    def read(self, image_path: str) -> bytes:
        return (self.location / image_path).read_bytes()

    def close(self) -> None:
        pass


class _ZipFiles:
    """The image files in a .zip, read without unpacking it; opened on first use."""

    def __init__(self, archive_path: Path):
        self.location = archive_path
        self._archive: zipfile.ZipFile | None = None

    def listing(self) -> tuple[list[str], set[str]]:
        """Sorted image paths and the set of folder paths inside the zip."""
        image_paths, folder_paths = [], set()
        for name in self._open().namelist():
            parts = name.rstrip("/").split("/")
            if any(_is_hidden(part) for part in parts):
                continue
            is_folder = name.endswith("/")
            folder_paths.update("/".join(parts[:end]) for end in range(1, len(parts) + is_folder))
            if not is_folder and _is_image(parts[-1]):
                image_paths.append(name)
        return sorted(image_paths), folder_paths

    def fingerprint(self) -> str:
        stat = self.location.stat()
        return f"{stat.st_size}\t{stat.st_mtime_ns}"

    def read(self, image_path: str) -> bytes:
        return self._open().read(image_path)

    def close(self) -> None:
        if self._archive is not None:
            self._archive.close()

    def _open(self) -> zipfile.ZipFile:
        if self._archive is None:
            try:
                self._archive = zipfile.ZipFile(self.location)
            except (zipfile.BadZipFile, OSError) as error:
                raise DataError(f"cannot open the zip {self.location}: {error}") from error
        return self._archive


class _WithinFiles:
    """The files of a directory or zip under one of its folders, with paths relative to it."""

    def __init__(self, files: "_DirectoryFiles | _ZipFiles", prefix: str):
        self.files, self.prefix = files, prefix.strip("/") + "/"
        self.location = Path(f"{files.location}/{self.prefix.rstrip('/')}")

    def listing(self) -> tuple[list[str], set[str]]:
        image_paths, folder_paths = self.files.listing()
        start = len(self.prefix)
        return ([path[start:] for path in image_paths if path.startswith(self.prefix)],
                {path[start:] for path in folder_paths if path.startswith(self.prefix)})

    def fingerprint(self) -> str:
        return f"{self.files.fingerprint()}\n{self.prefix}"

    def read(self, image_path: str) -> bytes:
        return self.files.read(self.prefix + image_path)

    def close(self) -> None:
        self.files.close()


_ImageFiles = _DirectoryFiles | _ZipFiles | _WithinFiles


@dataclass
class _Layout:
    """Which images a folder holds, in load order: train, then val, then test."""

    paths: list[str]
    labels: np.ndarray  # (N,) int64
    class_names: list[str]
    split_ids: np.ndarray | None  # (N,) int8 positions in FOLDER_SPLITS, None without split folders


def find_layout(image_paths: list[str], folder_paths: set[str], location: Path) -> _Layout:
    """Assign each image a class and a split from the folders it sits in.

    image_paths : sorted image paths relative to location, '/'-separated
    folder_paths : every folder path relative to location, without a trailing '/'
    """
    root = _unwrapped_root(image_paths, folder_paths)
    group_prefixes = _split_prefixes(root, folder_paths, location) or {"all": root}
    class_names = _class_names(group_prefixes, folder_paths, location)
    paths_by_group, labels_by_group = _assign_images(image_paths, group_prefixes, class_names, location)
    for group, prefix in group_prefixes.items():
        _check_no_empty_class_folder(prefix, folder_paths, labels_by_group[group], class_names, location)
    split_ids = None
    if "all" not in group_prefixes:
        split_ids = np.concatenate([np.full(len(labels_by_group[group]), FOLDER_SPLITS.index(group), dtype=np.int8)
                                    for group in group_prefixes])
    return _Layout(
        paths=[path for group in group_prefixes for path in paths_by_group[group]],
        labels=np.array([label for group in group_prefixes for label in labels_by_group[group]], dtype=np.int64),
        class_names=_readable_class_names(class_names),
        split_ids=split_ids,
    )


def _unlabelled_layout(image_paths: list[str], folder_paths: set[str], location: Path) -> _Layout:
    """Every image, unlabelled (-1), whatever folders it sits in."""
    if not image_paths:
        raise DataError(f"no images in {location} (looked for {' '.join(sorted(IMAGE_EXTENSIONS))})")
    return _Layout(paths=list(image_paths), labels=np.full(len(image_paths), -1, dtype=np.int64), class_names=[],
                   split_ids=None)


def _cached_or_decoded(
    files: _ImageFiles, image_size: int | None, skip_bad_images: bool, cache_dir: str | Path | None, workers: int,
    unlabelled: bool = False,
) -> FolderImages:
    cache_folder = resolve_cache_dir(cache_dir)
    settings = {"image_size": image_size, "skip_bad_images": skip_bad_images}
    if unlabelled:  # its own entry; labelled entries keep their names
        settings["unlabelled"] = True
    name = entry_name(files.location, settings, files.fingerprint())
    entry = load_entry(cache_folder, name)
    if entry is not None:
        return FolderImages.from_cache(*entry)
    folder = _decode_folder(files, image_size, skip_bad_images, workers, unlabelled)
    save_entry(cache_folder, name, *folder.to_cache())
    return folder


def _decode_folder(
    files: _ImageFiles, image_size: int | None, skip_bad_images: bool, workers: int, unlabelled: bool = False
) -> FolderImages:
    layout = (_unlabelled_layout if unlabelled else find_layout)(*files.listing(), files.location)
    logger.info("decoding %d images from %s", len(layout.paths), files.location)
    decoded = _decode_all(files, layout.paths, image_size, skip_bad_images, workers)
    readable = np.array([image is not None for image in decoded], dtype=bool)
    if not readable.any():
        raise DataError(f"none of the {len(decoded)} images in {files.location} could be read")
    skipped = int((~readable).sum())
    if skipped:
        unreadable_paths = [path for path, is_readable in zip(layout.paths, readable) if not is_readable]
        logger.warning(
            "skipped %d unreadable images in %s: %s", skipped, files.location, ", ".join(unreadable_paths[:5])
        )
    readable_paths = [path for path, is_readable in zip(layout.paths, readable) if is_readable]
    return FolderImages(
        images=_stack_same_size([image for image in decoded if image is not None], readable_paths, files.location),
        labels=layout.labels[readable],
        class_names=layout.class_names,
        paths=readable_paths,
        split_ids=None if layout.split_ids is None else layout.split_ids[readable],
        skipped=skipped,
    )


def _decode_all(
    files: _ImageFiles, paths: list[str], image_size: int | None, skip_bad_images: bool, workers: int
) -> list[np.ndarray | None]:
    """Each path's (3, H, W) uint8 image, or None where it is unreadable and skip_bad_images is set."""
    chunks = [paths[start:start + DECODE_CHUNK_SIZE] for start in range(0, len(paths), DECODE_CHUNK_SIZE)]
    decode_chunk = partial(_decode_chunk, files, image_size=image_size, skip_bad_images=skip_bad_images)
    pool = ThreadPoolExecutor(workers)
    try:
        return [image for chunk in pool.map(decode_chunk, chunks) for image in chunk]
    finally:
        pool.shutdown(cancel_futures=True)


def _decode_chunk(
    files: _ImageFiles, paths: list[str], image_size: int | None, skip_bad_images: bool
) -> list[np.ndarray | None]:
    images = []
    for path in paths:
        try:
            images.append(decode_image(files.read(path), image_size))
        except _UNREADABLE as error:
            if not skip_bad_images:
                reason = "not an image Pillow can read" if isinstance(error, UnidentifiedImageError) else error
                raise DataError(f"cannot read the image {files.location}/{path}: {reason} "
                                "(skip_bad_images=True, --skip-bad-images, leaves unreadable images out)") from error
            images.append(None)
    return images


def _stack_same_size(images: list[np.ndarray], paths: list[str], location: Path) -> np.ndarray:
    """(N, 3, H, W) from N images of shape (3, H, W); an image of another size is an error naming it."""
    reference_shape = images[0].shape
    for image, path in zip(images, paths):
        if image.shape != reference_shape:
            raise DataError(
                f"{location}/{path} is {image.shape[2]}x{image.shape[1]} pixels but {location}/{paths[0]} is "
                f"{reference_shape[2]}x{reference_shape[1]}: pass image_size (--image-size) to resize every image"
            )
    return np.stack(images)


def _resize_and_crop(image: Image.Image, size: int) -> Image.Image:
    """Resize the short side to size, then crop the centre size x size."""
    width, height = image.size
    scale = size / min(width, height)
    new_width, new_height = max(size, round(width * scale)), max(size, round(height * scale))
    image = image.resize((new_width, new_height), Image.Resampling.BILINEAR)
    left, top = (new_width - size) // 2, (new_height - size) // 2
    return image.crop((left, top, left + size, top + size))


def _default_workers() -> int:
    return min(8, os.cpu_count() or 1)


def _folder_spec_path(spec: str) -> Path:
    """The existing path of a `folder:PATH` spec."""
    scheme, has_path, path_text = str(spec).partition(":")
    if scheme != "folder" or not has_path or not path_text:
        raise DataError(f"unlabelled images come from a folder:PATH spec (a directory or .zip), not {spec!r}")
    path = Path(path_text).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"{spec}: {path} does not exist")
    return path


def open_source(path: Path, within: str = "") -> _ImageFiles:
    """The image files of a directory or a .zip (under its folder `within`, if given)."""
    if path.is_dir():
        files = _DirectoryFiles(path)
    elif zipfile.is_zipfile(path):
        files = _ZipFiles(path)
    else:
        raise DataError(f"{path} is neither a folder nor a .zip archive")
    return _WithinFiles(files, within) if within.strip("/") else files


def _unwrapped_root(image_paths: list[str], folder_paths: set[str]) -> str:
    """The prefix of the folder that holds the data: "" or, e.g., "cifar10/" when one folder wraps it all."""
    root = ""
    while True:
        inside = subfolders(root, folder_paths)
        if len(inside) != 1 or _holds_images(root, image_paths):
            return root
        (only_folder,) = inside
        if only_folder in SPLIT_FOLDERS or _holds_images(f"{root}{only_folder}/", image_paths):
            return root
        root = f"{root}{only_folder}/"


def _split_prefixes(root: str, folder_paths: set[str], location: Path) -> dict[str, str]:
    """Split name -> folder prefix, from the split folders in root, in load order: {"train": ...}, then
    "val" and "test", or "test" alone (val/ when there is no test/); {} when root has no split folders."""
    inside = subfolders(root, folder_paths)
    split_folders = inside & SPLIT_FOLDERS
    if not split_folders:
        return {}
    held_out_folders = sorted(split_folders - {TRAIN_FOLDER})
    if TRAIN_FOLDER not in split_folders:
        raise DataError(f"{location}/{root} has a {held_out_folders[0]}/ folder but no {TRAIN_FOLDER}/ folder")
    val_folders = sorted(split_folders & set(VAL_FOLDERS))
    if len(val_folders) > 1:
        raise DataError(f"{location}/{root} has both {val_folders[0]}/ and {val_folders[1]}/ folders: keep one as "
                        "the validation split")
    other_folders = sorted(inside - split_folders)
    if other_folders:
        raise DataError(f"{location}/{root}{other_folders[0]}/ sits beside the split folders {sorted(split_folders)}: "
                        "class folders belong inside them")
    prefixes = {"train": f"{root}{TRAIN_FOLDER}/"}
    if TEST_FOLDER in split_folders:
        if val_folders:
            prefixes["val"] = f"{root}{val_folders[0]}/"
        prefixes["test"] = f"{root}{TEST_FOLDER}/"
    elif val_folders:  # the only held-out folder: the test split, as before test/ and val/ could be read together
        prefixes["test"] = f"{root}{val_folders[0]}/"
    return prefixes


def _class_names(group_prefixes: dict[str, str], folder_paths: set[str], location: Path) -> list[str]:
    """Sorted class folder names of the first group (train/, or the root); other groups may not add classes."""
    (first_group_prefix, *_) = group_prefixes.values()
    class_names = sorted(subfolders(first_group_prefix, folder_paths))
    if not class_names:
        raise DataError(
            f"no class folders in {location}/{first_group_prefix}: expected one sub-folder of images per class "
            "(images without labels are read by winnow.data.load_unlabelled, as `winnow al init` does)"
        )
    for group, prefix in list(group_prefixes.items())[1:]:
        held_out_only_classes = sorted(subfolders(prefix, folder_paths) - set(class_names))
        if held_out_only_classes:
            raise DataError(f"the class folder {location}/{prefix}{held_out_only_classes[0]}/ has no counterpart in "
                            f"{location}/{first_group_prefix}: every {group} class needs training images")
    return class_names


def _assign_images(
    image_paths: list[str], group_prefixes: dict[str, str], class_names: list[str], location: Path
) -> tuple[dict[str, list[str]], dict[str, list[int]]]:
    """Image paths and labels per group, from the class folder each image sits in."""
    class_index = {name: index for index, name in enumerate(class_names)}
    paths_by_group = {group: [] for group in group_prefixes}
    labels_by_group = {group: [] for group in group_prefixes}
    stray_paths = []
    for image_path in image_paths:
        group, prefix = next(((g, p) for g, p in group_prefixes.items() if image_path.startswith(p)), (None, ""))
        class_name, _, path_in_class = image_path[len(prefix):].partition("/")
        if group is None or not path_in_class:
            stray_paths.append(image_path)
            continue
        paths_by_group[group].append(image_path)
        labels_by_group[group].append(class_index[class_name])
    if stray_paths:
        logger.warning(
            "ignoring %d images outside the class folders of %s, e.g. %s", len(stray_paths), location, stray_paths[0]
        )
    return paths_by_group, labels_by_group


def _check_no_empty_class_folder(
    prefix: str, folder_paths: set[str], labels: list[int], class_names: list[str], location: Path
) -> None:
    image_counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=len(class_names))
    for class_name in sorted(subfolders(prefix, folder_paths)):
        if image_counts[class_names.index(class_name)] == 0:
            raise DataError(f"the class folder {location}/{prefix}{class_name}/ holds no images "
                            f"(looked for {' '.join(sorted(IMAGE_EXTENSIONS))})")


def _readable_class_names(class_names: list[str]) -> list[str]:
    """Imagenette's WordNet-id folder names replaced by readable names; other names kept."""
    if all(name in IMAGENETTE_CLASSES for name in class_names):
        return [IMAGENETTE_CLASSES[name] for name in class_names]
    return class_names


def subfolders(prefix: str, folder_paths: set[str]) -> set[str]:
    """Names of the folders directly inside the folder prefix ("" for the root, else ending in '/')."""
    names = {path[len(prefix):] for path in folder_paths if path.startswith(prefix)}
    return {name for name in names if name and "/" not in name}


def _holds_images(prefix: str, image_paths: list[str]) -> bool:
    """Whether any image sits directly in the folder prefix."""
    return any(path.startswith(prefix) and "/" not in path[len(prefix):] for path in image_paths)


def _is_hidden(name: str) -> bool:
    return name.startswith(".") or name == "__MACOSX"


def _is_image(filename: str) -> bool:
    return not _is_hidden(filename) and os.path.splitext(filename)[1].lower() in IMAGE_EXTENSIONS
