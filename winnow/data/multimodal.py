"""Files with several aligned inputs per sample: a folder per modality (`multi:PATH`) and the
face anti-spoofing challenges' list files (`surf:LIST_FILE`).

Both give a `Dataset` whose modalities are stacked as channels (`Dataset.modalities`). A modality
named `rgb` (or `color`, `colour`, read as `rgb`) keeps three colour channels; every other one
(depth, ir, ...) is read as one grey channel (ITU-R 601 luma, as Pillow's "L"). The order is rgb,
depth, ir, then any other modality in name order. Every view of a sample must have the same size
(or pass image_size, `--image-size`, to resize each: short side, centre crop).

`multi:PATH`: a directory or .zip with one folder per modality (at its top, or inside one folder
that wraps them all, as a zipped folder has), each an image folder of the usual layout
(`winnow.data.folder`: class folders, with train/ val/ test/ split folders or without):

    PATH/rgb/train/real/0001.png   PATH/depth/train/real/0001.png   PATH/ir/train/real/0001.png

Samples are matched by their path inside the modality folder without the extension (so
`rgb/train/real/0001.jpg` and `depth/train/real/0001.png` are one sample); a sample missing from
one modality is an error naming it. Labels and splits come from the folders (classes are the
sorted class folder names).

`surf:LIST_FILE` (CASIA-SURF and the challenges built on it): one sample a line, paths relative
to `root` (`--root DIR`; default the list file's folder), separated by spaces or tabs:

    Training/real_part/CLKJ_AS0137/real.rar/01_enm_b.rar/color/121.jpg  .../depth/121.jpg  .../ir/121.jpg  1

The label is 1 for a bona fide presentation and 0 for an attack: classes `attack` (0) and
`bona_fide` (1). Without a header the columns are `color depth ir label` (four columns) or
`color label` (two). Any other subset of the three views needs a first line naming the columns,
e.g. `# color ir label` (a line starting with #; column names rgb/color/colour, depth, ir, label).
`LIST_FILE` may be `TRAIN,TEST` or `TRAIN,VAL,TEST` (comma-separated list files, each a split);
one list is split by a stratified, seeded draw of test_fraction. A line with a missing file, a
label other than 0 or 1, or the wrong number of columns is an error naming the file and line.
"""

from __future__ import annotations

import os
import zipfile
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from pathlib import Path

import numpy as np
import torch

from winnow.data.dataset import DataError, Dataset
from winnow.data.folder import decode_image, load_folder, open_source, subfolders
from winnow.data.split import stratified_split

COLOUR_NAMES = {"rgb": "rgb", "color": "rgb", "colour": "rgb"}
MODALITY_ORDER = ("rgb", "depth", "ir")
SURF_CLASSES = ["attack", "bona_fide"]  # label 0, label 1
SURF_DEFAULT_COLUMNS = {4: ("rgb", "depth", "ir", "label"), 2: ("rgb", "label")}
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32).reshape(1, 3, 1, 1)


def _ordered(names) -> list[str]:
    """rgb, depth, ir first (those present), then the others sorted."""
    names = list(names)
    return [n for n in MODALITY_ORDER if n in names] + sorted(n for n in names if n not in MODALITY_ORDER)


def _as_modality(name: str, images: np.ndarray) -> np.ndarray:
    """(N, 3, H, W) uint8 RGB as the modality stores it: three channels for rgb, one grey else."""
    if name == "rgb":
        return images
    return np.rint((images.astype(np.float32) * _LUMA).sum(1, keepdims=True)).clip(0, 255).astype(np.uint8)


# ---------------------------------------------------------------- multi:PATH


def load_multi(path: Path, *, image_size: int | None = None, test_fraction: float = 0.2, seed: int = 0,
               cache_dir=None, workers: int | None = None) -> Dataset:
    """A directory or .zip of modality folders (see the module docstring) as one Dataset."""
    if not (path.is_dir() or zipfile.is_zipfile(path)):
        raise DataError(f"multi:{path}: expected a directory or .zip with one folder per modality (rgb, depth, ir)")
    with closing(open_source(path)) as files:
        image_paths, folder_paths = files.listing()
    root = ""  # or the one folder that wraps them all, as a zip of a folder has
    while len(inside := subfolders(root, folder_paths)) == 1 and not any(
            p.startswith(root) and "/" not in p[len(root):] for p in image_paths):
        (only,) = inside
        if COLOUR_NAMES.get(only.lower(), only) in MODALITY_ORDER:
            break
        root = f"{root}{only}/"
    within, folders = {}, {}
    for entry in sorted(subfolders(root, folder_paths)):
        name = COLOUR_NAMES.get(entry.lower(), entry)
        if name in folders:
            raise DataError(f"multi:{path}: the folders {folders[name].name}/ and {entry}/ are both the {name} "
                            "modality")
        within[name], folders[name] = f"{root}{entry}/", Path(f"{path}/{root}{entry}")
    if len(folders) < 2:
        raise DataError(f"multi:{path}: found {len(folders)} modality folder(s) ({', '.join(folders) or 'none'}); "
                        "expected two or more, e.g. rgb/ depth/ ir/")
    names = _ordered(folders)
    loaded = {name: load_folder(path, image_size=image_size, test_fraction=test_fraction, seed=seed,
                                cache_dir=cache_dir, workers=workers, within=within[name]) for name in names}
    first = loaded[names[0]]
    keys = [_key(p) for p in first.paths]
    stacked = [_as_modality(names[0], first.images.numpy())]
    for name in names[1:]:
        other = loaded[name]
        position = {key: i for i, key in enumerate(_key(p) for p in other.paths)}
        missing = [(k, p) for k, p in zip(keys, first.paths) if k not in position]
        if missing:
            raise DataError(f"multi:{path}: {folders[name]} has no image {missing[0][0]}.* for "
                            f"{folders[names[0]]}/{missing[0][1]}" + (f" (and {len(missing) - 1} more)"
                                                                      if len(missing) > 1 else ""))
        extra = sorted(set(position) - set(keys))
        if extra:
            raise DataError(f"multi:{path}: {folders[name]} has {extra[0]}.*, which {folders[names[0]]} lacks"
                            + (f" (and {len(extra) - 1} more)" if len(extra) > 1 else ""))
        order = np.array([position[k] for k in keys], dtype=np.int64)
        if other.images.shape[-2:] != first.images.shape[-2:]:
            h, w = other.images.shape[-2:]
            raise DataError(f"multi:{path}: {folders[name]}/{other.paths[order[0]]} is {w}x{h} pixels but "
                            f"{folders[names[0]]}/{first.paths[0]} is {first.images.shape[-1]}x"
                            f"{first.images.shape[-2]}: every view must have the same size (or pass --image-size)")
        if other.class_names != first.class_names or not torch.equal(other.labels[order], first.labels):
            bad = int(torch.nonzero(other.labels[order] != first.labels)[0]) if other.class_names == \
                first.class_names else 0
            raise DataError(f"multi:{path}: {folders[name]}/{other.paths[order[bad]]} is in another class than "
                            f"{folders[names[0]]}/{first.paths[bad]}")
        stacked.append(_as_modality(name, other.images.numpy()[order]))
    images = np.concatenate(stacked, axis=1)
    return Dataset(images=torch.from_numpy(images), labels=first.labels, class_names=first.class_names,
                   splits=dict(first.splits), paths=[f"{folders[names[0]].name}/{p}" for p in first.paths],
                   source=f"multi:{path}", modalities={n: 3 if n == "rgb" else 1 for n in names})


def _key(path: str) -> str:
    """A sample's name inside its modality folder: the path without its extension."""
    return os.path.splitext(path)[0]


# ---------------------------------------------------------------- surf:LIST_FILE


def load_surf(list_text: str, *, root: str | Path | None = None, image_size: int | None = None,
              test_fraction: float = 0.2, seed: int = 0, workers: int | None = None) -> Dataset:
    """CASIA-SURF style list files (see the module docstring) as one Dataset."""
    list_files = [Path(part).expanduser() for part in list_text.split(",")]
    if len(list_files) > 3 or not all(str(f) for f in list_files):
        raise DataError(f"surf:{list_text}: give LIST_FILE, TRAIN,TEST or TRAIN,VAL,TEST")
    for list_file in list_files:
        if not list_file.is_file():
            raise FileNotFoundError(f"surf: list file {list_file} does not exist")
    root = Path(root).expanduser() if root is not None else list_files[0].parent
    if not root.is_dir():
        raise FileNotFoundError(f"surf: --root {root} is not a directory")
    parsed = [_read_list(list_file, root) for list_file in list_files]
    columns = parsed[0][0]
    for list_file, (other, _) in zip(list_files[1:], parsed[1:]):
        if other != columns:
            raise DataError(f"{list_file}: its columns {' '.join(other)} differ from {list_files[0]}'s "
                            f"{' '.join(columns)}")
    rows = [row for _, file_rows in parsed for row in file_rows]  # (where, paths per modality, label)
    names = [c for c in columns if c != "label"]
    with ThreadPoolExecutor(workers or min(8, os.cpu_count() or 1)) as pool:
        samples = list(pool.map(lambda row: _decode_row(row, names, image_size), rows))
    for row, sample in zip(rows, samples):
        if sample.shape != samples[0].shape:
            raise DataError(f"{row[0]}: its images are {sample.shape[2]}x{sample.shape[1]} pixels but those of "
                            f"{rows[0][0]} are {samples[0].shape[2]}x{samples[0].shape[1]}: pass image_size "
                            "(--image-size) to resize every image")
    images = np.stack(samples)
    labels = np.array([row[2] for row in rows], dtype=np.int64)
    if len(list_files) == 1:
        splits = stratified_split(labels, test_fraction, seed)
    else:
        bounds = np.cumsum([0, *[len(file_rows) for _, file_rows in parsed]])
        split_names = ("train", "test") if len(list_files) == 2 else ("train", "val", "test")
        splits = {name: np.arange(bounds[i], bounds[i + 1]) for i, name in enumerate(split_names)}
    order = _ordered(names)
    if order != names:  # the stacked channel order is rgb, depth, ir
        slices, start = {}, 0
        for name in names:
            count = 3 if name == "rgb" else 1
            slices[name] = np.arange(start, start + count)
            start += count
        images = images[:, np.concatenate([slices[name] for name in order])]
    return Dataset(images=torch.from_numpy(np.ascontiguousarray(images)), labels=torch.from_numpy(labels),
                   class_names=list(SURF_CLASSES), splits=splits,
                   paths=[row[1][order[0]] for row in rows], source=f"surf:{list_text}",
                   modalities={n: 3 if n == "rgb" else 1 for n in order})


def _read_list(list_file: Path, root: Path) -> tuple[tuple[str, ...], list[tuple[str, dict, int]]]:
    """(the columns, [(where, {modality: path}, label)]) of one list file; errors name the line."""
    try:
        lines = list_file.read_text(encoding="utf-8-sig").splitlines()
    except UnicodeDecodeError as error:
        raise DataError(f"{list_file} is not UTF-8 text ({error.reason} at byte {error.start})") from None
    columns, rows = None, []
    for number, line in enumerate(lines, 1):
        text = line.strip()
        if not text:
            continue
        if text.startswith("#"):
            if columns is None and not rows:
                columns = _header(text[1:].split(), list_file, number)
            continue
        fields = text.split()
        if columns is None:
            if len(fields) not in SURF_DEFAULT_COLUMNS:
                raise DataError(f"{list_file} line {number}: {len(fields)} columns; without a header the columns are "
                                "'color depth ir label' or 'color label': name other subsets in a first line such "
                                "as '# color ir label'")
            columns = SURF_DEFAULT_COLUMNS[len(fields)]
        if len(fields) != len(columns):
            raise DataError(f"{list_file} line {number}: {len(fields)} columns, expected {len(columns)} "
                            f"({' '.join(columns)})")
        label_text = fields[columns.index("label")]
        if label_text not in ("0", "1"):
            raise DataError(f"{list_file} line {number}: label {label_text!r} is not 0 (attack) or 1 (bona fide)")
        paths = {}
        for name, field in zip(columns, fields):
            if name == "label":
                continue
            if not (root / field).is_file():
                raise DataError(f"{list_file} line {number}: the {name} image {root / field} does not exist")
            paths[name] = field
        rows.append((f"{list_file} line {number}", {n: str(root / p) for n, p in paths.items()}, int(label_text)))
    if not rows:
        raise DataError(f"{list_file}: no samples")
    return columns, rows


def _header(words: list[str], list_file: Path, number: int) -> tuple[str, ...]:
    names = tuple(COLOUR_NAMES.get(w.lower(), w.lower()) for w in words)
    known = {"rgb", "depth", "ir", "label"}
    if (not set(names) <= known or len(set(names)) != len(names) or "label" not in names
            or len(names) < 2):
        raise DataError(f"{list_file} line {number}: the header {' '.join(words)!r} must name each column once: "
                        "color (or rgb), depth, ir (any of them) and label")
    return names


def _decode_row(row: tuple[str, dict, int], names: list[str], image_size: int | None) -> np.ndarray:
    """(C, H, W) uint8: the row's views stacked in column order; size mismatches name the files."""
    where, paths, _ = row
    views, first = [], None
    for name in names:
        try:
            image = decode_image(Path(paths[name]).read_bytes(), image_size)[None]  # (1, 3, H, W)
        except (OSError, ValueError, SyntaxError) as error:
            raise DataError(f"{where}: cannot read the {name} image {paths[name]}: {error}") from None
        if first is None:
            first = (paths[name], image.shape[-2:])
        elif image.shape[-2:] != first[1]:
            raise DataError(f"{where}: {paths[name]} is {image.shape[-1]}x{image.shape[-2]} pixels but {first[0]} is "
                            f"{first[1][1]}x{first[1][0]}: every view must have the same size (or pass --image-size)")
        views.append(_as_modality(name, image)[0])
    return np.concatenate(views)
