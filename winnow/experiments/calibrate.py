"""`winnow calibrate RUN_DIR` and `winnow train --calibrate`: temperature scaling of a trained
model, fitted on the run's hold-out (images it never trained on), measured on the test split.

Writes RUN_DIR/calibration.json (the temperature and, for the hold-out and the test split, the
metrics of `calibration.calibration_summary` before and after scaling) and reliability.png (the
test split's reliability diagrams). Nothing else in the run folder is changed.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from .. import __version__, data, plots, runs
from ..calibration import temperature_scaling_report
from ..data.split import stratified_split
from ..models import create_model
from ..train import Outputs, Recipe, predict

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
    that predates that file, the same stratified split the trainer drew. `device` overrides the
    recipe's. Returns the record written to calibration.json.
    """
    run_dir = Path(run_dir)
    config = _read_run_config(run_dir)
    dataset = data.load(config["data"], **config.get("data_options", {}))
    if dataset.class_names != config["class_names"]:
        raise ValueError(f"{config['data']} now has the classes {dataset.class_names}, but the run in {run_dir} "
                         f"was trained on {config['class_names']}")
    recipe = Recipe.from_dict(config["recipe"])
    if device is not None:
        recipe = recipe.replace(device=device)
    val_indices = _hold_out(run_dir, config, dataset, recipe)
    model = create_model(config["model"], dataset.num_classes, dataset.in_channels)
    model.load_state_dict(runs.load_weights(run_dir / runs.WEIGHTS))
    val_outputs = predict(model, dataset, val_indices, recipe)
    test_outputs = predict(model, dataset, dataset.test_indices, recipe)
    return calibrate_outputs(val_outputs, test_outputs, run_dir, bins)


def _read_run_config(run_dir: Path) -> dict:
    if not (run_dir / runs.CONFIG).is_file():
        raise FileNotFoundError(f"{run_dir} is not a run folder (no {runs.CONFIG})")
    config = runs.read_json(run_dir / runs.CONFIG)
    missing = [key for key in ("data", "model", "recipe", "class_names") if key not in config]
    if missing:
        raise ValueError(f"{run_dir / runs.CONFIG} has no {', '.join(missing)}: it is not a run of one trained model")
    if not (run_dir / runs.WEIGHTS).is_file():
        raise FileNotFoundError(f"run folder {run_dir} has no weights ({runs.WEIGHTS}) to calibrate")
    return config


def _hold_out(run_dir: Path, config: dict, dataset: data.Dataset, recipe: Recipe) -> np.ndarray:
    """(V,) int64 dataset indices of the run's hold-out, checked against the train split."""
    path = run_dir / runs.VAL_INDICES
    if path.is_file():
        indices = np.load(path, allow_pickle=False)
    elif config.get("command") == "train" and recipe.val_fraction > 0:  # the split `fit` drew
        train_indices = dataset.train_indices
        parts = stratified_split(dataset.labels.numpy()[train_indices], recipe.val_fraction, recipe.seed)
        indices = train_indices[parts["test"]]
        log.info("no %s in %s: using the trainer's split (val_fraction %g, seed %d)", runs.VAL_INDICES, run_dir,
                 recipe.val_fraction, recipe.seed)
    else:
        raise ValueError(f"run folder {run_dir} has no hold-out ({runs.VAL_INDICES}) to fit a temperature on: "
                         "train it with `winnow train --calibrate` or `winnow train --set val_fraction=0.1`")
    indices = np.asarray(indices)
    if indices.ndim != 1 or len(indices) == 0 or not np.issubdtype(indices.dtype, np.integer):
        raise ValueError(f"{path} must hold a non-empty 1-D array of dataset indices")
    if not np.isin(indices, dataset.train_indices).all():
        raise ValueError(f"the hold-out of {run_dir} is not part of the train split of {config['data']}: "
                         "has the data changed since the run?")
    return indices.astype(np.int64)
