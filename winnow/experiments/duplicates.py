"""`winnow clean --duplicates`: the same picture twice in a dataset, in two splits or under two classes.

    results = duplicates_run("folder:photos", "runs/duplicates")

Every image of every split, as loaded, is searched (`winnow.duplicates.find_duplicates`: identical
pixels, and near duplicates by perceptual hash and thumbnail cosine); nothing is trained. A group
is a set of images that are copies of each other (a chain of near pairs may join three or more).
Each group is flagged as a leak when it spans two splits (train/test, train/val, val/test: the
held-out image was seen in training, in another version) and as cross-class when its labelled
members carry two classes or more (at least one label is wrong, or the picture fits neither).

The run folder (command "duplicates") gets config.json, duplicates.json (the thresholds, the
counts, every group with its members' index, path, split and class, and its near pairs with
their distances and cosines), duplicates.png (the first `sheet_groups` groups side by side,
leaks and cross-class groups first), results.md (the counts and one row per group),
results.csv (one row per image in a group), results.json and final.json (the times).
Nothing of the user's data is changed.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from .. import data, duplicates, runs
from ..plots import contact_sheet
from ..table import Column, Table
from .engine import Run, load_data, run_config

COMMAND = "duplicates"
SHOWN_MEMBERS = 6  # members of a group drawn in duplicates.png
LISTED_MEMBERS = 4  # and named in its row of the groups table (all are in results.csv and duplicates.json)
SHEET_COLUMNS = 8
ROWS = {"identical": "identical pixels", "near": "near, not identical", "all": "identical or near"}


def duplicates_run(source: str | data.Dataset, out: str | Path, *, hash_distance: int = duplicates.HASH_DISTANCE,
                   min_cosine: float = duplicates.MIN_COSINE, sheet_groups: int = 24,
                   data_options: dict | None = None, force: bool = False) -> dict:
    """Search every split of `source` for identical and near-duplicate images and write the run
    folder `out` (new, or with `force` replacing an earlier run's files); returns the results.

    source : a data spec, or a `Dataset` (e.g. `winnow.data.from_arrays`)
    hash_distance : near candidates are at most this many of the 64 pHash bits apart (0..16)
    min_cosine : and near when their centred 16 x 16 thumbnails have at least this cosine (0..1)
    sheet_groups : how many groups duplicates.png shows (0: none)
    """
    duplicates.check_thresholds(hash_distance, min_cosine)
    if isinstance(sheet_groups, bool) or not isinstance(sheet_groups, int) or sheet_groups < 0:
        raise ValueError(f"sheet_groups must be an int >= 0, got {sheet_groups!r}")
    dataset, data_seconds = load_data(source, data_options, tested=False)
    config = {**run_config(COMMAND, source, data_options, dataset), "hash_distance": int(hash_distance),
              "min_cosine": float(min_cosine), "sheet_groups": sheet_groups}
    path = runs.prepare_run_dir(out, force=force)
    runs.write_json(path / runs.CONFIG, config)
    run = Run(path, config, resumed=False)
    run.timing.add("data", data_seconds)
    run.timing.started -= data_seconds  # the wall time starts with the loading

    started = time.perf_counter()
    found = duplicates.find_duplicates(dataset.images, hash_distance=hash_distance, min_cosine=min_cosine)
    search_seconds = time.perf_counter() - started
    groups = describe_groups(dataset, found)
    counts = count_rows(dataset, found, groups)
    runs.write_json(path / runs.DUPLICATES_JSON, {
        "images": len(dataset), "hash_distance": found.hash_distance, "min_cosine": found.min_cosine,
        "near_searched": found.near_searched, "method": METHOD, "counts": counts, "groups": groups})
    _write_sheet(path / runs.DUPLICATES_PNG, dataset, groups, sheet_groups)
    results = {"config": {k: config[k] for k in ("data", "hash_distance", "min_cosine", "sheet_groups")},
               "images": len(dataset), "image_size": list(dataset.image_size),
               "near_searched": found.near_searched,
               "splits": {name: len(indices) for name, indices in dataset.splits.items()}, "counts": counts,
               "groups": len(groups), "search_seconds": search_seconds}
    summary, listing, members = results_tables(results, groups)
    return run.finish(results, [summary, listing], members, search_seconds=search_seconds, images=len(dataset),
                      counts=counts)


METHOD = (f"identical: BLAKE2b-128 of the decoded pixels; near: pHash (luma 32 x 32, DCT, 8 x 8 lowest "
          f"frequencies above their median: 64 bits) within the hash distance, and the cosine of the centred "
          f"16 x 16 luma thumbnails at least min_cosine")


def describe_groups(dataset: data.Dataset, found: duplicates.Duplicates) -> list[dict]:
    """Every group as a record (number, kind, splits, classes, leak, cross_class, members with
    index, path, split, class and the first image with identical pixels, and its near pairs),
    leaks and cross-class groups first, then larger groups first, then by first image;
    numbered 1.. in that order."""
    labels, names = dataset.labels.numpy(), dataset.class_names
    split_of = duplicates.split_names(dataset.splits, len(dataset))
    first_of_content = np.unique(found.content, return_index=True)[1]
    records = []
    for members in found.groups():
        leak = duplicates.leak_kinds(members, split_of)
        cross = duplicates.is_cross_class(members, labels)
        within = found.pairs_within(members)
        records.append({
            "kind": "near" if found.is_near(members) else "identical", "size": len(members),
            "splits": [s for s in duplicates.SPLIT_ORDER if s in set(split_of[members])],
            "classes": sorted({names[c] for c in labels[members] if c >= 0}), "leak": leak, "cross_class": cross,
            "members": [{"index": int(i), **({"path": dataset.paths[i]} if dataset.paths is not None else {}),
                         "split": str(split_of[i]), "label": int(labels[i]),
                         "class": names[labels[i]] if labels[i] >= 0 else None,
                         "identical_to": (int(first_of_content[found.content[i]])
                                          if first_of_content[found.content[i]] != i else None)}
                        for i in members],
            "pairs": [{"a": int(a), "b": int(b), "distance": int(d), "cosine": round(float(c), 4)} for (a, b), d, c
                      in zip(found.pairs[within], found.distances[within], found.cosines[within])],
        })
    records.sort(key=lambda r: (not (r["leak"] or r["cross_class"]), -r["size"], r["members"][0]["index"]))
    return [{"group": number, **record} for number, record in enumerate(records, 1)]


def count_rows(dataset: data.Dataset, found: duplicates.Duplicates, groups: list[dict]) -> dict:
    """The counts of each view, "identical" (sets of identical images, inside a near group or
    not), "near" (groups holding different pixels) and "all" (every group): groups, images,
    extra copies (images - groups), the largest, leak groups, images leaked per split pair,
    cross-class groups."""
    labels = dataset.labels.numpy()
    split_of = duplicates.split_names(dataset.splits, len(dataset))
    members = {"identical": found.identical_sets(),
               "near": [np.array([m["index"] for m in g["members"]]) for g in groups if g["kind"] == "near"],
               "all": [np.array([m["index"] for m in g["members"]]) for g in groups]}
    counts = {}
    for view, sets in members.items():
        images = sum(len(s) for s in sets)
        counts[view] = {"groups": len(sets), "images": images, "extra_copies": images - len(sets),
                        "largest": max((len(s) for s in sets), default=0),
                        "leak_groups": sum(bool(duplicates.leak_kinds(s, split_of)) for s in sets),
                        **duplicates.leaks(sets, split_of),
                        "cross_class_groups": sum(duplicates.is_cross_class(s, labels) for s in sets)}
    return counts


def results_tables(results: dict, groups: list[dict]) -> tuple[Table, Table, Table]:
    """(the counts, one row per view; one row per group; one row per image in a group, for
    results.csv)."""
    has_val = results["splits"].get("val", 0) > 0
    leak_columns = [Column("test_in_train", "test images with a copy in train", "int"),
                    *([Column("val_in_train", "val images with a copy in train", "int"),
                       Column("test_in_val", "test images with a copy in val", "int")] if has_val else [])]
    summary = Table(
        f"Duplicates among {results['images']} images ({_splits_text(results['splits'])})",
        [Column("view"), Column("groups", kind="int"), Column("images", kind="int"),
         Column("extra_copies", "extra copies", "int"), Column("largest", kind="int"),
         Column("leak_groups", "leak groups", "int"), *leak_columns,
         Column("cross_class_groups", "cross-class groups", "int")],
        [{"view": ROWS[view], **{c: row[c] for c in ("groups", "images", "extra_copies", "largest", "leak_groups",
                                                     "cross_class_groups", *(c.key for c in leak_columns))}}
         for view, row in results["counts"].items()],
        notes=("Identical: the same decoded pixels. " + (
            f"Near: pHash at most {results['config']['hash_distance']} bits apart and thumbnail cosine at least "
            f"{results['config']['min_cosine']:g}, pixels not identical." if results["near_searched"] else
            f"Near: not searched, the images ({' x '.join(map(str, results['image_size']))} px) are smaller than "
            f"the {duplicates.THUMB_SIDE} x {duplicates.THUMB_SIDE} thumbnails the near test compares.")
            + " A group is a set of images joined by such pairs (identical sets inside a near group count in both "
            "rows). Images: in the groups; extra copies: what keeping one image per group would drop; leak groups: "
            "groups in two splits or more."))
    listing = Table("Groups, leaks and cross-class first", [
        Column("group", kind="int"), Column("kind"), Column("size", kind="int"), Column("splits"),
        Column("classes"), Column("leak"), Column("cross_class", "cross-class"),
        Column("distance", "max distance", "int"), Column("cosine", "min cosine", "number", digits=3),
        Column("members", "members (path, or index split class)")],
        [_group_row(group) for group in groups])
    has_paths = any("path" in m for g in groups for m in g["members"])
    members = Table("Images in duplicate groups", [
        Column("group", kind="int"), Column("kind"), Column("index", kind="int"),
        *([Column("path")] if has_paths else []), Column("split"),
        Column("class"), Column("identical_to", "identical to index", "int"), Column("leak"),
        Column("cross_class", "cross-class")],
        [{"group": g["group"], "kind": g["kind"], **{k: m.get(k) for k in ("index", "path", "split", "class",
                                                                            "identical_to") if k in m},
          "leak": " ".join(g["leak"]), "cross_class": "yes" if g["cross_class"] else ""}
         for g in groups for m in g["members"]])
    return summary, listing, members


def _group_row(group: dict) -> dict:
    pairs = group["pairs"]
    shown = [m["path"] if "path" in m else f"{m['index']} {m['split']} {m['class'] or '?'}"
             for m in group["members"][:LISTED_MEMBERS]]
    more = len(group["members"]) - LISTED_MEMBERS
    return {"group": group["group"], "kind": group["kind"], "size": group["size"], "splits": ", ".join(group["splits"]),
            "classes": ", ".join(group["classes"]), "leak": " ".join(group["leak"]),
            "cross_class": "yes" if group["cross_class"] else "",
            "distance": max((p["distance"] for p in pairs), default=None),
            "cosine": min((p["cosine"] for p in pairs), default=None),
            "members": "; ".join(shown) + (f"; and {more} more" if more > 0 else "")}


def _splits_text(splits: dict) -> str:
    return ", ".join(f"{name} {count}" for name, count in splits.items() if count)


def _write_sheet(path: Path, dataset: data.Dataset, groups: list[dict], sheet_groups: int) -> None:
    """duplicates.png: the first `sheet_groups` groups, each on a run of up to SHOWN_MEMBERS cells,
    packed into rows of SHEET_COLUMNS with a blank cell between two groups, each image captioned
    with its split and class, the group's number before its first."""
    shown = groups[:sheet_groups]
    if not shown:
        path.unlink(missing_ok=True)  # an earlier run's sheet would not be of these groups
        return
    blank = np.full(dataset.images.shape[1:], 255, dtype=np.uint8)
    images, captions, used = [], [], 0
    for group in shown:
        members = group["members"][:SHOWN_MEMBERS]
        if used and used + 1 + len(members) > SHEET_COLUMNS:  # the rest of the row stays blank
            images += [blank] * (SHEET_COLUMNS - used)
            captions += [""] * (SHEET_COLUMNS - used)
            used = 0
        elif used:
            images.append(blank)
            captions.append("")
            used += 1
        for place, member in enumerate(members):
            images.append(dataset.images[member["index"]].numpy())
            text = f"{member['split']} {member['class'] or '?'}"
            captions.append(f"{group['group']}: {text}" if place == 0 else text)
        used += len(members)
    contact_sheet(np.stack(images), captions, path, SHEET_COLUMNS)
