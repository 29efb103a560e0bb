"""`winnow clean`: find training labels that are probably wrong, and what removing them does."""

from __future__ import annotations

import argparse

from . import command, print_results
from .options import (SettingParts, add_data_options, add_model_options, add_run_options, data_options,
                      recipe_overrides, seed_list, seed_value)

SETTINGS = SettingParts(cv=True, example="--set lr=0.5 --set cv.epochs=3")


def add_arguments(parser) -> None:
    from ..cleaning import DEFAULT_FILTER, FILTERS, METHODS, NOISE_KINDS

    add_data_options(parser)
    group = parser.add_argument_group("cleaning")
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
    group.add_argument("--remove", type=remove_count, metavar="K|auto",
                       help="flag the top K (or auto: as many as confident learning finds, or cleanlab's estimate of "
                            "the number of label issues for the ranking methods) and retrain without them; without "
                            "it, auto many are flagged and nothing is retrained")
    group.add_argument("--scale-epochs", action="store_true",
                       help="train the cleaned set for epochs * N / N_kept (as many steps as the noisy and true "
                            "trainings) instead of the recipe's epochs")
    group.add_argument("--seeds", default=[0, 1, 2], type=seed_list, metavar="N|S,S",
                       help="a count N (seeds 0..N-1) or a list of seeds: folds, fold models, flags and trainings "
                            "per seed (default 3)")
    group.add_argument("--flagged-images", type=int, default=50, metavar="N",
                       help="how many of the top flags flagged.png shows (default 50)")
    noise = parser.add_argument_group("injected noise (a copy of the labels in memory; the data is not changed)")
    noise.add_argument("--inject-noise", type=float, metavar="RATE",
                       help="corrupt this share of the training labels, in [0, 1), and score the flags against it")
    noise.add_argument("--noise-kind", choices=NOISE_KINDS,
                       help="symmetric (default): another class drawn uniformly; asymmetric: a fixed class map "
                            "(CIFAR-10: truck->automobile, bird->airplane, deer->horse, cat<->dog; else c->c+1)")
    noise.add_argument("--noise-seed", type=seed_value, metavar="S", help="seed of the noise draw (default 0)")
    add_model_options(parser.add_argument_group("model and recipe (of every training: folds and retraining)",
                                                "--set cv.KEY=VALUE changes the fold models' recipe only"), SETTINGS)
    add_run_options(parser, resumable=True)


def remove_count(text: str):
    if text == "auto":
        return text
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected auto or a count >= 1, got {text!r}")
    return value


@command("clean", add_arguments, report_kind="clean",
         help="find training labels that are probably wrong, and what removing them does",
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
                "--remove auto --seeds 3 --set cv.epochs=4 --out runs/clean")
def clean(args) -> int:
    from ..experiments.clean import clean_run

    settings = SETTINGS.parse(args.settings)
    results = clean_run(args.data, args.out, method=args.method, filter_by=args.filter_by,
                        calibrate=not args.raw_probs, folds=args.folds, seeds=args.seeds,
                        inject_noise=args.inject_noise, noise_kind=args.noise_kind, noise_seed=args.noise_seed,
                        remove=args.remove, scale_epochs=args.scale_epochs, flagged_images=args.flagged_images,
                        model=args.model, preset=args.preset, recipe_overrides=recipe_overrides(args, settings),
                        cv_overrides=settings.cv, data_options=data_options(args), force=args.force,
                        on_progress=args.on_progress,
                        on_cell=print_clean_cell)
    print_clean(results, args.out)
    return 0


def print_clean_cell(cell: dict) -> None:
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


def print_clean(results: dict, out) -> None:
    from ..runs import FLAG_QUALITY, FLAGGED_PNG, FLAGS_CSV

    noisy = results["config"]["noise"] is not None
    print_results(results, out, FLAGS_CSV, FLAGGED_PNG, *((FLAG_QUALITY,) if noisy else ()))
