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
import json
import platform
import sys
from datetime import datetime, timezone
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from winnow import __version__  # noqa: E402
from winnow.experiments.prune import prune_run, results_markdown  # noqa: E402
from winnow.train import resolve_device  # noqa: E402

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
    print(results_markdown(results))
    device = resolve_device("auto")
    record = {
        "benchmark": "prune_cifar",
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "processor": platform.processor(),
                    "torch": torch.__version__, "threads": torch.get_num_threads(), "device": str(device),
                    "winnow": __version__},
        "arguments": vars(args),
        "results": {"config": results["config"], "rows": results["rows"]},
        "cells": results["cells"],
    }
    path = ROOT / "benchmarks" / "results" / f"prune-cifar10-{device.type}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=2) + "\n")
    print(f"written {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
