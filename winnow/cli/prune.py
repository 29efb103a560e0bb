"""`winnow prune`: compare strategies that keep a fraction of the training data, against random and full."""

from __future__ import annotations

from . import command, print_results
from .options import (SettingParts, add_backend_options, add_data_options, add_model_options, add_proxy_options,
                      add_run_options, backend_options, data_options, float_list, name_list, proxy_options, ran_on,
                      recipe_overrides, seed_list)

SETTINGS = SettingParts(proxy=True, strategy="many", features=True,
                        example="--set epochs=8 --set proxy.epochs=3 --set strategy.margin.temperature=2")


def add_arguments(parser) -> None:
    from ..strategies import list_strategies
    from ..strategies.pruning import DEFAULT as PRUNE_DEFAULT

    add_data_options(parser)
    group = parser.add_argument_group("comparison")
    group.add_argument("--fractions", required=True, type=float_list, metavar="F,F",
                       help="shares of the train split to keep, each in (0, 1), e.g. 0.3,0.5")
    group.add_argument("--strategies", default=["random", PRUNE_DEFAULT], type=name_list, metavar="NAME,NAME",
                       help=f"strategies to compare (include random for the paired differences): "
                            f"{', '.join(list_strategies())}; their options are --set strategy.NAME.KEY=VALUE "
                            f"(default random,{PRUNE_DEFAULT}: {PRUNE_DEFAULT} keeps the hard end, an even coverage or "
                            "the easy end by how much is kept)")
    group.add_argument("--seeds", default=[0, 1, 2], type=seed_list, metavar="N|S,S",
                       help="a count N (seeds 0..N-1) or a list of seeds, e.g. 0,1,2 (default 3)")
    group.add_argument("--class-balanced", action="store_true", help="keep equal numbers per class")
    group.add_argument("--features", metavar="NAME",
                       help="score features of an extractor instead of a trained proxy's: tiny, bovw or pretrained "
                            "(a frozen pretrained network, --set features.weights=PATH|NAME, default "
                            "torchvision:resnet18; options --set features.KEY=VALUE), for strategies that need only "
                            "features and labels (coreset, typiclust, kmeans_margin, mmd, random): no proxy is "
                            "trained")
    group.add_argument("--distill", metavar="SPEC",
                       help="also train every kept subset with the full-data model of its seed as teacher, with "
                            "this loss spec of `winnow distill` (e.g. kd): rows 'STRATEGY + teacher'")
    group.add_argument("--temperature", type=float, metavar="T", help="with --distill: kd's temperature (default 4)")
    group.add_argument("--alpha", type=float, metavar="A",
                       help="with --distill: (1 - A) x label loss + A x the teacher's terms (default 0.5)")
    group.add_argument("--scale-epochs", action="store_true",
                       help="train subsets for epochs / fraction (as many steps as the full run) instead of "
                            "the recipe's epochs")
    model = add_model_options(parser.add_argument_group(
        "model and recipe (of every training: proxy, subsets, full)",
        "--set proxy.KEY=VALUE changes the proxy's recipe only; by default the proxy is the full-data run"), SETTINGS)
    add_proxy_options(model)
    add_run_options(parser, resumable=True)
    add_backend_options(parser)


@command("prune", add_arguments, report_kind="prune",
         help="compare strategies that keep a fraction of the training data, against random and full",
         description="For every fraction, strategy and seed: score the train split with a proxy model (when the "
                     "strategy needs one), keep that fraction, train from scratch on it with the same recipe and "
                     "test; plus the full-data run. Prints and writes results.md, results.csv and results.json: "
                     "test accuracy mean ± std per cell, the paired difference to random and to full data with a "
                     "95 % confidence interval, and the time spent choosing next to the training time. Finished "
                     "cells are kept in RUN_DIR/cells: run the same command again to resume after an interruption.",
         epilog="example: winnow prune --data cifar10:~/data --fractions 0.3,0.5 --strategies "
                "random,el2n,margin,kmeans_margin,hybrid --seeds 3 --set proxy.epochs=4 "
                "--set strategy.margin.temperature=2 --out runs/prune")
def prune(args) -> int:
    from ..experiments.prune import prune_run

    settings = SETTINGS.parse(args.settings, features=args.features)
    results = prune_run(args.data, args.out, fractions=args.fractions, strategies=args.strategies, seeds=args.seeds,
                        options=settings.strategies, class_balanced=args.class_balanced,
                        scale_epochs=args.scale_epochs, model=args.model, preset=args.preset,
                        recipe_overrides=recipe_overrides(args, settings), proxy_overrides=settings.proxy,
                        weights=args.weights,
                        proxy_options=proxy_options(args), data_options=data_options(args), force=args.force,
                        distill=args.distill, distill_options=_distill_options(args),
                        features=args.features, feature_options=settings.features,
                        on_progress=args.on_progress, on_cell=print_cell, **backend_options(args))
    print_prune(results, args.out)
    return 0


def _distill_options(args):
    """--temperature and --alpha as DistillOptions (None without --distill; an error without it)."""
    given = {k: v for k, v in (("temperature", args.temperature), ("alpha", args.alpha)) if v is not None}
    if args.distill is None:
        if given:
            raise ValueError(f"--{', --'.join(given)} apply only with --distill SPEC")
        return None
    from ..distill import DistillOptions

    return DistillOptions(**given)


def print_cell(cell: dict) -> None:
    share = "full data" if cell["strategy"] == "full" else f"{cell['strategy']} {100 * cell['fraction']:g} %"
    share += " + teacher" if cell.get("distill") else ""
    print(f"seed {cell['seed']} || {share} || {cell['kept']} kept || test acc {100 * cell['test_accuracy']:.2f} % "
          f"|| training {cell['train_seconds']:.1f} s{ran_on(cell)}", flush=True)


def print_prune(results: dict, out) -> None:
    print_results(results, out)
