"""`winnow clean`: find training labels that are probably wrong, and what removing them does."""

from __future__ import annotations

import argparse

from . import command, print_results
from .options import (SettingParts, add_backend_options, add_data_options, add_model_options, add_run_options,
                      backend_options, data_options, ran_on, recipe_overrides, seed_list, seed_value)

SETTINGS = SettingParts(cv=True, example="--set lr=0.5 --set cv.epochs=3")
# the label-issue search's options (dest, flag) that --duplicates, which trains nothing, does not take;
# their defaults are None here and filled in by `clean`, so that one given is seen even at its default value
LABEL_ISSUE_OPTIONS = (("method", "--method"), ("filter_by", "--filter-by"), ("raw_probs", "--raw-probs"),
                       ("folds", "--folds"), ("remove", "--remove"), ("scale_epochs", "--scale-epochs"),
                       ("seeds", "--seeds"), ("flagged_images", "--flagged-images"),
                       ("inject_noise", "--inject-noise"), ("noise_kind", "--noise-kind"),
                       ("noise_seed", "--noise-seed"), ("model", "--model"), ("preset", "--preset"),
                       ("epochs", "--epochs"), ("time_budget", "--time-budget"), ("device", "--device"),
                       ("settings", "--set"), ("weights", "--weights"), ("freeze", "--freeze"),
                       ("backend", "--backend"), ("address", "--address"), ("cpus_per_cell", "--cpus-per-cell"),
                       ("gpus_per_cell", "--gpus-per-cell"))
DUPLICATE_OPTIONS = (("hash_distance", "--hash-distance"), ("min_cosine", "--min-cosine"))
PRINTED_GROUPS = 10


def add_arguments(parser) -> None:
    from ..cleaning import AUTO, DEFAULT_FILTER, FILTERS, METHODS, NOISE_KINDS
    from ..duplicates import HASH_DISTANCE, MAX_HASH_DISTANCE, MIN_COSINE

    add_data_options(parser)
    group = parser.add_argument_group("cleaning")
    group.add_argument("--method", choices=(*METHODS, AUTO),
                       help="confident_learning (cleanlab's find_label_issues), self_confidence (low probability of "
                            "the given label first), low_max_prob (low top probability first), noise_posterior (the "
                            "chance the given label is right under the class-to-class noise estimated from the data) "
                            "or auto (noise_posterior when the estimated noise sits on a few class pairs, else "
                            "confident_learning; the default)")
    group.add_argument("--filter-by", choices=FILTERS, metavar="FILTER",
                       help=f"cleanlab's filter for confident_learning: {', '.join(FILTERS)} (default "
                            f"{DEFAULT_FILTER}: cleanlab's estimate of the number of issues, lowest probability of "
                            "the given label first)")
    group.add_argument("--raw-probs", action="store_true",
                       help="flag on the fold models' probabilities as predicted; by default they are first "
                            "temperature-scaled to fit the given labels, which makes cleanlab's counts far closer "
                            "for under-confident models (BENCHMARKS.md)")
    group.add_argument("--folds", type=int, metavar="K",
                       help="cross-validation folds, at most the smallest class (default 4)")
    group.add_argument("--remove", type=remove_count, metavar="K|auto",
                       help="flag the top K (or auto: the method's own count, see README) and retrain without them; "
                            "without it, auto many are flagged and nothing is retrained")
    group.add_argument("--scale-epochs", action="store_true",
                       help="train the cleaned set for epochs * N / N_kept (as many steps as the noisy and true "
                            "trainings) instead of the recipe's epochs")
    group.add_argument("--seeds", type=seed_list, metavar="N|S,S",
                       help="a count N (seeds 0..N-1) or a list of seeds: folds, fold models, flags and trainings "
                            "per seed (default 3)")
    group.add_argument("--flagged-images", type=int, metavar="N",
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
    found = parser.add_argument_group(
        "duplicates (instead of the label-issue search; nothing is trained)",
        "--duplicates searches every split for identical images (the same decoded pixels) and near duplicates "
        "(a perceptual hash within --hash-distance bits, confirmed by the cosine of 16 x 16 thumbnails)")
    found.add_argument("--duplicates", action="store_true",
                       help="find duplicate images, leaks across splits and copies under two classes; writes "
                            "duplicates.json, duplicates.png and results.md/csv")
    found.add_argument("--hash-distance", type=int, metavar="BITS",
                       help=f"near candidates: at most BITS of the 64-bit pHash apart, 0..{MAX_HASH_DISTANCE} "
                            f"(default {HASH_DISTANCE})")
    found.add_argument("--min-cosine", type=float, metavar="C",
                       help=f"near: a candidate whose centred 16 x 16 luma thumbnails have at least this cosine "
                            f"(default {MIN_COSINE:g})")
    add_run_options(parser, resumable=True)
    add_backend_options(parser)


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
         help="find training labels that are probably wrong, and what removing them does (--duplicates: copies "
              "of images, leaks and conflicting labels)",
         description="Out-of-fold probabilities from --folds models trained with the one trainer (each predicts the "
                     "fold it did not train on) rank the train split by how likely each label is wrong. Writes "
                     "flags.csv and flags.npy (the flagged samples, most likely wrong first, with the given and the "
                     "suggested label) and flagged.png. --inject-noise corrupts a copy of the training labels in "
                     "memory and scores the flags against it (flag_quality.json: precision, recall, F1). --remove "
                     "retrains without the flagged samples and prints the test accuracy of the noisy, cleaned and "
                     "(with injected noise) true labels, mean ± std over seeds, with paired differences and 95 % "
                     "confidence intervals. Your files are never changed. Finished folds and trainings are kept in "
                     "RUN_DIR/cells: run the same command again to resume after an interruption. With --duplicates "
                     "it trains nothing and instead finds identical and near-duplicate images across every split, "
                     "with the copies that leak from train into test and those filed under two classes.",
         epilog="examples: winnow clean --data cifar10:~/data --folds 4 --inject-noise 0.2 "
                "--remove auto --seeds 3 --set cv.epochs=4 --out runs/clean; "
                "winnow clean --data folder:photos.zip --image-size 128 --duplicates --out runs/duplicates")
def clean(args) -> int:
    from ..cleaning import AUTO, DEFAULT_FILTER
    from ..experiments.clean import clean_run

    _check_mode(args)
    if args.duplicates:
        return find_duplicates(args)
    settings = SETTINGS.parse(args.settings)
    results = clean_run(args.data, args.out, method=args.method or AUTO,
                        filter_by=args.filter_by or DEFAULT_FILTER, calibrate=not args.raw_probs,
                        folds=4 if args.folds is None else args.folds, seeds=args.seeds or [0, 1, 2],
                        inject_noise=args.inject_noise, noise_kind=args.noise_kind, noise_seed=args.noise_seed,
                        remove=args.remove, scale_epochs=args.scale_epochs,
                        flagged_images=50 if args.flagged_images is None else args.flagged_images,
                        model=args.model, preset=args.preset, recipe_overrides=recipe_overrides(args, settings),
                        weights=args.weights,
                        cv_overrides=settings.cv, data_options=data_options(args), force=args.force,
                        on_progress=args.on_progress,
                        on_cell=print_clean_cell, **backend_options(args))
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
        if "chosen" in cell:
            pairs = ", ".join(f"{c['true']}->{c['given']} {100 * c['share']:.1f} %" for c in cell["confused"][:3])
            text += f" || {cell['chosen']} || estimated noise {100 * cell['noise_rate']:.1f} % ({pairs})"
    else:
        text = (f"{kind} labels || {cell['kept']} kept || test acc {100 * cell['test_accuracy']:.2f} % "
                f"|| training {cell['train_seconds']:.1f} s")
    print(f"seed {cell['seed']} || {text}{ran_on(cell)}", flush=True)


def print_clean(results: dict, out) -> None:
    from ..runs import FLAG_QUALITY, FLAGGED_PNG, FLAGS_CSV

    noisy = results["config"]["noise"] is not None
    print_results(results, out, FLAGS_CSV, FLAGGED_PNG, *((FLAG_QUALITY,) if noisy else ()))


def _check_mode(args) -> None:
    """A ValueError naming the options of the other mode: the label-issue search's with
    --duplicates, --hash-distance and --min-cosine without it."""
    if args.duplicates:
        unset = {"preset": "auto", "settings": [], "raw_probs": False, "scale_epochs": False, "backend": "local"}
        given = [flag for dest, flag in LABEL_ISSUE_OPTIONS
                 if getattr(args, dest, None) is not None and getattr(args, dest) != unset.get(dest)]
        if given:
            raise ValueError(f"--duplicates searches the images for copies and trains nothing: {', '.join(given)} "
                             f"{'is an option' if len(given) == 1 else 'are options'} of the label-issue search; "
                             "leave them out, or run without --duplicates")
        return
    given = [flag for dest, flag in DUPLICATE_OPTIONS if getattr(args, dest) is not None]
    if given:
        raise ValueError(f"{', '.join(given)} {'applies' if len(given) == 1 else 'apply'} only with --duplicates")


def find_duplicates(args) -> int:
    from ..duplicates import HASH_DISTANCE, MIN_COSINE
    from ..experiments.duplicates import duplicates_run

    results = duplicates_run(args.data, args.out,
                             hash_distance=HASH_DISTANCE if args.hash_distance is None else args.hash_distance,
                             min_cosine=MIN_COSINE if args.min_cosine is None else args.min_cosine,
                             data_options=data_options(args), force=args.force)
    print_duplicates(results, args.out)
    return 0


def print_duplicates(results: dict, out) -> None:
    """The counts, the first PRINTED_GROUPS groups (leaks and cross-class first), the time and the files."""
    from ..runs import DUPLICATES_JSON, DUPLICATES_PNG
    from ..table import Table

    summary, listing = (Table.from_dict(table) for table in results["tables"][:2])
    tables = [summary]
    if listing.rows:
        shown = listing.rows[:PRINTED_GROUPS]
        tables.append(Table(f"{listing.title}: {len(shown)} of {len(listing.rows)}", listing.columns, shown))
    sheet = (DUPLICATES_PNG,) if listing.rows and results["config"].get("sheet_groups", 1) else ()
    print_results({"tables": [t.to_dict() for t in tables], "timing": results["timing"]}, out, DUPLICATES_JSON,
                  *sheet)
