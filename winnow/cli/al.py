"""`winnow al`: simulated active learning (labels revealed from the dataset), and the verbs
`winnow al init | next | import | status` of active learning with people labelling."""

from __future__ import annotations

from . import command, command_group, print_results
from .options import (SettingParts, add_backend_options, add_data_options, add_model_options, add_proxy_options,
                      add_run_options, backend_options, data_options, name_list, proxy_options, ran_on,
                      recipe_overrides, seed_value)

SETTINGS = SettingParts(strategy="many", features=True,
                        example="--set epochs=3 --set strategy.hybrid.lam=0.5 --set features.size=8")
INIT_SETTINGS = SettingParts(strategy="one", example="--set epochs=3 --set strategy.temperature=1.5")
NEXT_SETTINGS = SettingParts(recipe=False, strategy="one", example="--set strategy.temperature=1.5")


def add_arguments(parser) -> None:
    from ..strategies import list_strategies

    add_data_options(parser)
    group = parser.add_argument_group("loop")
    group.add_argument("--initial", type=int, required=True, metavar="N", help="labels at the start")
    group.add_argument("--budget", type=int, required=True, metavar="N", help="labels added per cycle")
    group.add_argument("--cycles", type=int, required=True, metavar="N",
                       help="trainings per strategy and trial: labels go initial, initial + budget, ..., "
                            "initial + (cycles - 1) x budget")
    group.add_argument("--trials", type=int, default=3, metavar="N", help="repeats with seeds 0..N-1 (default 3)")
    group.add_argument("--strategy", "--strategies", dest="strategies", required=True, type=name_list,
                       metavar="NAME,NAME", help=f"strategies to compare (include random for the paired "
                                                 f"differences): {', '.join(list_strategies())}; their options "
                                                 f"are --set strategy.NAME.KEY=VALUE")
    group.add_argument("--pool-subset", type=int, metavar="N", help="score a random N of the unlabelled pool per cycle")
    group.add_argument("--warm-start", action="store_true",
                       help="start each cycle from the previous cycle's weights instead of from scratch")
    group.add_argument("--stratified-initial", action="store_true", help="draw the initial set stratified by class")
    group.add_argument("--initial-strategy", default="random", metavar="NAME",
                       help="choose each trial's initial set with a strategy over --features instead of at random "
                            "(cold start, nothing trained): typiclust (recommended), coreset, kmeans_margin (with "
                            "--set strategy.kmeans_margin.k=K), mmd; shared by every strategy of the trial. Its "
                            "options are --set strategy.NAME.KEY=VALUE (default random)")
    group.add_argument("--features", metavar="NAME",
                       help="with --initial-strategy: the extractor whose features it chooses over: tiny, bovw or "
                            "pretrained (a frozen pretrained network, --set features.weights=PATH|NAME, default "
                            "torchvision:resnet18); its options are --set features.KEY=VALUE")
    group.add_argument("--class-balanced", action="store_true", help="equal picks per predicted class")
    add_proxy_options(add_model_options(parser.add_argument_group("model and recipe (of every cycle's training)"),
                                        SETTINGS))
    add_run_options(parser, resumable=True)
    add_backend_options(parser)


@command("al", add_arguments, report_kind="al",
         help="simulated active learning: compare strategies over labelling cycles",
         description="The simulated active-learning loop, labels revealed from the dataset. Each trial draws one "
                     "initial labelled set shared by every strategy; each of --cycles cycles trains on the labelled "
                     "set, tests, and (except the last) labels the --budget pool samples the strategy picks with "
                     "that model. Prints one line per cycle, then the accuracy per label count (mean ± std over "
                     "trials), the area under each learning curve and the paired difference to random with a 95 % "
                     "confidence interval; writes results.md/csv/json and learning_curves.png. Every finished "
                     "cycle is kept: run the same command again to resume after an interruption.",
         epilog="example: winnow al --data digits --initial 30 --budget 30 --cycles 6 --trials 3 "
                "--strategy random,margin,hybrid --set strategy.hybrid.lam=0.5 --out runs/al.  For people labelling "
                "a folder of unlabelled images: winnow al init | next | import (see `winnow al init --help`).")
def al(args) -> int:
    from ..experiments.active import al_run

    settings = SETTINGS.parse(args.settings, features=args.features)
    cold = args.initial_strategy != "random"  # options are by name: they apply wherever NAME runs
    initial_options = settings.strategies.get(args.initial_strategy, {}) if cold else {}
    options = {name: values for name, values in settings.strategies.items()
               if name in args.strategies or not cold or name != args.initial_strategy}
    results = al_run(args.data, args.out, initial=args.initial, budget=args.budget, cycles=args.cycles,
                     trials=args.trials, strategies=args.strategies, options=options,
                     initial_strategy=args.initial_strategy, initial_options=initial_options,
                     features=args.features, feature_options=settings.features,
                     pool_subset=args.pool_subset, warm_start=args.warm_start,
                     stratified_initial=args.stratified_initial, class_balanced=args.class_balanced,
                     model=args.model, preset=args.preset, recipe_overrides=recipe_overrides(args, settings),
                     weights=args.weights,
                     proxy_options=proxy_options(args), data_options=data_options(args), force=args.force,
                     on_progress=args.on_progress, on_cycle=print_cycle, **backend_options(args))
    print_al(results, args.out)
    return 0


def print_cycle(record: dict) -> None:
    print(f"Trial {record['trial'] + 1}/{record['trials']} || Cycle {record['cycle']}/{record['cycles']} || "
          f"Labels {record['labels']} || {record['strategy']} || test acc {100 * record['test_accuracy']:.2f} %"
          f"{ran_on(record)}", flush=True)


def print_al(results: dict, out) -> None:
    from ..runs import LEARNING_CURVES_PNG

    print_results(results, out, LEARNING_CURVES_PNG)


# ---------------------------------------------------------------- with people labelling

command_group("al", "Active learning with people labelling a folder of unlabelled images: init a labelling folder, "
                    "ask for the next images to label, import the answers.")


def add_init_arguments(parser) -> None:
    parser.add_argument("--data", required=True, metavar="folder:PATH", help="the images, a directory or a .zip")
    parser.add_argument("--labels", metavar="CSV", help="path,label rows of the images already labelled")
    parser.add_argument("--classes", type=name_list, metavar="A,B,C",
                        help="the class names (default: those in --labels); needed for a class with no label yet")
    parser.add_argument("--image-size", type=int, metavar="PX", help="resize the short side to PX and centre-crop")
    parser.add_argument("--skip-bad-images", action="store_true", help="skip unreadable images")
    parser.add_argument("--strategy", default="margin", metavar="NAME",
                        help="the selection strategy (default margin); its options are --set strategy.KEY=VALUE")
    parser.add_argument("--class-balanced", action="store_true", help="equal picks per predicted class")
    add_proxy_options(add_model_options(parser.add_argument_group("model and recipe of each cycle's training"),
                                        INIT_SETTINGS))
    parser.add_argument("--out", required=True, metavar="DIR", help="the labelling folder to create")
    parser.add_argument("--force", action="store_true", help="replace an existing labelling folder's files")


@command("al init", add_init_arguments, report_kind="al-labelling",
         help="start a labelling folder from images and the labels that exist",
         description="Start a labelling folder OUT for the images of --data folder:PATH (any layout; folders are "
                     "ignored) and the labels in --labels (a CSV with columns path and label).",
         epilog="example: winnow al init --data folder:photos --labels labels.csv --out runs/lab")
def al_init(args) -> int:
    from ..experiments import labelling

    settings = INIT_SETTINGS.parse(args.settings, strategy=args.strategy)
    data = {k: v for k, v in (("image_size", args.image_size), ("skip_bad_images", args.skip_bad_images or None))
            if v is not None}
    summary = labelling.init(args.data, args.labels, args.out, classes=args.classes, data_options=data,
                             strategy=args.strategy, options=settings.strategies.get(args.strategy, {}),
                             class_balanced=args.class_balanced, preset=args.preset, model=args.model,
                             recipe_overrides=recipe_overrides(args, settings), proxy_options=proxy_options(args),
                             weights=args.weights,
                             force=args.force)
    print_status(summary, args.out)
    return 0


def add_next_arguments(parser) -> None:
    parser.add_argument("dir", metavar="DIR", help="the labelling folder")
    parser.add_argument("--budget", type=int, required=True, metavar="N", help="how many images to ask for")
    parser.add_argument("--strategy", metavar="NAME",
                        help="another strategy than the folder's for this cycle; its options are "
                             "--set strategy.KEY=VALUE (without them: the folder's options for the folder's "
                             "strategy, else the strategy's defaults)")
    NEXT_SETTINGS.add_to(parser)
    parser.add_argument("--class-balanced", action="store_true", default=None, help="equal picks per predicted class")
    parser.add_argument("--seed", type=seed_value, default=0, metavar="S", help="seed of training and selection")


@command("al next", add_next_arguments, report_kind="al-labelling",
         help="train on what is labelled and write the next images to label",
         description="Train on the labelled images, select --budget unlabelled ones and write "
                     "DIR/queries/cycle_K.csv and a contact sheet cycle_K.png.")
def al_next(args) -> int:
    from ..experiments import labelling

    settings = NEXT_SETTINGS.parse(args.settings, strategy=args.strategy)
    record = labelling.next_cycle(args.dir, budget=args.budget, strategy=args.strategy,
                                  options=settings.strategies.get(args.strategy), class_balanced=args.class_balanced,
                                  seed=args.seed, on_progress=args.on_progress)
    print(f"cycle {record['cycle']}: {record['queried_count']} images to label in {record['queries_csv']}"
          f"; contact sheet {record['contact_sheet']}")
    print(f"fill in their label column (or label them in Label Studio) and run: winnow al import {args.dir} FILE")
    return 0


def add_import_arguments(parser) -> None:
    parser.add_argument("dir", metavar="DIR", help="the labelling folder")
    parser.add_argument("answers", metavar="FILE", help="answers.csv or a Label Studio export .json")
    parser.add_argument("--force", action="store_true", help="overwrite existing labels that differ")


@command("al import", add_import_arguments, report_kind="al-labelling",
         help="add the labels people gave",
         description="Add labels from a CSV (columns path and label; rows with an empty label are skipped) or a "
                     "Label Studio JSON export. Every problem is named by its row, and then nothing is imported.")
def al_import(args) -> int:
    from ..experiments import labelling

    counts = labelling.import_labels(args.dir, args.answers, force=args.force)
    print(f"{counts['added']} labels added, {counts['unchanged']} unchanged, {counts['overwritten']} overwritten, "
          f"{counts['unanswered']} rows without a label, from {counts['file']}")
    return 0


def add_status_arguments(parser) -> None:
    parser.add_argument("dir", metavar="DIR", help="the labelling folder")


@command("al status", add_status_arguments, report_kind=None,
         help="labelled images per class and pending queries")
def al_status(args) -> int:
    from ..experiments import labelling

    print_status(labelling.status(args.dir), args.dir)
    return 0


def print_status(summary: dict, folder) -> None:
    print(f"{folder}: {summary['labelled']} of {summary['images']} images labelled; "
          + ", ".join(f"{name} {count}" for name, count in summary["classes"].items()))
    if summary["pending"]:
        print(f"{summary['pending']} queried images wait for labels")
