"""Presentation-attack detection on synthetic data (issue 15): a teacher that sees rgb, depth and
infrared, an rgb student alone and with cross-modal distillation, and the missing-modality table.

The data is `synthetic-pad:0` built from CIFAR-10 scenes (the zip in ../shared/data; --samples of
them, 32 px; `winnow.data.synthetic_pad`): simulated physics, not faces. Every model is tested on
the test split at the threshold fixed on the val split (the EER point there), never tuned on test.

1. The teachers: `fusion_xs` on rgb+depth+ir with the cpu preset, trained once without and once
   with --modality-dropout (`winnow train`, the same code as the command): their ACER and their
   missing-modality tables (every non-empty subset of the three inputs, the others zeroed).
2. `winnow distill` (the same code as the command) from the teacher run named by
   --distill-teacher: the rgb student `fastnet_xs` alone and with each --loss, --seeds seeds,
   paired differences of ACER (and accuracy) with 95 % t intervals. Goal of issue 15: the
   distilled rgb student's ACER below the plain rgb student's, the paired 95 % CI excluding 0.

Results, with the machine and each training's time, go to
benchmarks/results/pad-synthetic-<device>.json. The run folders (default runs/bench-pad) keep
every finished training: stopped and started again, the script resumes. About 11 trainings of
1.5-3 minutes on one CPU thread at the default 4 000 samples.

    OMP_NUM_THREADS=1 python benchmarks/pad_synthetic.py
    python benchmarks/pad_synthetic.py --seeds 1 --losses kd
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

from winnow import runs  # noqa: E402
from winnow.distill import DistillOptions  # noqa: E402
from winnow.experiments.distill import distill_run  # noqa: E402
from winnow.experiments.modalities import missing_modality_table  # noqa: E402
from winnow.experiments.train import train_run  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "cifar10-jpeg.zip"
TEACHER_MODALITIES = ["rgb", "depth", "ir"]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=str(DEFAULT_DATA), help="the CIFAR-10 image-folder zip (the scenes)")
    parser.add_argument("--pad-seed", type=int, default=0, help="the seed of synthetic-pad:SEED")
    parser.add_argument("--samples", type=int, default=4000, help="synthetic-pad samples (60/20/20 %% splits)")
    parser.add_argument("--size", type=int, default=32, help="image side in pixels")
    parser.add_argument("--teacher", default="fusion_xs", help="the teacher's model (rgb+depth+ir)")
    parser.add_argument("--student", default="fastnet_xs", help="the rgb student's model")
    parser.add_argument("--preset", default="cpu")
    parser.add_argument("--modality-dropout", type=float, default=0.3, help="of the second teacher")
    parser.add_argument("--distill-teacher", choices=["plain", "dropout"], default="dropout",
                        help="which teacher run the students learn from")
    parser.add_argument("--losses", default="kd;kd:1,at:1@groups.1=groups.0",
                        help="loss specs separated by ; (at: the 8 x 8 maps of student and teacher)")
    parser.add_argument("--temperature", type=float, default=4.0)
    parser.add_argument("--alpha", type=float, default=0.5)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--out", default=str(ROOT / "runs" / "bench-pad"))
    args = parser.parse_args(argv)

    if missing(args.data):
        return 2
    source = f"synthetic-pad:{args.pad_seed}"
    data_options = {"pad_images": f"folder:{args.data}", "samples": args.samples, "image_size": args.size}
    out = Path(args.out)
    teachers = {}
    for name, dropout in (("plain", 0.0), ("dropout", args.modality_dropout)):
        folder = out / f"teacher-{name}"
        if not (folder / runs.FINAL).is_file():
            train_run(source, folder, seed=0, model=args.teacher, preset=args.preset,
                      recipe_overrides={"modality_dropout": dropout} if dropout else None,
                      data_options={**data_options, "modalities": TEACHER_MODALITIES}, force=folder.exists())
        final = runs.read_json(folder / runs.FINAL)
        teachers[name] = {"run_dir": str(folder), "modality_dropout": dropout, "test_accuracy": final["test_accuracy"],
                          "train_seconds": final["train_seconds"], "missing_modalities": final["missing_modalities"]}
        acer = final["missing_modalities"]["rows"][0]["acer"]
        print(f"teacher {name} (modality dropout {dropout:g}): accuracy {100 * final['test_accuracy']:.2f} %, "
              f"ACER {100 * acer:.2f} %, trained in {final['train_seconds']:.0f} s", flush=True)
        print(missing_modality_table(final["missing_modalities"]).to_markdown(), flush=True)

    results = distill_run(source, out / "distill", teacher=str(out / f"teacher-{args.distill_teacher}"),
                          student=args.student, preset=args.preset, seeds=list(range(args.seeds)),
                          losses=args.losses.split(";"), student_modalities=["rgb"], data_options=data_options,
                          options=DistillOptions(temperature=args.temperature, alpha=args.alpha),
                          on_cell=lambda cell: print(
                              f"seed {cell['seed']} {cell.get('role')} {cell['loss'] or ''}: accuracy "
                              f"{100 * cell['test_accuracy']:.2f} %, ACER {100 * cell['pad']['acer']:.2f} % in "
                              f"{cell['train_seconds']:.0f} s", flush=True))
    print((out / "distill" / "results.md").read_text())
    path = write_result("pad-synthetic", {
        "arguments": vars(args),
        "data": {"spec": source, **data_options},
        "teachers": teachers,
        "results": {"config": results["config"], "rows": results["rows"]},
        "cells": [{k: v for k, v in cell.items() if k != "epochs"} for cell in results["cells"]],
        "distill_teacher": {k: v for k, v in results["teacher"].items() if k != "epochs"},
    })
    print(f"written {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
