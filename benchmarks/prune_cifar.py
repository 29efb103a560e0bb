"""Data pruning on CIFAR-10: which half of the training set to keep, against random and full data.

Runs `winnow prune` (the same code as the command) on the CIFAR-10 zip in ../shared/data with
the cpu preset, then copies its results, with the machine, to
benchmarks/results/prune-cifar10-<device>.json. The run folder (default runs/bench-prune) keeps
every finished cell: stopped and started again, it resumes; given more seeds or strategies, it
adds their cells.

    python benchmarks/prune_cifar.py                                   # 0.5, 3 seeds, same steps
    python benchmarks/prune_cifar.py --strategies random,el2n --seeds 1
    python benchmarks/prune_cifar.py --train-size 5000 --fractions 0.3,0.5 \
        --strategies random,self_confidence,ccs --out runs/bench-prune-scarce   # scarce data
    python benchmarks/prune_cifar.py ... --options '{"self_confidence": {"keep": "hard"}}'

--train-size N makes a stratified N of the training split (seed 0) the whole training set (the
test split stays all 10 000), for the scarce regime of issue 16; --distill kd trains every
subset again with its seed's full-data proxy as teacher (issue 14).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _data import missing, stratified_subset  # noqa: E402
from _record import write_result  # noqa: E402

from winnow import data  # noqa: E402
from winnow.experiments.prune import prune_run  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "cifar10-jpeg.zip"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=str(DEFAULT_DATA), help="the CIFAR-10 image-folder zip")
    parser.add_argument("--fractions", default="0.5")
    parser.add_argument("--strategies", default="random,self_confidence,forgetting")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--preset", default="cpu")
    parser.add_argument("--same-epochs", action="store_true",
                        help="train subsets for the preset's epochs, not epochs / fraction (same steps as full)")
    parser.add_argument("--train-size", type=int, help="a stratified subset of this size as the training set")
    parser.add_argument("--options", type=json.loads, default=None, help="strategy options as JSON, per strategy")
    parser.add_argument("--class-balanced", action="store_true", help="keep equal numbers per class")
    parser.add_argument("--distill", default=None, help="a loss spec, e.g. kd: subsets also trained with a teacher")
    parser.add_argument("--out", default=str(ROOT / "runs" / "bench-prune"))
    parser.add_argument("--backend", default="local", help="local, or ray: cells in parallel, --cpus-per-cell each")
    parser.add_argument("--cpus-per-cell", type=float, default=None)
    args = parser.parse_args(argv)

    if missing(args.data):
        return 2
    source = f"folder:{args.data}"
    if args.train_size:
        source = stratified_subset(data.load(source), args.train_size)
    results = prune_run(source, args.out, options=args.options, distill=args.distill,
                        class_balanced=args.class_balanced,
                        fractions=[float(f) for f in args.fractions.split(",")],
                        strategies=args.strategies.split(","), seeds=list(range(args.seeds)), preset=args.preset,
                        scale_epochs=not args.same_epochs, backend=args.backend, cpus_per_cell=args.cpus_per_cell,
                        on_cell=lambda cell: print(f"seed {cell['seed']} {cell['strategy']} {cell['fraction']:g}: "
                                                   f"{100 * cell['test_accuracy']:.2f} % in "
                                                   f"{cell['train_seconds']:.0f} s", flush=True))
    print((Path(args.out) / "results.md").read_text())
    named = args.options or args.distill or args.class_balanced  # a variant of the default grid: a file by its folder
    name = "prune-cifar10" + (f"-{args.train_size}" if args.train_size else "") + (f"-{Path(args.out).name}"
                                                                                  if named else "")
    path = write_result(name, {
        "arguments": vars(args),
        "results": {"config": results["config"], "rows": results["rows"]},
        "cells": results["cells"],
    })
    print(f"written {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
