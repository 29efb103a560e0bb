"""`winnow calibrate RUN_DIR` and `winnow train --calibrate`: temperature scaling of a trained
model, fitted on the run's hold-out (images it never trained on), measured on the test split.

Writes RUN_DIR/calibration.json (the temperature and, for the hold-out and the test split, the
metrics of `calibration.calibration_summary` before and after scaling) and reliability.png (the
test split's reliability diagrams). Nothing else in the run folder is changed.
"""

from __future__ import annotations

import logging
from pathlib import Path

from .. import __version__, plots, runs
from ..calibration import temperature_scaling_report
from ..train import Outputs, predict

log = logging.getLogger("winnow.experiments.calibrate")

HOLD_OUT_FRACTION = 0.1  # the val_fraction of `train --calibrate` when the recipe has none


def calibrate_outputs(val_outputs: Outputs, test_outputs: Outputs, run_dir: str | Path, bins: int = 15) -> dict:
    """Fit the temperature on `val_outputs` (the hold-out), measure both sets before and after
    scaling, write calibration.json and reliability.png to `run_dir`, and return the record."""
    run_dir = Path(run_dir)
    record = {
        **temperature_scaling_report(val_outputs.logits, val_outputs.labels, test_outputs.logits,
                                     test_outputs.labels, bins),
        "hold_out_count": int(len(val_outputs.labels)),
        "test_count": int(len(test_outputs.labels)),
        "winnow_version": __version__,
    }
    runs.write_json(run_dir / runs.CALIBRATION, record)
    plots.plot_reliability(record["test"]["before"], record["test"]["after"], run_dir / runs.RELIABILITY_PNG,
                           title=f"Test split, temperature {record['temperature']:.3f} (fitted on "
                                 f"{record['hold_out_count']} hold-out images)")
    before, after = record["test"]["before"], record["test"]["after"]
    log.info("temperature %.4f: test ECE %.4f -> %.4f, NLL %.4f -> %.4f", record["temperature"], before["ece"],
             after["ece"], before["nll"], after["nll"])
    return record


def calibrate_run(run_dir: str | Path, bins: int = 15, device: str | None = None) -> dict:
    """Calibrate the model saved in the run folder `run_dir`: reload its data and weights,
    predict on its hold-out and test split, and write calibration.json and reliability.png.

    The hold-out is RUN_DIR/val_indices.npy, or, for a `winnow train` run with val_fraction > 0
    that predates that file, the same split the trainer drew (`evaluate.load_trained_run`).
    `device` overrides the recipe's. Returns the record written to calibration.json.
    """
    from .evaluate import load_trained_run

    trained = load_trained_run(run_dir, device, what="to calibrate")
    if trained.hold_out is None:
        raise ValueError(f"run folder {run_dir} has no hold-out ({runs.VAL_INDICES}) to fit a temperature on: "
                         "train it with `winnow train --calibrate` or `winnow train --set val_fraction=0.1`")
    val_outputs = predict(trained.model, trained.dataset, trained.hold_out, trained.recipe)
    test_outputs = predict(trained.model, trained.dataset, trained.dataset.test_indices, trained.recipe)
    return calibrate_outputs(val_outputs, test_outputs, run_dir, bins)
