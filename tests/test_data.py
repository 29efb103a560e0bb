"""Tests of winnow.data: loading specs, image folders and zips, the cache, CIFAR pickles and arrays."""

from __future__ import annotations

import logging
import os
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import winnow.data
from winnow.data import DataError, from_arrays, load
from winnow.data import cache as cache_module
from winnow.data import folder as folder_module
from winnow.data.dataset import Dataset
from winnow.data.split import stratified_split

CIFAR10_JPEG_ZIP = Path("/work/shared/data/cifar10-jpeg.zip")


def pixel_value(class_index: int, image_index: int) -> tuple[int, int, int]:
    """The RGB colour of the test image image_index of class class_index."""
    return (10 * class_index + image_index, 100 + image_index, 200 + class_index)


def write_image(path: Path, color, size=(4, 3), image_format="PNG") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, color).save(path, image_format)


def write_class_folder(root: Path, class_names=("cat", "dog"), images_per_class=3) -> Path:
    """root/{class}/{i}.png, each image of one colour, pixel_value(class, i)."""
    for class_index, class_name in enumerate(class_names):
        for image_index in range(images_per_class):
            write_image(root / class_name / f"{image_index}.png", pixel_value(class_index, image_index))
    return root


def expected_images(class_count=2, images_per_class=3, size=(4, 3)) -> torch.Tensor:
    """(N, 3, H, W) uint8: the images write_class_folder writes, in load order."""
    colors = [pixel_value(c, i) for c in range(class_count) for i in range(images_per_class)]
    width, height = size
    return torch.tensor(colors, dtype=torch.uint8)[:, :, None, None].expand(-1, -1, height, width).contiguous()


def zip_folder(folder: Path, archive: Path, wrapper: str = "") -> Path:
    """Zip every file under folder, inside the folder wrapper/ when given, plus macOS litter to ignore."""
    with zipfile.ZipFile(archive, "w") as zip_archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zip_archive.write(path, wrapper + path.relative_to(folder).as_posix())
        zip_archive.writestr("__MACOSX/._junk.png", b"not an image")
        zip_archive.writestr(f"{wrapper}cat/.hidden.png", b"not an image")
    return archive


@pytest.fixture
def cache_dir(tmp_path, monkeypatch) -> Path:
    """A private cache folder, also as $WINNOW_CACHE so no test writes to ~/.cache."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("WINNOW_CACHE", str(cache))
    return cache


# ---------------------------------------------------------------- image folders and zips


def test_folder_loads_known_pixels_labels_names_and_paths(tmp_path, cache_dir):
    root = write_class_folder(tmp_path / "pets")
    dataset = load(f"folder:{root}", test_fraction=1 / 3, workers=1)
    assert torch.equal(dataset.images, expected_images())
    assert dataset.labels.tolist() == [0, 0, 0, 1, 1, 1]
    assert dataset.class_names == ["cat", "dog"]
    assert dataset.paths == ["cat/0.png", "cat/1.png", "cat/2.png", "dog/0.png", "dog/1.png", "dog/2.png"]
    assert dataset.source == f"folder:{root}"
    # one test image per class, drawn with the seed
    assert sorted(dataset.labels[dataset.splits["test"]].tolist()) == [0, 1]
    assert sorted(np.concatenate([dataset.splits["train"], dataset.splits["test"]]).tolist()) == list(range(6))


def test_zip_with_wrapping_folder_gives_identical_tensors(tmp_path, cache_dir):
    root = write_class_folder(tmp_path / "pets")
    archive = zip_folder(root, tmp_path / "pets.zip", wrapper="pets/")
    from_folder = load(f"folder:{root}", workers=1)
    from_zip = load(f"folder:{archive}", workers=2)
    assert torch.equal(from_zip.images, from_folder.images)
    assert torch.equal(from_zip.labels, from_folder.labels)
    assert from_zip.class_names == from_folder.class_names
    assert from_zip.paths == ["pets/" + path for path in from_folder.paths]
    for split in ("train", "test"):
        assert np.array_equal(from_zip.splits[split], from_folder.splits[split])


@pytest.mark.parametrize("test_folder", ["test", "val", "devel"])
def test_split_folders_become_the_splits(tmp_path, cache_dir, test_folder):
    """train/ with test/, or with val/ or devel/ alone: the second folder is the test split, no validation split."""
    write_class_folder(tmp_path / "data" / "train", images_per_class=2)
    write_image(tmp_path / "data" / test_folder / "dog" / "9.png", (1, 2, 3))
    write_image(tmp_path / "data" / "README.png.txt", (0, 0, 0), image_format="PNG")  # not an image extension
    dataset = load(f"folder:{tmp_path / 'data'}", workers=1)
    train_paths = ["train/cat/0.png", "train/cat/1.png", "train/dog/0.png", "train/dog/1.png"]
    assert dataset.paths == train_paths + [f"{test_folder}/dog/9.png"]
    assert dataset.labels.tolist() == [0, 0, 1, 1, 1]
    assert dataset.splits["train"].tolist() == [0, 1, 2, 3]
    assert dataset.splits["test"].tolist() == [4]
    assert "val" not in dataset.splits
    assert dataset.val_indices.tolist() == [] and dataset.val_indices.dtype == np.int64
    assert dataset.images[4, :, 0, 0].tolist() == [1, 2, 3]
    assert dataset.describe().endswith("(train 4, test 1)")


# Image counts per split folder and class of the three-way folder the tests below write.
THREE_WAY_COUNTS = {"train": {"cat": 3, "dog": 2}, "val": {"cat": 1, "dog": 2}, "test": {"cat": 2, "dog": 1}}


def write_three_way_folder(root: Path, val_folder: str = "val") -> dict[str, tuple[int, int, int]]:
    """root/{train,<val_folder>,test}/{cat,dog}/{i}.png in the counts of THREE_WAY_COUNTS, each image of
    its own colour; returns each image's path (relative to root) -> its colour."""
    colors = {}
    for split_folder, class_counts in THREE_WAY_COUNTS.items():
        for class_name, count in class_counts.items():
            for image_index in range(count):
                path = f"{val_folder if split_folder == 'val' else split_folder}/{class_name}/{image_index}.png"
                colors[path] = (len(colors), 7, 9)
                write_image(root / path, colors[path])
    return colors


@pytest.mark.parametrize("as_zip", [False, True])
@pytest.mark.parametrize("val_folder", ["val", "devel"])
def test_train_val_test_folders_give_three_disjoint_splits(tmp_path, cache_dir, as_zip, val_folder):
    colors = write_three_way_folder(tmp_path / "data", val_folder)
    wrapper = "data/" if as_zip else ""
    source = zip_folder(tmp_path / "data", tmp_path / "data.zip", wrapper=wrapper) if as_zip else tmp_path / "data"
    dataset = load(f"folder:{source}", workers=1)
    # train, then val, then test; sorted paths within each
    expected_paths = ["train/cat/0.png", "train/cat/1.png", "train/cat/2.png", "train/dog/0.png", "train/dog/1.png",
                      f"{val_folder}/cat/0.png", f"{val_folder}/dog/0.png", f"{val_folder}/dog/1.png",
                      "test/cat/0.png", "test/cat/1.png", "test/dog/0.png"]
    assert dataset.paths == [wrapper + path for path in expected_paths]
    assert dataset.class_names == ["cat", "dog"]
    assert dataset.labels.tolist() == [0, 0, 0, 1, 1, 0, 1, 1, 0, 0, 1]
    assert dataset.images[:, :, 0, 0].tolist() == [list(colors[path]) for path in expected_paths]
    assert list(dataset.splits) == ["train", "val", "test"]
    assert dataset.train_indices.tolist() == [0, 1, 2, 3, 4]
    assert dataset.val_indices.tolist() == [5, 6, 7] and dataset.val_indices.dtype == np.int64
    assert dataset.test_indices.tolist() == [8, 9, 10]
    assert dataset.describe() == f"folder:{source}: 11 images 3x3x4, 2 classes (train 5, val 3, test 3)"
    relabelled = dataset.with_labels(1 - dataset.labels.numpy())  # the splits come along, as index arrays
    assert relabelled.val_indices.tolist() == [5, 6, 7] and relabelled.test_indices.tolist() == [8, 9, 10]
    assert relabelled.images is dataset.images


def test_val_and_devel_folders_together_are_an_error(tmp_path, cache_dir):
    write_three_way_folder(tmp_path / "data")
    write_image(tmp_path / "data" / "devel" / "cat" / "0.png", (0, 0, 0))
    with pytest.raises(DataError, match=r"data/ has both devel/ and val/ folders: keep one as the validation split"):
        load(f"folder:{tmp_path / 'data'}", workers=1)


@pytest.mark.parametrize("held_out_folder", ["val", "test"])
def test_class_only_in_val_or_test_of_three_is_an_error(tmp_path, cache_dir, held_out_folder):
    write_three_way_folder(tmp_path / "data")
    write_image(tmp_path / "data" / held_out_folder / "bird" / "0.png", (0, 0, 0))
    with pytest.raises(DataError, match=rf"class folder .*data/{held_out_folder}/bird/ has no counterpart in "
                                        rf".*data/train/: every {held_out_folder} class needs training images"):
        load(f"folder:{tmp_path / 'data'}", workers=1)


def test_class_missing_from_val_is_allowed(tmp_path, cache_dir):
    write_class_folder(tmp_path / "data" / "train", images_per_class=2)
    write_image(tmp_path / "data" / "val" / "dog" / "5.png", (5, 5, 5))
    write_image(tmp_path / "data" / "test" / "cat" / "6.png", (6, 6, 6))
    dataset = load(f"folder:{tmp_path / 'data'}", workers=1)
    assert dataset.labels.tolist() == [0, 0, 1, 1, 1, 0]
    assert dataset.val_indices.tolist() == [4] and dataset.test_indices.tolist() == [5]


def test_skipping_every_val_image_leaves_no_val_split(tmp_path, cache_dir):
    write_class_folder(tmp_path / "data" / "train", images_per_class=2)
    (tmp_path / "data" / "val" / "cat").mkdir(parents=True)
    (tmp_path / "data" / "val" / "cat" / "broken.png").write_bytes(b"not a png")
    write_image(tmp_path / "data" / "test" / "cat" / "0.png", (6, 6, 6))
    dataset = load(f"folder:{tmp_path / 'data'}", skip_bad_images=True, workers=1)
    assert dataset.skipped == 1 and list(dataset.splits) == ["train", "test"]
    assert dataset.val_indices.tolist() == [] and dataset.test_indices.tolist() == [4]


def test_folder_split_is_seeded(tmp_path, cache_dir):
    root = write_class_folder(tmp_path / "pets", images_per_class=10)
    first = load(f"folder:{root}", seed=1, workers=1)
    again = load(f"folder:{root}", seed=1, workers=1)
    other = load(f"folder:{root}", seed=2, workers=1)
    assert np.array_equal(first.splits["test"], again.splits["test"])
    assert not np.array_equal(first.splits["test"], other.splits["test"])
    assert np.bincount(first.labels[first.splits["test"]].numpy()).tolist() == [2, 2]


def test_stratified_split_draws_the_same_fraction_of_every_class():
    labels = np.repeat([0, 1, 2], [10, 20, 40])
    splits = stratified_split(labels, test_fraction=0.25, seed=3)
    assert np.bincount(labels[splits["test"]]).tolist() == [2, 5, 10]  # round(2.5) = 2, 5, 10
    assert np.array_equal(np.sort(np.concatenate(list(splits.values()))), np.arange(len(labels)))
    assert np.array_equal(stratified_split(labels, 0.25, seed=3)["test"], splits["test"])


def test_image_size_resizes_the_short_side_and_crops_the_centre(tmp_path, cache_dir):
    bands = np.zeros((2, 6, 3), dtype=np.uint8)  # (H, W, C): red, green, blue bands 2 px wide
    bands[:, 0:2, 0] = bands[:, 2:4, 1] = bands[:, 4:6, 2] = 255
    for class_name in ("a", "b"):
        (tmp_path / "bands" / class_name).mkdir(parents=True)
        Image.fromarray(bands).save(tmp_path / "bands" / class_name / "wide.png")
    write_image(tmp_path / "bands" / "b" / "big.png", (9, 9, 9), size=(8, 8))
    dataset = load(f"folder:{tmp_path / 'bands'}", image_size=2, workers=1)
    assert dataset.image_size == (2, 2)
    green_square = torch.tensor([0, 255, 0], dtype=torch.uint8)[:, None, None].expand(3, 2, 2)
    assert torch.equal(dataset.images[0], green_square)
    assert dataset.images[dataset.paths.index("b/big.png")].unique().tolist() == [9]


def test_images_of_different_sizes_need_image_size(tmp_path, cache_dir):
    root = write_class_folder(tmp_path / "pets")
    write_image(root / "dog" / "odd.png", (0, 0, 0), size=(5, 5))
    with pytest.raises(DataError, match=r"dog/odd\.png is 5x5 pixels.*--image-size"):
        load(f"folder:{root}", workers=1)


def test_grey_and_palette_images_become_rgb(tmp_path, cache_dir):
    root = write_class_folder(tmp_path / "pets")
    Image.new("L", (4, 3), 77).save(root / "cat" / "grey.png")
    Image.new("RGB", (4, 3), (5, 6, 7)).convert("P", palette=Image.Palette.ADAPTIVE).save(root / "dog" / "palette.GIF")
    dataset = load(f"folder:{root}", workers=1)
    assert dataset.images[dataset.paths.index("cat/grey.png"), :, 0, 0].tolist() == [77, 77, 77]
    assert dataset.images[dataset.paths.index("dog/palette.GIF"), :, 0, 0].tolist() == [5, 6, 7]


def test_imagenette_class_folders_get_readable_names(tmp_path, cache_dir):
    write_class_folder(tmp_path / "nette" / "train", class_names=("n01440764", "n02102040"), images_per_class=1)
    assert load(f"folder:{tmp_path / 'nette'}", workers=1).class_names == ["tench", "English springer"]


# ---------------------------------------------------------------- the cache


def count_decodes(monkeypatch) -> list:
    """Wrap folder.decode_image to record each call; returns the list of calls."""
    calls = []
    real_decode_image = folder_module.decode_image

    def counting_decode_image(*args, **kwargs):
        calls.append(args)
        return real_decode_image(*args, **kwargs)

    monkeypatch.setattr(folder_module, "decode_image", counting_decode_image)
    return calls


def test_cache_is_hit_then_invalidated_when_the_zip_changes(tmp_path, cache_dir, monkeypatch):
    archive = zip_folder(write_class_folder(tmp_path / "pets"), tmp_path / "pets.zip")
    decodes = count_decodes(monkeypatch)
    first = load(f"folder:{archive}", workers=1)
    assert len(decodes) == 6
    second = load(f"folder:{archive}", workers=1)
    assert len(decodes) == 6, "the second load should come from the cache"
    assert torch.equal(second.images, first.images) and second.paths == first.paths
    assert np.array_equal(second.splits["test"], first.splits["test"])

    stat = archive.stat()
    os.utime(archive, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    load(f"folder:{archive}", workers=1)
    assert len(decodes) == 12, "a zip with a new mtime should be decoded again"
    assert len(list(cache_dir.glob("*.json"))) == 1, "the stale entry should be removed"


def test_cache_is_invalidated_when_a_folder_image_changes(tmp_path, cache_dir, monkeypatch):
    root = write_class_folder(tmp_path / "pets")
    decodes = count_decodes(monkeypatch)
    load(f"folder:{root}", workers=1)
    write_image(root / "cat" / "0.png", (1, 1, 1), size=(4, 3))
    os.utime(root / "cat" / "0.png", ns=(0, 10**9))
    reloaded = load(f"folder:{root}", workers=1)
    assert len(decodes) == 12
    assert reloaded.images[0, :, 0, 0].tolist() == [1, 1, 1]


def test_cache_key_holds_the_image_size(tmp_path, cache_dir, monkeypatch):
    root = write_class_folder(tmp_path / "pets")
    decodes = count_decodes(monkeypatch)
    load(f"folder:{root}", workers=1)
    assert load(f"folder:{root}", image_size=2, workers=1).image_size == (2, 2)
    assert len(decodes) == 12


def test_cache_round_trips_the_val_split(tmp_path, cache_dir, monkeypatch):
    write_three_way_folder(tmp_path / "data")
    decodes = count_decodes(monkeypatch)
    first = load(f"folder:{tmp_path / 'data'}", workers=1)
    cached = load(f"folder:{tmp_path / 'data'}", workers=1)
    assert len(decodes) == 11, "the second load should come from the cache"
    assert cached.paths == first.paths and torch.equal(cached.images, first.images)
    assert list(cached.splits) == ["train", "val", "test"]
    assert cached.train_indices.tolist() == [0, 1, 2, 3, 4]
    assert cached.val_indices.tolist() == [5, 6, 7] and cached.val_indices.dtype == np.int64
    assert cached.test_indices.tolist() == [8, 9, 10]


def test_cache_entry_of_the_old_format_is_not_read(tmp_path, cache_dir, monkeypatch):
    """A format-1 entry (is_test, no validation split) of the same folder is decoded again, not misread."""
    root = tmp_path / "data"
    write_three_way_folder(root)
    settings = {"image_size": None, "skip_bad_images": False}
    fingerprint = folder_module._DirectoryFiles(root).fingerprint()
    with monkeypatch.context() as patch:
        patch.setattr(cache_module, "CACHE_FORMAT", 1)
        old_name = cache_module.entry_name(root, settings, fingerprint)
    cache_module.save_entry(cache_dir, old_name, {"images": np.zeros((11, 3, 3, 4), dtype=np.uint8),
                                                  "labels": np.zeros(11, dtype=np.int64),
                                                  "is_test": np.arange(11) >= 5},
                            {"class_names": ["cat", "dog"], "paths": ["x.png"] * 11, "skipped": 0})
    decodes = count_decodes(monkeypatch)
    dataset = load(f"folder:{root}", workers=1)
    assert len(decodes) == 11, "the format-1 entry should not be read"
    assert len(list(cache_dir.glob("*.json"))) == 2  # the old entry and the new one, under different identities
    assert dataset.val_indices.tolist() == [5, 6, 7] and dataset.test_indices.tolist() == [8, 9, 10]


def test_cache_dir_argument_overrides_the_environment(tmp_path, cache_dir):
    root = write_class_folder(tmp_path / "pets")
    load(f"folder:{root}", workers=1)
    assert len(list(cache_dir.glob("*.images.npy"))) == 1
    load(f"folder:{root}", cache_dir=tmp_path / "elsewhere", workers=1)
    assert len(list((tmp_path / "elsewhere").glob("*.images.npy"))) == 1


# ---------------------------------------------------------------- bad folders


def test_corrupt_image_is_named(tmp_path, cache_dir):
    root = write_class_folder(tmp_path / "pets")
    (root / "dog" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    with pytest.raises(DataError, match=r"dog/broken\.png"):
        load(f"folder:{root}", workers=2)


def test_skip_bad_images_skips_and_counts(tmp_path, cache_dir, caplog):
    root = write_class_folder(tmp_path / "pets")
    (root / "dog" / "broken.jpg").write_bytes(b"garbage")
    with caplog.at_level(logging.WARNING, logger="winnow.data"):
        dataset = load(f"folder:{root}", skip_bad_images=True, workers=1)
    assert len(dataset) == 6 and dataset.skipped == 1
    assert "dog/broken.jpg" not in dataset.paths
    assert "skipped 1 unreadable images" in caplog.text and "dog/broken.jpg" in caplog.text
    assert torch.equal(dataset.images, expected_images())
    assert load(f"folder:{root}", skip_bad_images=True, workers=1).skipped == 1  # from the cache


def test_empty_class_folder_is_named(tmp_path, cache_dir):
    root = write_class_folder(tmp_path / "pets")
    (root / "bird").mkdir()
    (root / "bird" / "notes.txt").write_text("no images here")
    with pytest.raises(DataError, match=r"class folder .*pets/bird/ holds no images"):
        load(f"folder:{root}", workers=1)


def test_folder_without_class_folders_is_an_error(tmp_path, cache_dir):
    write_image(tmp_path / "flat" / "a.png", (0, 0, 0))
    with pytest.raises(DataError, match=r"no class folders in .*flat"):
        load(f"folder:{tmp_path / 'flat'}", workers=1)


def test_class_only_in_test_is_an_error(tmp_path, cache_dir):
    write_class_folder(tmp_path / "data" / "train")
    write_image(tmp_path / "data" / "test" / "bird" / "0.png", (0, 0, 0))
    with pytest.raises(DataError, match=r"test/bird/ has no counterpart"):
        load(f"folder:{tmp_path / 'data'}", workers=1)


def test_missing_path_is_named():
    with pytest.raises(FileNotFoundError, match=r"/no/such/place"):
        load("folder:/no/such/place")


def test_file_that_is_not_a_zip_is_an_error(tmp_path):
    (tmp_path / "data.txt").write_text("hello")
    with pytest.raises(DataError, match=r"data\.txt is neither a folder nor a \.zip"):
        load(f"folder:{tmp_path / 'data.txt'}")


@pytest.mark.parametrize("spec", ["imagenet:/data", "cifar10", "folder:", "digits:/x", "CIFAR10:/x"])
def test_bad_spec_names_the_spec_and_the_valid_forms(spec):
    with pytest.raises(ValueError, match=r"unknown data spec .*digits, cifar10:PATH, cifar100:PATH, folder:PATH"):
        load(spec)
    with pytest.raises(DataError, match=spec):
        load(spec)


@pytest.mark.parametrize(
    ("spec", "options", "message"),
    [
        ("digits", {"image_size": 32}, "image_size applies only to folder:, synthetic-pad:, multi: and surf: specs"),
        ("digits", {"skip_bad_images": True}, "skip_bad_images applies only to folder: specs, not to digits"),
        ("digits", {"pad_images": "digits"}, "pad_images and samples apply only to synthetic-pad: specs"),
        ("digits", {"modalities": ["rgb"]}, "modalities rgb given, but digits has one input"),
        ("digits", {"cifar100_labels": "coarse"}, "cifar100_labels applies only to cifar100"),
        ("digits", {"cifar100_labels": "medium"}, "cifar100_labels must be one of"),
        ("digits", {"test_fraction": 1.0}, r"test_fraction must be in \[0, 1\)"),
        ("digits", {"workers": 0}, "workers must be a positive integer"),
        ("digits", {"image_size": -3}, "image_size must be a positive integer"),
    ],
)
def test_bad_options_are_named(spec, options, message):
    with pytest.raises(DataError, match=message):
        load(spec, **options)


# ---------------------------------------------------------------- digits


def test_digits_are_embedded_with_a_fixed_stratified_split():
    dataset = load("digits")
    assert dataset.images.shape == (1797, 1, 8, 8) and dataset.images.dtype == torch.uint8
    assert int(dataset.images.max()) == 255
    assert dataset.class_names == [str(digit) for digit in range(10)]
    assert len(dataset.splits["test"]) == pytest.approx(0.25 * 1797, abs=5)
    test_counts = np.bincount(dataset.labels[dataset.splits["test"]].numpy())
    all_counts = np.bincount(dataset.labels.numpy())
    assert np.all(np.abs(test_counts - 0.25 * all_counts) <= 1)
    assert np.array_equal(load("digits", seed=7).splits["test"], dataset.splits["test"])
    assert list(dataset.splits) == ["train", "test"] and dataset.val_indices.tolist() == []


# ---------------------------------------------------------------- CIFAR pickles


def write_batch(path: Path, content: dict) -> None:
    """A batch like the CIFAR site's: bytes keys; protocol 3 so bytes need no _codecs global."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps({key.encode(): value for key, value in content.items()}, protocol=3))


def cifar_rows(count: int, start: int) -> np.ndarray:
    """(count, 3072) uint8 rows; row i is filled with the value start + i."""
    return np.repeat(np.arange(start, start + count, dtype=np.uint8)[:, None], 3072, axis=1)


def write_cifar10(folder: Path, per_batch: int = 2) -> Path:
    """A tiny cifar-10-batches-py: 5 train batches and a test batch of per_batch images, 3 classes."""
    for number in range(1, 6):
        write_batch(folder / f"data_batch_{number}",
                    {"data": cifar_rows(per_batch, 10 * number), "labels": [number % 3] * per_batch})
    write_batch(folder / "test_batch", {"data": cifar_rows(per_batch, 100), "labels": [2] * per_batch})
    write_batch(folder / "batches.meta", {"label_names": [b"cat", b"dog", b"frog"], "num_vis": 3072})
    return folder


@pytest.mark.parametrize("give_parent", [False, True])
def test_cifar10_batches_load_from_the_folder_or_its_parent(tmp_path, give_parent):
    folder = write_cifar10(tmp_path / "cifar-10-batches-py")
    dataset = load(f"cifar10:{tmp_path if give_parent else folder}")
    assert dataset.images.shape == (12, 3, 32, 32)
    assert dataset.images[:, 0, 0, 0].tolist() == [10, 11, 20, 21, 30, 31, 40, 41, 50, 51, 100, 101]
    assert bool((dataset.images[3] == 21).all())
    assert dataset.labels.tolist() == [1, 1, 2, 2, 0, 0, 1, 1, 2, 2, 2, 2]
    assert dataset.class_names == ["cat", "dog", "frog"]
    assert dataset.splits["train"].tolist() == list(range(10)) and dataset.splits["test"].tolist() == [10, 11]
    assert dataset.val_indices.tolist() == []


@pytest.mark.parametrize(("label_kind", "labels", "names"), [("fine", [3, 4, 5], ["a", "b", "c", "d", "e", "f"]),
                                                             ("coarse", [0, 1, 1], ["x", "y"])])
def test_cifar100_fine_and_coarse_labels(tmp_path, label_kind, labels, names):
    folder = tmp_path / "cifar-100-python"
    write_batch(folder / "train", {"data": cifar_rows(2, 0), "fine_labels": [3, 4], "coarse_labels": [0, 1]})
    write_batch(folder / "test", {"data": cifar_rows(1, 9), "fine_labels": [5], "coarse_labels": [1]})
    write_batch(folder / "meta", {"fine_label_names": list("abcdef"), "coarse_label_names": ["x", "y"]})
    dataset = load(f"cifar100:{tmp_path}", cifar100_labels=label_kind)
    assert dataset.labels.tolist() == labels and dataset.class_names == names
    assert dataset.splits["test"].tolist() == [2]


class RunsAShellCommand:
    def __init__(self, command: str):
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


def test_crafted_pickle_is_refused_without_running_it(tmp_path):
    folder = write_cifar10(tmp_path / "cifar-10-batches-py")
    marker = tmp_path / "marker"
    write_batch(folder / "data_batch_3", {"data": RunsAShellCommand(f"touch {marker}"), "labels": [0]})
    with pytest.raises(DataError, match=r"data_batch_3: refusing to unpickle the global (posix|os)\.system"):
        load(f"cifar10:{folder}")
    assert not marker.exists()


def test_cifar_folder_without_batches_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"no batches\.meta in .*cifar-10-batches-py"):
        load(f"cifar10:{tmp_path}")


def test_cifar_label_out_of_range_is_named(tmp_path):
    folder = write_cifar10(tmp_path / "cifar-10-batches-py")
    write_batch(folder / "test_batch", {"data": cifar_rows(2, 0), "labels": [0, 7]})
    with pytest.raises(DataError, match=r"label 7 at index 11 is out of range for 3 classes"):
        load(f"cifar10:{folder}")


# ---------------------------------------------------------------- arrays


@pytest.mark.parametrize("to_tensor", [False, True])
@pytest.mark.parametrize("layout", ["NHW", "NCHW", "NHWC"])
def test_from_arrays_accepts_layouts_and_types(layout, to_tensor):
    nchw = np.arange(2 * 3 * 6 * 5, dtype=np.uint8).reshape(2, 3, 6, 5)
    if layout == "NHW":
        nchw = nchw[:, :1]
    images = {"NHW": nchw[:, 0], "NCHW": nchw, "NHWC": nchw.transpose(0, 2, 3, 1)}[layout]
    if to_tensor:
        images = torch.from_numpy(np.ascontiguousarray(images))
    dataset = from_arrays(images, [0, 1], ["a", "b"])
    assert torch.equal(dataset.images, torch.from_numpy(nchw))
    assert dataset.splits["train"].tolist() == [0, 1] and dataset.test_indices.tolist() == []


def test_from_arrays_scales_floats_and_splits_test_indices():
    images = np.array([0.0, 0.5, 1.0], dtype=np.float32).reshape(3, 1, 1, 1)
    dataset = from_arrays(images, np.array([0, 1, -1]), ["a", "b"], test_indices=[2, 0])
    assert dataset.images.flatten().tolist() == [0, 128, 255]
    assert dataset.splits["train"].tolist() == [1] and dataset.splits["test"].tolist() == [0, 2]


@pytest.mark.parametrize(
    ("images", "labels", "options", "message"),
    [
        (np.zeros((3, 4, 4)), [0, 5, 1], {}, r"label 5 at index 1 is out of range for 2 classes"),
        (np.zeros((3, 4, 4)), [0, 1], {}, r"images holds 3 images but labels has shape \(2,\)"),
        (np.stack([np.zeros((4, 4)), np.full((4, 4), 1.5)]), [0, 1], {}, r"image 1 holds values from 1\.5"),
        (np.zeros((2, 4, 4), dtype=np.int32), [0, 1], {}, "dtype int32"),
        (np.zeros((2, 4, 4)), [0.0, 1.0], {}, "labels must be integers"),
        (np.zeros((2, 4, 4)), [0, 1], {"test_indices": [1, 2]}, r"test_indices\[1\] = 2 is outside \[0, 2\)"),
        (np.zeros((2, 4, 4)), [0, 1], {"test_indices": [1, 1]}, "holds 1 more than once"),
        (np.zeros((2, 4, 4)), [0, 1], {"val_indices": [-1]}, r"val_indices\[0\] = -1 is outside \[0, 2\)"),
        (np.zeros((2, 4, 4)), [0, 1], {"test_indices": [0, 1], "val_indices": [1]},
         "val_indices and test_indices both hold 1"),
    ],
)
def test_from_arrays_errors_name_the_index_or_lengths(images, labels, options, message):
    with pytest.raises(DataError, match=message):
        from_arrays(images, labels, ["a", "b"], **options)


def test_from_arrays_val_indices_become_the_val_split():
    dataset = from_arrays(np.zeros((5, 2, 2)), [0, 1, 0, 1, 0], ["a", "b"], test_indices=[4], val_indices=[3, 1])
    assert dataset.splits["train"].tolist() == [0, 2]
    assert dataset.val_indices.tolist() == [1, 3] and dataset.val_indices.dtype == np.int64
    assert dataset.test_indices.tolist() == [4]
    assert dataset.describe() == "arrays: 5 images 1x2x2, 2 classes (train 2, val 2, test 1)"
    assert dataset.with_labels([1, 1, 1, 1, 1]).val_indices.tolist() == [1, 3]
    without_val = from_arrays(np.zeros((5, 2, 2)), [0, 1, 0, 1, 0], ["a", "b"], test_indices=[4])
    assert "val" not in without_val.splits and without_val.val_indices.tolist() == []
    assert without_val.describe() == "arrays: 5 images 1x2x2, 2 classes (train 4, test 1)"
    empty_val = from_arrays(np.zeros((5, 2, 2)), [0, 1, 0, 1, 0], ["a", "b"], val_indices=[])
    assert empty_val.splits["train"].tolist() == [0, 1, 2, 3, 4] and empty_val.val_indices.tolist() == []
    assert empty_val.describe() == "arrays: 5 images 1x2x2, 2 classes (train 5)"


def test_dataset_splits_must_be_disjoint():
    with pytest.raises(DataError, match=r"splits 'train' and 'val' share index 1: splits are disjoint"):
        Dataset(images=torch.zeros((3, 1, 2, 2), dtype=torch.uint8), labels=torch.zeros(3, dtype=torch.int64),
                class_names=["a"], splits={"train": np.array([0, 1]), "val": np.array([1]), "test": np.array([2])})


def test_package_exports_the_public_api():
    assert {"Dataset", "DataError", "load", "from_arrays", "download"} <= set(winnow.data.__all__)


# ---------------------------------------------------------------- the real CIFAR-10 zip (slow)


@pytest.mark.slow
def test_cifar10_jpeg_zip_loads_and_reloads_from_the_cache(tmp_path, cache_dir, monkeypatch):
    assert CIFAR10_JPEG_ZIP.is_file(), f"{CIFAR10_JPEG_ZIP} is missing: the slow tests need ../shared/data"
    dataset = load(f"folder:{CIFAR10_JPEG_ZIP}")

    def no_decoding(*args, **kwargs):
        raise AssertionError("the second load decoded images instead of reading the cache")

    monkeypatch.setattr(folder_module, "_decode_folder", no_decoding)
    cached = load(f"folder:{CIFAR10_JPEG_ZIP}")
    for loaded in (dataset, cached):
        assert len(loaded.splits["train"]) == 50_000 and len(loaded.splits["test"]) == 10_000
        assert loaded.num_classes == 10 and loaded.images.shape[1:] == (3, 32, 32)
        assert loaded.class_names[0] == "airplane" and loaded.class_names[-1] == "truck"
    assert torch.equal(cached.images, dataset.images)
    assert torch.equal(cached.labels, dataset.labels)
    # every class holds 5 000 training and 1 000 test images
    assert torch.bincount(dataset.labels[dataset.splits["train"]]).tolist() == [5000] * 10
    assert torch.bincount(dataset.labels[dataset.splits["test"]]).tolist() == [1000] * 10
