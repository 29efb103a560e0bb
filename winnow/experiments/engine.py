"""The experiment engine: what every command made of trainings shares.

* `load_data`: a data spec or a `Dataset` (from Python) to a Dataset, timed.
* `TrainingSpec`: the model, preset and recipe resolved once from what the user gave (the
  preset's model unless one is named, the epochs rule of `Recipe.override`, the seed rule),
  with `train(dataset, indices, seed)` and `evaluate(model, dataset, seed)`: the only way an
  experiment trains and tests.
* `Run`: a command's run folder, new or resumed, with its cells (`runs.Cells`: a record
  written last, arrays beside it) and its timing (`runs.Timing`: wall time summed over
  resumptions, and its parts); `finish` writes results.json/.md/.csv and final.json.
* choosing samples is `proxy.make_inputs` then `proxy.choose`.

A command is then a short composition:

    dataset, seconds = load_data(spec_or_dataset, data_options)
    spec = TrainingSpec.resolve(dataset, model, preset, recipe_overrides, seed_option="--seeds")
    run = Run.open(out, {**run_config("mine", data, data_options, dataset), **spec.to_config()},
                   grid=("seeds",), force=force, data_seconds=seconds)
    spec = spec.attach(run.timing, on_progress)
    for seed in seeds:
        if not run.cells.done(f"s{seed}"):
            result = spec.train(dataset, dataset.train_indices, seed)
            run.save_cell(f"s{seed}", {"seed": seed, **spec.evaluate(result.model, dataset, seed)})
    run.finish(results, tables)

A command whose cells may run elsewhere (prune, al, clean, distill: `--backend ray`) describes
the same loop as chains of `backend.Task`s, module-level cell functions that a `Backend` runs
here or on a Ray cluster; the driver still saves every cell with `Run.save_cell`, so the run
folder is the same either way (`experiments.backend`).
"""

from __future__ import annotations

import logging
import platform
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from .. import __version__, data, metrics, runs
from ..models import create_model, model_recipe
from ..weights import load_weights, read_weights, weights_model
from ..table import Table
from ..train import Outputs, Recipe, TrainResult, check_no_seed, fit, get_preset, predict, preset_model, resolve_device

log = logging.getLogger("winnow.experiments.engine")


def load_data(source: str | data.Dataset, options: dict | None = None, *,
              tested: bool = True) -> tuple[data.Dataset, float]:
    """(dataset, seconds): the dataset of a data spec (`data.load(spec, **options)`), or
    `source` itself when it is already a Dataset (built with `data.from_arrays` in a notebook).

    Checked for what every command needs: two classes or more and a train split; `tested`: a
    test split too (for a command that tests what it trains)."""
    started = time.perf_counter()
    if isinstance(source, data.Dataset):
        if options:
            raise ValueError(f"data options {', '.join(sorted(options))} apply to a data spec, not to a Dataset")
        dataset = source
    else:
        dataset = data.load(source, **(options or {}))
    name = dataset.source or "the dataset"
    if dataset.num_classes < 2:
        raise data.DataError(f"{name} has {dataset.num_classes} class ({', '.join(dataset.class_names)}): a "
                             "classifier needs two or more (folder data: one sub-folder of images per class)")
    fraction = (options or {}).get("test_fraction")
    drawn = "" if fraction is None else (f" with test_fraction {fraction:g} (--test-fraction: each class gives "
                                         "round(n x test_fraction) of its n images to the test split)")
    if not len(dataset.train_indices):
        raise data.DataError(f"{name} has no images in its train split{drawn}")
    if tested and not len(dataset.test_indices):
        raise data.DataError(f"{name} has no images in its test split{drawn}")
    log.info("%s", dataset.describe())
    return dataset, time.perf_counter() - started


def data_name(source: str | data.Dataset) -> str:
    """What config.json records as the data: the spec, or a Dataset's source."""
    return source.source if isinstance(source, data.Dataset) else str(source)


def run_config(command: str, source: str | data.Dataset, data_options: dict | None, dataset: data.Dataset) -> dict:
    """The part of config.json every command writes: command, data, dataset, versions, the
    command line (when run from `winnow`) and the git commit of the code (when it has one)."""
    return {
        "command": command,
        "data": data_name(source),
        "data_options": data_options or {},
        "dataset": dataset.describe(),
        "class_names": dataset.class_names,
        **({"data_modalities": dataset.modalities} if dataset.modalities else {}),
        "winnow_version": __version__,
        "torch_version": torch.__version__,
        "python_version": platform.python_version(),
        "command_line": command_line(),
        "git_commit": git_commit(),
    }


def command_line() -> str | None:
    """The `winnow ...` command line of this process, None when Winnow was called from Python."""
    program = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else ""
    if program == "winnow" or (program == "__main__.py" and "winnow" in Path(sys.argv[0]).parts):
        return shlex.join(["winnow", *sys.argv[1:]])
    return None


def git_commit() -> str | None:
    """The commit of the code being run (with "+dirty" for uncommitted changes), when it is a
    git checkout; None otherwise (an installed package)."""
    folder = Path(__file__).resolve().parents[2]
    if not (folder / ".git").exists():
        return None
    try:
        commit = subprocess.run(["git", "-C", str(folder), "rev-parse", "HEAD"], capture_output=True, text=True,
                                timeout=5, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(folder), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("+dirty" if dirty else "")


def choose_preset(dataset: data.Dataset, device: str = "auto") -> str:
    """`small` for images under 16 px, else `gpu` on CUDA and `cpu` elsewhere."""
    if min(dataset.image_size) < 16:
        return "small"
    return "gpu" if resolve_device(device).type == "cuda" else "cpu"


@dataclass(frozen=True)
class TrainingSpec:
    """A model name, its preset and the recipe, resolved once; the seed is given per training.
    `weights`: pretrained weights every fresh model starts from (a file or a named source,
    `winnow.weights`), None for a random initialisation. `modalities`: for data with several
    (`Dataset.modalities`), the ones the model sees, in order (None: all): it is built for them,
    trained on them of the augmented batches (`train.fit(modalities=...)`) and tested on them.

    Two specs are equal when they train the same way (`timing` and `on_progress`, attached
    by `attach`, are not compared).
    """

    model: str
    preset: str
    recipe: Recipe
    timing: runs.Timing | None = field(default=None, compare=False, repr=False)
    on_progress: Callable | None = field(default=None, compare=False, repr=False)
    weights: str | None = None
    modalities: tuple[str, ...] | None = None

    @classmethod
    def resolve(cls, dataset: data.Dataset, model: str | None = None, preset: str = "auto",
                overrides: dict | None = None, *, seed_option: str = "--seeds",
                weights: str | None = None, modalities=None) -> "TrainingSpec":
        """`auto` resolved for `dataset`, the preset's model unless `model` names one (or the
        model of named `weights`, e.g. torchvision:resnet50), the preset's recipe with what the
        model needs on top (`models.model_recipe`, e.g. LeNet's bias learning rate, and with
        `weights` the fine-tuning fields: backbone_lr_scale 0.1, the weights' input size) and
        then `overrides` (`Recipe.override`: a new epochs stretches the resize schedule). A seed
        in `overrides` is an error naming `seed_option`. `weights` are read and loaded once
        here, so weights that do not fit the model fail before anything is trained."""
        overrides = dict(overrides or {})
        check_no_seed(overrides, seed_option)
        preset = choose_preset(dataset, overrides.get("device", "auto")) if preset == "auto" else preset
        name = model or (weights_model(weights) if weights else None) or preset_model(preset)
        recipe = get_preset(preset, **{**model_recipe(name, pretrained=weights is not None), **overrides})
        modalities = None if modalities is None else tuple(str(m) for m in modalities)
        seen = dataset if modalities is None else dataset.with_modalities(modalities)  # unknown modalities fail
        network = create_model(name, seen.num_classes, seen.in_channels, modalities=seen.modalities)  # and models
        if weights is not None:
            try:
                load_weights(network, read_weights(weights), weights)  # and weights that do not fit it
            except ValueError as error:
                if model or weights_model(weights):
                    raise
                raise ValueError(f"{error} (the model is the preset's {name}: name the weights' architecture with "
                                 "--model, e.g. resnet18_imagenet)") from None
        resolve_device(recipe.device)  # and a device this machine does not have
        return cls(name, preset, recipe, weights=weights, modalities=modalities)

    def override(self, overrides: dict | None, seed_option: str = "--seeds") -> "TrainingSpec":
        """This spec with recipe `overrides` on top (same rules as `resolve`)."""
        overrides = dict(overrides or {})
        check_no_seed(overrides, seed_option)
        return replace(self, recipe=self.recipe.override(**overrides)) if overrides else self

    def with_epochs(self, epochs: float) -> "TrainingSpec":
        return replace(self, recipe=self.recipe.with_epochs(epochs))

    def attach(self, timing: runs.Timing | None = None, on_progress: Callable | None = None) -> "TrainingSpec":
        """This spec, counting its time in `timing` and reporting progress to `on_progress`."""
        return replace(self, timing=timing, on_progress=on_progress)

    def to_config(self) -> dict:
        return {"model": self.model, "preset": self.preset, "recipe": self.recipe.to_dict(),
                **({"weights": self.weights} if self.weights is not None else {}),
                **({"modalities": list(self.modalities)} if self.modalities is not None else {})}

    def view(self, dataset: data.Dataset) -> data.Dataset:
        """`dataset` as the model sees it: only its modalities (all of them when the spec names none)."""
        return dataset if self.modalities is None else dataset.with_modalities(self.modalities)

    def seeded(self, seed: int) -> Recipe:
        return self.recipe.replace(seed=int(seed))

    def fresh_model(self, dataset: data.Dataset, seed: int) -> torch.nn.Module:
        """A new model for `dataset`, its weights initialised under `seed` (the head's only, when
        it starts from pretrained `weights`)."""
        torch.manual_seed(int(seed))
        seen = self.view(dataset)
        network = create_model(self.model, seen.num_classes, seen.in_channels, modalities=seen.modalities)
        if self.weights is not None:
            load_weights(network, read_weights(self.weights), self.weights, quiet=True)
        return network

    def train(self, dataset: data.Dataset, indices: np.ndarray, seed: int, *, weights: dict | None = None,
              on_epoch_end: Callable[[dict], None] | None = None, objective=None) -> TrainResult:
        """A fresh model (or one starting from `weights`) trained on `dataset[indices]` with
        the recipe under `seed` (on `objective`'s loss when given: `train.fit`). A model that
        starts from weights, these or the spec's pretrained ones, keeps their input statistics
        and stem (`train.fit(prepare=False)`)."""
        network = self.fresh_model(dataset, seed)
        if weights is not None:
            network.load_state_dict(weights)
        result = fit(network, dataset, indices, self.seeded(seed), prepare=weights is None and self.weights is None,
                     on_epoch_end=on_epoch_end, on_progress=self.on_progress, objective=objective,
                     modalities=self.modalities)
        self._count("training", result.train_seconds)
        return result

    def predict(self, model: torch.nn.Module, dataset: data.Dataset, indices: np.ndarray, seed: int,
                part: str = "scoring", **options) -> Outputs:
        """`train.predict` with the recipe under `seed` on the model's modalities (`view`), timed as `part`."""
        started = time.perf_counter()
        outputs = predict(model, self.view(dataset), indices, self.seeded(seed), on_progress=self.on_progress,
                          **options)
        self._count(part, time.perf_counter() - started)
        return outputs

    def train_and_test(self, dataset: data.Dataset, indices: np.ndarray, seed: int, *,
                       objective=None) -> tuple[TrainResult, dict]:
        """A fresh model trained on `dataset[indices]` under `seed` (with `train.fit`'s loss hook
        `objective` when given) and tested: (the training, the cell's numbers: test_accuracy,
        per_class_accuracy, train_seconds, test_seconds, epochs_run)."""
        result = self.train(dataset, indices, seed, objective=objective)
        final = self.evaluate(result.model, dataset, seed)
        return result, {"test_accuracy": final["test_accuracy"], "per_class_accuracy": final["per_class_accuracy"],
                        "train_seconds": result.train_seconds, "test_seconds": final["test_seconds"],
                        "epochs_run": len(result.history)}

    def evaluate(self, model: torch.nn.Module, dataset: data.Dataset, seed: int = 0) -> dict:
        """Test-split metrics of `model`: test_accuracy (a fraction), top-5 accuracy (K > 5),
        per-class accuracy, confusion matrix, and test_seconds."""
        started = time.perf_counter()
        outputs = self.predict(model, dataset, dataset.test_indices, seed, part="testing")
        return {**summarize_test_outputs(outputs, dataset.class_names), "test_seconds": time.perf_counter() - started}

    def _count(self, part: str, seconds: float) -> None:
        if self.timing is not None:
            self.timing.add(part, seconds)


def summarize_test_outputs(outputs: Outputs, class_names: list[str]) -> dict:
    """Accuracy (a fraction), top-5 accuracy (K > 5), per-class accuracy and confusion matrix of test outputs."""
    summary = metrics.summary(outputs.labels, outputs.probs, class_names)
    return {
        "test_accuracy": summary.pop("accuracy"),
        **({"test_top5_accuracy": summary.pop("top5_accuracy")} if "top5_accuracy" in summary else {}),
        "test_count": int(len(outputs.labels)),
        **summary,
    }


def check_seed(seed, option: str = "--seed") -> int:
    """`seed` as an int; an error naming `option` unless it is an int >= 0 (NumPy's generators
    take no negative seed)."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"{option} must be an int >= 0, got {seed!r}")
    return int(seed)


def check_seeds(seeds) -> list[int]:
    """The seeds as ints; an error unless they are ints >= 0, distinct and at least one."""
    seeds = [check_seed(s, "--seeds") for s in seeds]
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"--seeds must be distinct and at least one, got {seeds}")
    return seeds


class Run:
    """A command's run folder: its config, its cells and its timing.

    `Run.open` starts a new folder or resumes one with the same configuration (the `grid`
    keys may differ: they only add or leave out cells; see `runs.open_resumable_run`).
    """

    def __init__(self, path: Path, config: dict, resumed: bool):
        self.path, self.config, self.resumed = path, config, resumed
        self.cells = runs.Cells(path)
        self.timing = runs.Timing(path, resumed)
        self.trained = 0  # cells finished in this session

    @classmethod
    def open(cls, out: str | Path, config: dict, *, grid: tuple[str, ...] = (), force: bool = False,
             data_seconds: float = 0.0) -> "Run":
        """The run folder `out`, new or resumed; `data_seconds` (loading the data) counts as "data"."""
        path, resumed = runs.open_resumable_run(out, config, force=force, grid=grid)
        (path / runs.CELLS).mkdir(exist_ok=True)
        run = cls(path, config, resumed)
        run.timing.add("data", data_seconds)
        run.timing.started -= data_seconds  # the wall time starts with the loading
        if resumed:
            log.info("resuming %s: %d finished cells", path, len(run.cells.records()))
        return run

    def save_cell(self, name: str, record: dict, *, arrays: dict | None = None, weights=None,
                  on_cell: Callable[[dict], None] | None = None) -> dict:
        """Write a finished cell (its record last) and the timing so far; tell `on_cell`."""
        self.cells.save(name, record, arrays=arrays, weights=weights)
        self.trained += 1
        self.timing.save()
        if on_cell is not None:
            on_cell(record)
        return record

    def finish(self, results: dict, tables: list[Table], csv_table: Table | None = None, **final) -> dict:
        """Write results.json (`results`, the tables, the timing and how many cells this session
        finished), results.md (the tables), results.csv (`csv_table`, default the first table,
        with every column), and final.json (the timing, whether the run was resumed, and `final`)."""
        csv_table = csv_table or tables[0]
        timing = self.timing.save()
        results = {**results, "tables": [table.to_dict() for table in tables], "csv_table": csv_table.to_dict(),
                   "timing": timing, "cells_run": self.trained}
        markdown = "\n".join(table.to_markdown() for table in tables)
        runs.write_json(self.path / runs.RESULTS_JSON, results)
        runs.write_text(self.path / runs.RESULTS_MD, markdown)
        runs.write_text(self.path / runs.RESULTS_CSV, csv_table.to_csv())
        runs.write_json(self.path / runs.FINAL, {**final, "resumed": self.resumed, "cells_run": self.trained,
                                                 **timing, "winnow_version": __version__})
        return results
