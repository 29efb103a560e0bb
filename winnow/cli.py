"""The `winnow` command line: argument parsing and printing only.

Every command is a Python function in `winnow.experiments`; this module turns arguments into a
call and the result into tables.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
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


def _strategy_option(text: str) -> tuple[str, object]:
    """Parse KEY=VALUE for --option: true/false are booleans, then int, then float, a value in {} or []
    is JSON, else a string. Whether KEY is an option of the strategy is checked by the strategy registry."""
    key, sep, value = text.partition("=")
    if not sep or not key.isidentifier():
        raise argparse.ArgumentTypeError(f"--option expects KEY=VALUE, e.g. temperature=1.5 (got {text!r})")
    if value[:1] in ("{", "["):
        try:
            return key, json.loads(value)
        except json.JSONDecodeError as error:
            raise argparse.ArgumentTypeError(f"--option {key}: {value!r} is not valid JSON ({error})") from None
    if value.lower() in ("true", "false"):
        return key, value.lower() == "true"
    for kind in (int, float):
        try:
            return key, kind(value)
        except ValueError:
            pass
    return key, value


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


def _add_model_options(group):
    """--model, --preset, --epochs, --device and --set: the model and recipe of a trained model."""
    from .models import list_models
    from .train import PRESETS

    group.add_argument("--model", metavar="NAME",
                       help=f"architecture: {', '.join(list_models())} (default: the preset's)")
    group.add_argument("--preset", default="auto", choices=("auto", *PRESETS),
                       help="training recipe; auto = small for images under 16 px, gpu on CUDA, else cpu")
    group.add_argument("--epochs", type=float, metavar="N", help="epochs (default: the preset's)")
    group.add_argument("--device", metavar="DEV", help="auto (default), cpu, cuda, cuda:N or mps")
    group.add_argument("--set", dest="recipe_values", type=_recipe_value, action="append", default=[],
                       metavar="KEY=VALUE", help="any other recipe option, e.g. --set lr=0.1 --set cutout=8")
    return group


def _add_run_options(parser: argparse.ArgumentParser) -> None:
    run = parser.add_argument_group("run folder")
    run.add_argument("--out", required=True, metavar="RUN_DIR", help="the run folder to write")
    run.add_argument("--force", action="store_true", help="replace the run files of an existing run folder")


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
    group = _add_model_options(train.add_argument_group("model and recipe"))
    group.add_argument("--seed", type=int, metavar="S", help="random seed (default 0)")
    _add_run_options(train)
    train.set_defaults(handler=_train)
    _add_select_parser(commands)
    return parser


def _add_select_parser(commands) -> None:
    from .strategies import list_strategies

    select = commands.add_parser(
        "select", help="choose samples from the pool with a strategy and write their indices",
        description="Choose --budget samples (or --fraction of the pool) from the pool of SPEC with a "
                    "selection strategy. The pool is the train split minus the --labelled set. Strategies that "
                    "need probabilities or features get them from a proxy model trained on the labelled set. "
                    "Writes config.json, selected.csv, selected.npy (dataset indices, best first) and final.json "
                    "(plus metrics.jsonl and model.pt of the proxy, when one is trained).",
        epilog="examples: winnow select --data cifar10:~/data --strategy margin --budget 1000 "
               "--labelled labelled.csv --out runs/al1;  winnow select --data cifar10:~/data --strategy "
               "self_confidence --fraction 0.5 --labelled all --out runs/prune50",
    )
    _add_data_options(select)
    group = select.add_argument_group("selection")
    group.add_argument("--strategy", required=True, metavar="NAME",
                       help=f"one of: {', '.join(list_strategies())}")
    size = group.add_mutually_exclusive_group(required=True)
    size.add_argument("--budget", type=int, metavar="N", help="how many samples to select")
    size.add_argument("--fraction", type=float, metavar="F", help="the share of the pool to select, in (0, 1]")
    group.add_argument("--labelled", metavar="FILE",
                       help="the labelled train-split samples: a CSV with a column 'index' (or 'path' for folder "
                            "data) or a .npy of dataset indices; the pool is the rest of the train split. "
                            "'all': the whole train split is labelled and is the pool (pruning; strategies get "
                            "its labels). Without it nothing is labelled and only 'random' can run")
    group.add_argument("--class-balanced", action="store_true",
                       help="equal picks per class (the given label with --labelled all, else the proxy's "
                            "predicted class)")
    group.add_argument("--option", dest="options", type=_strategy_option, action="append", default=[],
                       metavar="KEY=VALUE", help="a strategy option (repeatable), e.g. --option temperature=1.5; "
                            "true/false, numbers, and JSON in {} or [] are typed, anything else is a string")
    group.add_argument("--seed", type=int, metavar="S",
                       help="seed of the strategy and of the proxy's training (default 0)")
    _add_model_options(select.add_argument_group("proxy model (for strategies that need probabilities or features)"))
    _add_run_options(select)
    select.set_defaults(handler=_select)


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


def _select(args) -> int:
    from .experiments.select import select_run

    overrides = dict(args.recipe_values)
    for key in ("device", "epochs"):
        value = getattr(args, key)
        if value is not None:
            if key in overrides and overrides[key] != value:
                raise ValueError(f"--{key} {value} and --set {key}={overrides[key]} disagree")
            overrides[key] = value
    seed = overrides.pop("seed", 0) if args.seed is None else args.seed
    if overrides.get("seed", seed) != seed:
        raise ValueError(f"--seed {seed} and --set seed={overrides['seed']} disagree")
    options = {}
    for key, value in args.options:
        if key in options:
            raise ValueError(f"--option {key} is given twice")
        options[key] = value
    final = select_run(args.data, args.out, strategy=args.strategy, budget=args.budget, fraction=args.fraction,
                       labelled=args.labelled, class_balanced=args.class_balanced, options=options, seed=seed,
                       model=args.model, preset=args.preset, recipe_overrides=overrides,
                       data_options=_data_options(args), force=args.force)
    _print_selection(final, args.out)
    return 0


def _print_selection(final: dict, out) -> None:
    from pathlib import Path

    from rich.console import Console
    from rich.table import Table

    from .runs import SELECTED_CSV, SELECTED_NPY

    console = Console()
    summary = Table(title=f"Selection: {final['strategy']}", show_header=False)
    summary.add_column("")
    summary.add_column("", justify="right")
    summary.add_row("selected", f"{final['selected_count']} (budget {final['budget']})")
    summary.add_row("pool", f"{final['pool_count']} ({final['train_count']} train, {final['labelled_count']} labelled)")
    if final["proxy_trained"]:
        summary.add_row("proxy training", f"{final['proxy_train_seconds']:.2f} s on {final['device']}")
    summary.add_row("scoring", f"{final['scoring_seconds']:.2f} s")
    console.print(summary)
    counts = Table(title="Selected per class")
    counts.add_column("class")
    counts.add_column("label", justify="right")
    predicted = final["selected_predicted_counts"]
    if predicted is not None:
        counts.add_column("predicted", justify="right")
    for name, count in final["selected_class_counts"].items():  # every class, in class order
        row = [name, str(count), *([str(predicted.get(name, 0))] if predicted is not None else [])]
        if any(value != "0" for value in row[1:]):
            counts.add_row(*row)
    console.print(counts)
    console.print(f"selection in {Path(out) / SELECTED_CSV} and {Path(out) / SELECTED_NPY}; run folder {out}")


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
