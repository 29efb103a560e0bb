"""`winnow clean`: which training labels are probably wrong, and what removing them does.

    results = clean_run("cifar10:~/data", "runs/clean", method="auto", folds=4,
                        seeds=[0, 1, 2], inject_noise=0.2, remove="auto")

With `inject_noise` a copy of the train labels is corrupted in memory (`cleaning.inject_noise`,
one draw for every seed); the user's files never change. For every seed: out-of-fold
probabilities (the train split dealt into `folds` stratified folds; each predicted by a fresh
model trained on the others with the `cv` spec), flags (the probabilities temperature-scaled to
the given labels unless `calibrate=False`, ranked by the method's label-issue strategy, the top
`remove` or `cleaning.auto_flag_count` many), and with `remove` fresh trainings on every sample
with the given labels ("noisy"), on all but the flagged ones ("cleaned") and, with injected
noise, on the true labels ("true"), each tested.

Every fold, flag set and training is a cell (`cell_name`): a stopped run resumes; more seeds
add cells; another method, filter, count, calibration or epoch scaling reuses what it does not
change. The folder also gets flags.csv, flags.npy and flagged.png (the method on the
probabilities averaged over the seeds), flag_quality.json (against injected noise) and
results.md/csv/json (test accuracy per training, mean ± std, with paired differences).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Callable

import numpy as np

from .. import cleaning, data, runs, stats
from ..plots import contact_sheet
from ..table import Column, Table
from .backend import Backend, CellOutput, Task, TaskContext, make_backend
from .engine import Run, TrainingSpec, check_seeds, load_data, run_config

FOLD, FLAGS, NOISY, CLEANED, TRUE = "fold", "flags", "noisy", "cleaned", "true"
TRAININGS = (NOISY, CLEANED, TRUE)
AUTO = "auto"
GRID = ("seeds", "method", "filter_by", "calibrate", "remove", "scale_epochs", "flagged_images")


def clean_run(source: str | data.Dataset, out: str | Path, *, method: str = cleaning.AUTO,
              filter_by: str = cleaning.DEFAULT_FILTER, calibrate: bool = True, folds: int = 4,
              seeds: list[int] = (0, 1, 2), inject_noise: float | None = None, noise_kind: str | None = None,
              noise_seed: int | None = None, remove: int | str | None = None, scale_epochs: bool = False,
              flagged_images: int = 50, model: str | None = None, preset: str = "auto",
              recipe_overrides: dict | None = None, cv_overrides: dict | None = None, weights: str | None = None,
              data_options: dict | None = None,
              force: bool = False, on_progress: Callable | None = None,
              on_cell: Callable[[dict], None] | None = None, backend: str | Backend = "local",
              address: str | None = None, cpus_per_cell: float | None = None,
              gpus_per_cell: float | None = None) -> dict:
    """Run (or resume) the cleaning experiment in `out`; returns its results.

    source : a data spec, or a `Dataset` (e.g. `winnow.data.from_arrays`) with every train label
    method : "confident_learning", "self_confidence", "low_max_prob", "noise_posterior"
        (`cleaning.METHODS`) or "auto" (the default; `cleaning.choose_method`: from the estimated noise, per seed);
        filter_by : cleanlab's filter for confident_learning, also when "auto" chooses it (`cleaning.FILTERS`)
    calibrate : flag on probabilities temperature-scaled to the given labels (else as predicted)
    folds : >= 2, at most the smallest class;  seeds : folds, flags and trainings per seed (paired)
    inject_noise : corrupt this share of the train labels, in [0, 1); noise_kind "symmetric"
        (default) or "asymmetric"; noise_seed the draw (default 0)
    remove : flag the top K (an int) or "auto" and retrain without them; None: flag "auto"
        many, train nothing beyond the folds;  scale_epochs : cleaned set for epochs * N / N_kept
    flagged_images : how many of the top flags flagged.png shows (0: none)
    recipe_overrides : every training's recipe; cv_overrides : the fold models' on top of it
        (`Recipe.override`); a seed in either is an error (it comes from `seeds`)
    weights : pretrained weights every trained model starts from: a state dict file or a named
        source such as torchvision:resnet50 (`winnow.weights`, `TrainingSpec.resolve`)
    on_progress : the trainer's progress;  on_cell : each record as it finishes ("cell": "fold",
        "flags", "noisy", "cleaned" or "true")
    backend : where the folds and trainings run (`experiments.backend`): "local" (this process) or
        "ray" (folds, then trainings, of every seed in parallel), with `address`, `cpus_per_cell` and
        `gpus_per_cell`; or a `Backend`. Not part of the configuration: a run resumes on either.
    """
    backend = make_backend(backend, address=address, cpus_per_cell=cpus_per_cell, gpus_per_cell=gpus_per_cell,
                           on_progress=on_progress)
    seeds, remove = _check(method, filter_by, seeds, remove, flagged_images)
    noise = cleaning.check_noise(inject_noise, noise_kind, noise_seed)
    dataset, data_seconds = load_data(source, data_options, tested=remove is not None)  # only retraining tests
    spec = TrainingSpec.resolve(dataset, model, preset, recipe_overrides, seed_option="--seeds", weights=weights)
    cv_spec = spec.override(cv_overrides)
    noisy, corrupted = _noisy(dataset, noise, folds, remove)
    config = {
        **run_config("clean", source, data_options, dataset),
        "method": method, "filter_by": filter_by, "calibrate": bool(calibrate), "folds": folds, "seeds": seeds,
        "noise": noise, "remove": remove, "scale_epochs": bool(scale_epochs), "flagged_images": flagged_images,
        **spec.to_config(), "cv_recipe": cv_spec.recipe.to_dict(),
    }
    backend.start()
    run = Run.open(out, config, grid=GRID, force=force, data_seconds=data_seconds)
    cells = _Cells(run, dataset, noisy, corrupted, on_cell, backend.share)
    all_probs = backend.run(run, [cells.seed_chain(seed, spec, cv_spec) for seed in seeds])
    _write_flags(run, noisy, dataset.labels.numpy(), corrupted, np.mean(all_probs, axis=0))
    results = summarize(run.path)
    flag_table, trainings, long = results_tables(results)
    return run.finish(results, [flag_table, trainings] if results["rows"] else [flag_table], long)


def _check(method, filter_by, seeds, remove, flagged_images) -> tuple[list[int], int | str | None]:
    """Checks that need no data (--folds: `_noisy`): (seeds, remove) normalised."""
    cleaning.check_method(method, auto=True)
    cleaning.check_filter(filter_by)
    if remove not in (None, AUTO) and (isinstance(remove, bool) or not isinstance(remove, int) or remove < 1):
        raise ValueError(f"--remove must be 'auto' or an int >= 1, got {remove!r}")
    if isinstance(flagged_images, bool) or not isinstance(flagged_images, int) or flagged_images < 0:
        raise ValueError(f"flagged_images must be an int >= 0, got {flagged_images!r}")
    return check_seeds(seeds), remove


def _noisy(dataset: data.Dataset, noise: dict | None, folds: int, remove) -> tuple[data.Dataset, np.ndarray]:
    """(the dataset with the labels to flag: as given, or with `noise` injected into the train
    split; the dataset indices whose label was corrupted). A train split the run cannot deal
    into `folds` or remove `remove` from is an error."""
    train, labels = dataset.train_indices, dataset.labels.numpy().copy()
    if (labels[train] < 0).any():
        raise data.DataError(f"{dataset.source}: the train split has images without a label; clean needs every label")
    if isinstance(remove, int) and remove >= len(train):
        raise ValueError(f"--remove {remove} is not smaller than the train split ({len(train)} samples)")
    positions = np.zeros(0, dtype=np.int64)
    if noise is not None:
        labels[train], positions = cleaning.inject_noise(labels[train], noise["rate"], noise["kind"],
                                                         dataset.class_names, noise["seed"])
    cleaning.stratified_folds(labels[train], folds, 0, dataset.class_names)  # a --folds too large fails here
    return dataset.with_labels(labels), train[positions]


def cell_name(kind: str, seed: int, config: dict | None = None, fold: int | None = None) -> str:
    """The cell of `kind` under `seed`: "fold" `cv-s{seed}-k{fold}`, "noisy" `noisy-s{seed}`,
    "true" `true-s{seed}`, "flags" `flags-{tag}-s{seed}` and "cleaned" `cleaned-{tag}-s{seed}`,
    tagged by the run's `config`: method (and cleanlab's filter), count rule (`auto` or `k{K}`),
    `raw` uncalibrated, and for "cleaned" `same-steps` with scaled epochs."""
    if kind == FOLD:
        return f"cv-s{seed}-k{fold}"
    if kind in (NOISY, TRUE):
        return f"{kind}-s{seed}"
    if kind not in (FLAGS, CLEANED):
        raise ValueError(f"unknown clean cell kind {kind!r}")
    return f"{kind}-{_tag(config, kind)}-s{seed}"


def _tag(config: dict, kind: str) -> str:
    method, remove = config["method"], config["remove"]
    return "-".join([method, *([config["filter_by"]] if cleaning.takes_filter(method) else []),
                     AUTO if remove in (None, AUTO) else f"k{remove}", *([] if config["calibrate"] else ["raw"]),
                     *(["same-steps"] if kind == CLEANED and config["scale_epochs"] else [])])


def read_out_of_fold(run_dir: str | Path, seed: int, train_indices: np.ndarray, num_classes: int) -> np.ndarray:
    """(N_train, K) float32 out-of-fold probabilities of `seed` in train-split order, read from
    the fold cells of a run folder in which they are all finished."""
    cells = runs.Cells(run_dir)
    position = {int(index): p for p, index in enumerate(train_indices)}
    probs = np.full((len(train_indices), num_classes), np.nan, dtype=np.float32)
    for fold in range(runs.read_json(Path(run_dir) / runs.CONFIG)["folds"]):
        name = cell_name(FOLD, seed, fold=fold)
        probs[[position[int(index)] for index in cells.array(name, "held_out")]] = cells.array(name)
    if np.isnan(probs).any():
        raise RuntimeError(f"{run_dir}: the folds of seed {seed} do not predict every training sample")
    return probs


class _Cells:
    """The cells of a clean run, one chain per seed (`backend`): its folds together, then its flag
    set (here: it reads every fold), then its trainings together; each made unless done."""

    def __init__(self, run: Run, dataset: data.Dataset, noisy: data.Dataset, corrupted: np.ndarray, on_cell, share):
        self.run, self.config, self.dataset, self.noisy = run, run.config, dataset, noisy
        self.corrupted, self.on_cell, self.train = corrupted, on_cell, dataset.train_indices
        self.labels = noisy.labels.numpy()[self.train]  # the labels flagged, in train-split order
        self.shared = share(dataset)  # the tasks read the images once, and train on the noisy labels:
        self.noisy_labels = share(noisy.labels.numpy())  # the dataset's with those labels (`_trained`)

    def seed_chain(self, seed: int, spec: TrainingSpec, cv_spec: TrainingSpec):
        """Every cell of `seed`; returns its (N_train, K) out-of-fold probabilities."""
        folds = self.fold_tasks(seed, cv_spec)
        if folds:
            yield folds
        probs = read_out_of_fold(self.run.path, seed, self.train, self.noisy.num_classes)
        flagged = self.flags(seed, probs)
        if self.config["remove"] is not None:
            trainings = [self.training(NOISY, seed, self.train, spec, noisy=True)]
            if self.config["noise"] is not None:
                trainings.append(self.training(TRUE, seed, self.train, spec, noisy=False))
            kept = np.setdiff1d(self.train, flagged)
            if self.config["scale_epochs"]:  # as many steps as the others
                spec = spec.with_epochs(spec.recipe.epochs * len(self.train) / len(kept))
            trainings.append(self.training(CLEANED, seed, kept, spec, noisy=True))
            trainings = [task for task in trainings if task is not None]
            if trainings:
                yield trainings
        return probs

    def fold_tasks(self, seed: int, spec: TrainingSpec) -> list[Task]:
        fold_of = cleaning.stratified_folds(self.labels, self.config["folds"], seed)
        tasks = []
        for fold in range(self.config["folds"]):
            name, held = cell_name(FOLD, seed, fold=fold), self.train[fold_of == fold]
            if self.run.cells.done(name):
                if not np.array_equal(self.run.cells.array(name, "held_out"), held):
                    raise RuntimeError(f"cell {name} in {self.run.path} holds another fold; rerun with --force")
                continue
            tasks.append(Task(name, _fold_cell, dict(
                dataset=self.shared, labels=self.noisy_labels, spec=spec, trained_on=self.train[fold_of != fold],
                held=held, seed=seed, fold=fold, folds=self.config["folds"]), self.on_cell))
        return tasks

    def flags(self, seed: int, probs: np.ndarray) -> np.ndarray:
        """The flagged dataset indices of `seed`, most likely wrong first."""
        name = cell_name(FLAGS, seed, self.config)
        if self.run.cells.done(name):
            return self.run.cells.array(name)
        found = _flag(self.config, self.labels, probs)
        flagged = self.train[found.positions].astype(np.int64)
        record = {"cell": FLAGS, "seed": seed, "tag": _tag(self.config, FLAGS),
                  **{key: self.config[key] for key in ("method", "filter_by", "remove")},
                  "temperature": found.temperature, "chosen": found.method, "noise_rate": found.noise.rate,
                  "noise_concentration": found.noise.concentration,
                  "confused": cleaning.confused_pairs(found.noise, self.noisy.class_names), "flagged": len(flagged),
                  **(cleaning.flag_quality(flagged, self.corrupted) if self.config["noise"] is not None else {})}
        self.run.save_cell(name, record, arrays={"": flagged}, on_cell=self.on_cell)
        return flagged

    def training(self, kind: str, seed: int, kept: np.ndarray, spec: TrainingSpec, noisy: bool) -> Task | None:
        """A fresh model trained on `kept` with the noisy (or the true) labels, and tested; None when done."""
        name = cell_name(kind, seed, self.config)
        if self.run.cells.done(name):
            return None
        return Task(name, _training_cell, dict(
            dataset=self.shared, labels=self.noisy_labels if noisy else None, spec=spec, kept=kept, seed=seed,
            kind=kind, tag=_tag(self.config, kind) if kind == CLEANED else None, removed=len(self.train) - len(kept)),
            self.on_cell)


def _fold_cell(context: TaskContext, *, dataset, labels, spec: TrainingSpec, trained_on, held, seed, fold,
               folds) -> CellOutput:
    """A fresh model trained on every fold but `fold` (with the noisy `labels`); its probabilities
    of the held-out fold."""
    spec, dataset = context.attach(spec), dataset.with_labels(labels)
    result = spec.train(dataset, trained_on, seed)
    outputs = spec.predict(result.model, dataset, held, seed)
    record = {"cell": FOLD, "seed": seed, "fold": fold, "folds": folds,
              "trained_on": len(trained_on), "held_out": len(held), "held_out_accuracy": outputs.accuracy,
              "train_seconds": result.train_seconds, "epochs_run": len(result.history)}
    return CellOutput(record, arrays={"": outputs.probs.astype(np.float32), "held_out": held})


def _training_cell(context: TaskContext, *, dataset, labels, spec: TrainingSpec, kept, seed, kind, tag,
                   removed) -> CellOutput:
    """A fresh model trained on `kept` with `labels` (None: the dataset's own, the true ones), and tested."""
    dataset = dataset if labels is None else dataset.with_labels(labels)
    _, tested = context.attach(spec).train_and_test(dataset, kept, seed)
    record = {"cell": kind, "seed": seed, "tag": tag, "kept": len(kept), "removed": removed,
              "epochs": spec.recipe.epochs, **tested}
    return CellOutput(record, arrays={"": kept} if kind == CLEANED else None)


def _flag(config: dict, labels: np.ndarray, probs: np.ndarray) -> cleaning.Flags:
    count = None if config["remove"] in (None, AUTO) else config["remove"]
    return cleaning.flag_label_issues(labels, probs, config["method"], filter_by=config["filter_by"], count=count,
                                      calibrate=config["calibrate"])


def _write_flags(run: Run, noisy: data.Dataset, given: np.ndarray, corrupted: np.ndarray, mean_probs) -> None:
    """flags.csv, flags.npy, flagged.png and flag_quality.json: the run's flags, from the
    out-of-fold probabilities averaged over the seeds."""
    config, train, names, paths = run.config, noisy.train_indices, noisy.class_names, noisy.paths
    labels = noisy.labels.numpy()
    found = _flag(config, labels[train], mean_probs)
    flagged, suggested = train[found.positions].astype(np.int64), found.probs[found.positions].argmax(1)
    injected, noise = np.isin(flagged, corrupted), config["noise"]
    rows = [["rank", "index", *(["path"] if paths is not None else []), "given_label", "suggested_label", "score",
             *(["injected", "original_label"] if noise else [])]]
    rows += [[rank, int(index), *([paths[index]] if paths is not None else []), names[labels[index]],
              names[suggested[rank]], repr(float(found.scores[found.positions[rank]])),
              *(["true" if injected[rank] else "false", names[given[index]]] if noise else [])]
             for rank, index in enumerate(flagged)]
    runs.write_text(run.path / runs.FLAGS_CSV, _csv_text(rows))
    runs.save_array(run.path / runs.FLAGS_NPY, flagged)
    top = min(config["flagged_images"], len(flagged))
    if top:
        captions = [f"{names[labels[i]]}->{names[s]}" for i, s in zip(flagged[:top], suggested[:top])]
        contact_sheet(noisy.images[flagged[:top]].numpy(), captions, run.path / runs.FLAGGED_PNG)
    else:
        (run.path / runs.FLAGGED_PNG).unlink(missing_ok=True)  # an earlier run's sheet would not be these flags
    _write_quality(run, {**cleaning.flag_quality(flagged, corrupted), "temperature": found.temperature,
                         "chosen": found.method},
                   len(corrupted))


def _write_quality(run: Run, of_flags_csv: dict, injected: int) -> None:
    """flag_quality.json (with injected noise): precision, recall and F1 of each seed's flags,
    their mean ± std, and those of flags.csv."""
    config, path = run.config, run.path / runs.FLAG_QUALITY
    if config["noise"] is None:
        path.unlink(missing_ok=True)  # an earlier run's would not be of these flags
        return
    per_seed = [run.cells.record(cell_name(FLAGS, seed, config)) for seed in config["seeds"]]
    runs.write_json(path, {
        **{key: stats.summarize([r[key] for r in per_seed]).to_dict() for key in ("precision", "recall", "f1")},
        "per_seed": [{k: r[k] for k in ("seed", "precision", "recall", "f1", "flagged", "corrupted",
                                        "true_positives")} for r in per_seed],
        "flags_csv": of_flags_csv, **{key: config[key] for key in ("method", "filter_by", "calibrate", "remove")},
        "noise": config["noise"], "injected": injected,
    })


def summarize(run_dir: str | Path) -> dict:
    """The results from the cells of a clean run folder alone: per training (noisy, cleaned,
    true) the test accuracy over the seeds and the paired differences; per seed the flag
    count (and precision, recall, F1 with injected noise) and their mean ± std."""
    run_dir = Path(run_dir)
    config, records = runs.read_json(run_dir / runs.CONFIG), runs.Cells(run_dir).records()
    seeds, noise = config["seeds"], config["noise"]
    flags = [records[name] for name in (cell_name(FLAGS, s, config) for s in seeds) if name in records]
    trained = {cell_name(kind, s, config) for kind in TRAININGS for s in seeds} if config["remove"] is not None else ()
    fold_names = {cell_name(FOLD, s, fold=k) for s in seeds for k in range(config["folds"])}
    trainings = [record for name, record in records.items() if name in trained]  # in the folder's order
    folds = [record for name, record in records.items() if name in fold_names]
    accuracy = {kind: {c["seed"]: c["test_accuracy"] for c in trainings if c["cell"] == kind} for kind in TRAININGS}
    flag_summary = {"per_seed": flags, **{key: stats.summarize([c[key] for c in flags]).to_dict()
                                          for key in ("flagged", *(("precision", "recall", "f1") if noise else ()))}}
    if noise is not None and (run_dir / runs.FLAG_QUALITY).exists():
        flag_summary["flags_csv"] = runs.read_json(run_dir / runs.FLAG_QUALITY)["flags_csv"]
    return {
        "config": {k: config[k] for k in ("data", "method", "filter_by", "calibrate", "folds", "seeds", "noise",
                                          "remove", "scale_epochs", "model", "preset")},
        "rows": [_row(kind, [c for c in trainings if c["cell"] == kind], accuracy) for kind in TRAININGS
                 if accuracy[kind]],
        "flags": flag_summary,
        "cv_train_seconds": float(np.mean([c["train_seconds"] for c in folds])) if folds else None,
        "cells": trainings,
    }


def _row(kind: str, group: list[dict], accuracy: dict) -> dict:
    """A training's row: test accuracy over the seeds, paired differences to noisy and true."""
    by_seed = accuracy[kind]
    seeds = sorted(by_seed)
    return {
        "labels": kind, "seeds": seeds, "kept": float(np.mean([c["kept"] for c in group])),
        "test_accuracy": stats.summarize([by_seed[s] for s in seeds]).to_dict(),
        "per_seed": [by_seed[s] for s in seeds],
        "vs_noisy": None if kind == NOISY else stats.paired_by_key(by_seed, accuracy[NOISY]),
        "vs_true": None if kind == TRUE else stats.paired_by_key(by_seed, accuracy[TRUE]),
        "train_seconds": float(np.mean([c["train_seconds"] for c in group])),
    }


def results_tables(results: dict) -> tuple[Table, Table, Table]:
    """(the flags: per seed, mean ± std, and of flags.csv; the test accuracy of each training with
    the paired differences; the long table of results.csv: one row per training and a "flags" row)."""
    config, flags = results["config"], results["flags"]
    noise, quality = config["noise"], ("precision", "recall", "f1")
    shown = quality if noise else ()
    rows = [{"flags": f"seed {c['seed']}", "chosen": c.get("chosen"), **{k: c[k] for k in ("flagged", *shown)}}
            for c in flags["per_seed"]]
    rows.append({"flags": "mean ± std", **{k: flags[k] for k in ("flagged", *shown)}})
    if "flags_csv" in flags:
        rows.append({"flags": "flags.csv (probabilities averaged over seeds)",
                     "chosen": flags["flags_csv"].get("chosen"),
                     **{k: flags["flags_csv"][k] for k in ("flagged", *shown)}})
    columns = {"flagged": Column("flagged", kind="summary", scale=1.0, digits=1),
               **{k: Column(k, f"{title} %", "summary") for k, title in zip(quality, ("precision", "recall", "F1"))}}
    flag_table = Table(f"Flags ({_method(config)})" + (f": against {100 * noise['rate']:g} % {noise['kind']} noise "
                                                       f"injected with seed {noise['seed']}" if noise else ""),
                       [Column("flags"), Column("chosen", "method"), *(columns[k] for k in ("flagged", *shown))], rows)
    trained = [{"row": r["labels"], "seeds": len(r["seeds"]), "kept": r["kept"], "accuracy": r["test_accuracy"],
                **{k: r[k] for k in ("vs_noisy", "vs_true", "train_seconds")}} for r in results["rows"]]
    trainings = Table("Training after cleaning: test accuracy (%), mean ± std over seeds", [
        Column("row", "training labels"), Column("kept", kind="int"),
        Column("accuracy", "test accuracy % (mean ± std)", "summary"), Column("seeds", kind="int"),
        Column("vs_noisy", "vs noisy (95 % CI)", "difference"), Column("vs_true", "vs true (95 % CI)", "difference"),
        Column("train_seconds", "training s", "seconds")], trained, notes=(
        "noisy: every image with its given label; cleaned: without the flagged images; true: every image with its "
        "original label (injected noise only). Differences are paired over seeds, in points, with a 95 % t interval."))
    by_key = {c.key: c for c in trainings.columns}
    flag_row = {"row": "flags", "seeds": flags["flagged"]["n"], **{k: flags[k] for k in ("flagged", *shown)}}
    long = Table("Trainings and flags", [*(by_key[k] for k in ("row", "seeds", "kept", "accuracy", "vs_noisy",
                                                                "vs_true", "train_seconds")), *columns.values()],
                 [*trained, flag_row])
    return flag_table, trainings, long


def _method(config: dict) -> str:
    return ", ".join([config["method"], *([config["filter_by"]] if cleaning.takes_filter(config["method"]) else []),
                      *([] if config["calibrate"] else ["raw probabilities"]), f"{config['folds']} folds"])


def _csv_text(rows: list[list]) -> str:
    text = io.StringIO()
    csv.writer(text, lineterminator="\n").writerows(rows)
    return text.getvalue()
