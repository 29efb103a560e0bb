"""Knowledge distillation on CIFAR-10: a wide teacher into `fastnet_xs`, and an ensemble of three runs.

Part 1 runs `winnow distill` (the same code as the command) on the CIFAR-10 zip in ../shared/data:
the teacher is the full-width `fastnet` trained once with the cpu preset and a longer recipe
(--teacher-epochs, its cost reported), the student `fastnet_xs` with the cpu preset, trained
alone and with each --loss (default: KD, DKD and attention transfer on the last conv group),
3 seeds, paired. Goal of issue 14: student + KD >= student alone + 1.0 point.

Part 2 (--ensemble) trains three `cpu` runs of seeds 0-2 with `winnow train` and runs
`winnow ensemble` on them: the ensemble against the mean member.

Results, with the machine, go to benchmarks/results/distill-cifar10-<device>.json. The run
folders (default runs/bench-distill, runs/bench-ensemble) keep every finished cell: stopped and
started again, the script resumes. About 14 CPU trainings of 5-6 minutes (2 cores) for part 1.

    python benchmarks/distill_cifar.py                      # kd, dkd, at; 3 seeds
    python benchmarks/distill_cifar.py --losses kd --seeds 1
    python benchmarks/distill_cifar.py --ensemble
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _data import missing  # noqa: E402
from _record import write_result  # noqa: E402

from winnow.distill import DistillOptions  # noqa: E402
from winnow.experiments.distill import distill_run  # noqa: E402
from winnow.experiments.ensemble import ensemble_run  # noqa: E402
from winnow.experiments.train import train_run  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "cifar10-jpeg.zip"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=str(DEFAULT_DATA), help="the CIFAR-10 image-folder zip")
    parser.add_argument("--teacher", default="fastnet:cpu", help="MODEL:PRESET of the teacher")
    parser.add_argument("--teacher-epochs", type=float, default=12.0, help="the teacher's longer recipe")
    parser.add_argument("--student", default="fastnet_xs")
    parser.add_argument("--preset", default="cpu", help="the student's preset")
    parser.add_argument("--losses", default="kd;dkd;at:1@groups.2=groups.2", help="loss specs separated by ;")
    parser.add_argument("--temperature", type=float, default=4.0)
    parser.add_argument("--alpha", type=float, default=0.5)
    parser.add_argument("--warmup", type=float, default=0.0, help="share of the steps the terms warm up over")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--ensemble", action="store_true", help="part 2 only: three cpu runs and their ensemble")
    parser.add_argument("--out", default=str(ROOT / "runs" / "bench-distill"))
    parser.add_argument("--ensemble-out", default=str(ROOT / "runs" / "bench-ensemble"))
    args = parser.parse_args(argv)

    if missing(args.data):
        return 2
    source = f"folder:{args.data}"
    if args.ensemble:
        return _ensemble(args, source)
    results = distill_run(source, args.out, teacher=args.teacher, student=args.student, preset=args.preset,
                          seeds=list(range(args.seeds)), losses=args.losses.split(";"),
                          options=DistillOptions(temperature=args.temperature, alpha=args.alpha,
                                                 warmup_fraction=args.warmup),
                          teacher_overrides={"epochs": args.teacher_epochs},
                          on_cell=lambda cell: print(f"seed {cell['seed']} {cell.get('role')} {cell['loss'] or ''}: "
                                                     f"{100 * cell['test_accuracy']:.2f} % in "
                                                     f"{cell['train_seconds']:.0f} s", flush=True))
    print((Path(args.out) / "results.md").read_text())
    path = write_result("distill-cifar10", {
        "arguments": vars(args),
        "results": {"config": results["config"], "rows": results["rows"]},
        "cells": [{k: v for k, v in cell.items() if k != "epochs"} for cell in results["cells"]],
        "teacher": {k: v for k, v in results["teacher"].items() if k != "epochs"},
    })
    print(f"written {path}")
    return 0


def _ensemble(args, source: str) -> int:
    members = []
    for seed in range(args.seeds):
        folder = Path(args.ensemble_out) / f"member-s{seed}"
        if not (folder / "final.json").is_file():
            train_run(source, folder, seed=seed, preset=args.preset, force=folder.exists())
        members.append(folder)
    results = ensemble_run(members, Path(args.ensemble_out) / "ensemble")
    print((Path(args.ensemble_out) / "ensemble" / "results.md").read_text())
    path = write_result("ensemble-cifar10", {"arguments": vars(args), "results": {
        k: results[k] for k in ("config", "members", "mean_member", "ensemble", "gain", "best_member")}})
    print(f"written {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
