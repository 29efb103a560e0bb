"""Tests of `winnow clean --duplicates` on constructed data whose answer is known: exact copies,
near copies (brightness, a JPEG round trip, a 1-pixel shift) across splits and classes, and
distinct images that must stay apart; the hash search against comparing every pair; the run
folder, the command line on an image folder, and the report's image pairs."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
import torch
from PIL import Image

import winnow.duplicates as duplicates
from winnow import runs
from winnow.cli import main
from winnow.data import from_arrays
from winnow.duplicates import find_duplicates, hamming_pairs, perceptual_hashes
from winnow.experiments.duplicates import duplicates_run
from winnow.report import write_report

SIDE = 32


def smooth_image(generator: np.random.Generator) -> np.ndarray:
    """(3, 32, 32) uint8: random 8 x 8 colours enlarged smoothly, in 30..200 (room to brighten)."""
    coarse = generator.integers(30, 200, (8, 8, 3)).astype(np.uint8)
    return np.asarray(Image.fromarray(coarse).resize((SIDE, SIDE), Image.Resampling.BICUBIC)).transpose(2, 0, 1)


def brighter(image: np.ndarray) -> np.ndarray:
    return np.clip(image.astype(np.int64) + 25, 0, 255).astype(np.uint8)


def jpeg(image: np.ndarray, quality: int = 70) -> np.ndarray:
    encoded = io.BytesIO()
    Image.fromarray(image.transpose(1, 2, 0)).save(encoded, format="JPEG", quality=quality)
    return np.asarray(Image.open(encoded).convert("RGB")).transpose(2, 0, 1).copy()


def shifted(image: np.ndarray) -> np.ndarray:
    """One pixel to the right, the first column repeated."""
    return np.concatenate([image[:, :, :1], image[:, :, :-1]], axis=2)


# (name, what it is, split, class): copies name the image they copy; 12 distinct images follow
PLAN = [
    ("a", None, "train", 0), ("a2", ("a", "copy"), "test", 0),              # identical, train/test leak
    ("b", None, "train", 0), ("b2", ("b", "copy"), "train", 1),             # identical, cross-class
    ("c", None, "train", 1), ("c2", ("c", "brighter"), "test", 1),          # near, leak
    ("d", None, "train", 2), ("d2", ("d", "jpeg"), "test", 0),              # near, leak and cross-class
    ("e", None, "train", 2), ("e2", ("e", "shifted"), "train", 2),          # near, nothing flagged
    ("f", None, "train", 1), ("f2", ("f", "copy"), "val", 1),               # identical, train/val leak
    ("g", None, "val", 0), ("g2", ("g", "jpeg"), "test", 0),                # near, val/test leak
    ("h", None, "train", 2), ("h2", ("h", "copy"), "train", 2), ("h3", ("h", "brighter"), "train", 2),  # 3
]
CHANGES = {"copy": lambda image: image.copy(), "brighter": brighter, "jpeg": jpeg, "shifted": shifted}
DISTINCT = 12
EXPECTED = {  # group (as names) -> (kind, leak, cross-class)
    ("a", "a2"): ("identical", ["train/test"], False),
    ("b", "b2"): ("identical", [], True),
    ("c", "c2"): ("near", ["train/test"], False),
    ("d", "d2"): ("near", ["train/test"], True),
    ("e", "e2"): ("near", [], False),
    ("f", "f2"): ("identical", ["train/val"], False),
    ("g", "g2"): ("near", ["val/test"], False),
    ("h", "h2", "h3"): ("near", [], False),
}


@pytest.fixture(scope="module")
def planted():
    """(dataset, names): the PLAN's images, then DISTINCT unrelated ones over every split and class."""
    generator = np.random.default_rng(7)
    images, names, splits, labels = {}, [], [], []
    for name, made_from, split, label in PLAN:
        images[name] = smooth_image(generator) if made_from is None else CHANGES[made_from[1]](images[made_from[0]])
        names.append(name), splits.append(split), labels.append(label)
    for number in range(DISTINCT):
        name = f"x{number}"
        images[name] = smooth_image(generator)
        names.append(name), splits.append(("train", "val", "test")[number % 3]), labels.append(number % 3)
    splits = np.array(splits)
    dataset = from_arrays(np.stack([images[n] for n in names]), np.array(labels), ["cat", "dog", "fox"],
                          test_indices=np.flatnonzero(splits == "test"), val_indices=np.flatnonzero(splits == "val"))
    return dataset, names


def _named(groups, names) -> set[tuple[str, ...]]:
    return {tuple(names[i] for i in members) for members in groups}


# ---------------------------------------------------------------- arrays


def test_exactly_the_planted_groups_are_found_and_distinct_images_stay_apart(planted):
    dataset, names = planted
    found = find_duplicates(dataset.images)
    groups = found.groups()
    assert _named(groups, names) == set(EXPECTED)
    assert not any(name.startswith("x") for members in groups for name in (names[i] for i in members))
    assert _named(found.identical_sets(), names) == {("a", "a2"), ("b", "b2"), ("f", "f2"), ("h", "h2")}
    near = {tuple(sorted(names[i] for i in members)) for members in groups if found.is_near(members)}
    assert near == {group for group, (kind, _, _) in EXPECTED.items() if kind == "near"}
    # near pairs join the first image of each content only: h3 pairs with h, never with its copy h2
    assert {(names[a], names[b]) for a, b in found.pairs} == {("c", "c2"), ("d", "d2"), ("e", "e2"), ("g", "g2"),
                                                             ("h", "h3")}
    assert (found.distances <= duplicates.HASH_DISTANCE).all() and (found.cosines >= duplicates.MIN_COSINE).all()


def test_leaks_and_cross_class_flags_of_each_group(planted):
    dataset, names = planted
    found = find_duplicates(dataset.images)
    split_of = duplicates.split_names(dataset.splits, len(dataset))
    labels = dataset.labels.numpy()
    for members in found.groups():
        kind, leak, cross = EXPECTED[tuple(names[i] for i in members)]
        assert duplicates.leak_kinds(members, split_of) == leak
        assert duplicates.is_cross_class(members, labels) == cross
    assert duplicates.leaks(found.groups(), split_of) == {"test_in_train": 3, "val_in_train": 1, "test_in_val": 1}


def test_the_thresholds_decide_which_near_copies_count(planted):
    dataset, names = planted
    identical = {("a", "a2"), ("b", "b2"), ("f", "f2")}
    closer = find_duplicates(dataset.images, hash_distance=4)  # the shifted copy is 6 bits away
    assert _named(closer.groups(), names) == set(EXPECTED) - {("e", "e2")}
    stricter = find_duplicates(dataset.images, min_cosine=0.9995)  # the JPEG copies' cosines are 0.998 and 0.999
    assert _named(stricter.groups(), names) == identical | {("c", "c2"), ("h", "h2", "h3")}  # brightness: 1.0
    assert (stricter.distances <= duplicates.HASH_DISTANCE).all() and (stricter.cosines >= 0.9995).all()


def test_the_perceptual_hash_ignores_brightness_and_contrast_and_sets_32_bits():
    image = smooth_image(np.random.default_rng(3))[None]  # (1, 3, 32, 32)
    dimmer = (image.astype(np.float64) * 0.6 + 10).round().astype(np.uint8)
    hashes, thumbnails = perceptual_hashes(np.concatenate([image, dimmer]))
    assert hashes.dtype == np.uint64 and thumbnails.shape == (2, 256)
    assert np.bitwise_count(hashes[0] ^ hashes[1]) <= 2  # rounding may move a bit near the median
    assert np.bitwise_count(hashes).tolist() == [32, 32]
    assert np.allclose(np.linalg.norm(thumbnails, axis=1), 1) and thumbnails[0] @ thumbnails[1] > 0.999
    flat = np.full((1, 3, 32, 32), 90, np.uint8)
    assert not perceptual_hashes(flat)[1].any()  # a flat image has no direction: never near anything


def test_hashes_do_not_depend_on_the_chunking_or_the_size(planted, monkeypatch):
    dataset, _ = planted
    whole = perceptual_hashes(dataset.images)
    monkeypatch.setattr(duplicates, "_PIXELS_PER_CHUNK", 3 * SIDE * SIDE * 5)  # 5 images at a time
    chunked = perceptual_hashes(dataset.images)
    np.testing.assert_array_equal(whole[0], chunked[0])
    np.testing.assert_allclose(whole[1], chunked[1], atol=1e-6)
    larger = torch.nn.functional.interpolate(dataset.images[:6].float(), scale_factor=4, mode="nearest")
    distances = np.bitwise_count(perceptual_hashes(larger.to(torch.uint8))[0] ^ whole[0][:6])
    assert (distances <= 4).all()  # the same pictures at 128 px hash (nearly) alike


@pytest.mark.parametrize("max_distance", [0, 1, 3, 4, 8, 10, 11, 16])
def test_the_hash_search_finds_the_same_pairs_as_comparing_every_pair(max_distance, monkeypatch):
    generator = np.random.default_rng(max_distance)
    hashes = generator.integers(0, 2 ** 63, 600, dtype=np.int64).astype(np.uint64)
    hashes[::2] |= np.uint64(1 << 63)
    for _ in range(150):  # plant pairs 0..20 bits apart
        i, j = generator.integers(0, 600, 2)
        flips = generator.choice(64, generator.integers(0, 21), replace=False)
        hashes[j] = hashes[i] ^ np.uint64(sum(1 << int(bit) for bit in flips))
    hashes[5] = hashes[9]  # equal hashes are distance 0
    monkeypatch.setattr(duplicates, "_PAIRS_PER_CHUNK", 64)  # many chunks
    pairs, distances = hamming_pairs(hashes, max_distance)
    every = np.bitwise_count(hashes[:, None] ^ hashes[None, :])  # (N, N)
    left, right = np.nonzero(np.triu(every <= max_distance, 1))
    np.testing.assert_array_equal(pairs, np.stack([left, right], axis=1))
    np.testing.assert_array_equal(distances, every[left, right])


def test_images_under_16_px_are_searched_for_identical_pixels_only(tmp_path):
    generator = np.random.default_rng(2)
    small = generator.integers(30, 200, (6, 1, 8, 8)).astype(np.uint8)
    small[1] = small[0]
    small[2] = small[3] + 20  # near, but an 8 x 8 image is too small to tell
    found = find_duplicates(small)
    assert not found.near_searched and [list(g) for g in found.groups()] == [[0, 1]]
    dataset = from_arrays(small, np.array([0, 1, 0, 1, 0, 1]), ["a", "b"], test_indices=[1])
    results = duplicates_run(dataset, tmp_path / "run")
    assert results["counts"]["all"]["groups"] == 1 and results["counts"]["all"]["test_in_train"] == 1
    assert "Near: not searched, the images (8 x 8 px) are smaller" in results["tables"][0]["notes"]


def test_no_images_and_bad_thresholds():
    found = find_duplicates(np.zeros((0, 1, 8, 8), np.uint8))
    assert found.groups() == [] and found.pairs.shape == (0, 2)
    with pytest.raises(ValueError, match="--hash-distance must be an int from 0 to 16"):
        find_duplicates(np.zeros((2, 1, 8, 8), np.uint8), hash_distance=17)
    with pytest.raises(ValueError, match="--min-cosine must be a number from 0 to 1"):
        find_duplicates(np.zeros((2, 1, 8, 8), np.uint8), min_cosine=-0.5)


# ---------------------------------------------------------------- the run folder


def test_the_run_folder_lists_every_group_with_its_members_and_counts(planted, tmp_path):
    dataset, names = planted
    results = duplicates_run(dataset, tmp_path / "run", sheet_groups=4)
    record = runs.read_json(tmp_path / "run" / runs.DUPLICATES_JSON)
    groups = {tuple(names[m["index"]] for m in g["members"]): g for g in record["groups"]}
    assert set(groups) == set(EXPECTED)
    for key, (kind, leak, cross) in EXPECTED.items():
        assert (groups[key]["kind"], groups[key]["leak"], groups[key]["cross_class"]) == (kind, leak, cross)
    h = groups[("h", "h2", "h3")]
    assert [m["identical_to"] for m in h["members"]] == [None, names.index("h"), None]
    assert [(names[p["a"]], names[p["b"]]) for p in h["pairs"]] == [("h", "h3")]
    assert [m["class"] for m in groups[("d", "d2")]["members"]] == ["fox", "cat"]
    assert [m["split"] for m in groups[("g", "g2")]["members"]] == ["val", "test"]
    # leaks and cross-class groups are numbered first
    flagged = [g["group"] for g in record["groups"] if g["leak"] or g["cross_class"]]
    assert flagged == list(range(1, len(flagged) + 1)) and len(flagged) == 6
    counts = results["counts"]
    assert counts["identical"] == {"groups": 4, "images": 8, "extra_copies": 4, "largest": 2, "leak_groups": 2,
                                   "test_in_train": 1, "val_in_train": 1, "test_in_val": 0, "cross_class_groups": 1}
    assert counts["near"] == {"groups": 5, "images": 11, "extra_copies": 6, "largest": 3, "leak_groups": 3,
                              "test_in_train": 2, "val_in_train": 0, "test_in_val": 1, "cross_class_groups": 1}
    assert counts["all"]["groups"] == 8 and counts["all"]["images"] == 17 and counts["all"]["test_in_train"] == 3
    csv_lines = (tmp_path / "run" / runs.RESULTS_CSV).read_text().splitlines()
    assert len(csv_lines) == 1 + 17 and csv_lines[0].startswith("group,kind,index,split,class")
    markdown = (tmp_path / "run" / runs.RESULTS_MD).read_text()
    assert "| identical or near | 8 | 17 | 9 | 3 | 5 | 3 | 1 | 1 | 2 |" in markdown
    assert (tmp_path / "run" / runs.DUPLICATES_PNG).is_file()
    assert runs.read_json(tmp_path / "run" / runs.CONFIG)["command"] == "duplicates"
    with pytest.raises(runs.RunExistsError, match="pass --force"):
        duplicates_run(dataset, tmp_path / "run")


# ---------------------------------------------------------------- the command line and the report


def _save(path, image: np.ndarray, kind: str = "PNG") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image.transpose(1, 2, 0)).save(path, format=kind, **({"quality": 90} if kind == "JPEG" else {}))


def test_the_command_finds_the_copies_in_an_image_folder_and_the_report_shows_them(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("WINNOW_CACHE", str(tmp_path / "cache"))
    generator = np.random.default_rng(11)
    photos = tmp_path / "photos"
    pictures = [smooth_image(generator) for _ in range(8)]
    for number, picture in enumerate(pictures):
        _save(photos / "train" / ("cat", "dog")[number % 2] / f"{number}.png", picture)
    _save(photos / "test" / "cat" / "copy.png", pictures[0])  # identical: a leak
    _save(photos / "test" / "dog" / "again.jpg", pictures[2], "JPEG")  # near, a leak, and under another class
    _save(photos / "test" / "dog" / "other.png", smooth_image(generator))
    out = tmp_path / "run"
    assert main(["clean", "--data", f"folder:{photos}", "--duplicates", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "identical or near" in printed and "duplicates.json" in printed and "report in" in printed
    record = json.loads((out / runs.DUPLICATES_JSON).read_text())
    assert [[m["path"] for m in g["members"]] for g in record["groups"]] == [
        ["train/cat/0.png", "test/cat/copy.png"], ["train/cat/2.png", "test/dog/again.jpg"]]
    assert [(g["kind"], g["leak"], g["cross_class"]) for g in record["groups"]] == [
        ("identical", ["train/test"], False), ("near", ["train/test"], True)]
    page = (out / runs.REPORT_HTML).read_text()
    assert "duplicate search" in page and "Duplicate images side by side" in page and "test/dog/again.jpg" in page
    assert page.count("data:image/png;base64,") == 1  # the pairs, embedded
    # two runs side by side in one report
    assert main(["clean", "--data", f"folder:{photos}", "--duplicates", "--min-cosine", "1", "--hash-distance", "0",
                 "--out", str(tmp_path / "strict")]) == 0
    both = write_report([out, tmp_path / "strict"], tmp_path / "both.html").read_text()
    assert "Duplicate searches side by side" in both


def test_a_search_without_duplicates_says_so(tmp_path):
    generator = np.random.default_rng(5)
    dataset = from_arrays(np.stack([smooth_image(generator) for _ in range(6)]), np.arange(6) % 2, ["a", "b"])
    results = duplicates_run(dataset, tmp_path / "run")
    assert results["groups"] == 0 and results["counts"]["all"]["groups"] == 0
    assert not (tmp_path / "run" / runs.DUPLICATES_PNG).exists()
    page = write_report([tmp_path / "run"], tmp_path / "run" / runs.REPORT_HTML).read_text()
    assert "No duplicates found." in page
