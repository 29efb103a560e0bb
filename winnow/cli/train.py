"""`winnow train`: train one model, test it and write a run folder."""

from __future__ import annotations

from . import command, console
from .calibrate import print_calibration
from .evaluate import add_pad_options, print_pad
from .options import (SettingParts, add_data_options, add_model_options, add_run_options, data_options,
                      recipe_overrides, seed_value)

SETTINGS = SettingParts()


def add_arguments(parser) -> None:
    add_data_options(parser)
    group = add_model_options(parser.add_argument_group("model and recipe"), SETTINGS)
    group.add_argument("--seed", type=seed_value, metavar="S", help="random seed (default 0)")
    group.add_argument("--calibrate", action="store_true",
                       help="fit a temperature on a hold-out after training (val_fraction 0.1 unless the recipe "
                            "has one) and write calibration.json and reliability.png")
    group.add_argument("--tensorboard", action="store_true",
                       help="also write the per-epoch scalars as TensorBoard events to RUN_DIR/tensorboard "
                            "(needs: pip install tensorboard)")
    add_pad_options(parser.add_argument_group("presentation-attack detection"))
    add_run_options(parser)


@command("train", add_arguments, report_kind="train",
         help="train one model, test it and write a run folder",
         description="Train a model on the train split of SPEC, test it on the test split, and write "
                     "config.json, metrics.jsonl, final.json and model.pt to the run folder.",
         epilog="example: winnow train --data cifar10:~/data --model fastnet_s --epochs 10 --out runs/c10")
def train(args) -> int:
    from ..experiments.train import train_run

    settings = SETTINGS.parse(args.settings)
    final = train_run(args.data, args.out, seed=0 if args.seed is None else args.seed, model=args.model,
                      preset=args.preset, recipe_overrides=recipe_overrides(args, settings), weights=args.weights,
                      data_options=data_options(args), force=args.force, calibrate=args.calibrate,
                      tensorboard=args.tensorboard, on_progress=args.on_progress,
                      pad_bona_fide=args.pad_bona_fide, pad_threshold=args.pad_threshold)
    print_final(final, args.out)
    if args.calibrate:
        after = final["calibration"]
        print_calibration(after["temperature"], after["hold_out_count"], (final["test_ece"], after["test_ece"]),
                          (final["test_nll"], after["test_nll"]), args.out)
    if final.get("pad"):
        print_pad(final["pad"], args.out)
    if final.get("missing_modalities"):
        print_missing_modalities(final["missing_modalities"])
    return 0


def print_missing_modalities(evaluation: dict) -> None:
    """The missing-modality table of a run whose model sees several modalities."""
    from ..experiments.modalities import missing_modality_table

    output = console()
    output.print(missing_modality_table(evaluation).to_rich())
    if evaluation.get("note"):
        output.print(evaluation["note"])


def print_final(final: dict, out) -> None:
    from rich.table import Table

    output = console()
    names = list(final["per_class_accuracy"])
    per_class = Table(title="Per-class test accuracy")
    per_class.add_column("class")
    per_class.add_column("accuracy", justify="right")
    for name, value in final["per_class_accuracy"].items():
        per_class.add_row(name, "-" if value is None else f"{100 * value:.1f} %")
    output.print(per_class)
    confusion = Table(title="Confusion matrix (rows: true class, columns: predicted)")
    confusion.add_column("")
    for name in names:
        confusion.add_column(name[:8], justify="right")
    for name, row in zip(names, final["confusion_matrix"]):
        confusion.add_row(name, *[str(v) for v in row])
    output.print(confusion)
    steps = f" ({final['steps']} steps)" if final.get("steps") else ""
    output.print(f"test accuracy {100 * final['test_accuracy']:.2f} % on {final['test_count']} images; "
                 f"training {final['train_seconds']:.1f} s{steps} on {final['device']}; run folder {out}")
