"""Tests of unlabelled image folders (`winnow.data.load_unlabelled`, `list_images`) and
`Dataset.with_labels`."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from winnow.data import DataError, from_arrays, list_images, load, load_unlabelled
from winnow.data import folder as folder_module


def write_image(path: Path, color, size=(4, 3)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, color).save(path, "PNG")


@pytest.fixture
def cache_dir(tmp_path, monkeypatch) -> Path:
    cache = tmp_path / "cache"
    monkeypatch.setenv("WINNOW_CACHE", str(cache))
    return cache


@pytest.fixture
def mixed(tmp_path) -> Path:
    """Images at the top, in a sub-folder, in a deeper one, plus files to ignore."""
    root = tmp_path / "photos"
    write_image(root / "b.png", (2, 0, 0))
    write_image(root / "a.png", (1, 0, 0))
    write_image(root / "trip" / "c.png", (3, 0, 0))
    write_image(root / "trip" / "day2" / "d.png", (4, 0, 0))
    write_image(root / ".hidden.png", (9, 9, 9))
    (root / "notes.txt").write_text("not an image")
    return root


def test_flat_folder_loads_unlabelled_with_every_image_in_train(tmp_path, cache_dir):
    root = tmp_path / "flat"
    for i in (3, 1, 2):
        write_image(root / f"img{i}.png", (i, 10 * i, 20 * i))
    dataset = load_unlabelled(f"folder:{root}", workers=1)
    assert dataset.paths == ["img1.png", "img2.png", "img3.png"]
    assert dataset.labels.tolist() == [-1, -1, -1]
    assert dataset.class_names == [] and dataset.num_classes == 0
    assert dataset.train_indices.tolist() == [0, 1, 2]
    assert dataset.test_indices.tolist() == []
    assert dataset.images[:, :, 0, 0].tolist() == [[1, 10, 20], [2, 20, 40], [3, 30, 60]]
    assert dataset.source == f"folder:{root}"


def test_any_layout_counts_every_image_and_ignores_its_folders(mixed, cache_dir):
    dataset = load_unlabelled(f"folder:{mixed}", workers=1)
    assert dataset.paths == ["a.png", "b.png", "trip/c.png", "trip/day2/d.png"]
    assert dataset.images[:, 0, 0, 0].tolist() == [1, 2, 3, 4]
    assert list_images(f"folder:{mixed}") == dataset.paths


def test_class_folders_are_not_labels_when_read_unlabelled(tmp_path, cache_dir):
    for name in ("cat", "dog"):
        write_image(tmp_path / "pets" / name / "0.png", (0, 0, 0))
    labelled = load(f"folder:{tmp_path / 'pets'}", test_fraction=0.0, workers=1)
    unlabelled = load_unlabelled(f"folder:{tmp_path / 'pets'}", workers=1)  # its own cache entry
    assert labelled.labels.tolist() == [0, 1]
    assert unlabelled.labels.tolist() == [-1, -1]
    assert unlabelled.paths == labelled.paths == ["cat/0.png", "dog/0.png"]


def test_zip_gives_the_same_images_with_the_wrapper_in_the_paths(mixed, tmp_path, cache_dir):
    archive = tmp_path / "photos.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for path in sorted(mixed.rglob("*")):
            if path.is_file():
                zipped.write(path, "photos/" + path.relative_to(mixed).as_posix())
        zipped.writestr("__MACOSX/._a.png", b"junk")
    from_zip = load_unlabelled(f"folder:{archive}", workers=1)
    from_folder = load_unlabelled(f"folder:{mixed}", workers=1)
    assert from_zip.paths == ["photos/" + path for path in from_folder.paths]
    assert torch.equal(from_zip.images, from_folder.images)
    assert list_images(f"folder:{archive}") == from_zip.paths


def test_load_still_needs_class_folders_and_points_to_load_unlabelled(mixed, cache_dir):
    write_image(mixed.parent / "flat" / "a.png", (0, 0, 0))
    with pytest.raises(DataError, match=r"no class folders in .*flat.*load_unlabelled"):
        load(f"folder:{mixed.parent / 'flat'}", workers=1)


def test_list_images_decodes_nothing(mixed, monkeypatch):
    def no_decoding(*args, **kwargs):
        raise AssertionError("list_images decoded images")

    monkeypatch.setattr(folder_module, "_decode_folder", no_decoding)
    assert list_images(f"folder:{mixed}") == ["a.png", "b.png", "trip/c.png", "trip/day2/d.png"]


def test_unreadable_images_are_named_or_skipped(mixed, cache_dir):
    (mixed / "broken.png").write_bytes(b"not a png")
    with pytest.raises(DataError, match=r"broken\.png"):
        load_unlabelled(f"folder:{mixed}", workers=1)
    dataset = load_unlabelled(f"folder:{mixed}", skip_bad_images=True, workers=1)
    assert dataset.skipped == 1 and "broken.png" not in dataset.paths
    assert "broken.png" in list_images(f"folder:{mixed}")


def test_given_class_names_are_kept_and_checked(mixed, cache_dir):
    dataset = load_unlabelled(f"folder:{mixed}", class_names=["cat", "dog"], image_size=2, workers=1)
    assert dataset.class_names == ["cat", "dog"] and dataset.image_size == (2, 2)
    with pytest.raises(DataError, match="distinct"):
        load_unlabelled(f"folder:{mixed}", class_names=["cat", "cat"])


@pytest.mark.parametrize("spec, error, message", [
    ("digits", DataError, r"folder:PATH"),
    ("cifar10:/x", DataError, r"folder:PATH"),
    ("folder:", DataError, r"folder:PATH"),
    ("folder:/no/such/place", FileNotFoundError, r"/no/such/place"),
])
def test_bad_specs_are_named(spec, error, message):
    with pytest.raises(error, match=message):
        load_unlabelled(spec)


def test_empty_folder_and_bad_options_are_named(tmp_path, mixed, cache_dir):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("no images")
    with pytest.raises(DataError, match=r"no images in .*empty"):
        load_unlabelled(f"folder:{tmp_path / 'empty'}")
    with pytest.raises(DataError, match="image_size"):
        load_unlabelled(f"folder:{mixed}", image_size=0)
    with pytest.raises(DataError, match="workers"):
        load_unlabelled(f"folder:{mixed}", workers=0)


# ---------------------------------------------------------------- Dataset.with_labels


def test_with_labels_shares_the_images_and_checks_the_labels():
    dataset = from_arrays(np.zeros((4, 3, 2, 2), dtype=np.uint8), [-1, -1, -1, -1], ["a"], test_indices=[3])
    dataset.paths = ["w.png", "x.png", "y.png", "z.png"]
    labels = np.array([1, -1, 0, 2])
    labelled = dataset.with_labels(labels, ["cat", "dog", "eel"])
    assert labelled.images is dataset.images  # no copy of the images
    assert labelled.paths is dataset.paths
    assert labelled.labels.tolist() == [1, -1, 0, 2] and labelled.class_names == ["cat", "dog", "eel"]
    assert dataset.labels.tolist() == [-1, -1, -1, -1] and dataset.class_names == ["a"]  # unchanged
    labels[0] = 2
    assert labelled.labels[0] == 1  # the labels are the copy's own
    assert labelled.splits is not dataset.splits and labelled.test_indices.tolist() == [3]
    assert dataset.with_labels([0, 0, -1, 0]).class_names == ["a"]
    with pytest.raises(DataError, match=r"label 3 at index 3 is out of range for 3 classes"):
        dataset.with_labels([0, 0, 0, 3], ["cat", "dog", "eel"])
    with pytest.raises(DataError, match=r"labels has shape \(2,\)"):
        dataset.with_labels([0, 0])
