"""`winnow calibrate`: fit a temperature to a trained run's hold-out and measure its calibration."""

from __future__ import annotations

from . import command


def add_arguments(parser) -> None:
    parser.add_argument("run_dir", metavar="RUN_DIR", help="the run folder of a trained model")
    parser.add_argument("--bins", type=int, default=15, metavar="B",
                        help="equal-width confidence bins of ECE, MCE and the reliability diagram (default 15)")
    parser.add_argument("--device", metavar="DEV", help="predict on DEV instead of the recipe's device")


@command("calibrate", add_arguments, report_kind="train",
         help="fit a temperature to a trained run's hold-out and measure its calibration",
         description="Reload the data and weights of RUN_DIR, fit a temperature on its hold-out (val_indices.npy, "
                     "written by `winnow train --calibrate` or `--set val_fraction=0.1`) by negative log-likelihood, "
                     "and write calibration.json (test accuracy, ECE, MCE, NLL, Brier score and reliability-diagram "
                     "data before and after scaling) and reliability.png. Nothing else in RUN_DIR is changed.",
         epilog="example: winnow calibrate runs/c10 --bins 15")
def calibrate(args) -> int:
    from ..experiments.calibrate import calibrate_run

    record = calibrate_run(args.run_dir, bins=args.bins, device=args.device)
    before, after = record["test"]["before"], record["test"]["after"]
    print_calibration(record["temperature"], record["hold_out_count"], (before["ece"], after["ece"]),
                      (before["nll"], after["nll"]), args.run_dir)
    return 0


def print_calibration(temperature: float, hold_out_count: int, ece: tuple[float, float], nll: tuple[float, float],
                      out) -> None:
    """The temperature, and the test ECE and NLL (before, after) scaling."""
    print(f"temperature {temperature:.3f}, fitted on {hold_out_count} hold-out images")
    print(f"test ECE {100 * ece[0]:.2f} % -> {100 * ece[1]:.2f} %; NLL {nll[0]:.4f} -> {nll[1]:.4f}; "
          f"calibration.json and reliability.png in {out}")
