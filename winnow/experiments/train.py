"""`winnow train`: train one model on a dataset's train split, test it, and record the run."""

from __future__ import annotations

import logging
import platform
import time
from pathlib import Path

import torch

from .. import __version__, calibration, data, metrics, runs
from ..models import create_model
from ..train import Outputs, Recipe, TrainResult, fit, get_preset, predict, preset_model, resolve_device
from .calibrate import HOLD_OUT_FRACTION, calibrate_outputs

log = logging.getLogger("winnow.experiments.train")


def choose_preset(dataset: data.Dataset, device: str = "auto") -> str:
    """`small` for images under 16 px, else `gpu` on CUDA and `cpu` elsewhere."""
    if min(dataset.image_size) < 16:
        return "small"
    return "gpu" if resolve_device(device).type == "cuda" else "cpu"


def build_model(dataset: data.Dataset, model: str | None, preset: str, recipe_overrides: dict | None):
    """(preset, recipe, model name, fresh model): `auto` resolved, the preset's model unless
    `model` names one, weights initialised under the recipe's seed."""
    overrides = recipe_overrides or {}
    preset = choose_preset(dataset, overrides.get("device", "auto")) if preset == "auto" else preset
    recipe = get_preset(preset, **overrides)
    model_name = model or preset_model(preset)
    torch.manual_seed(recipe.seed)
    return preset, recipe, model_name, create_model(model_name, dataset.num_classes, dataset.in_channels)


def run_config(command: str, data_spec: str, data_options: dict | None, dataset: data.Dataset) -> dict:
    """The part of config.json every command writes: command, data, dataset and versions."""
    return {
        "command": command,
        "data": data_spec,
        "data_options": data_options or {},
        "dataset": dataset.describe(),
        "class_names": dataset.class_names,
        "winnow_version": __version__,
        "torch_version": torch.__version__,
        "python_version": platform.python_version(),
    }


def train_run(
    data_spec: str,
    out: str | Path,
    *,
    model: str | None = None,
    preset: str = "auto",
    recipe_overrides: dict | None = None,
    data_options: dict | None = None,
    force: bool = False,
    progress: bool | None = None,
    calibrate: bool = False,
    tensorboard: bool = False,
) -> dict:
    """Train on `data_spec`'s train split, test on its test split, and write the run folder `out`.

    With `tensorboard`, the per-epoch scalars (and the final test accuracy) are also written as
    TensorBoard events to `out/tensorboard` (needs the tensorboard package).

    A hold-out (`val_fraction`) is saved as `out/val_indices.npy`. With `calibrate`, a
    temperature is fitted on it after training (`experiments.calibrate`); a recipe without a
    hold-out gets val_fraction 0.1 for that. Returns the final metrics (also written to
    `out/final.json`), with the uncalibrated test ECE, NLL and Brier score.
    """
    summary_writer = _summary_writer_class() if tensorboard else None  # missing tensorboard: an error before the run
    run_dir = runs.prepare_run_dir(out, force=force)
    started = time.perf_counter()
    dataset = data.load(data_spec, **(data_options or {}))
    decode_seconds = time.perf_counter() - started
    log.info("%s (loaded in %.1f s)", dataset.describe(), decode_seconds)

    preset, recipe, model_name, network = build_model(dataset, model, preset, recipe_overrides)
    recipe, note = _with_hold_out(recipe) if calibrate else (recipe, None)
    runs.write_json(run_dir / runs.CONFIG, {
        **run_config("train", data_spec, data_options, dataset),
        "model": model_name,
        "preset": preset,
        "recipe": recipe.to_dict(),
        "calibrate": calibrate,
        **({"calibrate_note": note} if note else {}),
    })

    scalars = summary_writer(log_dir=str(run_dir / runs.TENSORBOARD)) if summary_writer else None

    def on_epoch_end(record: dict) -> None:
        runs.append_jsonl(run_dir / runs.METRICS, record)
        if scalars is not None:
            _write_scalars(scalars, record)

    result = fit(network, dataset, dataset.train_indices, recipe, on_epoch_end=on_epoch_end, progress=progress)
    runs.save_weights(run_dir / runs.WEIGHTS, result.model)
    if result.val_indices is not None:
        runs.save_array(run_dir / runs.VAL_INDICES, result.val_indices)
    test_outputs = predict(result.model, dataset, dataset.test_indices, recipe, progress=False)
    final = {**summarize_test_outputs(test_outputs, dataset.class_names), **_calibration_metrics(test_outputs)}
    if calibrate:
        final["calibration"] = _fit_calibration(result, dataset, recipe, test_outputs, run_dir)
    final.update({
        "val_count": 0 if result.val_indices is None else int(len(result.val_indices)),
        "train_seconds": result.train_seconds,
        "decode_seconds": decode_seconds,
        "epochs_run": len(result.history),
        "best_epoch": result.best_epoch,
        "device": result.device,
        "winnow_version": __version__,
    })
    runs.write_json(run_dir / runs.FINAL, final)
    if scalars is not None:
        scalars.add_scalar("test/accuracy", final["test_accuracy"], len(result.history))
        scalars.close()
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


def _with_hold_out(recipe: Recipe) -> tuple[Recipe, str | None]:
    """The recipe with a hold-out to calibrate on, and a note when one had to be added."""
    if recipe.val_fraction > 0:
        return recipe, None
    note = (f"val_fraction set to {HOLD_OUT_FRACTION} by --calibrate: the temperature is fitted on a hold-out "
            "the model never trains on (the recipe had val_fraction 0)")
    log.warning("%s", note)
    return recipe.replace(val_fraction=HOLD_OUT_FRACTION), note


def _fit_calibration(result: TrainResult, dataset: data.Dataset, recipe: Recipe, test_outputs: Outputs,
                     run_dir: Path) -> dict:
    """Fit the temperature on the hold-out, write calibration.json; the headline for final.json."""
    val_outputs = predict(result.model, dataset, result.val_indices, recipe, progress=False)
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


def evaluate(model: torch.nn.Module, dataset: data.Dataset, recipe: Recipe) -> dict:
    """Test-split metrics of `model`: accuracy (a fraction), per-class accuracy, confusion matrix."""
    outputs = predict(model, dataset, dataset.test_indices, recipe, progress=False)
    return summarize_test_outputs(outputs, dataset.class_names)


def summarize_test_outputs(outputs: Outputs, class_names: list[str]) -> dict:
    """Accuracy (a fraction), top-5 accuracy (K > 5), per-class accuracy and confusion matrix of test outputs."""
    summary = metrics.summary(outputs.labels, outputs.probs, class_names)
    return {
        "test_accuracy": summary.pop("accuracy"),
        **({"test_top5_accuracy": summary.pop("top5_accuracy")} if "top5_accuracy" in summary else {}),
        "test_count": int(len(outputs.labels)),
        **summary,
    }
