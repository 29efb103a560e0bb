"""`winnow ensemble`: the mean of several trained models' test probabilities."""

from __future__ import annotations

from . import command, print_results
from .options import add_run_options


def add_arguments(parser) -> None:
    parser.add_argument("run_dirs", nargs="+", metavar="RUN_DIR",
                        help="run folders of `winnow train` (at least two), trained on the same data and classes")
    parser.add_argument("--weights", choices=("mean", "fit"), default="mean",
                        help="mean: equal weights (default); fit: weights fitted by NLL on the hold-out the members "
                             "share (their val_indices.npy), never on the test split")
    parser.add_argument("--device", metavar="DEV", help="predict on this device instead of each member's")
    add_run_options(parser, resumable=True)


@command("ensemble", add_arguments, report_kind="ensemble",
         help="average the test probabilities of trained models and compare the ensemble with its members",
         description="Reload every member (a `winnow train` run folder), predict the test split with its own recipe, "
                     "and average the probabilities. Prints and writes results.md, results.csv and results.json: "
                     "each member, the mean member and the ensemble (accuracy, calibration error, NLL, Brier "
                     "score); final.json holds the ensemble's confusion matrix and per-class accuracy.",
         epilog="example: winnow ensemble runs/s0 runs/s1 runs/s2 --out runs/ensemble")
def ensemble(args) -> int:
    from ..experiments.ensemble import ENSEMBLE_PROBS, ensemble_run

    results = ensemble_run(args.run_dirs, args.out, weights=args.weights, device=args.device, force=args.force,
                           on_progress=args.on_progress)
    print_results(results, args.out, ENSEMBLE_PROBS)
    return 0
