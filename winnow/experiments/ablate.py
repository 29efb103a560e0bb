"""`winnow ablate`: what does each recipe change do, one factor at a time, over seeds?

The base setting is a preset's recipe (with the user's overrides); every value of every varied
key is one more setting: the base with that one key changed (one factor at a time, no
combinations). Each (setting, seed) is a cell of the run folder (`cell_name`), trained and
tested with the same seed as the base's cell of that seed, so the differences are paired. The
same command resumes; more seeds or more --vary values in the same folder add their cells.

The results: test accuracy mean ± std per setting and the paired difference to the base with a
95 % t interval.

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

from .. import data, runs, stats
from ..table import Column, Table
from ..train import Recipe
from .engine import Run, TrainingSpec, check_seeds, load_data, run_config

log = logging.getLogger("winnow.experiments.ablate")

BASE = "base"


def ablate_run(
    source: str | data.Dataset,
    out: str | Path,
    *,
    vary: dict[str, list],
    seeds: list[int],
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
    base : the preset of the base setting, with `recipe_overrides` on top
    """
    seeds = check_seeds(seeds)
    dataset, data_seconds = load_data(source, data_options)
    spec = TrainingSpec.resolve(dataset, model, base, recipe_overrides)
    settings = plan_settings(spec, vary)
    config = {**run_config("ablate", source, data_options, dataset), **spec.to_config(),
              "vary": [[key, list(values)] for key, values in vary.items()], "seeds": seeds}
    run = Run.open(out, config, grid=("seeds", "vary"), force=force, data_seconds=data_seconds)
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


def plan_settings(spec: TrainingSpec, vary: dict[str, list]) -> list[tuple[str, dict]]:
    """[(label, recipe changes)]: the base ({}) then each value of each key alone. Errors name
    --vary: no key, an unknown key or seed, no values, a value given twice, a value the recipe
    refuses (wrong type or out of range)."""
    if not vary:
        raise ValueError("--vary: give at least one KEY=V1,V2 to vary")
    known = [f.name for f in dataclasses.fields(Recipe) if f.name != "seed"]
    settings = [(BASE, {})]
    for key, values in vary.items():
        if key == "seed":
            raise ValueError("--vary seed: the seeds are --seeds")
        if key not in known:
            raise ValueError(f"--vary {key}: unknown recipe option; known: {', '.join(known)}")
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
    return settings


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
    return {"config": {k: config[k] for k in ("data", "model", "preset", "vary", "seeds")},
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
    return Table(f"Ablation of {config['model']} ({config['preset']} preset): test accuracy (%), mean ± std over seeds",
                 columns, rows, notes=(
                     "One factor at a time: each setting is the base with one recipe option changed. Differences "
                     "are paired (the same seed for the base and the setting), in points, with a 95 % t interval."))
