"""`winnow select`: choose samples from the pool with a strategy and write their indices."""

from __future__ import annotations

from . import command, console
from .options import (SettingParts, add_data_options, add_model_options, add_proxy_options, add_run_options,
                      data_options, proxy_options, recipe_overrides, seed_value)

SETTINGS = SettingParts(strategy="one", features=True,
                        example="--set epochs=3 --set strategy.temperature=1.5 --set features.weights=r18.pth")


def add_arguments(parser) -> None:
    from ..strategies import list_strategies
    from ..strategies.pruning import DEFAULT as PRUNE_DEFAULT

    add_data_options(parser)
    group = parser.add_argument_group("selection")
    group.add_argument("--strategy", metavar="NAME",
                       help=f"one of: {', '.join(list_strategies())}; its options are --set strategy.KEY=VALUE "
                            f"(default with --labelled all: {PRUNE_DEFAULT}, which keeps the hard end, an even "
                            "coverage or the easy end by how much is kept; otherwise required)")
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
    group.add_argument("--seed", type=seed_value, metavar="S",
                       help="seed of the strategy and of the proxy's training (default 0)")
    group.add_argument("--features", metavar="NAME",
                       help="features of an extractor instead of a proxy network (tiny, bovw, see winnow "
                            "baseline; pretrained: a frozen pretrained network, --set features.weights=PATH|NAME, "
                            "default torchvision:resnet18), for strategies over features (coreset, typiclust, "
                            "kmeans_margin, mmd): they then run with nothing labelled, before any network is "
                            "trained; the extractor's options are --set features.KEY=VALUE")
    add_proxy_options(add_model_options(
        parser.add_argument_group("proxy model (for strategies that need probabilities or features)"), SETTINGS))
    add_run_options(parser)


@command("select", add_arguments, report_kind="select",
         help="choose samples from the pool with a strategy and write their indices",
         description="Choose --budget samples (or --fraction of the pool) from the pool of SPEC with a "
                     "selection strategy. The pool is the train split minus the --labelled set. Strategies that "
                     "need probabilities or features get them from a proxy model trained on the labelled set. "
                     "Writes config.json, selected.csv, selected.npy (dataset indices, best first) and final.json "
                     "(plus metrics.jsonl and model.pt of the proxy, when one is trained).",
         epilog="examples: winnow select --data cifar10:~/data --strategy margin --budget 1000 "
                "--labelled labelled.csv --set strategy.temperature=1.5 --out runs/al1;  winnow select --data "
                "cifar10:~/data --strategy self_confidence --fraction 0.5 --labelled all --out runs/prune50")
def select(args) -> int:
    from ..experiments.select import select_run
    from ..strategies.pruning import DEFAULT as PRUNE_DEFAULT

    if args.strategy is None:
        if args.labelled != "all":
            raise ValueError("--strategy is required (it has a default only with --labelled all: "
                             f"{PRUNE_DEFAULT})")
        args.strategy = PRUNE_DEFAULT
    settings = SETTINGS.parse(args.settings, strategy=args.strategy, features=args.features)
    seed = 0 if args.seed is None else args.seed
    final = select_run(args.data, args.out, strategy=args.strategy, budget=args.budget, fraction=args.fraction,
                       labelled=args.labelled, class_balanced=args.class_balanced,
                       options=settings.strategies.get(args.strategy, {}), seed=seed, model=args.model,
                       preset=args.preset, recipe_overrides=recipe_overrides(args, settings), weights=args.weights,
                       proxy_options=proxy_options(args), data_options=data_options(args), force=args.force,
                       on_progress=args.on_progress, features=args.features, feature_options=settings.features)
    print_selection(final, args.out)
    return 0


def print_selection(final: dict, out) -> None:
    from pathlib import Path

    from rich.table import Table

    from ..runs import SELECTED_CSV, SELECTED_NPY

    output = console()
    summary = Table(title=f"Selection: {final['strategy']}", show_header=False)
    summary.add_column("")
    summary.add_column("", justify="right")
    summary.add_row("selected", f"{final['selected_count']} (budget {final['budget']})")
    summary.add_row("pool", f"{final['pool_count']} ({final['train_count']} train, {final['labelled_count']} labelled)")
    if final["proxy_trained"]:
        summary.add_row("proxy training", f"{final['proxy_train_seconds']:.2f} s on {final['device']}")
    summary.add_row("scoring", f"{final['scoring_seconds']:.2f} s")
    output.print(summary)
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
    output.print(counts)
    output.print(f"selection in {Path(out) / SELECTED_CSV} and {Path(out) / SELECTED_NPY}; run folder {out}")
