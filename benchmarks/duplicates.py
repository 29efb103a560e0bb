"""Duplicates and leaks in 15-Scene and CIFAR-10: what `winnow clean --duplicates` finds, and how long it takes.

For each dataset: `duplicates_run` (the function the command calls) into a run folder (default
runs/duplicates-bench/<name>), then the parts timed on their own (pixel digests, perceptual
hashes and thumbnails, the hash search, the cosines) and the counts under a few other
thresholds (the same images, `find_duplicates` again). Writes
benchmarks/results/duplicates-<device>.json.

    python benchmarks/duplicates.py                  # scene15 (at 256 px) and cifar10
    python benchmarks/duplicates.py --only cifar10
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _record import write_result  # noqa: E402

from winnow import data, duplicates  # noqa: E402
from winnow.experiments.duplicates import duplicates_run  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"
DATASETS = {  # name -> (spec, data options)
    "scene15": (f"folder:{SHARED / 'scene15.zip'}", {"image_size": 256}),
    "cifar10": (f"folder:{SHARED / 'cifar10-jpeg.zip'}", {}),
}
SWEEP = [(6, 0.90), (10, 0.85), (10, 0.90), (10, 0.95), (16, 0.90)]  # (hash distance, min cosine)


def timed(function, *args, **kwargs):
    started = time.perf_counter()
    value = function(*args, **kwargs)
    return value, time.perf_counter() - started


def parts(images) -> dict:
    """The search's parts timed on their own, and how many hash candidates the cosine kept."""
    content, digest_seconds = timed(duplicates.pixel_contents, images)
    first = np.unique(content, return_index=True)[1]
    (hashes, thumbnails), hash_seconds = timed(duplicates.perceptual_hashes, images[first])
    (pairs, _), search_seconds = timed(duplicates.hamming_pairs, hashes, duplicates.HASH_DISTANCE)
    cosines, cosine_seconds = timed(duplicates.pair_cosines, thumbnails, pairs)
    return {"digest_seconds": digest_seconds, "hash_seconds": hash_seconds, "pair_search_seconds": search_seconds,
            "cosine_seconds": cosine_seconds, "distinct_contents": len(first), "hash_candidates": len(pairs),
            "near_pairs": int((cosines >= duplicates.MIN_COSINE).sum())}


def sweep(dataset: data.Dataset) -> list[dict]:
    split_of = duplicates.split_names(dataset.splits, len(dataset))
    labels = dataset.labels.numpy()
    rows = []
    for hash_distance, min_cosine in SWEEP:
        found, seconds = timed(duplicates.find_duplicates, dataset.images, hash_distance=hash_distance,
                               min_cosine=min_cosine)
        groups = found.groups()
        rows.append({"hash_distance": hash_distance, "min_cosine": min_cosine, "groups": len(groups),
                     "near_groups": sum(found.is_near(g) for g in groups), "images": int(sum(map(len, groups))),
                     **duplicates.leaks(groups, split_of),
                     "cross_class_groups": sum(duplicates.is_cross_class(g, labels) for g in groups),
                     "seconds": seconds})
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", action="append", choices=list(DATASETS), help="run only these (repeatable)")
    parser.add_argument("--out", default=str(ROOT / "runs" / "duplicates-bench"), help="parent of the run folders")
    parser.add_argument("--no-sweep", action="store_true", help="skip the other thresholds")
    args = parser.parse_args(argv)

    results = {}
    for name in args.only or DATASETS:
        spec, options = DATASETS[name]
        dataset, load_seconds = timed(data.load, spec, **options)
        started = time.perf_counter()
        run = duplicates_run(spec, Path(args.out) / name, data_options=options, force=True)  # loads it again
        wall = time.perf_counter() - started
        record = results[name] = {
            "data": spec, "data_options": options, "images": len(dataset), "image_shape": list(dataset.images.shape[1:]),
            "load_seconds": load_seconds, "search_seconds": run["search_seconds"], "run_wall_seconds": wall,
            "counts": run["counts"], "parts": parts(dataset.images),
            "sweep": [] if args.no_sweep else sweep(dataset)}
        every, near, identical = run["counts"]["all"], run["counts"]["near"], run["counts"]["identical"]
        print(f"{name}: {len(dataset)} images, {identical['groups']} identical sets ({identical['images']} images), "
              f"{near['groups']} near groups ({near['images']} images), {every['test_in_train']} test images with a "
              f"copy in train, {every['cross_class_groups']} cross-class groups; search {run['search_seconds']:.1f} s "
              f"(digests {record['parts']['digest_seconds']:.1f} s, hashes {record['parts']['hash_seconds']:.1f} s, "
              f"pair search {record['parts']['pair_search_seconds']:.1f} s), run {wall:.1f} s, loading "
              f"{load_seconds:.1f} s", flush=True)
        for row in record["sweep"]:
            print(f"  hash <= {row['hash_distance']:2d}, cosine >= {row['min_cosine']:.2f}: {row['groups']} groups "
                  f"({row['near_groups']} near, {row['images']} images), {row['test_in_train']} test in train, "
                  f"{row['cross_class_groups']} cross-class, {row['seconds']:.1f} s", flush=True)
    path = write_result("duplicates", {"hash_distance": duplicates.HASH_DISTANCE, "min_cosine": duplicates.MIN_COSINE,
                                       "results": results})
    print(f"results in {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
