"""Data pruning on CIFAR-10: which half of the training set to keep, against random and full data.

Runs `winnow prune` (the same code as the command) on the CIFAR-10 zip in ../shared/data with
the cpu preset, then copies its results, with the machine, to
benchmarks/results/prune-cifar10-<device>.json. The run folder (default runs/bench-prune) keeps
every finished cell: stopped and started again, it resumes; given more seeds or strategies, it
adds their cells.

    python benchmarks/prune_cifar.py                                   # 0.5, 3 seeds, same steps
    python benchmarks/prune_cifar.py --strategies random,el2n --seeds 1
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _record import write_result  # noqa: E402

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
    parser.add_argument("--out", default=str(ROOT / "runs" / "bench-prune"))
    args = parser.parse_args(argv)

    if not Path(args.data).exists():
        print(f"benchmark data {args.data} does not exist", file=sys.stderr)
        return 2
    results = prune_run(f"folder:{args.data}", args.out, fractions=[float(f) for f in args.fractions.split(",")],
                        strategies=args.strategies.split(","), seeds=list(range(args.seeds)), preset=args.preset,
                        scale_epochs=not args.same_epochs,
                        on_cell=lambda cell: print(f"seed {cell['seed']} {cell['strategy']} {cell['fraction']:g}: "
                                                   f"{100 * cell['test_accuracy']:.2f} % in "
                                                   f"{cell['train_seconds']:.0f} s", flush=True))
    print((Path(args.out) / "results.md").read_text())
    path = write_result("prune-cifar10", {
        "arguments": vars(args),
        "results": {"config": results["config"], "rows": results["rows"]},
        "cells": results["cells"],
    })
    print(f"written {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
