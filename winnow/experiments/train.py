"""`winnow train`: train one model on a dataset's train split, test it, and record the run."""

from __future__ import annotations

import logging
import platform
import time
from pathlib import Path

import torch

from .. import __version__, data, metrics, runs
from ..models import create_model
from ..train import Recipe, fit, get_preset, predict, preset_model, resolve_device

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
) -> dict:
    """Train on `data_spec`'s train split, test on its test split, and write the run folder `out`.

    Returns the final metrics (also written to `out/final.json`).
    """
    run_dir = runs.prepare_run_dir(out, force=force)
    started = time.perf_counter()
    dataset = data.load(data_spec, **(data_options or {}))
    decode_seconds = time.perf_counter() - started
    log.info("%s (loaded in %.1f s)", dataset.describe(), decode_seconds)

    preset, recipe, model_name, network = build_model(dataset, model, preset, recipe_overrides)
    runs.write_json(run_dir / runs.CONFIG, {
        **run_config("train", data_spec, data_options, dataset),
        "model": model_name,
        "preset": preset,
        "recipe": recipe.to_dict(),
    })

    result = fit(network, dataset, dataset.train_indices, recipe,
                 on_epoch_end=lambda record: runs.append_jsonl(run_dir / runs.METRICS, record),
                 progress=progress)
    runs.save_weights(run_dir / runs.WEIGHTS, result.model)
    final = evaluate(result.model, dataset, recipe)
    final.update({
        "train_seconds": result.train_seconds,
        "decode_seconds": decode_seconds,
        "epochs_run": len(result.history),
        "best_epoch": result.best_epoch,
        "device": result.device,
        "winnow_version": __version__,
    })
    runs.write_json(run_dir / runs.FINAL, final)
    return final


def evaluate(model: torch.nn.Module, dataset: data.Dataset, recipe: Recipe) -> dict:
    """Test-split metrics of `model`: accuracy (a fraction), per-class accuracy, confusion matrix."""
    outputs = predict(model, dataset, dataset.test_indices, recipe, progress=False)
    summary = metrics.summary(outputs.labels, outputs.probs, dataset.class_names)
    return {
        "test_accuracy": summary.pop("accuracy"),
        **({"test_top5_accuracy": summary.pop("top5_accuracy")} if "top5_accuracy" in summary else {}),
        "test_count": int(len(outputs.labels)),
        **summary,
    }
