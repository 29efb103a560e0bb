"""`winnow ablate`: what does each recipe change do, one factor at a time, over seeds?

The base setting is a preset's recipe (with the user's overrides); every value of every varied
key is one more setting: the base with that one key changed (one factor at a time), and each
`combine` is one more: the base with several keys changed together (e.g. the best
augmentations of the one-factor settings). Each (setting, seed) is a cell of the run folder (`cell_name`), trained and
tested with the same seed as the base's cell of that seed, so the differences are paired. The
same command resumes; more seeds or more --vary values in the same folder add their cells.

The results: test accuracy mean ± std per setting and the paired difference to the base with a
95 % t interval. The run folder also holds `augmented_examples.png`: the same training images as
each setting's augmentation makes them (`train.augmented_examples`), one row per setting.

    results = ablate_run("digits", "runs/ablate", base="small", vary={"mixup": [0.2, 1.0]},
                         seeds=[0, 1, 2])
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
from pathlib import Path

import numpy as np

from .. import data, plots, runs, stats
from ..table import Column, Table
from ..train import Recipe, augmented_examples
from .engine import Run, TrainingSpec, check_seeds, load_data, run_config

log = logging.getLogger("winnow.experiments.ablate")

BASE = "base"
EXAMPLES_PNG = "augmented_examples.png"
EXAMPLES_PER_SETTING = 6
runs.register_run_files("ablate", re.escape(EXAMPLES_PNG))


def ablate_run(
    source: str | data.Dataset,
    out: str | Path,
    *,
    vary: dict[str, list],
    seeds: list[int],
    combine: list[dict] | None = None,
    base: str = "auto",
    model: str | None = None,
    recipe_overrides: dict | None = None,
    data_options: dict | None = None,
    force: bool = False,
    on_progress=None,
    on_cell=None,
) -> dict:
    """Run (or resume) the ablation in `out` and return its results (also in results.json,
    results.csv and results.md).

    source : a data spec, or a `Dataset`
    vary : recipe key -> the values to try, each alone on top of the base (typed like the
        recipe field; checked before any training)
    combine : more settings, each {key: value, ...} changed together on top of the base
    base : the preset of the base setting, with `recipe_overrides` on top
    """
    seeds = check_seeds(seeds)
    dataset, data_seconds = load_data(source, data_options)
    spec = TrainingSpec.resolve(dataset, model, base, recipe_overrides)
    combine = [dict(changes) for changes in combine or []]
    settings = plan_settings(spec, vary, combine)
    config = {**run_config("ablate", source, data_options, dataset), **spec.to_config(),
              "vary": [[key, list(values)] for key, values in vary.items()], "combine": combine, "seeds": seeds}
    run = Run.open(out, config, grid=("seeds", "vary", "combine"), force=force, data_seconds=data_seconds)
    write_examples(run.path / EXAMPLES_PNG, dataset, spec, settings)
    spec = spec.attach(run.timing, on_progress)
    for seed in seeds:
        for label, changes in settings:
            name = cell_name(label, seed)
            if not run.cells.done(name):
                result, tested = spec.override(changes).train_and_test(dataset, dataset.train_indices, seed)
                record = {"setting": label, "changes": changes, "seed": seed, **tested, "epochs": result.history}
                run.save_cell(name, record, on_cell=on_cell)
    results = summarize(run.path)
    return run.finish(results, [results_table(results)], cells=len(results["cells"]))


def setting_label(key: str, value) -> str:
    """e.g. "mixup=0.2", "flip=false", "schedule=cosine"."""
    return f"{key}={value if isinstance(value, str) else json.dumps(value)}"


def combined_label(changes: dict) -> str:
    """e.g. "affine_degrees=15+crop_scale=0.35"."""
    return "+".join(setting_label(key, value) for key, value in changes.items())


def plan_settings(spec: TrainingSpec, vary: dict[str, list], combine: list[dict] = ()) -> list[tuple[str, dict]]:
    """[(label, recipe changes)]: the base ({}), each value of each key alone, then each of
    `combine` (several keys together). Errors name --vary or --combine: nothing to vary, an
    unknown key or seed, no values, a value or combination given twice, a value the recipe
    refuses (wrong type or out of range)."""
    if not vary and not combine:
        raise ValueError("--vary: give at least one KEY=V1,V2 to vary (or a --combine)")
    settings = [(BASE, {})]
    for key, values in vary.items():
        _check_key(key, "--vary")
        values = list(values)
        if not values:
            raise ValueError(f"--vary {key}: give at least one value, e.g. {key}=V1,V2")
        for value in values:
            if values.count(value) > 1:
                raise ValueError(f"--vary {key}: {value!r} is given twice")
            try:
                spec.override({key: value})
            except ValueError as error:
                raise ValueError(f"--vary {key}={value!r}: {error}") from None
            settings.append((setting_label(key, value), {key: value}))
    for changes in combine:
        if len(changes) < 2:
            raise ValueError(f"--combine {combined_label(changes)!r}: give two or more KEY=V joined by '+' "
                             "(one key alone is a --vary)")
        for key in changes:
            _check_key(key, "--combine")
        label = combined_label(changes)
        if any(label == other for other, _ in settings):
            raise ValueError(f"--combine {label} is given twice")
        try:
            spec.override(changes)
        except ValueError as error:
            raise ValueError(f"--combine {label}: {error}") from None
        settings.append((label, dict(changes)))
    return settings


def _check_key(key: str, option: str) -> None:
    if key == "seed":
        raise ValueError(f"{option} seed: the seeds are --seeds")
    known = [f.name for f in dataclasses.fields(Recipe) if f.name != "seed"]
    if key not in known:
        raise ValueError(f"{option} {key}: unknown recipe option; known: {', '.join(known)}")


def write_examples(path: Path, dataset: data.Dataset, spec: TrainingSpec, settings: list[tuple[str, dict]]) -> None:
    """`path`: a contact sheet of the same training images (one of each of the first classes)
    as they are, then as each setting's training augmentation makes them (seed 0), one row each."""
    train = dataset.train_indices
    labels = dataset.labels[train].numpy()
    firsts = [train[np.flatnonzero(labels == k)[0]] for k in np.unique(labels)][:EXAMPLES_PER_SETTING]
    more = np.setdiff1d(train[:2 * EXAMPLES_PER_SETTING], firsts)[:EXAMPLES_PER_SETTING - len(firsts)]
    chosen = np.concatenate([np.array(firsts, dtype=np.int64), more])
    rows = [("original", dataset.images[chosen])]
    rows += [(label, augmented_examples(dataset, chosen, spec.override(changes).seeded(0)))
             for label, changes in settings]
    images = np.concatenate([row.numpy() for _, row in rows])
    captions = [label if column == 0 else "" for label, row in rows for column in range(len(row))]
    plots.contact_sheet(images, captions, path, columns=len(chosen))


def cell_name(label: str, seed: int) -> str:
    """`base-s{seed}`, or the setting's label made file-safe, e.g. `mixup=0.2-s0`."""
    return re.sub(r"[^\w.=+-]+", "_", label) + f"-s{seed}"


def summarize(run_dir: str | Path) -> dict:
    """The results from the cells of an ablate run folder: per setting (base first, then the
    --vary values in order) the test accuracy mean ± std over seeds and the paired difference to
    the base (95 % t interval, over the seeds both have). Reads the folder only."""
    run_dir = Path(run_dir)
    config = runs.read_json(run_dir / runs.CONFIG)
    labels = [BASE] + [setting_label(key, value) for key, values in config["vary"] for value in values]
    labels += [combined_label(changes) for changes in config.get("combine", [])]
    cells = [r for r in runs.Cells(run_dir).records().values()
             if r["seed"] in config["seeds"] and r["setting"] in labels]
    accuracy = {label: {c["seed"]: c["test_accuracy"] for c in cells if c["setting"] == label} for label in labels}
    rows = []
    for label in labels:
        group = [c for c in cells if c["setting"] == label]
        rows.append({
            "setting": label, "seeds": sorted(accuracy[label]),
            "test_accuracy": stats.summarize([accuracy[label][s] for s in sorted(accuracy[label])]).to_dict(),
            "vs_base": None if label == BASE else stats.paired_by_key(accuracy[label], accuracy[BASE]),
            "train_seconds": float(np.mean([c["train_seconds"] for c in group])) if group else None,
        })
    return {"config": {**{k: config[k] for k in ("data", "model", "preset", "vary", "seeds")},
                       "combine": config.get("combine", [])},
            "rows": rows, "cells": cells}


def results_table(results: dict) -> Table:
    """Per setting: test accuracy (mean ± std, %) and the paired difference to the base (points, 95 % CI)."""
    columns = [Column("setting"), Column("seeds", kind="int"),
               Column("accuracy", "test accuracy % (mean ± std)", "summary"),
               Column("vs_base", "vs base (95 % CI)", "difference"), Column("train_seconds", "training s", "seconds")]
    rows = [{"setting": row["setting"], "seeds": len(row["seeds"]),
             "accuracy": row["test_accuracy"] if row["seeds"] else None, "vs_base": row["vs_base"],
             "train_seconds": row["train_seconds"]} for row in results["rows"]]
    config = results["config"]
    title = f"Ablation of {config['model']} ({config['preset']} preset): test accuracy (%), mean ± std over seeds"
    return Table(title, columns, rows, notes=(
                 "One factor at a time: each setting is the base with one recipe option changed (a+b: "
                 "the options changed together). Differences "
                 "are paired (the same seed for the base and the setting), in points, with a 95 % t interval."))
