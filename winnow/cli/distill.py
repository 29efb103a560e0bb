"""`winnow distill`: a student trained alone and taught by a teacher, over seeds."""

from __future__ import annotations

from . import command, print_results
from .options import (SettingParts, add_backend_options, add_data_options, add_run_options, add_weights_options,
                      backend_options, data_options, name_list, ran_on, recipe_overrides, seed_list)

SETTINGS = SettingParts(example="--set epochs=20 --set teacher.epochs=60")
TEACHER_PREFIX = "teacher."


def add_arguments(parser) -> None:
    from ..distill import LOSSES
    from ..models import list_models
    from ..train import PRESETS

    add_data_options(parser)
    group = parser.add_argument_group("teacher and student")
    group.add_argument("--teacher", required=True, metavar="RUN_DIR|MODEL[:PRESET]",
                       help="a `winnow train` run folder (its model.pt), or a model trained here once with the "
                            "preset named (default: the student's) and --set teacher.KEY=VALUE on top")
    group.add_argument("--teacher-seed", type=int, default=0, metavar="S",
                       help="the seed of the teacher's one training (default 0)")
    group.add_argument("--student", required=True, metavar="NAME", help=f"architecture: {', '.join(list_models())}")
    group.add_argument("--teacher-modalities", type=name_list, metavar="NAME,NAME",
                       help="data with several modalities: the teacher's inputs, e.g. rgb,depth,ir (default: all; a "
                            "teacher run folder: those of its run)")
    group.add_argument("--student-modalities", type=name_list, metavar="NAME,NAME",
                       help="data with several modalities: the student's inputs, e.g. rgb (default: all); the "
                            "teacher reads its own of the same augmented batch (cross-modal distillation)")
    group.add_argument("--preset", default="auto", choices=("auto", *PRESETS),
                       help="the student's recipe; auto = small for images under 16 px, gpu on CUDA, else cpu")
    add_weights_options(group)  # the student's
    group.add_argument("--epochs", type=float, metavar="N", help="the student's epochs (default: the preset's)")
    group.add_argument("--device", metavar="DEV", help="auto (default), cpu, cuda, cuda:N or mps")
    group.add_argument("--set", dest="settings", action="append", default=[], metavar="KEY=VALUE",
                       help="a recipe override (repeatable): KEY for the student, "
                            "teacher.KEY for a teacher trained here; not seed. e.g. " + SETTINGS.example)
    losses = parser.add_argument_group("distillation")
    losses.add_argument("--loss", dest="losses", action="append", metavar="SPEC",
                        help=f"a loss spec, repeatable (one distilled student per spec and seed; default kd): "
                             f"NAME[:WEIGHT][@STUDENT_LAYER[=TEACHER_LAYER][+...]] joined by commas, e.g. "
                             f"kd:1.0,at:0.5@groups.1; losses: {', '.join(LOSSES)}")
    losses.add_argument("--temperature", type=float, default=4.0, metavar="T",
                        help="softening temperature of kd, dkd and patch (default 4)")
    losses.add_argument("--alpha", type=float, default=0.5, metavar="A",
                        help="loss = (1 - A) x label loss + A x the weighted terms (default 0.5)")
    losses.add_argument("--dkd-beta", type=float, default=8.0, metavar="B",
                        help="dkd: weight of the non-target part (default 8; the target part has 1)")
    losses.add_argument("--warmup", type=float, default=0.0, metavar="F",
                        help="raise the distillation terms' weight linearly from 0 over this share of the "
                             "training steps (default 0: off; DKD's paper: about 0.08)")
    losses.add_argument("--mmd-kernel", choices=("rbf", "poly"), default="rbf", help="mmd's kernel (default rbf)")
    losses.add_argument("--patch-mode", choices=("kd", "bce"), default="kd", help="patch's per-patch loss")
    losses.add_argument("--seeds", default=[0, 1, 2], type=seed_list, metavar="N|S,S",
                        help="a count N (seeds 0..N-1) or a list of seeds, e.g. 0,1,2 (default 3)")
    add_run_options(parser, resumable=True)
    add_backend_options(parser)


def split_settings(texts: list[str]):
    """(student Settings, teacher recipe overrides) of --set; teacher.KEY errors name the prefix."""
    teacher_texts = [t[len(TEACHER_PREFIX):] for t in texts if t.startswith(TEACHER_PREFIX)]
    settings = SETTINGS.parse([t for t in texts if not t.startswith(TEACHER_PREFIX)])
    try:
        teacher = SettingParts().parse(teacher_texts).recipe
    except ValueError as error:
        raise ValueError(str(error).replace("--set ", f"--set {TEACHER_PREFIX}", 1)) from None
    return settings, teacher


@command("distill", add_arguments, report_kind="distill",
         help="a student trained alone and taught by a teacher (logit, feature, MMD, attention losses)",
         description="Train the teacher once (or load it from a `winnow train` run folder), then for every seed the "
                     "student alone and the student with each --loss, with the same recipe and seed, and test them. "
                     "Prints and writes results.md, results.csv and results.json: teacher, student and student + "
                     "teacher accuracy (mean ± std), the paired difference to the student alone with a 95 % "
                     "confidence interval, and the cost. Finished trainings are kept in RUN_DIR/cells: run the same "
                     "command again to resume.",
         epilog="example: winnow distill --data digits --teacher mlp --set teacher.epochs=60 --student lenet5 "
                "--loss kd --loss dkd --seeds 3 --out runs/distill")
def distill(args) -> int:
    from ..distill import DistillOptions
    from ..experiments.distill import distill_run

    settings, teacher_overrides = split_settings(args.settings)
    options = DistillOptions(temperature=args.temperature, alpha=args.alpha, dkd_beta=args.dkd_beta,
                             mmd_kernel=args.mmd_kernel, patch_mode=args.patch_mode, warmup_fraction=args.warmup)
    overrides = recipe_overrides(args, settings)
    if "device" in overrides:
        teacher_overrides.setdefault("device", overrides["device"])
    results = distill_run(args.data, args.out, teacher=args.teacher, student=args.student, seeds=args.seeds,
                          losses=args.losses or ["kd"], options=options, preset=args.preset,
                          recipe_overrides=overrides, weights=args.weights, teacher_overrides=teacher_overrides,
                          teacher_seed=args.teacher_seed, teacher_modalities=args.teacher_modalities,
                          student_modalities=args.student_modalities, data_options=data_options(args), force=args.force,
                          on_progress=args.on_progress, on_cell=print_cell, **backend_options(args))
    print_results(results, args.out)
    return 0


def print_cell(cell: dict) -> None:
    who = "teacher" if cell.get("role") == "teacher" else (
        "student alone" if cell["loss"] is None else f"student + {cell['loss']}")
    seed = "" if cell.get("seed") is None else f"seed {cell['seed']} || "
    print(f"{seed}{who} ({cell['model']}) || test acc {100 * cell['test_accuracy']:.2f} % "
          f"|| training {cell['train_seconds']:.1f} s{ran_on(cell)}", flush=True)
