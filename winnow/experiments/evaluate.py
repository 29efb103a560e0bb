"""`winnow evaluate RUN_DIR --pad-bona-fide CLASS --out DIR`: evaluate the model of a finished
`winnow train` run again, into a new folder.

The run's model (model.pt), data (the spec and options of its config.json) and recipe are
reloaded; the model predicts the test split and, to fix the PAD threshold, the development split:
the run's hold-out (val_indices.npy) when it has one, else the dataset's val split. The evaluation
is `experiments.pad`'s, the same code `winnow train --pad-bona-fide` runs, so a run trained with
it gets the same numbers back. Nothing in RUN_DIR is written: the results go to `out`
(config.json, final.json, pad_scores.npz, and the report).

`load_trained_run` is the one way a command reloads a trained run (`winnow calibrate` too).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .. import __version__, data, runs
from ..models import create_model
from ..train import Recipe, predict
from . import pad
from .engine import run_config, summarize_test_outputs

log = logging.getLogger("winnow.experiments.evaluate")


@dataclass
class TrainedRun:
    """A finished `winnow train` run reloaded: its folder, config, data, recipe, model and hold-out."""

    path: Path
    config: dict
    dataset: data.Dataset
    recipe: Recipe
    model: torch.nn.Module
    hold_out: np.ndarray | None  # (V,) int64 dataset indices of val_indices.npy (or the trainer's split); None: none


def load_trained_run(run_dir: str | Path, device: str | None = None, *, what: str = "to evaluate") -> TrainedRun:
    """Reload the run folder `run_dir` of one trained model; `device` overrides the recipe's.
    One-line errors for a folder that is not such a run, and for data whose classes changed."""
    run_dir = Path(run_dir)
    config = trained_config(run_dir, what)
    if config["data"] not in ("", None) and ":" not in config["data"] and config["data"] not in data.SCHEMES:
        raise ValueError(f"the run in {run_dir} was trained on data given in Python ({config['data']!r}), not on a "
                         "data spec this command can load again")
    dataset = data.load(config["data"], **config.get("data_options", {}))
    if dataset.class_names != config["class_names"]:
        raise ValueError(f"{config['data']} now has the classes {dataset.class_names}, but the run in {run_dir} "
                         f"was trained on {config['class_names']}")
    if config.get("modalities"):  # the inputs the model saw (`TrainingSpec.modalities`)
        dataset = dataset.with_modalities(config["modalities"])
    recipe, model = trained_model(run_dir, config, dataset, device)
    return TrainedRun(run_dir, config, dataset, recipe, model, _hold_out(run_dir, config, dataset, recipe))


def trained_config(run_dir: Path, what: str) -> dict:
    """The config.json of `run_dir`, a run folder of one trained model with its weights; one-line
    errors otherwise (`what`: what the weights are wanted for)."""
    if not (run_dir / runs.CONFIG).is_file():
        raise FileNotFoundError(f"{run_dir} is not a run folder (no {runs.CONFIG})")
    config = runs.read_json(run_dir / runs.CONFIG)
    missing = [key for key in ("data", "model", "recipe", "class_names") if key not in config]
    if missing:
        raise ValueError(f"{run_dir / runs.CONFIG} has no {', '.join(missing)}: it is not a run of one trained model")
    if not (run_dir / runs.WEIGHTS).is_file():
        raise FileNotFoundError(f"run folder {run_dir} has no weights ({runs.WEIGHTS}) {what}")
    return config


def trained_model(run_dir: Path, config: dict, dataset: data.Dataset,
                  device: str | None = None) -> tuple[Recipe, torch.nn.Module]:
    """(recipe, model) of the trained run `run_dir` (its config.json read as `config`): the
    model rebuilt for `dataset` (and its modalities) with the run's weights; `device` overrides
    the recipe's."""
    recipe = Recipe.from_dict(config["recipe"])
    if device is not None:
        recipe = recipe.replace(device=device)
    model = create_model(config["model"], dataset.num_classes, dataset.in_channels, modalities=dataset.modalities)
    model.load_state_dict(runs.load_weights(run_dir / runs.WEIGHTS))
    return recipe, model


def _hold_out(run_dir: Path, config: dict, dataset: data.Dataset, recipe: Recipe) -> np.ndarray | None:
    """(V,) int64 dataset indices of the run's hold-out, checked against the data; None when it
    has none."""
    from ..data.split import stratified_split

    path = run_dir / runs.VAL_INDICES
    if path.is_file():
        indices = np.load(path, allow_pickle=False)
    elif config.get("command") == "train" and recipe.val_fraction > 0:  # the split `fit` drew
        if len(dataset.val_indices):
            return dataset.val_indices
        train_indices = dataset.train_indices
        parts = stratified_split(dataset.labels.numpy()[train_indices], recipe.val_fraction, recipe.seed)
        log.info("no %s in %s: using the trainer's split (val_fraction %g, seed %d)", runs.VAL_INDICES, run_dir,
                 recipe.val_fraction, recipe.seed)
        return train_indices[parts["test"]]
    else:
        return None
    indices = np.asarray(indices)
    if indices.ndim != 1 or len(indices) == 0 or not np.issubdtype(indices.dtype, np.integer):
        raise ValueError(f"{path} must hold a non-empty 1-D array of dataset indices")
    if not np.isin(indices, np.concatenate([dataset.train_indices, dataset.val_indices])).all():
        raise ValueError(f"the hold-out of {run_dir} is not part of the train or val split of {config['data']}: "
                         "has the data changed since the run?")
    return indices.astype(np.int64)


def evaluate_run(run_dir: str | Path, out: str | Path, *, pad_bona_fide: str, pad_threshold: str | None = None,
                 device: str | None = None, force: bool = False) -> dict:
    """Evaluate the model of the `winnow train` run `run_dir` for presentation-attack detection
    (`experiments.pad`: `pad_bona_fide` is the bona fide class, `pad_threshold` the rule, eer by
    default) and write the new run folder `out`; `run_dir` is only read. Returns final.json's
    record: the test accuracy summary, "pad" and the times."""
    started = time.perf_counter()
    run_dir, out = Path(run_dir), Path(out)
    _check_out(run_dir, out)
    pad.parse_rule("eer" if pad_threshold is None else pad_threshold)  # before the data and model are loaded
    trained = load_trained_run(run_dir, device)
    dataset, config = trained.dataset, trained.config
    spec = pad.PadSpec.resolve(pad_bona_fide, pad_threshold, dataset.class_names, config["data"])
    development = None
    if spec.needs_development_split:
        split = _development_split(trained)
        development = (split, predict(trained.model, dataset, split.indices, trained.recipe))
    testing = time.perf_counter()
    test_outputs = predict(trained.model, dataset, dataset.test_indices, trained.recipe)
    final = summarize_test_outputs(test_outputs, dataset.class_names)
    final["pad"], scores = pad.pad_evaluation(spec, test_outputs, development)  # any error before --out is made
    final.update({"test_seconds": time.perf_counter() - testing, "winnow_version": __version__})
    out = runs.prepare_run_dir(out, force=force)
    runs.write_json(out / runs.CONFIG, {
        **run_config("evaluate", config["data"], config.get("data_options"), dataset),
        "run_dir": str(run_dir.resolve()),
        **{key: config[key] for key in ("model", "preset", "recipe", "seed", "weights") if key in config},
        "pad": spec.to_config(),
        **({"device": device} if device else {}),
    })
    pad.write_scores(out, scores)
    final["wall_seconds"] = time.perf_counter() - started
    runs.write_json(out / runs.FINAL, final)
    return final


def _check_out(run_dir: Path, out: Path) -> None:
    """`out` must be a folder of its own: neither the run folder, nor inside it, nor holding it."""
    source, target = run_dir.resolve(), out.resolve()
    where = ("the run folder" if target == source else "inside the run folder" if source in target.parents
             else "a folder that holds the run folder" if target in source.parents else None)
    if where:
        raise ValueError(f"--out {out} is {where} {run_dir}: evaluate writes a new folder and never changes the "
                         "run's; choose another --out")


def _development_split(trained: TrainedRun) -> pad.DevelopmentSplit:
    """The run's hold-out, or the dataset's val split; an error when it has neither."""
    dataset = trained.dataset
    if trained.hold_out is not None:
        split = pad.DevelopmentSplit.of_training(dataset, trained.hold_out, trained.recipe.val_fraction,
                                                 trained.recipe.seed)
        if split.name == "dev":
            split = pad.DevelopmentSplit("dev", split.indices, f"the run's hold-out ({runs.VAL_INDICES}: {split.how})")
        return split
    if len(dataset.val_indices):
        return pad.DevelopmentSplit("val", dataset.val_indices, "the dataset's val split")
    raise ValueError(f"run folder {trained.path} has no hold-out ({runs.VAL_INDICES}) and {trained.config['data']} "
                     "no val split to fix the --pad-threshold on: give a threshold in [0, 1] (--pad-threshold 0.5), or "
                     "train with --pad-bona-fide or --set val_fraction=0.1")
