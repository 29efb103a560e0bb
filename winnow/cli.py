"""The `winnow` command line: argument parsing and printing only.

Every command is a Python function in `winnow.experiments`; this module turns arguments into a
call and the result into tables.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys

from . import __version__

DATA_HELP = "data spec: digits, cifar10:PATH, cifar100:PATH or folder:PATH (a directory or .zip)"


def _recipe_value(text: str) -> tuple[str, object]:
    """Parse KEY=VALUE for --set, typed by the Recipe field of that name."""
    from .train import Recipe

    key, sep, value = text.partition("=")
    fields = {f.name: f for f in dataclasses.fields(Recipe)}
    if not sep or key not in fields:
        raise argparse.ArgumentTypeError(
            f"--set expects KEY=VALUE with KEY one of: {', '.join(fields)} (got {text!r})")
    kind = type(getattr(Recipe(), key))
    try:
        if kind is bool:
            if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError
            return key, value.lower() in ("true", "1", "yes")
        return key, kind(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--set {key}: {value!r} is not a valid {kind.__name__}") from None


def _add_data_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("data")
    group.add_argument("--data", default="digits", metavar="SPEC", help=DATA_HELP + " (default: digits)")
    group.add_argument("--image-size", type=int, metavar="PX",
                       help="folder data: resize the short side to PX and centre-crop a square")
    group.add_argument("--test-fraction", type=float, default=0.2, metavar="F",
                       help="folder data without train/ and test/ sub-folders: stratified test share (default 0.2)")
    group.add_argument("--skip-bad-images", action="store_true",
                       help="folder data: skip unreadable images and report how many, instead of stopping")
    group.add_argument("--cifar100-labels", choices=("fine", "coarse"), default="fine",
                       help="cifar100 data: 100 fine or 20 coarse classes (default fine)")


def _data_options(args) -> dict:
    options = {}
    if args.image_size is not None:
        options["image_size"] = args.image_size
    if args.skip_bad_images:
        options["skip_bad_images"] = True
    if args.data.startswith("folder:"):
        options["test_fraction"] = args.test_fraction
    if args.cifar100_labels != "fine":
        options["cifar100_labels"] = args.cifar100_labels
    return options


def build_parser() -> argparse.ArgumentParser:
    from .models import list_models
    from .train import PRESETS

    parser = argparse.ArgumentParser(
        prog="winnow",
        description="Winnow chooses the data worth training on: one fast trainer for image "
                    "classification, and the experiments built on it.",
    )
    parser.add_argument("--version", action="version", version=f"winnow {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every epoch")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    train = commands.add_parser(
        "train", help="train one model, test it and write a run folder",
        description="Train a model on the train split of SPEC, test it on the test split, and write "
                    "config.json, metrics.jsonl, final.json and model.pt to the run folder.",
        epilog="example: winnow train --data cifar10:~/data --model fastnet_s --epochs 10 --out runs/c10",
    )
    _add_data_options(train)
    group = train.add_argument_group("model and recipe")
    group.add_argument("--model", metavar="NAME",
                       help=f"architecture: {', '.join(list_models())} (default: the preset's)")
    group.add_argument("--preset", default="auto", choices=("auto", *PRESETS),
                       help="training recipe; auto = small for images under 16 px, gpu on CUDA, else cpu")
    group.add_argument("--epochs", type=float, metavar="N", help="epochs (default: the preset's)")
    group.add_argument("--seed", type=int, metavar="S", help="random seed (default 0)")
    group.add_argument("--device", metavar="DEV", help="auto (default), cpu, cuda, cuda:N or mps")
    group.add_argument("--set", dest="recipe_values", type=_recipe_value, action="append", default=[],
                       metavar="KEY=VALUE", help="any other recipe option, e.g. --set lr=0.1 --set cutout=8")
    run = train.add_argument_group("run folder")
    run.add_argument("--out", required=True, metavar="RUN_DIR", help="the run folder to write")
    run.add_argument("--force", action="store_true", help="replace the run files of an existing run folder")
    train.set_defaults(handler=_train)
    return parser


def _train(args) -> int:
    from .experiments.train import train_run

    overrides = dict(args.recipe_values)
    for key in ("seed", "device", "epochs"):
        value = getattr(args, key)
        if value is not None:
            if key in overrides and overrides[key] != value:
                raise ValueError(f"--{key} {value} and --set {key}={overrides[key]} disagree")
            overrides[key] = value
    final = train_run(args.data, args.out, model=args.model, preset=args.preset, recipe_overrides=overrides,
                      data_options=_data_options(args), force=args.force)
    _print_final(final, args.out)
    return 0


def _print_final(final: dict, out) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    names = list(final["per_class_accuracy"])
    per_class = Table(title="Per-class test accuracy")
    per_class.add_column("class")
    per_class.add_column("accuracy", justify="right")
    for name, value in final["per_class_accuracy"].items():
        per_class.add_row(name, "-" if value is None else f"{100 * value:.1f} %")
    console.print(per_class)
    confusion = Table(title="Confusion matrix (rows: true class, columns: predicted)")
    confusion.add_column("")
    for name in names:
        confusion.add_column(name[:8], justify="right")
    for name, row in zip(names, final["confusion_matrix"]):
        confusion.add_row(name, *[str(v) for v in row])
    console.print(confusion)
    console.print(f"test accuracy {100 * final['test_accuracy']:.2f} % on {final['test_count']} images; "
                  f"training {final['train_seconds']:.1f} s on {final['device']}; run folder {out}")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    from .data import DataError
    from .runs import RunExistsError

    try:
        return args.handler(args)
    except (DataError, RunExistsError, FileNotFoundError, ValueError) as error:
        print(f"winnow {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"winnow {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
