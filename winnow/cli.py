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
            f"expected KEY=VALUE with KEY one of: {', '.join(fields)} (got {text!r})")
    kind = type(getattr(Recipe(), key))
    try:
        if kind is bool:
            if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError
            return key, value.lower() in ("true", "1", "yes")
        return key, kind(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{key}: {value!r} is not a valid {kind.__name__}") from None


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


def _add_proxy_options(group) -> None:
    """How the proxy's inputs beyond probabilities and features are made."""
    group.add_argument("--mc-passes", type=int, default=20, metavar="T",
                       help="MC-dropout passes for strategies that need mc_probs, e.g. bald (default 20)")
    group.add_argument("--mc-dropout", type=float, default=0.5, metavar="P",
                       help="dropout rate on the penultimate features in those passes (default 0.5)")
    group.add_argument("--early-runs", type=int, default=2, metavar="R",
                       help="short training runs averaged for early_probs (el2n) (default 2)")
    group.add_argument("--early-epochs", type=float, default=1.0, metavar="E",
                       help="epochs of each short run; the recipe's schedule is shortened to it (default 1)")


def _add_run_options(parser: argparse.ArgumentParser) -> None:
    run = parser.add_argument_group("run folder")
    run.add_argument("--out", required=True, metavar="RUN_DIR", help="the run folder to write")
    run.add_argument("--force", action="store_true", help="replace the run files of an existing run folder")


def _add_resumable_run_options(parser: argparse.ArgumentParser) -> None:
    """--out and --force of the commands made of cells that resume (prune, al)."""
    run = parser.add_argument_group("run folder")
    run.add_argument("--out", required=True, metavar="RUN_DIR",
                     help="the run folder; an existing one with the same arguments is resumed")
    run.add_argument("--force", action="store_true", help="discard an existing run folder's results and start again")


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
    group.add_argument("--calibrate", action="store_true",
                       help="fit a temperature on a hold-out after training (val_fraction 0.1 unless the recipe "
                            "has one) and write calibration.json and reliability.png")
    group.add_argument("--tensorboard", action="store_true",
                       help="also write the per-epoch scalars as TensorBoard events to RUN_DIR/tensorboard "
                            "(needs: pip install tensorboard)")
    _add_run_options(train)
    train.set_defaults(handler=_train)
    _add_select_parser(commands)
    _add_prune_parser(commands)
    _add_al_parser(commands)
    _add_clean_parser(commands)
    _add_calibrate_parser(commands)
    _add_report_parser(commands)
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
    _add_proxy_options(_add_model_options(
        select.add_argument_group("proxy model (for strategies that need probabilities or features)")))
    _add_run_options(select)
    select.set_defaults(handler=_select)


def _recipe_overrides(args, keys=("device", "epochs")) -> dict:
    """--set values plus the options --device, --epochs (and --seed) that name a recipe field."""
    overrides = dict(args.recipe_values)
    for key in keys:
        value = getattr(args, key)
        if value is not None:
            if key in overrides and overrides[key] != value:
                raise ValueError(f"--{key} {value} and --set {key}={overrides[key]} disagree")
            overrides[key] = value
    return overrides


def _proxy_options(args):
    from .experiments.proxy import ProxyOptions

    return ProxyOptions(mc_passes=args.mc_passes, mc_dropout=args.mc_dropout, early_runs=args.early_runs,
                        early_epochs=args.early_epochs)


def _add_prune_parser(commands) -> None:
    from .strategies import list_strategies

    prune = commands.add_parser(
        "prune", help="compare strategies that keep a fraction of the training data, against random and full",
        description="For every fraction, strategy and seed: score the train split with a proxy model (when the "
                    "strategy needs one), keep that fraction, train from scratch on it with the same recipe and "
                    "test; plus the full-data run. Prints and writes results.md, results.csv and results.json: "
                    "test accuracy mean ± std per cell, the paired difference to random and to full data with a "
                    "95 % confidence interval, and the time spent choosing next to the training time. Finished "
                    "cells are kept in RUN_DIR/cells: run the same command again to resume after an interruption.",
        epilog="example: winnow prune --data cifar10:~/data --fractions 0.3,0.5 --strategies "
               "random,el2n,margin,kmeans_margin,hybrid --seeds 3 --out runs/prune",
    )
    _add_data_options(prune)
    group = prune.add_argument_group("comparison")
    group.add_argument("--fractions", required=True, type=_float_list, metavar="F,F",
                       help="shares of the train split to keep, each in (0, 1), e.g. 0.3,0.5")
    group.add_argument("--strategies", required=True, type=_name_list, metavar="NAME,NAME",
                       help=f"strategies to compare (include random for the paired differences): "
                            f"{', '.join(list_strategies())}")
    group.add_argument("--seeds", default=[0, 1, 2], type=_seed_list, metavar="N|S,S",
                       help="a count N (seeds 0..N-1) or a list of seeds, e.g. 0,1,2 (default 3)")
    group.add_argument("--option", dest="options", type=_prefixed_option, action="append", default=[],
                       metavar="STRATEGY.KEY=VALUE", help="a strategy's option, e.g. --option margin.temperature=2")
    group.add_argument("--class-balanced", action="store_true", help="keep equal numbers per class")
    group.add_argument("--scale-epochs", action="store_true",
                       help="train subsets for epochs / fraction (as many steps as the full run) instead of "
                            "the recipe's epochs")
    model = _add_model_options(prune.add_argument_group("model and recipe (of every training: proxy, subsets, full)"))
    model.add_argument("--proxy-set", dest="proxy_values", type=_recipe_value, action="append", default=[],
                       metavar="KEY=VALUE", help="change the proxy's recipe only, e.g. --proxy-set epochs=3; "
                                                 "by default the proxy is the full-data run")
    _add_proxy_options(model)
    _add_resumable_run_options(prune)
    prune.set_defaults(handler=_prune)


def _add_al_parser(commands) -> None:
    from .strategies import list_strategies

    al = commands.add_parser(
        "al", help="simulated active learning: compare strategies over labelling cycles",
        description="The simulated active-learning loop, labels revealed from the dataset. Each trial draws one "
                    "initial labelled set shared by every strategy; each of --cycles cycles trains on the labelled "
                    "set, tests, and (except the last) labels the --budget pool samples the strategy picks with "
                    "that model. Prints one line per cycle, then the accuracy per label count (mean ± std over "
                    "trials), the area under each learning curve and the paired difference to random with a 95 % "
                    "confidence interval; writes results.md/csv/json and learning_curves.png. Every finished "
                    "cycle is kept: run the same command again to resume after an interruption.",
        epilog="example: winnow al --data digits --initial 30 --budget 30 --cycles 6 --trials 3 "
               "--strategy random,margin,hybrid --out runs/al.  For people labelling a folder of unlabelled "
               "images: winnow al init | next | import (see `winnow al init --help`).",
    )
    _add_data_options(al)
    group = al.add_argument_group("loop")
    group.add_argument("--initial", type=int, required=True, metavar="N", help="labels at the start")
    group.add_argument("--budget", type=int, required=True, metavar="N", help="labels added per cycle")
    group.add_argument("--cycles", type=int, required=True, metavar="N",
                       help="trainings per strategy and trial: labels go initial, initial + budget, ..., "
                            "initial + (cycles - 1) x budget")
    group.add_argument("--trials", type=int, default=3, metavar="N", help="repeats with seeds 0..N-1 (default 3)")
    group.add_argument("--strategy", "--strategies", dest="strategies", required=True, type=_name_list,
                       metavar="NAME,NAME", help=f"strategies to compare (include random for the paired "
                                                 f"differences): {', '.join(list_strategies())}")
    group.add_argument("--option", dest="options", type=_prefixed_option, action="append", default=[],
                       metavar="STRATEGY.KEY=VALUE", help="a strategy's option, e.g. --option hybrid.lam=0.5")
    group.add_argument("--pool-subset", type=int, metavar="N", help="score a random N of the unlabelled pool per cycle")
    group.add_argument("--warm-start", action="store_true",
                       help="start each cycle from the previous cycle's weights instead of from scratch")
    group.add_argument("--stratified-initial", action="store_true", help="draw the initial set stratified by class")
    group.add_argument("--class-balanced", action="store_true", help="equal picks per predicted class")
    _add_proxy_options(_add_model_options(al.add_argument_group("model and recipe (of every cycle's training)")))
    _add_resumable_run_options(al)
    al.set_defaults(handler=_al)


def _strategy_options(args) -> dict[str, dict]:
    options: dict[str, dict] = {}
    for strategy, key, value in args.options:
        if key in options.setdefault(strategy, {}):
            raise ValueError(f"--option {strategy}.{key} is given twice")
        options[strategy][key] = value
    return options


def _al(args) -> int:
    from .experiments.active import al_run

    overrides = _recipe_overrides(args)
    if "seed" in overrides:
        raise ValueError("al sets the recipe seed from the trial; do not --set seed")
    results = al_run(args.data, args.out, initial=args.initial, budget=args.budget, cycles=args.cycles,
                     trials=args.trials, strategies=args.strategies, options=_strategy_options(args),
                     pool_subset=args.pool_subset, warm_start=args.warm_start,
                     stratified_initial=args.stratified_initial, class_balanced=args.class_balanced,
                     model=args.model, preset=args.preset, recipe_overrides=overrides,
                     proxy_options=_proxy_options(args), data_options=_data_options(args), force=args.force,
                     on_cycle=_print_cycle)
    _print_al(results, args.out)
    return 0


def _print_cycle(record: dict) -> None:
    print(f"Trial {record['trial'] + 1}/{record['trials']} || Cycle {record['cycle']}/{record['cycles']} || "
          f"Labels {record['labels']} || {record['strategy']} || test acc {100 * record['test_accuracy']:.2f} %",
          flush=True)


def _print_al(results: dict, out) -> None:
    from pathlib import Path

    from rich.table import Table

    from .runs import LEARNING_CURVES_PNG, RESULTS_CSV, RESULTS_JSON, RESULTS_MD
    from .stats import PairedDifference, Summary

    strategies = results["config"]["strategies"]
    rows = {(r["strategy"], r["labels"]): r for r in results["rows"]}
    table = Table(title="Active learning: test accuracy (%), mean ± std over trials; (difference to random, 95 % CI)")
    table.add_column("labels", justify="right")
    for strategy in strategies:
        table.add_column(strategy, justify="right")
    for n in results["label_counts"]:
        cells = []
        for strategy in strategies:
            row = rows[(strategy, n)]
            text = Summary(**row["test_accuracy"]).format()
            if row["vs_random"]:
                text += f"\n({PairedDifference(**row['vs_random']).format()})"
            cells.append(text)
        table.add_row(str(n), *cells)
    areas = Table(title="Area under the learning curve (mean accuracy %)")
    for column in ("strategy", "area", "vs random (95 % CI)"):
        areas.add_column(column, justify="left" if column == "strategy" else "right")
    for row in results["areas"]:
        areas.add_row(row["strategy"], Summary(**row["area"]).format(),
                      PairedDifference(**row["vs_random"]).format() if row["vs_random"] else "")
    console = _console()
    console.print(table)
    console.print(areas)
    files = (RESULTS_MD, RESULTS_CSV, RESULTS_JSON, LEARNING_CURVES_PNG)
    console.print(f"results in {', '.join(str(Path(out) / f) for f in files)}")


def _add_clean_parser(commands) -> None:
    from .cleaning import DEFAULT_FILTER, FILTERS, METHODS, NOISE_KINDS

    clean = commands.add_parser(
        "clean", help="find training labels that are probably wrong, and what removing them does",
        description="Out-of-fold probabilities from --folds models trained with the one trainer (each predicts the "
                    "fold it did not train on) rank the train split by how likely each label is wrong. Writes "
                    "flags.csv and flags.npy (the flagged samples, most likely wrong first, with the given and the "
                    "suggested label) and flagged.png. --inject-noise corrupts a copy of the training labels in "
                    "memory and scores the flags against it (flag_quality.json: precision, recall, F1). --remove "
                    "retrains without the flagged samples and prints the test accuracy of the noisy, cleaned and "
                    "(with injected noise) true labels, mean ± std over seeds, with paired differences and 95 % "
                    "confidence intervals. Your files are never changed. Finished folds and trainings are kept in "
                    "RUN_DIR/cells: run the same command again to resume after an interruption.",
        epilog="example: winnow clean --data cifar10:~/data --method confident_learning --folds 4 --inject-noise 0.2 "
               "--remove auto --seeds 3 --cv-set epochs=4 --out runs/clean",
    )
    _add_data_options(clean)
    group = clean.add_argument_group("cleaning")
    group.add_argument("--method", default="confident_learning", choices=tuple(METHODS),
                       help="confident_learning (cleanlab's find_label_issues), self_confidence (low probability of "
                            "the given label first) or low_max_prob (low top probability first) "
                            "(default confident_learning)")
    group.add_argument("--filter-by", default=DEFAULT_FILTER, choices=FILTERS, metavar="FILTER",
                       help=f"cleanlab's filter for confident_learning: {', '.join(FILTERS)} (default "
                            f"{DEFAULT_FILTER}: cleanlab's estimate of the number of issues, lowest probability of "
                            "the given label first)")
    group.add_argument("--raw-probs", action="store_true",
                       help="flag on the fold models' probabilities as predicted; by default they are first "
                            "temperature-scaled to fit the given labels, which makes cleanlab's counts far closer "
                            "for under-confident models (BENCHMARKS.md)")
    group.add_argument("--folds", type=int, default=4, metavar="K",
                       help="cross-validation folds, at most the smallest class (default 4)")
    group.add_argument("--remove", type=_remove_count, metavar="K|auto",
                       help="flag the top K (or auto: as many as confident learning finds, or cleanlab's estimate of "
                            "the number of label issues for the ranking methods) and retrain without them; without "
                            "it, auto many are flagged and nothing is retrained")
    group.add_argument("--scale-epochs", action="store_true",
                       help="train the cleaned set for epochs * N / N_kept (as many steps as the noisy and true "
                            "trainings) instead of the recipe's epochs")
    group.add_argument("--seeds", default=[0, 1, 2], type=_seed_list, metavar="N|S,S",
                       help="a count N (seeds 0..N-1) or a list of seeds: folds, fold models, flags and trainings "
                            "per seed (default 3)")
    group.add_argument("--flagged-images", type=int, default=50, metavar="N",
                       help="how many of the top flags flagged.png shows (default 50)")
    noise = clean.add_argument_group("injected noise (a copy of the labels in memory; the data is not changed)")
    noise.add_argument("--inject-noise", type=float, metavar="RATE",
                       help="corrupt this share of the training labels, in [0, 1), and score the flags against it")
    noise.add_argument("--noise-kind", choices=NOISE_KINDS,
                       help="symmetric (default): another class drawn uniformly; asymmetric: a fixed class map "
                            "(CIFAR-10: truck->automobile, bird->airplane, deer->horse, cat<->dog; else c->c+1)")
    noise.add_argument("--noise-seed", type=int, metavar="S", help="seed of the noise draw (default 0)")
    model = _add_model_options(clean.add_argument_group("model and recipe (of every training: folds and retraining)"))
    model.add_argument("--cv-set", dest="cv_values", type=_recipe_value, action="append", default=[],
                       metavar="KEY=VALUE", help="change the fold models' recipe only, e.g. --cv-set epochs=3")
    _add_resumable_run_options(clean)
    clean.set_defaults(handler=_clean)


def _remove_count(text: str):
    if text == "auto":
        return text
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected auto or a count >= 1, got {text!r}")
    return value


def _clean(args) -> int:
    from .experiments.clean import clean_run

    overrides = _recipe_overrides(args)
    if "seed" in overrides or any(key == "seed" for key, _ in args.cv_values):
        raise ValueError("clean sets the recipe seed from --seeds; do not --set seed")
    results = clean_run(args.data, args.out, method=args.method, filter_by=args.filter_by,
                        calibrate=not args.raw_probs, folds=args.folds, seeds=args.seeds,
                        inject_noise=args.inject_noise, noise_kind=args.noise_kind, noise_seed=args.noise_seed,
                        remove=args.remove, scale_epochs=args.scale_epochs, flagged_images=args.flagged_images,
                        model=args.model,
                        preset=args.preset, recipe_overrides=overrides, cv_overrides=dict(args.cv_values),
                        data_options=_data_options(args), force=args.force, on_cell=_print_clean_cell)
    _print_clean(results, args.out)
    return 0


def _print_clean_cell(cell: dict) -> None:
    kind = cell["cell"]
    if kind == "fold":
        text = (f"fold {cell['fold'] + 1}/{cell['folds']} || held-out accuracy {100 * cell['held_out_accuracy']:.2f} % "
                f"|| training {cell['train_seconds']:.1f} s")
    elif kind == "flags":
        text = f"{cell['flagged']} flagged" + (f" || precision {100 * cell['precision']:.1f} % || recall "
                                               f"{100 * cell['recall']:.1f} %" if "precision" in cell else "")
    else:
        text = (f"{kind} labels || {cell['kept']} kept || test acc {100 * cell['test_accuracy']:.2f} % "
                f"|| training {cell['train_seconds']:.1f} s")
    print(f"seed {cell['seed']} || {text}", flush=True)


def _print_clean(results: dict, out) -> None:
    from pathlib import Path

    from rich.table import Table

    from .runs import FLAG_QUALITY, FLAGGED_PNG, FLAGS_CSV, RESULTS_CSV, RESULTS_JSON, RESULTS_MD
    from .stats import PairedDifference, Summary

    flags, noisy = results["flags"], results["config"]["noise"] is not None
    console = _console()
    title = f"Flags ({results['config']['method']})"
    table = Table(title=title + (": against the injected noise (%)" if noisy else ""))
    columns = ("seeds", "flagged", *(("precision", "recall", "F1") if noisy else ()))
    for column in columns:
        table.add_column(column, justify="left" if column == "seeds" else "right")
    table.add_row("mean ± std", Summary(**flags["flagged"]).format(1.0, 1),
                  *[Summary(**flags[key]).format() for key in ("precision", "recall", "f1") if noisy])
    if "flags_csv" in flags:
        quality = flags["flags_csv"]
        table.add_row("flags.csv (all seeds)", str(quality["flagged"]),
                      *[f"{100 * quality[key]:.2f}" for key in ("precision", "recall", "f1")])
    console.print(table)
    if results["rows"]:
        table = Table(title="Training after cleaning: test accuracy (%), mean ± std over seeds")
        for column in ("labels", "kept", "test accuracy", "vs noisy (95 % CI)", "vs true (95 % CI)", "training s"):
            table.add_column(column, justify="left" if column == "labels" else "right")
        for row in results["rows"]:
            table.add_row(row["labels"], f"{row['kept']:.0f}", Summary(**row["test_accuracy"]).format(),
                          PairedDifference(**row["vs_noisy"]).format() if row["vs_noisy"] else "",
                          PairedDifference(**row["vs_true"]).format() if row["vs_true"] else "",
                          f"{row['train_seconds']:.1f}")
        console.print(table)
    files = (FLAGS_CSV, FLAGGED_PNG, *((FLAG_QUALITY,) if noisy else ()), RESULTS_MD, RESULTS_CSV, RESULTS_JSON)
    console.print(f"results in {', '.join(str(Path(out) / f) for f in files)}")


def _float_list(text: str) -> list[float]:
    try:
        return [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected numbers separated by commas, got {text!r}") from None


def _name_list(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _seed_list(text: str) -> list[int]:
    try:
        parts = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a count or seeds separated by commas, got {text!r}") from None
    if "," not in text:
        if parts[0] < 1:
            raise argparse.ArgumentTypeError(f"the number of seeds must be >= 1, got {text!r}")
        return list(range(parts[0]))
    return parts


def _prefixed_option(text: str) -> tuple[str, str, object]:
    name, dot, rest = text.partition(".")
    if not dot or not name:
        raise argparse.ArgumentTypeError(f"--option expects STRATEGY.KEY=VALUE, e.g. margin.temperature=2 "
                                         f"(got {text!r})")
    return (name, *_strategy_option(rest))


def _prune(args) -> int:
    from .experiments.prune import prune_run

    overrides = _recipe_overrides(args)
    if "seed" in overrides:
        raise ValueError("prune sets the recipe seed from --seeds; do not --set seed")
    results = prune_run(args.data, args.out, fractions=args.fractions, strategies=args.strategies, seeds=args.seeds,
                        options=_strategy_options(args), class_balanced=args.class_balanced, scale_epochs=args.scale_epochs,
                        model=args.model, preset=args.preset, recipe_overrides=overrides,
                        proxy_overrides=dict(args.proxy_values), proxy_options=_proxy_options(args),
                        data_options=_data_options(args), force=args.force, on_cell=_print_cell)
    _print_prune(results, args.out)
    return 0


def _print_cell(cell: dict) -> None:
    share = "full data" if cell["strategy"] == "full" else f"{cell['strategy']} {100 * cell['fraction']:g} %"
    print(f"seed {cell['seed']} || {share} || {cell['kept']} kept || test acc {100 * cell['test_accuracy']:.2f} % "
          f"|| training {cell['train_seconds']:.1f} s", flush=True)


def _print_prune(results: dict, out) -> None:
    from pathlib import Path

    from rich.table import Table

    from .runs import RESULTS_CSV, RESULTS_JSON, RESULTS_MD
    from .stats import PairedDifference, Summary

    table = Table(title="Pruning: test accuracy (%) per kept fraction, mean ± std over seeds")
    for column in ("fraction", "strategy", "kept", "test accuracy", "vs random (95 % CI)", "vs full (95 % CI)",
                   "choosing s", "training s"):
        table.add_column(column, justify="left" if column == "strategy" else "right")
    for row in results["rows"]:
        table.add_row(f"{row['fraction']:g}", row["strategy"], str(row["kept"] or ""),
                      Summary(**row["test_accuracy"]).format(),
                      PairedDifference(**row["vs_random"]).format() if row["vs_random"] else "",
                      PairedDifference(**row["vs_full"]).format() if row["vs_full"] else "",
                      "" if row["choose_seconds"] is None else f"{row['choose_seconds']:.1f}",
                      "" if row["train_seconds"] is None else f"{row['train_seconds']:.1f}")
    console = _console()
    console.print(table)
    console.print(f"results in {', '.join(str(Path(out) / f) for f in (RESULTS_MD, RESULTS_CSV, RESULTS_JSON))}")


def _train(args) -> int:
    from .experiments.train import train_run

    overrides = _recipe_overrides(args, ("seed", "device", "epochs"))
    final = train_run(args.data, args.out, model=args.model, preset=args.preset, recipe_overrides=overrides,
                      data_options=_data_options(args), force=args.force, calibrate=args.calibrate,
                      tensorboard=args.tensorboard)
    _print_final(final, args.out)
    if args.calibrate:
        after = final["calibration"]
        _print_calibration(after["temperature"], after["hold_out_count"], (final["test_ece"], after["test_ece"]),
                           (final["test_nll"], after["test_nll"]), args.out)
    return 0


def _add_calibrate_parser(commands) -> None:
    calibrate = commands.add_parser(
        "calibrate", help="fit a temperature to a trained run's hold-out and measure its calibration",
        description="Reload the data and weights of RUN_DIR, fit a temperature on its hold-out (val_indices.npy, "
                    "written by `winnow train --calibrate` or `--set val_fraction=0.1`) by negative log-likelihood, "
                    "and write calibration.json (test accuracy, ECE, MCE, NLL, Brier score and reliability-diagram "
                    "data before and after scaling) and reliability.png. Nothing else in RUN_DIR is changed.",
        epilog="example: winnow calibrate runs/c10 --bins 15",
    )
    calibrate.add_argument("run_dir", metavar="RUN_DIR", help="the run folder of a trained model")
    calibrate.add_argument("--bins", type=int, default=15, metavar="B",
                           help="equal-width confidence bins of ECE, MCE and the reliability diagram (default 15)")
    calibrate.add_argument("--device", metavar="DEV", help="predict on DEV instead of the recipe's device")
    calibrate.set_defaults(handler=_calibrate)


def _calibrate(args) -> int:
    from .experiments.calibrate import calibrate_run

    record = calibrate_run(args.run_dir, bins=args.bins, device=args.device)
    before, after = record["test"]["before"], record["test"]["after"]
    _print_calibration(record["temperature"], record["hold_out_count"], (before["ece"], after["ece"]),
                       (before["nll"], after["nll"]), args.run_dir)
    return 0


def _print_calibration(temperature: float, hold_out_count: int, ece: tuple[float, float], nll: tuple[float, float],
                       out) -> None:
    """The temperature, and the test ECE and NLL (before, after) scaling."""
    print(f"temperature {temperature:.3f}, fitted on {hold_out_count} hold-out images")
    print(f"test ECE {100 * ece[0]:.2f} % -> {100 * ece[1]:.2f} %; NLL {nll[0]:.4f} -> {nll[1]:.4f}; "
          f"calibration.json and reliability.png in {out}")


def _select(args) -> int:
    from .experiments.select import select_run

    overrides = _recipe_overrides(args)
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
                       proxy_options=_proxy_options(args), data_options=_data_options(args), force=args.force)
    _print_selection(final, args.out)
    return 0


def _print_selection(final: dict, out) -> None:
    from pathlib import Path

    from rich.table import Table

    from .runs import SELECTED_CSV, SELECTED_NPY

    console = _console()
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
    from rich.table import Table

    console = _console()
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


def _console():
    """A rich console; 160 columns when the output is not a terminal, so tables stay unwrapped in logs."""
    from rich.console import Console

    return Console() if sys.stdout.isatty() else Console(width=160)


LABELLING_VERBS = ("init", "next", "import", "status")


def build_labelling_parser() -> argparse.ArgumentParser:
    """`winnow al init | next | import | status`: active learning with people labelling."""
    parser = argparse.ArgumentParser(
        prog="winnow al", description="Active learning with people labelling a folder of unlabelled images: init a "
                                      "labelling folder, ask for the next images to label, import the answers.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every epoch")
    verbs = parser.add_subparsers(dest="verb", metavar="VERB", required=True)

    init = verbs.add_parser("init", help="start a labelling folder from images and the labels that exist",
                            description="Start a labelling folder OUT for the images of --data folder:PATH (any "
                                        "layout; folders are ignored) and the labels in --labels (a CSV with columns "
                                        "path and label).",
                            epilog="example: winnow al init --data folder:photos --labels labels.csv --out runs/lab")
    init.add_argument("--data", required=True, metavar="folder:PATH", help="the images, a directory or a .zip")
    init.add_argument("--labels", metavar="CSV", help="path,label rows of the images already labelled")
    init.add_argument("--classes", type=_name_list, metavar="A,B,C",
                      help="the class names (default: those in --labels); needed for a class with no label yet")
    init.add_argument("--image-size", type=int, metavar="PX", help="resize the short side to PX and centre-crop")
    init.add_argument("--skip-bad-images", action="store_true", help="skip unreadable images")
    init.add_argument("--strategy", default="margin", metavar="NAME", help="the selection strategy (default margin)")
    init.add_argument("--option", dest="options", type=_strategy_option, action="append", default=[],
                      metavar="KEY=VALUE", help="a strategy option (repeatable)")
    init.add_argument("--class-balanced", action="store_true", help="equal picks per predicted class")
    _add_proxy_options(_add_model_options(init.add_argument_group("model and recipe of each cycle's training")))
    init.add_argument("--out", required=True, metavar="DIR", help="the labelling folder to create")
    init.add_argument("--force", action="store_true", help="replace an existing labelling folder's files")
    init.set_defaults(handler=_al_init)

    following = verbs.add_parser("next", help="train on what is labelled and write the next images to label",
                                 description="Train on the labelled images, select --budget unlabelled ones and "
                                             "write DIR/queries/cycle_K.csv and a contact sheet cycle_K.png.")
    following.add_argument("dir", metavar="DIR", help="the labelling folder")
    following.add_argument("--budget", type=int, required=True, metavar="N", help="how many images to ask for")
    following.add_argument("--strategy", metavar="NAME", help="another strategy than the folder's for this cycle")
    following.add_argument("--option", dest="options", type=_strategy_option, action="append", default=[],
                           metavar="KEY=VALUE", help="a strategy option (repeatable)")
    following.add_argument("--class-balanced", action="store_true", default=None,
                           help="equal picks per predicted class")
    following.add_argument("--seed", type=int, default=0, metavar="S", help="seed of training and selection")
    following.set_defaults(handler=_al_next)

    answers = verbs.add_parser("import", help="add the labels people gave",
                               description="Add labels from a CSV (columns path and label; rows with an empty "
                                           "label are skipped) or a Label Studio JSON export. Every problem is "
                                           "named by its row, and then nothing is imported.")
    answers.add_argument("dir", metavar="DIR", help="the labelling folder")
    answers.add_argument("answers", metavar="FILE", help="answers.csv or a Label Studio export .json")
    answers.add_argument("--force", action="store_true", help="overwrite existing labels that differ")
    answers.set_defaults(handler=_al_import)

    state = verbs.add_parser("status", help="labelled images per class and pending queries")
    state.add_argument("dir", metavar="DIR", help="the labelling folder")
    state.set_defaults(handler=_al_status)
    return parser


def _al_init(args) -> int:
    from .experiments import labelling

    data_options = {k: v for k, v in (("image_size", args.image_size),
                                      ("skip_bad_images", args.skip_bad_images or None)) if v is not None}
    options = dict(args.options)
    summary = labelling.init(args.data, args.labels, args.out, classes=args.classes, data_options=data_options,
                             strategy=args.strategy, options=options, class_balanced=args.class_balanced,
                             preset=args.preset, model=args.model, recipe_overrides=_recipe_overrides(args),
                             proxy_options=_proxy_options(args), force=args.force)
    _print_status(summary, args.out)
    return 0


def _al_next(args) -> int:
    from .experiments import labelling

    record = labelling.next_cycle(args.dir, budget=args.budget, strategy=args.strategy,
                                  options=dict(args.options) or None, class_balanced=args.class_balanced,
                                  seed=args.seed)
    print(f"cycle {record['cycle']}: {record['queried_count']} images to label in {record['queries_csv']}"
          f"; contact sheet {record['contact_sheet']}")
    print(f"fill in their label column (or label them in Label Studio) and run: winnow al import {args.dir} FILE")
    return 0


def _al_import(args) -> int:
    from .experiments import labelling

    counts = labelling.import_labels(args.dir, args.answers, force=args.force)
    print(f"{counts['added']} labels added, {counts['unchanged']} unchanged, {counts['overwritten']} overwritten, "
          f"{counts['unanswered']} rows without a label, from {counts['file']}")
    return 0


def _al_status(args) -> int:
    from .experiments import labelling

    _print_status(labelling.status(args.dir), args.dir)
    return 0


def _print_status(summary: dict, folder) -> None:
    print(f"{folder}: {summary['labelled']} of {summary['images']} images labelled; "
          + ", ".join(f"{name} {count}" for name, count in summary["classes"].items()))
    if summary["pending"]:
        print(f"{summary['pending']} queried images wait for labels")


def _add_report_parser(commands) -> None:
    report = commands.add_parser(
        "report", help="one self-contained HTML page from run folders",
        description="Read the run folders and write one HTML file: per run, by its kind, the training curves, "
                    "confusion matrix and per-class accuracy; the chosen images; pruning results against random "
                    "and full data; active-learning curves and the images picked per cycle; cleaning flags; "
                    "calibration; and the config and versions. Runs of the same kind are also compared side by "
                    "side. Images are embedded, so the file opens anywhere without a network; the figures are "
                    "also saved as PNG files in each run folder. Every command writes RUN_DIR/report.html itself "
                    "at its end.",
        epilog="example: winnow report runs/al runs/al-warm --out al.html",
    )
    report.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="run folders written by winnow commands")
    report.add_argument("--out", default="report.html", metavar="HTML",
                        help="the HTML file to write (default report.html); an existing file is replaced only "
                             "when it is a Winnow report")
    report.add_argument("--no-images", action="store_true",
                        help="do not load the runs' data for image grids (show tables instead)")
    report.add_argument("--no-figures", action="store_true",
                        help="embed the figures only; do not write them as PNG files into the run folders")
    report.set_defaults(handler=_report, writes_run_report=False)


def _report(args) -> int:
    from .report import write_report

    path = write_report(args.run_dirs, args.out, images=not args.no_images, save_figures=not args.no_figures)
    print(f"report of {len(args.run_dirs)} run folder(s) in {path}")
    return 0


def _write_run_report(args) -> None:
    """Rewrite the report.html of the run folder a command just wrote (its --out, or the RUN_DIR
    or DIR it worked on). A report that cannot be made is a warning: the run itself is done."""
    if not getattr(args, "writes_run_report", True) or args.command == "al status":
        return
    folder = next((getattr(args, name) for name in ("out", "run_dir", "dir") if getattr(args, name, None)), None)
    if folder is None:
        return
    from pathlib import Path

    from .report import write_report
    from .runs import REPORT_HTML

    try:
        path = write_report([folder], Path(folder) / REPORT_HTML)
    except Exception as error:  # noqa: BLE001  (a plotting or reading problem must not fail a finished run)
        print(f"winnow {args.command}: warning: no report written: {type(error).__name__}: {error}", file=sys.stderr)
        return
    print(f"report in {path}")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    labelling = len(argv) > 1 and argv[0] == "al" and argv[1] in LABELLING_VERBS
    parser = build_labelling_parser() if labelling else build_parser()
    args = parser.parse_args(argv[1:] if labelling else argv)
    if labelling:
        args.command = f"al {args.verb}"
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    from .data import DataError
    from .runs import RunExistsError

    try:
        code = args.handler(args)
        if code == 0:
            _write_run_report(args)
        return code
    except (DataError, RunExistsError, FileNotFoundError, ValueError) as error:
        print(f"winnow {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"winnow {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
