"""`winnow al`: the simulated active-learning loop, labels taken from the dataset.

    results = al_run("digits", "runs/al", initial=30, budget=30, cycles=6, trials=3,
                     strategies=["random", "margin", "hybrid"])

A trial draws one random initial labelled set from the train split (seeded by the trial,
stratified by class on request) and every strategy starts from it, so the comparison is
paired. A cycle trains a model from scratch on the labelled set (or from the previous cycle's
weights with `warm_start`), tests it, and, except in the last cycle, lets the strategy pick
`budget` samples of the unlabelled pool (or of a random `pool_subset` of it) with that model
as the proxy; the picks are labelled (their dataset labels are revealed) for the next cycle.
So `cycles` trainings see initial, initial + budget, ..., initial + (cycles - 1) * budget labels.

Every finished cycle is a record in `cells/` (labelled count, test accuracy, timings, the
labelled set after the cycle's picks as .npy, and the picks in the strategy's order as
-picks.npy), written atomically after everything it refers to: stopped at any moment and
started again with the same arguments, the loop resumes after the last finished cycle of
every trial and strategy. More trials or strategies add cells.

At the end: the test accuracy per label count and strategy (mean ± std over trials), the area
under each learning curve (mean accuracy over the label range, trapezoidal), the paired
difference to `random` per label count and of the areas (95 % t intervals), and a plot.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import logging
import time
from pathlib import Path
from typing import Callable

import numpy as np

from .. import __version__, data, runs, stats
from ..data.split import stratified_split
from ..strategies import StrategyInputs, get_strategy, select_scored
from ..train import TrainResult, fit
from .proxy import MODEL_INPUTS, ProxyOptions, check_strategies, fresh_model, inputs_used, make_inputs, plan_inputs
from .train import build_model, evaluate, run_config

log = logging.getLogger("winnow.experiments.active")

RANDOM = "random"


def al_run(
    data_spec: str,
    out: str | Path,
    *,
    initial: int,
    budget: int,
    cycles: int,
    trials: int = 3,
    strategies: list[str],
    options: dict[str, dict] | None = None,
    pool_subset: int | None = None,
    warm_start: bool = False,
    stratified_initial: bool = False,
    class_balanced: bool = False,
    model: str | None = None,
    preset: str = "auto",
    recipe_overrides: dict | None = None,
    proxy_options: ProxyOptions | None = None,
    data_options: dict | None = None,
    force: bool = False,
    progress: bool | None = None,
    on_cycle: Callable[[dict], None] | None = None,
) -> dict:
    """Run (or resume) the simulated loop in `out`; returns the results (also written to
    results.json, results.csv, results.md and learning_curves.png).

    initial, budget, cycles : labels at the start, labels added per cycle, trainings per
        strategy and trial (the last one only tests)
    trials : trial t uses seed t for its initial set, its trainings and its strategies
    strategies : registered names; options per strategy, e.g. {"hybrid": {"lam": 0.5}}
    pool_subset : score only a random subset of this many unlabelled samples per cycle
    warm_start : start each cycle from the previous cycle's weights instead of from scratch
    on_cycle : called with each finished cycle's record (for printing)
    """
    options = {k: dict(v) for k, v in (options or {}).items()}
    _check(initial, budget, cycles, trials, strategies, options, pool_subset)
    proxy_options = proxy_options or ProxyOptions()
    dataset = data.load(data_spec, **(data_options or {}))
    log.info("%s", dataset.describe())
    train_indices = dataset.train_indices
    if (dataset.labels.numpy()[train_indices] < 0).any():
        raise data.DataError(f"{data_spec}: the simulated loop needs every train-split label; for unlabelled "
                             "images use `winnow al init`")
    final_count = initial + (cycles - 1) * budget
    if final_count > len(train_indices):
        raise ValueError(f"initial {initial} + (cycles - 1) x budget {budget} = {final_count} labels, more than the "
                         f"{len(train_indices)} samples of the train split")
    preset, recipe, model_name, _ = build_model(dataset, model, preset, {k: v for k, v in (recipe_overrides or {})
                                                                          .items() if k != "seed"})
    wanted = plan_inputs([get_strategy(name) for name in strategies], "file", class_balanced)

    config = {
        **run_config("al", data_spec, data_options, dataset),
        "initial": initial, "budget": budget, "cycles": cycles, "trials": trials, "strategies": strategies,
        "options": options, "pool_subset": pool_subset, "warm_start": warm_start,
        "stratified_initial": stratified_initial, "class_balanced": class_balanced,
        "model": model_name, "preset": preset, "recipe": recipe.to_dict(),
        "proxy_options": dataclasses.asdict(proxy_options),
    }
    run_dir, resumed = runs.open_resumable_run(out, config, force=force, grid=("trials", "strategies"))
    cells_dir = run_dir / runs.CELLS
    cells_dir.mkdir(exist_ok=True)
    for trial in range(trials):
        start = initial_set(dataset, initial, trial, stratified_initial)
        for strategy in strategies:
            _run_trial(dataset, cells_dir, trial, trials, strategy, start, config, recipe.replace(seed=trial),
                       model_name, wanted, options.get(strategy, {}), proxy_options, progress, on_cycle)

    results = summarize(run_dir)
    runs.write_json(run_dir / runs.RESULTS_JSON, results)
    runs.write_text(run_dir / runs.RESULTS_CSV, results_csv(results))
    runs.write_text(run_dir / runs.RESULTS_MD, results_markdown(results))
    from ..plots import plot_learning_curve_comparison

    plot_learning_curve_comparison({run_dir.name: results}, run_dir / runs.LEARNING_CURVES_PNG)
    runs.write_json(run_dir / runs.FINAL, {"cycles_recorded": len(results["cycles"]), "resumed": resumed,
                                           "winnow_version": __version__})
    return results


def _check(initial, budget, cycles, trials, strategies, options, pool_subset) -> None:
    for name, value, low in (("initial", initial, 1), ("budget", budget, 1), ("cycles", cycles, 1),
                             ("trials", trials, 1)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
    if pool_subset is not None and (isinstance(pool_subset, bool) or not isinstance(pool_subset, (int, np.integer))
                                    or pool_subset < budget):
        raise ValueError(f"pool_subset must be an int >= the budget ({budget}), got {pool_subset!r}")
    check_strategies(strategies, options)


def initial_set(dataset: data.Dataset, size: int, trial: int, stratified: bool = False) -> np.ndarray:
    """(size,) sorted dataset indices of trial `trial`'s initial labelled set: a seeded random
    draw from the train split, or a stratified one (class shares as in the split)."""
    train_indices = dataset.train_indices
    generator = np.random.default_rng([11, trial])
    if not stratified:
        return np.sort(generator.choice(train_indices, size, replace=False))
    labels = dataset.labels.numpy()[train_indices]
    if size >= len(train_indices):
        return np.sort(train_indices)
    part = stratified_split(labels, size / len(train_indices), seed=int(generator.integers(2**31)))["test"]
    return np.sort(train_indices[part])


def _cell_name(trial: int, strategy: str, cycle: int) -> str:
    return f"trial{trial}-{strategy}-cycle{cycle}"


def _last_finished(cells_dir: Path, trial: int, strategy: str, cycles: int) -> int:
    """The last cycle (1-based) whose record exists, 0 when none; cycles finish in order."""
    done = 0
    while done < cycles and (cells_dir / f"{_cell_name(trial, strategy, done + 1)}.json").exists():
        done += 1
    return done


def _run_trial(dataset, cells_dir, trial, trials, strategy, start, config, recipe, model_name, wanted, options,
               proxy_options, progress, on_cycle) -> None:
    cycles, budget = config["cycles"], config["budget"]
    done = _last_finished(cells_dir, trial, strategy, cycles)
    labelled = start if done == 0 else np.load(cells_dir / f"{_cell_name(trial, strategy, done)}.npy")
    previous = None
    if config["warm_start"] and done:
        previous = runs.load_weights(cells_dir / f"{_cell_name(trial, strategy, done)}.pt")
    uses = inputs_used(get_strategy(strategy), wanted, config["class_balanced"])
    for cycle in range(done + 1, cycles + 1):
        name = _cell_name(trial, strategy, cycle)
        network = fresh_model(dataset, model_name, recipe.seed)
        if previous is not None:
            network.load_state_dict(previous)
        result = fit(network, dataset, labelled, recipe, prepare=previous is None, progress=progress)
        tested = evaluate(result.model, dataset, recipe)
        record = {"trial": trial, "strategy": strategy, "cycle": cycle, "labels": int(len(labelled)),
                  "test_accuracy": tested["test_accuracy"], "train_seconds": result.train_seconds,
                  "scoring_seconds": 0.0, "selection_seconds": 0.0, "picked": 0}
        if cycle < cycles:
            picks, timing = _pick(dataset, labelled, result, strategy, budget, trial, cycle, recipe, model_name,
                                  uses, options, config, proxy_options, progress)
            record.update(timing, picked=int(len(picks)),
                          picked_class_counts=np.bincount(dataset.labels.numpy()[picks],
                                                          minlength=dataset.num_classes).tolist())
            labelled = np.sort(np.concatenate([labelled, picks]))
            runs.save_array(cells_dir / f"{name}-picks.npy", picks)  # the cycle's picks, best first (reports)
        runs.save_array(cells_dir / f"{name}.npy", labelled)  # the labelled set after this cycle's picks
        if config["warm_start"]:
            runs.save_weights(cells_dir / f"{name}.pt", result.model)
        runs.write_json(cells_dir / f"{name}.json", record)  # last: the cycle is done
        if config["warm_start"] and cycle > 1:
            (cells_dir / f"{_cell_name(trial, strategy, cycle - 1)}.pt").unlink(missing_ok=True)
        previous = {k: v.detach().clone() for k, v in result.model.state_dict().items()} if config["warm_start"] \
            else None
        if on_cycle:
            on_cycle({**record, "trials": trials, "cycles": cycles})


def _pick(dataset, labelled, result: TrainResult, strategy, budget, trial, cycle, recipe, model_name, uses, options,
          config, proxy_options, progress) -> tuple[np.ndarray, dict]:
    """The cycle's picks (dataset indices) and their timings; the cycle's model is the proxy."""
    train_indices = dataset.train_indices
    pool = train_indices[np.isin(train_indices, labelled, invert=True)]
    if config["pool_subset"] is not None and config["pool_subset"] < len(pool):
        generator = np.random.default_rng([13, trial, cycle])
        pool = np.sort(generator.choice(pool, config["pool_subset"], replace=False))
    made = make_inputs(dataset, labelled, pool, uses, recipe, model_name, options=proxy_options,
                       trained=result if uses & set(MODEL_INPUTS) else None, progress=progress)
    started = time.perf_counter()
    positions, _ = select_scored(strategy, StrategyInputs(pool_size=len(pool), **made.arrays), min(budget, len(pool)),
                                 seed=trial * 1000 + cycle, class_balanced=config["class_balanced"], **options)
    return pool[positions], {"scoring_seconds": made.scoring_seconds + made.records_seconds,
                             "selection_seconds": time.perf_counter() - started}


def summarize(run_dir: str | Path) -> dict:
    """The results from the cycle records of an al run folder alone: per strategy and label
    count the test accuracy over trials; per strategy the area under the learning curve; the
    paired differences to `random` (per label count and of the areas) over the trials both have."""
    run_dir = Path(run_dir)
    config = runs.read_json(run_dir / runs.CONFIG)
    records = [runs.read_json(p) for p in sorted((run_dir / runs.CELLS).glob("*.json"))]
    records = [r for r in records if r["trial"] < config["trials"] and r["strategy"] in config["strategies"]]
    curves = {}  # strategy -> trial -> {labels: accuracy}
    for r in records:
        curves.setdefault(r["strategy"], {}).setdefault(r["trial"], {})[r["labels"]] = r["test_accuracy"]
    label_counts = [config["initial"] + c * config["budget"] for c in range(config["cycles"])]
    rows, areas = [], {}
    for strategy in config["strategies"]:
        by_trial = curves.get(strategy, {})
        complete = {t: curve for t, curve in by_trial.items() if all(n in curve for n in label_counts)}
        areas[strategy] = {t: _area(label_counts, [curve[n] for n in label_counts]) for t, curve in complete.items()}
        for n in label_counts:
            values = {t: curve[n] for t, curve in by_trial.items() if n in curve}
            rows.append({"strategy": strategy, "labels": n, "trials": sorted(values),
                         "test_accuracy": stats.summarize([values[t] for t in sorted(values)]).to_dict(),
                         "per_trial": [values[t] for t in sorted(values)],
                         "vs_random": stats.paired_by_key(values, {t: c[n] for t, c in curves.get(RANDOM, {}).items()
                                                                   if n in c})
                         if strategy != RANDOM else None})
    area_rows = [{"strategy": s, "trials": sorted(a), "area": stats.summarize([a[t] for t in sorted(a)]).to_dict(),
                  "vs_random": stats.paired_by_key(a, areas.get(RANDOM, {})) if s != RANDOM else None}
                 for s, a in areas.items()]
    keys = ("data", "initial", "budget", "cycles", "trials", "strategies", "model", "preset", "warm_start",
            "pool_subset")
    return {"config": {k: config[k] for k in keys}, "label_counts": label_counts, "rows": rows, "areas": area_rows,
            "cycles": records}


def _area(label_counts: list[int], accuracies: list[float]) -> float:
    """Mean accuracy over the label range: the trapezoidal area divided by the range (the
    accuracy itself for a single point)."""
    if len(label_counts) == 1:
        return float(accuracies[0])
    x, y = np.asarray(label_counts, dtype=np.float64), np.asarray(accuracies, dtype=np.float64)
    return float(((y[1:] + y[:-1]) / 2 * np.diff(x)).sum() / (x[-1] - x[0]))


def results_markdown(results: dict) -> str:
    """Accuracy (%) per label count (rows) and strategy (columns), then the areas."""
    strategies = results["config"]["strategies"]
    rows = {(r["strategy"], r["labels"]): r for r in results["rows"]}
    lines = ["| labels | " + " | ".join(strategies) + " |", "| ---: |" + " ---: |" * len(strategies)]
    for n in results["label_counts"]:
        cells = []
        for s in strategies:
            row = rows[(s, n)]
            text = stats.Summary(**row["test_accuracy"]).format()
            if row["vs_random"]:
                text += f" ({stats.PairedDifference(**row['vs_random']).format()})"
            cells.append(text)
        lines.append(f"| {n} | " + " | ".join(cells) + " |")
    lines += ["", "| strategy | area under the curve (mean accuracy %) | vs random (95 % CI) | trials |",
              "| --- | ---: | ---: | ---: |"]
    for row in results["areas"]:
        difference = stats.PairedDifference(**row["vs_random"]).format() if row["vs_random"] else ""
        lines.append(f"| {row['strategy']} | {stats.Summary(**row['area']).format()} | {difference} "
                     f"| {len(row['trials'])} |")
    return "\n".join(lines) + "\n"


def results_csv(results: dict) -> str:
    """One row per strategy and label count; accuracies as fractions."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["strategy", "labels", "trials", "accuracy_mean", "accuracy_std", "vs_random_mean",
                     "vs_random_low", "vs_random_high"])
    for row in results["rows"]:
        vs = row["vs_random"] or {}
        writer.writerow([row["strategy"], row["labels"], len(row["trials"]), row["test_accuracy"]["mean"],
                         row["test_accuracy"]["std"], vs.get("mean"), vs.get("low"), vs.get("high")])
    return text.getvalue()
