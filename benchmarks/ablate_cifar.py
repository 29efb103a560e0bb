"""Augmentations on CIFAR-10: each alone and the best combinations against none (`winnow ablate`).

Runs `winnow ablate` (the same code as the command) on the CIFAR-10 zip in ../shared/data: the
`cpu` preset with its flip and translate turned off is the base; each augmentation is one
setting on top of it, and the combinations that won on 15-Scene are settings too; 3 seeds, each
setting paired with the base of the same seed. Issue 17's benchmark, at the scale two cores
allow: a stratified --train-size of the 50 000 training images (default 10 000) is the whole
training set, the test split is all 10 000, and the preset's 400-step minimum is the schedule
(about 10 epochs of 10 000 images).

Results, with the machine, go to benchmarks/results/ablate-cifar10-<device>.json; the run
folder (default runs/bench-ablate-cifar) keeps every finished cell, so the script resumes.

    python benchmarks/ablate_cifar.py                       # fastnet_xs, 10 000 images, 3 seeds
    python benchmarks/ablate_cifar.py --model fastnet_s --train-size 50000
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _data import missing, stratified_subset  # noqa: E402
from _record import write_result  # noqa: E402

from winnow import data  # noqa: E402
from winnow.experiments.ablate import ablate_run  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "cifar10-jpeg.zip"

# the scene15 ablation's settings (BENCHMARKS.md), so the two tables read side by side
VARY = {"flip": [True], "translate": [2], "crop_scale": [0.35], "affine_degrees": [15], "brightness": [0.3],
        "cutout": [8], "mixup": [0.2], "cutmix": [1.0]}
# the scene15 ablation's combinations, then flip with mixup (the two that helped alone on CIFAR-10)
COMBINE = [{"flip": True, "translate": 2}, {"flip": True, "translate": 2, "cutmix": 1.0},
           {"flip": True, "translate": 2, "cutout": 8}, {"flip": True, "mixup": 0.2}]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=str(DEFAULT_DATA), help="the CIFAR-10 image-folder zip")
    parser.add_argument("--train-size", type=int, default=10_000, help="a stratified subset as the training set")
    parser.add_argument("--model", default="fastnet_xs")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--out", default=str(ROOT / "runs" / "bench-ablate-cifar"))
    args = parser.parse_args(argv)

    if missing(args.data):
        return 2
    dataset = stratified_subset(data.load(f"folder:{args.data}"), args.train_size)
    results = ablate_run(dataset, args.out, vary=VARY, combine=COMBINE, seeds=list(range(args.seeds)), base="cpu",
                         model=args.model, recipe_overrides={"flip": False, "translate": 0},
                         on_cell=lambda cell: print(f"seed {cell['seed']} {cell['setting']}: "
                                                    f"{100 * cell['test_accuracy']:.2f} % in "
                                                    f"{cell['train_seconds']:.0f} s", flush=True))
    print((Path(args.out) / "results.md").read_text())
    path = write_result("ablate-cifar10", {
        "arguments": vars(args),
        "results": {"config": results["config"], "rows": results["rows"]},
        "cells": [{k: v for k, v in cell.items() if k != "epochs"} for cell in results["cells"]],
    })
    print(f"written {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
