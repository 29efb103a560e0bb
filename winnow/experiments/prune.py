"""`winnow prune`: is a model-chosen subset of the training data better than a random one?

For every seed: a proxy model is trained on the whole train split with the one trainer (only
when some strategy needs its outputs) and gives the strategies their inputs (`proxy.py`).
For every fraction and strategy, the strategy keeps that fraction of the train split, a fresh
model is trained on it with the same recipe and seed, and tested. The full-data run is a cell
too; when the proxy uses the training recipe and model, the proxy IS the full-data run.

Every finished cell is a JSON file in `cells/` (written atomically, with the kept indices as
.npy beside it), and the proxy's outputs are kept in `cells/proxy-s{seed}.npz`: a command
stopped at any moment and run again with the same arguments skips what is done. Run again with
more fractions, strategies or seeds (and otherwise the same arguments), it adds their cells.

The cost of choosing is part of the result: each subset cell records the proxy's training
time (when the strategy uses the proxy), the time to predict its inputs, the extra short runs
(`early_probs`, EL2N) and the selection itself, next to the training time of the subset.

    results = prune_run("cifar10:~/data", "runs/prune", fractions=[0.5],
                        strategies=["random", "margin"], seeds=[0, 1, 2])
"""

from __future__ import annotations

import csv
import dataclasses
import io
import logging
import time
from pathlib import Path

import numpy as np

from .. import __version__, data, runs, stats
from ..strategies import StrategyInputs, get_strategy, select_scored
from ..train import Recipe, fit
from .proxy import (MODEL_INPUTS, MadeInputs, ProxyOptions, check_seeds, check_strategies, fresh_model, inputs_used,
                    make_inputs, needs_training, plan_inputs)
from .train import build_model, evaluate, run_config

log = logging.getLogger("winnow.experiments.prune")

FULL = "full"
RANDOM = "random"


def prune_run(
    data_spec: str,
    out: str | Path,
    *,
    fractions: list[float],
    strategies: list[str],
    seeds: list[int],
    options: dict[str, dict] | None = None,
    class_balanced: bool = False,
    scale_epochs: bool = False,
    model: str | None = None,
    preset: str = "auto",
    recipe_overrides: dict | None = None,
    proxy_overrides: dict | None = None,
    proxy_options: ProxyOptions | None = None,
    data_options: dict | None = None,
    force: bool = False,
    progress: bool | None = None,
    on_cell=None,
) -> dict:
    """Run (or resume) the pruning comparison in `out` and return its results (also written to
    results.json, results.csv and results.md).

    fractions : shares of the train split to keep, each in (0, 1)
    strategies : registered strategy names; each keeps the top-scored samples
    seeds : one proxy and one training per seed and cell; the seed is shared by all cells of
        a seed (paired comparison)
    options : per strategy, its own options, e.g. {"margin": {"temperature": 2.0}}
    scale_epochs : train subsets for epochs / fraction (the same number of steps as the full
        run) instead of the recipe's epochs (the same number of passes over the data)
    recipe_overrides : the training recipe (as for `winnow train`); proxy_overrides change
        the proxy's recipe on top of it (e.g. fewer epochs for a cheaper proxy)
    on_cell : called with each cell record as it finishes (for printing progress)
    """
    fractions, strategies, seeds, options = _check(fractions, strategies, seeds, options)
    proxy_options = proxy_options or ProxyOptions()
    overrides = {k: v for k, v in (recipe_overrides or {}).items() if k != "seed"}
    dataset = data.load(data_spec, **(data_options or {}))
    log.info("%s", dataset.describe())
    preset, recipe, model_name, _ = build_model(dataset, model, preset, overrides)
    proxy_recipe = recipe.replace(**(proxy_overrides or {}))
    chosen = [get_strategy(name) for name in strategies]
    wanted = plan_inputs(chosen, "all", class_balanced)

    config = {
        **run_config("prune", data_spec, data_options, dataset),
        "fractions": fractions,
        "strategies": strategies,
        "seeds": seeds,
        "options": options,
        "class_balanced": class_balanced,
        "scale_epochs": scale_epochs,
        "model": model_name,
        "preset": preset,
        "recipe": recipe.to_dict(),
        "proxy_recipe": proxy_recipe.to_dict(),
        "proxy_options": dataclasses.asdict(proxy_options),
    }
    run_dir, resumed = runs.open_resumable_run(out, config, force=force, grid=("fractions", "strategies", "seeds"))
    cells_dir = run_dir / runs.CELLS
    cells_dir.mkdir(exist_ok=True)
    if resumed:
        log.info("resuming %s: %d finished cells", run_dir, len(list(cells_dir.glob("*.json"))))

    train_indices = dataset.train_indices
    proxy_is_full = proxy_recipe == recipe
    for seed in seeds:
        seeded = recipe.replace(seed=seed)
        subset_cells = [(f, s) for f in fractions for s in strategies if not _cell_path(cells_dir, s, f, seed).exists()]
        full_done = _cell_path(cells_dir, FULL, 1.0, seed).exists()
        proxy = None
        for_subsets = any(needs_training(inputs_used(get_strategy(s), wanted)) for _, s in subset_cells)
        for_full = proxy_is_full and not full_done and bool(wanted & set(MODEL_INPUTS))
        if for_subsets or for_full:
            proxy = _proxy(dataset, cells_dir, seed, wanted, proxy_recipe.replace(seed=seed), model_name,
                           proxy_options, progress)
        if not full_done:
            _full_cell(dataset, cells_dir, seed, seeded, model_name, proxy if proxy_is_full else None, progress,
                       on_cell)
        for fraction, strategy in subset_cells:
            _subset_cell(dataset, cells_dir, train_indices, strategy, fraction, seed, seeded, model_name,
                         options.get(strategy, {}), class_balanced, scale_epochs, proxy, wanted, progress, on_cell)

    results = summarize(run_dir)
    runs.write_json(run_dir / runs.RESULTS_JSON, results)
    runs.write_text(run_dir / runs.RESULTS_CSV, results_csv(results))
    runs.write_text(run_dir / runs.RESULTS_MD, results_markdown(results))
    runs.write_json(run_dir / runs.FINAL, {"cells": len(results["cells"]), "resumed": resumed,
                                           "winnow_version": __version__})
    return results


def _check(fractions, strategies, seeds, options):
    fractions = [float(f) for f in fractions]
    for f in fractions:
        if not 0 < f < 1:
            raise ValueError(f"fraction {f} must be in (0, 1); the full-data run is always included")
    if len(set(fractions)) != len(fractions) or not fractions:
        raise ValueError(f"fractions must be distinct and at least one, got {fractions}")
    options = check_strategies(strategies, options)
    seeds = check_seeds(seeds)
    return sorted(fractions), list(strategies), seeds, options


def _cell_path(cells_dir: Path, strategy: str, fraction: float, seed: int) -> Path:
    return cells_dir / (f"{FULL}-s{seed}.json" if strategy == FULL else f"{strategy}-f{fraction:g}-s{seed}.json")


def _proxy(dataset, cells_dir: Path, seed: int, wanted: set[str], recipe: Recipe, model_name: str,
           options: ProxyOptions, progress) -> tuple[MadeInputs, dict]:
    """(inputs, record) of the proxy for seed `seed`: loaded from cells/proxy-s{seed}.npz and
    .json when a previous run made them, else made and saved (arrays in train-split order)."""
    arrays_path, record_path = cells_dir / f"proxy-s{seed}.npz", cells_dir / f"proxy-s{seed}.json"
    if arrays_path.exists() and record_path.exists():
        record = runs.read_json(record_path)
        with np.load(arrays_path, allow_pickle=False) as saved:
            arrays = {name: saved[name] for name in saved.files}
        log.info("seed %d: proxy outputs loaded from %s", seed, arrays_path)
        return MadeInputs(arrays=arrays, train_seconds=record["train_seconds"],
                          scoring_seconds=record["scoring_seconds"], records_seconds=record["records_seconds"],
                          result=None), record
    log.info("seed %d: training the proxy", seed)
    made = make_inputs(dataset, dataset.train_indices, dataset.train_indices, wanted, recipe, model_name,
                       options=options, progress=progress)
    record = {"seed": seed, "train_seconds": made.train_seconds, "scoring_seconds": made.scoring_seconds,
              "records_seconds": made.records_seconds, "epochs": None, "test_accuracy": None}
    if made.result is not None:
        record.update(evaluate(made.result.model, dataset, recipe), epochs=made.result.history)
        runs.save_weights(cells_dir / f"proxy-s{seed}.pt", made.result.model)
    buffer = io.BytesIO()
    np.savez(buffer, **made.arrays)
    runs.write_bytes(arrays_path, buffer.getvalue())
    runs.write_json(record_path, record)  # last: the proxy is done only once its record exists
    return made, record


def _full_cell(dataset, cells_dir, seed, recipe, model_name, proxy, progress, on_cell) -> None:
    """The full-data cell: the proxy's record when the proxy was trained with the training
    recipe, else a training run of its own."""
    if proxy is not None and proxy[1].get("test_accuracy") is not None:
        record = proxy[1]
        cell = {"strategy": FULL, "fraction": 1.0, "seed": seed, "kept": len(dataset.train_indices),
                "test_accuracy": record["test_accuracy"], "train_seconds": record["train_seconds"],
                "selection_seconds": 0.0, "scoring_seconds": 0.0, "proxy_train_seconds": 0.0,
                "records_seconds": 0.0, "source": "proxy"}
    else:
        result = fit(fresh_model(dataset, model_name, seed), dataset, dataset.train_indices, recipe,
                     progress=progress)
        cell = {"strategy": FULL, "fraction": 1.0, "seed": seed, "kept": len(dataset.train_indices),
                **_tested(result, dataset, recipe), "selection_seconds": 0.0, "scoring_seconds": 0.0,
                "proxy_train_seconds": 0.0, "records_seconds": 0.0, "source": "trained"}
    runs.write_json(_cell_path(cells_dir, FULL, 1.0, seed), cell)
    if on_cell:
        on_cell(cell)


def _tested(result, dataset, recipe) -> dict:
    final = evaluate(result.model, dataset, recipe)
    return {"test_accuracy": final["test_accuracy"], "per_class_accuracy": final["per_class_accuracy"],
            "train_seconds": result.train_seconds, "epochs_run": len(result.history)}


def _subset_cell(dataset, cells_dir, train_indices, strategy, fraction, seed, recipe, model_name, options,
                 class_balanced, scale_epochs, proxy, wanted, progress, on_cell) -> None:
    chosen = get_strategy(strategy)
    uses = inputs_used(chosen, wanted, class_balanced)
    made, _ = proxy if proxy is not None else (MadeInputs(), None)
    arrays = {name: made.arrays[name] for name in uses if name in made.arrays}
    arrays["labels"] = dataset.labels.numpy()[train_indices]
    budget = max(1, round(fraction * len(train_indices)))
    started = time.perf_counter()
    positions, _ = select_scored(strategy, StrategyInputs(pool_size=len(train_indices), **arrays), budget, seed=seed,
                                 class_balanced=class_balanced, **options)
    selection_seconds = time.perf_counter() - started
    kept = train_indices[np.sort(positions)].astype(np.int64)
    runs.save_array(_cell_path(cells_dir, strategy, fraction, seed).with_suffix(".npy"), kept)

    subset_recipe = recipe.with_epochs(recipe.epochs / fraction) if scale_epochs else recipe
    result = fit(fresh_model(dataset, model_name, seed), dataset, kept, subset_recipe, progress=progress)
    uses_proxy = bool(uses & set(MODEL_INPUTS))
    cell = {
        "strategy": strategy, "fraction": fraction, "seed": seed, "kept": len(kept),
        **_tested(result, dataset, subset_recipe),
        "selection_seconds": selection_seconds,
        "scoring_seconds": made.scoring_seconds if uses_proxy else 0.0,
        "proxy_train_seconds": made.train_seconds if uses_proxy else 0.0,
        "records_seconds": made.records_seconds if "early_probs" in uses else 0.0,
        "kept_class_counts": np.bincount(dataset.labels.numpy()[kept], minlength=dataset.num_classes).tolist(),
        "options": options,
    }
    runs.write_json(_cell_path(cells_dir, strategy, fraction, seed), cell)  # last: the cell is done
    if on_cell:
        on_cell(cell)


def summarize(run_dir: str | Path) -> dict:
    """The results table from the cells of a prune run folder: per fraction and strategy the
    test accuracy (mean ± std over seeds), the paired difference to `random` at the same
    fraction and to the full-data run (95 % t intervals, over the seeds both have), and the
    mean times. Reads the folder only, so a report can be made from it at any time."""
    run_dir = Path(run_dir)
    config = runs.read_json(run_dir / runs.CONFIG)
    cells = [runs.read_json(p) for p in sorted((run_dir / runs.CELLS).glob("*.json"))
             if not p.name.startswith("proxy-")]
    cells = [c for c in cells if c["seed"] in config["seeds"] and (
        c["strategy"] == FULL or (c["strategy"] in config["strategies"] and c["fraction"] in config["fractions"]))]
    by_key = {(c["strategy"], c["fraction"], c["seed"]): c for c in cells}
    rows = []
    full = {c["seed"]: c["test_accuracy"] for c in cells if c["strategy"] == FULL}
    rows.append(_row(FULL, 1.0, [c for c in cells if c["strategy"] == FULL], None, full))
    for fraction in config["fractions"]:
        random_acc = {seed: c["test_accuracy"] for (s, f, seed), c in by_key.items() if s == RANDOM and f == fraction}
        for strategy in config["strategies"]:
            group = [c for (s, f, _), c in by_key.items() if s == strategy and f == fraction]
            rows.append(_row(strategy, fraction, group, None if strategy == RANDOM else random_acc, full))
    return {"config": {k: config[k] for k in ("data", "fractions", "strategies", "seeds", "model", "preset",
                                              "scale_epochs", "class_balanced")},
            "rows": rows, "cells": cells}


def _row(strategy, fraction, group, random_acc, full) -> dict:
    accuracies = {c["seed"]: c["test_accuracy"] for c in group}
    seeds = sorted(accuracies)

    def mean_of(key):
        return float(np.mean([c[key] for c in group])) if group else None

    return {
        "strategy": strategy, "fraction": fraction, "seeds": seeds,
        "kept": group[0]["kept"] if group else None,
        "test_accuracy": stats.summarize([accuracies[s] for s in seeds]).to_dict(),
        "per_seed": [accuracies[s] for s in seeds],
        "vs_random": None if random_acc is None else stats.paired_by_key(accuracies, random_acc),
        "vs_full": None if strategy == FULL else stats.paired_by_key(accuracies, full),
        "choose_seconds": (mean_of("proxy_train_seconds") + mean_of("scoring_seconds") + mean_of("records_seconds")
                           + mean_of("selection_seconds")) if group else None,
        "selection_seconds": mean_of("selection_seconds"),
        "proxy_train_seconds": mean_of("proxy_train_seconds"),
        "records_seconds": mean_of("records_seconds"),
        "train_seconds": mean_of("train_seconds"),
    }


def _summary(d: dict | None) -> stats.Summary:
    return stats.Summary(**d)


def _difference(d: dict | None) -> str:
    return "" if d is None else stats.PairedDifference(**d).format()


def results_markdown(results: dict) -> str:
    """The results as a markdown table (accuracies and differences in percentage points)."""
    lines = [
        "| fraction | strategy | kept | test accuracy % (mean ± std) | seeds | vs random (95 % CI) | vs full (95 % CI) "
        "| choosing s | of which proxy training s | training s |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in results["rows"]:
        accuracy = _summary(row["test_accuracy"])
        lines.append(
            f"| {row['fraction']:g} | {row['strategy']} | {row['kept'] or ''} | {accuracy.format()} | {accuracy.n} "
            f"| {_difference(row['vs_random'])} | {_difference(row['vs_full'])} "
            f"| {_seconds(row['choose_seconds'])} | {_seconds(row['proxy_train_seconds'])} "
            f"| {_seconds(row['train_seconds'])} |")
    return "\n".join(lines) + "\n"


def _seconds(value) -> str:
    return "" if value is None else f"{value:.1f}"


def results_csv(results: dict) -> str:
    """One row per fraction and strategy; accuracies as fractions, times in seconds."""
    columns = ["fraction", "strategy", "kept", "seeds", "accuracy_mean", "accuracy_std", "vs_random_mean",
               "vs_random_low", "vs_random_high", "vs_full_mean", "vs_full_low", "vs_full_high", "choose_seconds",
               "proxy_train_seconds", "records_seconds", "selection_seconds", "train_seconds"]
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(columns)
    for row in results["rows"]:
        vs_random, vs_full = row["vs_random"] or {}, row["vs_full"] or {}
        writer.writerow([row["fraction"], row["strategy"], row["kept"], len(row["seeds"]),
                         row["test_accuracy"]["mean"], row["test_accuracy"]["std"],
                         vs_random.get("mean"), vs_random.get("low"), vs_random.get("high"),
                         vs_full.get("mean"), vs_full.get("low"), vs_full.get("high"),
                         row["choose_seconds"], row["proxy_train_seconds"], row["records_seconds"],
                         row["selection_seconds"], row["train_seconds"]])
    return text.getvalue()
