"""`winnow train`: train one model on a dataset's train split, test it, and record the run."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from .. import __version__, calibration, data, runs
from ..train import Outputs, TrainResult
from .calibrate import HOLD_OUT_FRACTION, calibrate_outputs
from .engine import TrainingSpec, check_seed, load_data, run_config, summarize_test_outputs

log = logging.getLogger("winnow.experiments.train")


def train_run(
    source: str | data.Dataset,
    out: str | Path,
    *,
    seed: int = 0,
    model: str | None = None,
    preset: str = "auto",
    recipe_overrides: dict | None = None,
    weights: str | None = None,
    data_options: dict | None = None,
    force: bool = False,
    on_progress=None,
    calibrate: bool = False,
    tensorboard: bool = False,
) -> dict:
    """Train on `source`'s train split, test on its test split, and write the run folder `out`.

    source : a data spec, or a `Dataset` (e.g. from `winnow.data.from_arrays`)
    seed : the training's seed (weights, order, augmentation); a seed among `recipe_overrides`
        is an error
    weights : pretrained weights every trained model starts from: a state dict file or a named
        source such as torchvision:resnet50 (`winnow.weights`, `TrainingSpec.resolve`)
    on_progress : called with the trainer's progress (`winnow.progress`)

    With `tensorboard`, the per-epoch scalars (and the final test accuracy) are also written as
    TensorBoard events to `out/tensorboard` (needs the tensorboard package).

    A hold-out (`val_fraction`) is saved as `out/val_indices.npy`. With `calibrate`, a
    temperature is fitted on it after training (`experiments.calibrate`); a recipe without a
    hold-out gets val_fraction 0.1 for that. Returns the final metrics (also written to
    `out/final.json`), with the uncalibrated test ECE, NLL and Brier score, and the times:
    `wall_seconds` (the whole call, loading the data included), `decode_seconds` (loading),
    `train_seconds` and `test_seconds`.
    """
    started = time.perf_counter()
    seed = check_seed(seed)
    summary_writer = _summary_writer_class() if tensorboard else None  # missing tensorboard: an error before the run
    dataset, decode_seconds = load_data(source, data_options)
    spec = TrainingSpec.resolve(dataset, model, preset, recipe_overrides, seed_option="--seed", weights=weights)
    spec, note = _with_hold_out(spec) if calibrate else (spec, None)
    run_dir = runs.prepare_run_dir(out, force=force)
    runs.write_json(run_dir / runs.CONFIG, {
        **run_config("train", source, data_options, dataset),
        **spec.to_config(),
        "recipe": spec.seeded(seed).to_dict(),  # the recipe as trained, its seed included
        "seed": int(seed),
        "calibrate": calibrate,
        **({"calibrate_note": note} if note else {}),
    })
    spec = spec.attach(on_progress=on_progress)
    scalars = summary_writer(log_dir=str(run_dir / runs.TENSORBOARD)) if summary_writer else None

    def on_epoch_end(record: dict) -> None:
        runs.append_jsonl(run_dir / runs.METRICS, record)
        if scalars is not None:
            _write_scalars(scalars, record)

    result = spec.train(dataset, dataset.train_indices, seed, on_epoch_end=on_epoch_end)
    runs.save_weights(run_dir / runs.WEIGHTS, result.model)
    if result.val_indices is not None:
        runs.save_array(run_dir / runs.VAL_INDICES, result.val_indices)
    testing = time.perf_counter()
    test_outputs = spec.predict(result.model, dataset, dataset.test_indices, seed, part="testing")
    final = {**summarize_test_outputs(test_outputs, dataset.class_names), **_calibration_metrics(test_outputs)}
    test_seconds = time.perf_counter() - testing
    if calibrate:
        final["calibration"] = _fit_calibration(spec, result, dataset, seed, test_outputs, run_dir)
    final.update({
        "val_count": 0 if result.val_indices is None else int(len(result.val_indices)),
        "train_seconds": result.train_seconds,
        "compile_seconds": result.compile_seconds,  # part of train_seconds (recipe compile)
        "test_seconds": test_seconds,
        "decode_seconds": decode_seconds,
        "epochs_run": len(result.history),
        "epochs_planned": result.recipe.epochs,  # after min_steps or the time budget set the length
        "steps": result.steps,
        "best_epoch": result.best_epoch,
        "device": result.device,
        "winnow_version": __version__,
    })
    if scalars is not None:
        scalars.add_scalar("test/accuracy", final["test_accuracy"], len(result.history))
        scalars.close()
    final["wall_seconds"] = time.perf_counter() - started
    runs.write_json(run_dir / runs.FINAL, final)
    return final


TENSORBOARD_SCALARS = {"train_loss": "train/loss", "train_accuracy": "train/accuracy", "val_accuracy": "val/accuracy",
                       "lr": "train/lr", "seconds": "time/seconds"}  # metrics.jsonl key -> TensorBoard tag


def _summary_writer_class():
    """torch.utils.tensorboard.SummaryWriter; a clear error when tensorboard is not installed."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise ValueError("--tensorboard (tensorboard=True) needs the tensorboard package, which is not installed: "
                         "pip install tensorboard") from None
    return SummaryWriter


def _write_scalars(writer, record: dict) -> None:
    """One epoch's record as scalars at step = epoch, flushed so a stopped run keeps them."""
    for key, tag in TENSORBOARD_SCALARS.items():
        if record.get(key) is not None:
            writer.add_scalar(tag, record[key], record["epoch"])
    writer.flush()


def _with_hold_out(spec: TrainingSpec) -> tuple[TrainingSpec, str | None]:
    """The spec with a hold-out to calibrate on, and a note when one had to be added."""
    if spec.recipe.val_fraction > 0:
        return spec, None
    note = (f"val_fraction set to {HOLD_OUT_FRACTION} by --calibrate: the temperature is fitted on a hold-out "
            "the model never trains on (the recipe had val_fraction 0)")
    log.warning("%s", note)
    return spec.override({"val_fraction": HOLD_OUT_FRACTION}), note


def _fit_calibration(spec: TrainingSpec, result: TrainResult, dataset: data.Dataset, seed: int,
                     test_outputs: Outputs, run_dir: Path) -> dict:
    """Fit the temperature on the hold-out, write calibration.json; the headline for final.json."""
    val_outputs = spec.predict(result.model, dataset, result.val_indices, seed)
    record = calibrate_outputs(val_outputs, test_outputs, run_dir)
    after = record["test"]["after"]
    return {"temperature": record["temperature"], "hold_out_count": record["hold_out_count"],
            "test_ece": after["ece"], "test_nll": after["nll"], "test_brier": after["brier"]}


def _calibration_metrics(outputs: Outputs) -> dict:
    """The uncalibrated test ECE (15 bins), NLL and Brier score of `outputs`."""
    probs = calibration.softmax(outputs.logits)  # float64: no float32 rounding in the NLL
    return {"test_ece": calibration.expected_calibration_error(outputs.labels, probs),
            "test_nll": calibration.negative_log_likelihood(outputs.labels, probs),
            "test_brier": calibration.brier_score(outputs.labels, probs)}
