"""Label cleaning on CIFAR-10 with injected noise: are the flags the corrupted labels, and does
training without them come close to training on the true labels?

Runs `winnow clean` (the same code as the command) on the CIFAR-10 zip in ../shared/data with
the cpu preset: 20 % symmetric noise (noise seed 0), 4 folds, confident learning, --remove
auto, 3 seeds. Then copies its results, with the machine and the issue's targets (precision
and recall of the flags >= 0.85; cleaned within 1.5 points of true labels), to
benchmarks/results/clean-cifar10-<device>.json. The run folder (default runs/bench-clean)
keeps every finished fold and training: stopped and started again, it resumes.

    python benchmarks/clean_cifar.py                          # the issue's benchmark
    python benchmarks/clean_cifar.py --seeds 1 --cv-epochs 3  # one seed, shorter fold models
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _record import write_result  # noqa: E402

from winnow.experiments.clean import clean_run, results_markdown  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "cifar10-jpeg.zip"
TARGETS = {"precision": 0.85, "recall": 0.85, "cleaned_within_true_points": 1.5}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=str(DEFAULT_DATA), help="the CIFAR-10 image-folder zip")
    parser.add_argument("--method", default="confident_learning",
                        choices=("confident_learning", "self_confidence", "low_max_prob"))
    parser.add_argument("--noise", type=float, default=0.2, help="share of training labels corrupted (default 0.2)")
    parser.add_argument("--noise-kind", default="symmetric", choices=("symmetric", "asymmetric"))
    parser.add_argument("--folds", type=int, default=4)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--remove", default="auto", help="auto or a count")
    parser.add_argument("--preset", default="cpu")
    parser.add_argument("--epochs", type=float, help="epochs of the retrained models (default: the preset's)")
    parser.add_argument("--cv-epochs", type=float, help="epochs of the fold models (default: as --epochs)")
    parser.add_argument("--out", default=str(ROOT / "runs" / "bench-clean"))
    args = parser.parse_args(argv)

    if not Path(args.data).exists():
        print(f"benchmark data {args.data} does not exist", file=sys.stderr)
        return 2
    remove = args.remove if args.remove == "auto" else int(args.remove)
    results = clean_run(
        f"folder:{args.data}", args.out, method=args.method, folds=args.folds, seeds=list(range(args.seeds)),
        inject_noise=args.noise, noise_kind=args.noise_kind, noise_seed=0, remove=remove, preset=args.preset,
        recipe_overrides={} if args.epochs is None else {"epochs": args.epochs},
        cv_overrides={} if args.cv_epochs is None else {"epochs": args.cv_epochs},
        on_cell=lambda cell: print(f"seed {cell['seed']} {cell['cell']} {cell.get('fold', '')}: "
                                   + (f"{cell['flagged']} flagged" if cell["cell"] == "flags" else
                                      f"{cell['train_seconds']:.0f} s"), flush=True))
    print(results_markdown(results))
    flags, rows = results["flags"], {row["labels"]: row for row in results["rows"]}
    gap = rows["true"]["test_accuracy"]["mean"] - rows["cleaned"]["test_accuracy"]["mean"]
    met = {"precision": flags["precision"]["mean"] >= TARGETS["precision"],
           "recall": flags["recall"]["mean"] >= TARGETS["recall"],
           "cleaned_within_true_points": 100 * gap <= TARGETS["cleaned_within_true_points"]}
    path = write_result("clean-cifar10", {
        "arguments": vars(args),
        "targets": TARGETS,
        "met": met,
        "true_minus_cleaned_points": 100 * gap,
        "results": {"config": results["config"], "rows": results["rows"], "flags": flags,
                    "cv_train_seconds": results["cv_train_seconds"]},
        "cells": results["cells"],
    })
    print(f"targets met: {met}; written {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
