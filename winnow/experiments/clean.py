"""`winnow clean`: which training labels are probably wrong, and what removing them does.

    results = clean_run("cifar10:~/data", "runs/clean", method="confident_learning", folds=4,
                        seeds=[0, 1, 2], inject_noise=0.2, remove="auto")

The labels: with `inject_noise`, a copy of the train split's labels is corrupted in memory
(`cleaning.inject_noise`, drawn once with `noise_seed`, the same for every seed); the user's
files are never changed. The test split keeps its labels.

For every seed:

1. Out-of-fold probabilities: the train split is dealt into `folds` stratified folds (by the
   labels as given, seeded by the seed); for each fold a fresh model is trained with the one
   trainer on the other folds (the `cv` recipe) and predicts the held-out fold. Every training
   sample is predicted exactly once, by a model that never trained on it.
2. Flags: the probabilities are temperature-scaled to fit the given labels
   (`cleaning.calibrate_probs`; not with `calibrate=False`), the method ranks the samples
   (`cleaning.rank_label_issues`), and the top `remove` are flagged, or with `remove` "auto" or
   None as many as `cleaning.auto_flag_count` says (the issues confident learning finds with
   cleanlab's `filter_by`, or cleanlab's estimate of the number of label issues).
3. With `remove`: fresh models trained from scratch with the training recipe on all samples
   with the given (noisy) labels ("noisy"), on all but the flagged ones ("cleaned"; with
   `scale_epochs` for epochs * N / N_kept, as many steps as the others), and, when noise was
   injected, on all samples with the true labels ("true"); each is tested.

Every fold, flag set and training is a cell in `cells/` (arrays as .npy, the record as .json
written last): a command stopped at any moment and run again skips what is done. More seeds
add cells; another `method`, `filter_by`, `calibrate`, `remove`, `scale_epochs` or
`flagged_images` reuses the folds and the trainings that do not depend on them.

The run folder gets flags.csv and flags.npy (the run's flags: the method applied to the
out-of-fold probabilities averaged over the seeds), flagged.png (the top flagged images, given
-> suggested label), flag_quality.json (with injected noise: precision, recall and F1 of the
flags per seed, their mean ± std, and of flags.csv), and results.md/csv/json: the test
accuracy of each training (mean ± std over seeds) with the paired differences cleaned - noisy
and cleaned - true (95 % t intervals).
"""

from __future__ import annotations

import csv
import io
import logging
from pathlib import Path
from typing import Callable

import numpy as np

from .. import __version__, cleaning, data, runs, stats
from ..plots import contact_sheet
from ..train import Recipe, fit, predict
from .proxy import check_seeds, fresh_model
from .train import build_model, evaluate, run_config

log = logging.getLogger("winnow.experiments.clean")

NOISY, CLEANED, TRUE = "noisy", "cleaned", "true"
AUTO = "auto"


def clean_run(
    data_spec: str,
    out: str | Path,
    *,
    method: str = "confident_learning",
    filter_by: str = cleaning.DEFAULT_FILTER,
    calibrate: bool = True,
    folds: int = 4,
    seeds: list[int] = (0, 1, 2),
    inject_noise: float | None = None,
    noise_kind: str | None = None,
    noise_seed: int | None = None,
    remove: int | str | None = None,
    scale_epochs: bool = False,
    flagged_images: int = 50,
    model: str | None = None,
    preset: str = "auto",
    recipe_overrides: dict | None = None,
    cv_overrides: dict | None = None,
    data_options: dict | None = None,
    force: bool = False,
    progress: bool | None = None,
    on_cell: Callable[[dict], None] | None = None,
) -> dict:
    """Run (or resume) the cleaning experiment in `out`; returns its results (also written to
    results.json, results.csv and results.md, next to flags.csv, flags.npy, flagged.png and,
    with injected noise, flag_quality.json).

    method : "confident_learning", "self_confidence" or "low_max_prob" (`cleaning.METHODS`)
    filter_by : cleanlab's filter for confident_learning (`cleaning.FILTERS`)
    calibrate : flag on the out-of-fold probabilities temperature-scaled to the given labels
        (`cleaning.calibrate_probs`); False: as the fold models predicted them
    folds : cross-validation folds, >= 2 and at most the smallest class of the train split
    seeds : per seed the folds, the fold models, the flags and the trainings (paired)
    inject_noise : corrupt this share of the train labels, in [0, 1) (None: use them as given)
    noise_kind : "symmetric" (default) or "asymmetric"; noise_seed : the draw (default 0)
    remove : flag the top K (an int) or "auto" and retrain without them; None flags "auto"
        many and trains nothing beyond the folds
    scale_epochs : train the cleaned set for epochs * N / N_kept: as many steps as the others
    flagged_images : how many of the top flags flagged.png shows (0: none)
    recipe_overrides : the recipe of every training (as for `winnow train`); cv_overrides
        change the fold models' recipe on top of it (e.g. {"epochs": 3}, `cv_recipe_of`)
    on_cell : called with each record as it finishes: folds ("cell": "fold"), flag sets
        ("flags") and trainings ("noisy", "cleaned", "true")
    """
    seeds, remove, noise = _check(method, folds, seeds, inject_noise, noise_kind, noise_seed, remove, flagged_images)
    cleaning.check_filter(filter_by)
    for name, overrides in (("recipe_overrides", recipe_overrides), ("cv_overrides", cv_overrides)):
        if "seed" in (overrides or {}):
            raise ValueError(f"clean sets the recipe seed from --seeds; do not set seed in {name}")
    dataset = data.load(data_spec, **(data_options or {}))
    log.info("%s", dataset.describe())
    train_indices = dataset.train_indices
    given = dataset.labels.numpy()
    if (given[train_indices] < 0).any():
        raise data.DataError(f"{data_spec}: the train split has images without a label; clean needs every label")
    labels = given.copy()
    corrupted = np.zeros(0, dtype=np.int64)  # dataset indices whose label was corrupted
    if noise is not None:
        labels[train_indices], positions = cleaning.inject_noise(given[train_indices], noise["rate"], noise["kind"],
                                                                 dataset.class_names, noise["seed"])
        corrupted = train_indices[positions]
        log.info("%d of %d training labels corrupted (%s)", len(corrupted), len(train_indices), noise["kind"])
    cleaning.stratified_folds(labels[train_indices], folds, 0)  # a --folds the classes cannot take is an error now
    if isinstance(remove, int) and remove >= len(train_indices):
        raise ValueError(f"--remove {remove} is not smaller than the train split ({len(train_indices)} samples)")
    noisy_data = dataset.with_labels(labels)

    preset, recipe, model_name, _ = build_model(dataset, model, preset, recipe_overrides)
    cv_recipe = cv_recipe_of(recipe, cv_overrides)
    config = {
        **run_config("clean", data_spec, data_options, dataset),
        "method": method,
        "filter_by": filter_by,
        "calibrate": bool(calibrate),
        "folds": folds,
        "seeds": seeds,
        "noise": noise,
        "remove": remove,
        "scale_epochs": bool(scale_epochs),
        "flagged_images": flagged_images,
        "model": model_name,
        "preset": preset,
        "recipe": recipe.to_dict(),
        "cv_recipe": cv_recipe.to_dict(),
    }
    run_dir, resumed = runs.open_resumable_run(out, config, force=force,
                                               grid=("seeds", "method", "filter_by", "calibrate", "remove",
                                                     "scale_epochs", "flagged_images"))
    cells_dir = run_dir / runs.CELLS
    cells_dir.mkdir(exist_ok=True)
    if resumed:
        log.info("resuming %s", run_dir)

    train_labels = labels[train_indices]
    all_probs = []
    for seed in seeds:
        probs = _out_of_fold(noisy_data, cells_dir, seed, folds, cv_recipe.replace(seed=seed), model_name, progress,
                             on_cell)
        all_probs.append(probs)
        flagged = _flags(cells_dir, seed, config, train_labels, probs, train_indices, corrupted, noise, on_cell)
        if remove is None:
            continue
        seeded = recipe.replace(seed=seed)
        _training(noisy_data, cells_dir, NOISY, seed, train_indices, seeded, model_name, progress, on_cell)
        if noise is not None:
            _training(dataset, cells_dir, TRUE, seed, train_indices, seeded, model_name, progress, on_cell)
        kept = np.setdiff1d(train_indices, flagged)
        if scale_epochs:
            seeded = seeded.with_epochs(seeded.epochs * len(train_indices) / len(kept))
        _training(noisy_data, cells_dir, CLEANED, seed, kept, seeded, model_name, progress, on_cell,
                  tag=_cleaned_tag(config))

    _write_flags(run_dir, noisy_data, given, train_indices, corrupted, noise, config, np.mean(all_probs, axis=0))
    results = summarize(run_dir)
    runs.write_json(run_dir / runs.RESULTS_JSON, results)
    runs.write_text(run_dir / runs.RESULTS_CSV, results_csv(results))
    runs.write_text(run_dir / runs.RESULTS_MD, results_markdown(results))
    runs.write_json(run_dir / runs.FINAL, {"resumed": resumed, "winnow_version": __version__})
    return results


def cv_recipe_of(recipe: Recipe, overrides: dict | None) -> Recipe:
    """The fold models' recipe: `recipe` with `overrides`; a new `epochs` stretches or shortens
    the resize schedule with it (as `--epochs` does) unless `resize_schedule` is given too."""
    overrides = dict(overrides or {})
    if "epochs" in overrides and "resize_schedule" not in overrides:
        recipe = recipe.with_epochs(overrides["epochs"])
    return recipe.replace(**overrides)


def _check(method, folds, seeds, rate, kind, noise_seed, remove, flagged_images):
    """Checks that need no data: (seeds, remove, noise) normalised."""
    cleaning.check_method(method)
    if isinstance(folds, bool) or not isinstance(folds, int) or folds < 2:
        raise ValueError(f"--folds must be an int >= 2, got {folds!r}")
    seeds = check_seeds(seeds)
    if remove is not None and remove != AUTO and (isinstance(remove, bool) or not isinstance(remove, int)
                                                  or remove < 1):
        raise ValueError(f"--remove must be 'auto' or an int >= 1, got {remove!r}")
    if isinstance(flagged_images, bool) or not isinstance(flagged_images, int) or flagged_images < 0:
        raise ValueError(f"flagged_images must be an int >= 0, got {flagged_images!r}")
    if rate is None:
        if kind is not None or noise_seed is not None:
            raise ValueError("--noise-kind and --noise-seed apply only with --inject-noise RATE")
        return seeds, remove, None
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate < 1:
        raise ValueError(f"--inject-noise must be a rate in [0, 1), got {rate!r}")
    kind = kind or "symmetric"
    if kind not in cleaning.NOISE_KINDS:
        raise ValueError(f"unknown --noise-kind {kind!r}; choose one of {', '.join(cleaning.NOISE_KINDS)}")
    if noise_seed is not None and (isinstance(noise_seed, bool) or not isinstance(noise_seed, int)):
        raise ValueError(f"--noise-seed must be an int, got {noise_seed!r}")
    return seeds, remove, {"rate": float(rate), "kind": kind, "seed": 0 if noise_seed is None else noise_seed}


def _flags_tag(config: dict) -> str:
    """The flag set's name: method (with cleanlab's filter), count rule (`auto` or `k{K}`), and
    `raw` when the probabilities were not calibrated."""
    method, remove = config["method"], config["remove"]
    parts = [method, *([config["filter_by"]] if method == "confident_learning" else []),
             AUTO if remove in (None, AUTO) else f"k{remove}", *([] if config["calibrate"] else ["raw"])]
    return "-".join(parts)


def _cleaned_tag(config: dict) -> str:
    """The cleaned training's name: its flag set's, and `same-steps` with scaled epochs."""
    return _flags_tag(config) + ("-same-steps" if config["scale_epochs"] else "")


def _fold_paths(cells_dir: Path, seed: int, fold: int) -> tuple[Path, Path, Path]:
    """(probabilities .npy, held-out dataset indices .npy, record .json) of a fold cell."""
    stem = f"cv-s{seed}-k{fold}"
    return cells_dir / f"{stem}.npy", cells_dir / f"{stem}-held_out.npy", cells_dir / f"{stem}.json"


def read_out_of_fold(run_dir: str | Path, seed: int, train_indices: np.ndarray, num_classes: int) -> np.ndarray:
    """(N_train, K) out-of-fold probabilities of `seed` in train-split order, read from the fold
    cells of a run folder in which they are all finished."""
    cells_dir = Path(run_dir) / runs.CELLS
    position = {int(index): p for p, index in enumerate(train_indices)}
    probs = np.full((len(train_indices), num_classes), np.nan, dtype=np.float32)
    for fold in range(runs.read_json(Path(run_dir) / runs.CONFIG)["folds"]):
        probs_path, held_path, _ = _fold_paths(cells_dir, seed, fold)
        probs[[position[int(index)] for index in np.load(held_path)]] = np.load(probs_path)
    if np.isnan(probs).any():
        raise RuntimeError(f"{run_dir}: the folds of seed {seed} do not predict every training sample")
    return probs


def fold_assignment(train_labels: np.ndarray, folds: int, seed: int) -> np.ndarray:
    """The fold of each train-split sample (in train-split order) for `seed`."""
    return cleaning.stratified_folds(train_labels, folds, seed)


def _out_of_fold(dataset, cells_dir, seed, folds, recipe, model_name, progress, on_cell) -> np.ndarray:
    """(N_train, K) out-of-fold probabilities in train-split order: each fold loaded from its
    cell when a previous run made it, else trained on the other folds and predicted."""
    train_indices = dataset.train_indices
    fold_of = fold_assignment(dataset.labels.numpy()[train_indices], folds, seed)
    probs = np.full((len(train_indices), dataset.num_classes), np.nan, dtype=np.float32)
    predicted = np.zeros(len(train_indices), dtype=np.int64)
    for fold in range(folds):
        held = np.flatnonzero(fold_of == fold)
        probs_path, held_path, record_path = _fold_paths(cells_dir, seed, fold)
        if record_path.exists():
            if not np.array_equal(np.load(held_path), train_indices[held]):
                raise RuntimeError(f"{held_path} holds another fold than this run deals; rerun with --force")
            probs[held] = np.load(probs_path)
        else:
            trained_on = train_indices[fold_of != fold]
            result = fit(fresh_model(dataset, model_name, seed), dataset, trained_on, recipe, progress=progress)
            outputs = predict(result.model, dataset, train_indices[held], recipe, progress=progress)
            runs.save_array(probs_path, outputs.probs.astype(np.float32))
            runs.save_array(held_path, train_indices[held])
            record = {"cell": "fold", "seed": seed, "fold": fold, "folds": folds, "trained_on": len(trained_on),
                      "held_out": len(held), "held_out_accuracy": outputs.accuracy,
                      "train_seconds": result.train_seconds, "epochs_run": len(result.history)}
            runs.write_json(record_path, record)  # last: the fold is done
            probs[held] = outputs.probs
            if on_cell:
                on_cell(record)
        predicted[held] += 1
    if not (predicted == 1).all():  # the folds partition the train split
        raise RuntimeError("the folds do not predict every training sample exactly once")
    return probs


def _flag(config, labels, probs) -> tuple[np.ndarray, np.ndarray, np.ndarray, float | None]:
    """(flagged positions, most likely wrong first; scores of all samples; the probabilities
    flagged on; their temperature, None uncalibrated) with the run's method and count rule."""
    method, remove, filter_by = config["method"], config["remove"], config["filter_by"]
    temperature = None
    if config["calibrate"]:
        probs, temperature = cleaning.calibrate_probs(labels, probs)
    ranked, scores = cleaning.rank_label_issues(method, labels, probs, filter_by)
    count = cleaning.auto_flag_count(method, labels, probs, filter_by) if remove in (None, AUTO) else remove
    return ranked[:count], scores, probs, temperature


def _flags(cells_dir, seed, config, train_labels, probs, train_indices, corrupted, noise, on_cell) -> np.ndarray:
    """The flagged dataset indices of `seed` (ranked), from their cell or computed and saved."""
    stem = cells_dir / f"flags-{_flags_tag(config)}-s{seed}"
    if stem.with_suffix(".json").exists():
        return np.load(stem.with_suffix(".npy"))
    positions, _, _, temperature = _flag(config, train_labels, probs)
    flagged = train_indices[positions].astype(np.int64)
    record = {"cell": "flags", "seed": seed, "tag": _flags_tag(config), "method": config["method"],
              "filter_by": config["filter_by"], "remove": config["remove"], "temperature": temperature,
              "flagged": len(flagged)}
    if noise is not None:
        record.update(cleaning.flag_quality(flagged, corrupted))
    runs.save_array(stem.with_suffix(".npy"), flagged)
    runs.write_json(stem.with_suffix(".json"), record)
    if on_cell:
        on_cell(record)
    return flagged


def _training(dataset, cells_dir, name, seed, kept, recipe, model_name, progress, on_cell, tag=None) -> None:
    """A fresh model trained on `kept` with `dataset`'s labels and tested: one cell, skipped when done."""
    path = cells_dir / (f"{name}-{tag}-s{seed}.json" if tag else f"{name}-s{seed}.json")
    if path.exists():
        return
    if tag:
        runs.save_array(path.with_suffix(".npy"), kept)
    result = fit(fresh_model(dataset, model_name, seed), dataset, kept, recipe, progress=progress)
    final = evaluate(result.model, dataset, recipe)
    record = {"cell": name, "seed": seed, "tag": tag, "kept": len(kept),
              "removed": len(dataset.train_indices) - len(kept), "epochs": recipe.epochs,
              "test_accuracy": final["test_accuracy"], "per_class_accuracy": final["per_class_accuracy"],
              "train_seconds": result.train_seconds, "epochs_run": len(result.history)}
    runs.write_json(path, record)  # last: the training is done
    if on_cell:
        on_cell(record)


def _write_flags(run_dir, noisy_data, given, train_indices, corrupted, noise, config, mean_probs):
    """flags.csv, flags.npy, flagged.png and flag_quality.json: the run's flags, from the
    out-of-fold probabilities averaged over the seeds."""
    train_labels = noisy_data.labels.numpy()[train_indices]
    positions, scores, probs, temperature = _flag(config, train_labels, mean_probs)
    flagged = train_indices[positions].astype(np.int64)
    suggested = probs[positions].argmax(1)
    shown = config["flagged_images"]
    injected = np.isin(flagged, corrupted) if noise is not None else None
    names = noisy_data.class_names

    columns = ["rank", "index", *(["path"] if noisy_data.paths is not None else []), "given_label", "suggested_label",
               "score", *(["injected", "original_label"] if noise is not None else [])]
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(columns)
    for rank, (index, position) in enumerate(zip(flagged, positions)):
        row = [rank, int(index), *([noisy_data.paths[index]] if noisy_data.paths is not None else []),
               names[train_labels[position]], names[suggested[rank]], repr(float(scores[position]))]
        if noise is not None:
            row += ["true" if injected[rank] else "false", names[given[index]]]
        writer.writerow(row)
    runs.write_text(run_dir / runs.FLAGS_CSV, text.getvalue())
    runs.save_array(run_dir / runs.FLAGS_NPY, flagged)

    top = min(shown, len(flagged))
    if top:
        captions = [f"{names[train_labels[p]]}->{names[s]}" for p, s in zip(positions[:top], suggested[:top])]
        contact_sheet(noisy_data.images[flagged[:top]].numpy(), captions, run_dir / runs.FLAGGED_PNG)
    else:
        (run_dir / runs.FLAGGED_PNG).unlink(missing_ok=True)  # an earlier run's sheet would not be these flags

    if noise is None:
        (run_dir / runs.FLAG_QUALITY).unlink(missing_ok=True)
        return
    per_seed = [runs.read_json(run_dir / runs.CELLS / f"flags-{_flags_tag(config)}-s{seed}.json")
                for seed in config["seeds"]]
    quality = {key: stats.summarize([r[key] for r in per_seed]).to_dict() for key in ("precision", "recall", "f1")}
    runs.write_json(run_dir / runs.FLAG_QUALITY, {
        **quality,
        "per_seed": [{k: r[k] for k in ("seed", "precision", "recall", "f1", "flagged", "corrupted",
                                        "true_positives")} for r in per_seed],
        "flags_csv": {**cleaning.flag_quality(flagged, corrupted), "temperature": temperature},
        **{key: config[key] for key in ("method", "filter_by", "calibrate", "remove")},
        "noise": noise, "injected": int(len(corrupted)),
    })


def summarize(run_dir: str | Path) -> dict:
    """The results from the cells of a clean run folder alone: per training (noisy, cleaned,
    true) the test accuracy over the seeds and the paired differences; per seed the flag
    count (and precision, recall, F1 with injected noise) and their mean ± std."""
    run_dir = Path(run_dir)
    config = runs.read_json(run_dir / runs.CONFIG)
    flags_tag, cleaned_tag = _flags_tag(config), _cleaned_tag(config)
    seeds = config["seeds"]
    cells = [runs.read_json(p) for p in sorted((run_dir / runs.CELLS).glob("*.json"))]
    flags = sorted((c for c in cells if c["cell"] == "flags" and c["seed"] in seeds and c.get("tag") == flags_tag),
                   key=lambda c: seeds.index(c["seed"]))
    trainings = [c for c in cells if c["cell"] in (NOISY, CLEANED, TRUE) and c["seed"] in seeds
                 and (c["cell"] != CLEANED or c["tag"] == cleaned_tag)] if config["remove"] is not None else []
    folds = [c for c in cells if c["cell"] == "fold" and c["seed"] in seeds and c["folds"] == config["folds"]]
    accuracy = {name: {c["seed"]: c["test_accuracy"] for c in trainings if c["cell"] == name}
                for name in (NOISY, CLEANED, TRUE)}
    rows = []
    for name in (NOISY, CLEANED, TRUE):
        group = [c for c in trainings if c["cell"] == name]
        if not group:
            continue
        by_seed = accuracy[name]
        rows.append({
            "labels": name, "seeds": sorted(by_seed),
            "kept": float(np.mean([c["kept"] for c in group])),
            "test_accuracy": stats.summarize([by_seed[s] for s in sorted(by_seed)]).to_dict(),
            "per_seed": [by_seed[s] for s in sorted(by_seed)],
            "vs_noisy": None if name == NOISY else stats.paired_by_key(by_seed, accuracy[NOISY]),
            "vs_true": None if name == TRUE else stats.paired_by_key(by_seed, accuracy[TRUE]),
            "train_seconds": float(np.mean([c["train_seconds"] for c in group])),
        })
    flag_summary = {"per_seed": flags, "flagged": stats.summarize([c["flagged"] for c in flags]).to_dict()}
    if config["noise"] is not None:
        flag_summary.update({key: stats.summarize([c[key] for c in flags]).to_dict()
                             for key in ("precision", "recall", "f1")})
    quality_path = run_dir / runs.FLAG_QUALITY
    if config["noise"] is not None and quality_path.exists():
        flag_summary["flags_csv"] = runs.read_json(quality_path)["flags_csv"]
    return {
        "config": {k: config[k] for k in ("data", "method", "filter_by", "calibrate", "folds", "seeds", "noise",
                                          "remove", "scale_epochs", "model", "preset")},
        "rows": rows,
        "flags": flag_summary,
        "cv_train_seconds": float(np.mean([c["train_seconds"] for c in folds])) if folds else None,
        "cells": trainings,
    }


def _format(summary: dict, scale: float = 100.0, digits: int = 2) -> str:
    return stats.Summary(**summary).format(scale, digits)


def _difference(d: dict | None) -> str:
    return "" if d is None else stats.PairedDifference(**d).format()


def results_markdown(results: dict) -> str:
    """The flags (count, and precision, recall, F1 in % with injected noise) per seed, then the
    test accuracy of each training in % with the paired differences in points."""
    config, flags = results["config"], results["flags"]
    noise = config["noise"]
    lines = [f"Method {config['method']}, {config['folds']} folds, seeds {', '.join(map(str, config['seeds']))}; "
             + (f"{100 * noise['rate']:g} % {noise['kind']} noise injected (seed {noise['seed']})." if noise
                else "labels as given."), ""]
    if noise:
        lines += ["| flags | flagged | precision % | recall % | F1 % |", "| --- | ---: | ---: | ---: | ---: |"]
        for c in flags["per_seed"]:
            lines.append(f"| seed {c['seed']} | {c['flagged']} | {100 * c['precision']:.2f} | {100 * c['recall']:.2f} "
                         f"| {100 * c['f1']:.2f} |")
        lines.append(f"| mean ± std | {_format(flags['flagged'], 1.0, 1)} | {_format(flags['precision'])} "
                     f"| {_format(flags['recall'])} | {_format(flags['f1'])} |")
        if "flags_csv" in flags:
            q = flags["flags_csv"]
            lines.append(f"| flags.csv (probabilities averaged over seeds) | {q['flagged']} "
                         f"| {100 * q['precision']:.2f} | {100 * q['recall']:.2f} | {100 * q['f1']:.2f} |")
    else:
        lines += ["| flags | flagged |", "| --- | ---: |"]
        lines += [f"| seed {c['seed']} | {c['flagged']} |" for c in flags["per_seed"]]
        lines.append(f"| mean ± std | {_format(flags['flagged'], 1.0, 1)} |")
    if results["rows"]:
        lines += ["", "| training labels | kept | test accuracy % (mean ± std) | seeds | vs noisy (95 % CI) "
                      "| vs true (95 % CI) | training s |",
                  "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for row in results["rows"]:
            lines.append(f"| {row['labels']} | {row['kept']:.0f} | {_format(row['test_accuracy'])} "
                         f"| {row['test_accuracy']['n']} | {_difference(row['vs_noisy'])} "
                         f"| {_difference(row['vs_true'])} | {row['train_seconds']:.1f} |")
    return "\n".join(lines) + "\n"


def results_csv(results: dict) -> str:
    """One row per training (noisy, cleaned, true; accuracies as fractions) and one "flags" row
    (mean flag count, and precision, recall and F1 with injected noise)."""
    columns = ["row", "seeds", "kept", "accuracy_mean", "accuracy_std", "vs_noisy_mean", "vs_noisy_low",
               "vs_noisy_high", "vs_true_mean", "vs_true_low", "vs_true_high", "train_seconds", "flagged_mean",
               "precision_mean", "precision_std", "recall_mean", "recall_std", "f1_mean", "f1_std"]
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(columns)
    for row in results["rows"]:
        vs_noisy, vs_true = row["vs_noisy"] or {}, row["vs_true"] or {}
        writer.writerow([row["labels"], len(row["seeds"]), row["kept"], row["test_accuracy"]["mean"],
                         row["test_accuracy"]["std"], vs_noisy.get("mean"), vs_noisy.get("low"),
                         vs_noisy.get("high"), vs_true.get("mean"), vs_true.get("low"), vs_true.get("high"),
                         row["train_seconds"]] + [None] * 7)
    flags = results["flags"]
    quality = [value for key in ("precision", "recall", "f1") for value in
               ((flags[key]["mean"], flags[key]["std"]) if key in flags else (None, None))]
    writer.writerow(["flags", flags["flagged"]["n"]] + [None] * 10 + [flags["flagged"]["mean"], *quality])
    return text.getvalue()
