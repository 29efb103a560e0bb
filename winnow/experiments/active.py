"""`winnow al`: the simulated active-learning loop, labels taken from the dataset.

    results = al_run("digits", "runs/al", initial=30, budget=30, cycles=6, trials=3,
                     strategies=["random", "margin", "hybrid"])

A trial draws one random initial labelled set from the train split (seeded by the trial,
stratified by class on request) and every strategy starts from it, so the comparison is
paired. With `initial_strategy` (cold start), the initial set is chosen instead by a strategy
over the features of an extractor (`winnow.features`: tiny, bovw, pretrained), with nothing
labelled and nothing trained (`baseline.feature_inputs`); TypiClust is the one Hacohen et al.
(2022) recommend for it. That set is the cell `trial{t}-initial` (its record, the set as .npy and
its picks in the strategy's order as -picks.npy), chosen once per trial and shared by every
strategy, and read back when the run resumes.

A cycle trains a model from scratch on the labelled set (or from the previous cycle's
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

import dataclasses
import logging
from pathlib import Path
from typing import Callable

import numpy as np

from .. import data, runs, stats
from ..data.split import stratified_split
from ..strategies import check_options, get_strategy
from ..table import Column, Table
from .baseline import feature_inputs, plan_feature_inputs
from .backend import Backend, CellOutput, Shared, Task, TaskContext, make_backend, state_dict
from .engine import Run, TrainingSpec, load_data, run_config
from .proxy import MODEL_INPUTS, ProxyOptions, check_strategies, choose, inputs_used, make_inputs, plan_inputs

log = logging.getLogger("winnow.experiments.active")

RANDOM = "random"


def al_run(
    source: str | data.Dataset,
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
    weights: str | None = None,
    proxy_options: ProxyOptions | None = None,
    data_options: dict | None = None,
    force: bool = False,
    on_progress=None,
    on_cycle: Callable[[dict], None] | None = None,
    initial_strategy: str = RANDOM,
    initial_options: dict | None = None,
    features: str | None = None,
    feature_options: dict | None = None,
    backend: str | Backend = "local",
    address: str | None = None,
    cpus_per_cell: float | None = None,
    gpus_per_cell: float | None = None,
) -> dict:
    """Run (or resume) the simulated loop in `out`; returns the results (also written to
    results.json, results.csv, results.md and learning_curves.png).

    source : a data spec, or a `Dataset` (e.g. from `winnow.data.from_arrays`)
    initial, budget, cycles : labels at the start, labels added per cycle, trainings per
        strategy and trial (the last one only tests)
    trials : trial t uses seed t for its initial set, its trainings and its strategies
    strategies : registered names; options per strategy, e.g. {"hybrid": {"lam": 0.5}}
    pool_subset : score only a random subset of this many unlabelled samples per cycle
    warm_start : start each cycle from the previous cycle's weights instead of from scratch
    weights : pretrained weights every trained model starts from: a state dict file or a named
        source such as torchvision:resnet50 (`winnow.weights`, `TrainingSpec.resolve`)
    on_progress : called with the trainer's progress (`winnow.progress`)
    on_cycle : called with each finished cycle's record (for printing)
    initial_strategy : "random" (default: the seeded draw of `initial_set`), or a strategy over
        features (typiclust, coreset, kmeans_margin, mmd) that chooses each trial's initial set
        from the `features` (an extractor of `winnow.features` with `feature_options`) of the
        train split, with its options `initial_options` and the trial as seed
    backend : where the cycles run (`experiments.backend`): "local" (this process) or "ray" (trials
        and strategies in parallel, the cycles of each in order), with `address`, `cpus_per_cell`
        and `gpus_per_cell`; or a `Backend`. Not part of the configuration: a run resumes on either.
    """
    backend = make_backend(backend, address=address, cpus_per_cell=cpus_per_cell, gpus_per_cell=gpus_per_cell,
                           on_progress=on_progress)
    options = {k: dict(v) for k, v in (options or {}).items()}
    _check(initial, budget, cycles, trials, strategies, options, pool_subset)
    proxy_options = proxy_options or ProxyOptions()
    dataset, data_seconds = load_data(source, data_options)
    train_indices = dataset.train_indices
    if (dataset.labels.numpy()[train_indices] < 0).any():
        raise data.DataError(f"{dataset.source}: the simulated loop needs every train-split label; for unlabelled "
                             "images use `winnow al init`")
    final_count = initial + (cycles - 1) * budget
    if final_count > len(train_indices):
        raise ValueError(f"initial {initial} + (cycles - 1) x budget {budget} = {final_count} labels, more than the "
                         f"{len(train_indices)} samples of the train split")
    spec = TrainingSpec.resolve(dataset, model, preset, recipe_overrides, seed_option="--trials", weights=weights)
    wanted = plan_inputs([get_strategy(name) for name in strategies], "file", class_balanced)
    cold_start = _check_initial(dataset, initial_strategy, initial_options, features, feature_options,
                                stratified_initial)
    config = {
        **run_config("al", source, data_options, dataset),
        "initial": initial, "budget": budget, "cycles": cycles, "trials": trials, "strategies": strategies,
        "options": options, "pool_subset": pool_subset, "warm_start": warm_start,
        "stratified_initial": stratified_initial, "class_balanced": class_balanced,
        **spec.to_config(), "proxy_options": dataclasses.asdict(proxy_options),
        **(cold_start or {}),  # absent for the random initial set, so runs made before it resume
    }
    backend.start()
    run = Run.open(out, config, grid=("trials", "strategies"), force=force, data_seconds=data_seconds)
    shared = backend.share(dataset)
    if cold_start is not None:  # every trial's initial set first (the trials together), read from its cell
        backend.run(run, [_initial_chain(run, shared, initial, trial, cold_start) for trial in range(trials)])
    starts = [initial_set(dataset, initial, trial, stratified_initial) if cold_start is None
              else run.cells.array(initial_cell(trial)) for trial in range(trials)]
    loop = _Loop(run, shared, spec, wanted, proxy_options, on_cycle)
    backend.run(run, [loop.chain(trial, strategy, starts[trial], options.get(strategy, {}))
                      for trial in range(trials) for strategy in strategies])

    results = summarize(run.path)
    from ..plots import plot_learning_curve_comparison

    plot_learning_curve_comparison({run.path.name: results}, run.path / runs.LEARNING_CURVES_PNG)
    wide, areas, long = results_tables(results)
    return run.finish(results, [wide, areas], long, cycles_recorded=len(results["cycles"]))


def _check(initial, budget, cycles, trials, strategies, options, pool_subset) -> None:
    for name, value, low in (("initial", initial, 1), ("budget", budget, 1), ("cycles", cycles, 1),
                             ("trials", trials, 1)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
    if pool_subset is not None and (isinstance(pool_subset, bool) or not isinstance(pool_subset, (int, np.integer))
                                    or pool_subset < budget):
        raise ValueError(f"pool_subset must be an int >= the budget ({budget}), got {pool_subset!r}")
    check_strategies(strategies, options)


def _check_initial(dataset: data.Dataset, strategy: str, options: dict | None, features: str | None,
                   feature_options: dict | None, stratified: bool) -> dict | None:
    """None for the random initial set; else the config entries of a cold start, checked before
    anything runs (the strategy, its options, the extractor and its options, what it needs)."""
    if strategy == RANDOM:
        given = [name for name, value in (("features", features), ("feature_options", feature_options),
                                          ("initial_options", options)) if value]
        if given:
            raise ValueError(f"{', '.join(given)} apply to an initial strategy over features: give "
                             "initial_strategy (--initial-strategy typiclust), or leave them out for a random "
                             "initial set")
        return None
    chosen = get_strategy(strategy)  # an unknown name is an error naming the known ones
    check_options(strategy, dict(options or {}))
    if not features:
        raise ValueError(f"initial strategy {strategy!r} chooses over features, and nothing is trained before the "
                         "first cycle: give features (--features tiny, bovw or pretrained)")
    if stratified:
        raise ValueError(f"stratified_initial applies to the random initial set, not to initial strategy "
                         f"{strategy!r} (the labels are unknown before the first set is chosen)")
    plan_feature_inputs(chosen, "none", False, features, feature_options,
                        shape=(len(dataset.train_indices), *dataset.images.shape[1:]))
    return {"initial_strategy": strategy, "initial_options": dict(options or {}), "features": features,
            "feature_options": dict(feature_options or {})}


def initial_cell(trial: int) -> str:
    """The cell of trial `trial`'s initial set when a strategy chose it."""
    return f"trial{trial}-initial"


def _initial_chain(run: Run, dataset: Shared, size: int, trial: int, cold_start: dict):
    """The cell of trial `trial`'s initial set (`_initial_cell`), unless a previous session chose it."""
    if not run.cells.done(initial_cell(trial)):
        yield Task(initial_cell(trial), _initial_cell, dict(dataset=dataset, size=size, trial=trial,
                                                            cold_start=cold_start))


def _initial_cell(context: TaskContext, *, dataset: data.Dataset, size: int, trial: int,
                  cold_start: dict) -> CellOutput:
    """Trial `trial`'s initial set, (size,) sorted dataset indices (array ""; "picks" in the
    strategy's order), chosen by the cold-start strategy of `cold_start` (`_check_initial`) over
    extractor features of the train split, with the trial as seed."""
    strategy = get_strategy(cold_start["initial_strategy"])
    wanted = plan_feature_inputs(strategy, "none", False, cold_start["features"], cold_start["feature_options"])
    pool = dataset.train_indices
    made = feature_inputs(dataset, np.zeros(0, np.int64), pool, wanted, cold_start["features"],
                          cold_start["feature_options"], seed=trial)
    context.timing.add("scoring", made.scoring_seconds)
    choice = choose(strategy.name, made, pool, size, seed=trial, options=cold_start["initial_options"],
                    timing=context.timing)
    chosen = np.sort(choice.indices)
    record = {"trial": trial, "initial_strategy": strategy.name, "features": cold_start["features"],
              "labels": int(len(chosen)), "feature_seconds": made.scoring_seconds,
              "selection_seconds": choice.seconds,
              "class_counts": np.bincount(dataset.labels.numpy()[chosen], minlength=dataset.num_classes).tolist()}
    log.info("trial %d: initial set of %d chosen by %s on %s features", trial, size, strategy.name,
             cold_start["features"])
    return CellOutput(record, arrays={"": chosen, "picks": choice.indices})


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
    chosen = train_indices[part]
    if len(chosen) > size:  # each class's share is rounded: drop or add random ones to have exactly `size`
        chosen = generator.choice(chosen, size, replace=False)
    elif len(chosen) < size:
        others = np.setdiff1d(train_indices, chosen)
        chosen = np.concatenate([chosen, generator.choice(others, size - len(chosen), replace=False)])
    return np.sort(chosen)


def cell_name(trial: int, strategy: str, cycle: int) -> str:
    """The cell of one cycle: its record, the labelled set after its picks (array ""), its
    picks in the strategy's order (array "picks"), and with warm starts its weights."""
    return f"trial{trial}-{strategy}-cycle{cycle}"


class _Loop:
    """The cycles of one trial and strategy as a chain (`backend`): each cycle a task given the
    labelled set (and with warm starts the weights) the previous one left, resumed after the last
    finished cycle."""

    def __init__(self, run: Run, dataset: Shared, spec: TrainingSpec, wanted, proxy_options, on_cycle):
        self.run, self.dataset, self.spec, self.wanted = run, dataset, spec, wanted
        self.proxy_options, self.on_cycle, self.config = proxy_options, on_cycle, run.config

    def _last_finished(self, trial: int, strategy: str) -> int:
        """The last cycle (1-based) whose record exists, 0 when none; cycles finish in order."""
        done = 0
        while done < self.config["cycles"] and self.run.cells.done(cell_name(trial, strategy, done + 1)):
            done += 1
        return done

    def chain(self, trial: int, strategy: str, start: np.ndarray, options: dict):
        """The cycles of `trial` and `strategy` not done yet, in order, from the initial set `start`."""
        cells, cycles, warm = self.run.cells, self.config["cycles"], self.config["warm_start"]
        done = self._last_finished(trial, strategy)
        if done == cycles:
            return
        labelled = start if done == 0 else cells.array(cell_name(trial, strategy, done))
        previous = cells.weights(cell_name(trial, strategy, done)) if warm and done else None
        uses = inputs_used(get_strategy(strategy), self.wanted, self.config["class_balanced"])
        settings = {key: self.config[key] for key in ("cycles", "budget", "pool_subset", "class_balanced",
                                                      "warm_start")}
        for cycle in range(done + 1, cycles + 1):
            output = yield Task(cell_name(trial, strategy, cycle), _cycle_cell, dict(
                dataset=self.dataset, spec=self.spec, labelled=labelled, previous=previous, trial=trial,
                strategy=strategy, cycle=cycle, uses=uses, options=options, proxy_options=self.proxy_options,
                settings=settings),
                on_cell=self._report, after=self._drop_earlier_weights if warm and cycle > 1 else None)
            labelled, previous = output.arrays[""], output.weights

    def _report(self, record: dict) -> None:
        if self.on_cycle:
            self.on_cycle({**record, "trials": self.config["trials"], "cycles": self.config["cycles"]})

    def _drop_earlier_weights(self, output: CellOutput) -> None:
        record = output.record
        self.run.cells.drop_weights(cell_name(record["trial"], record["strategy"], record["cycle"] - 1))


def _cycle_cell(context: TaskContext, *, dataset, spec: TrainingSpec, labelled: np.ndarray, previous: dict | None,
                trial: int, strategy: str, cycle: int, uses: set[str], options: dict, proxy_options: ProxyOptions,
                settings: dict) -> CellOutput:
    """One cycle: a model trained on `labelled` (from the `previous` cycle's weights with warm
    starts) and tested; except in the last cycle, the strategy's picks from the pool with that
    model as the proxy. Arrays: the labelled set after the picks (""), the picks best first."""
    spec = context.attach(spec)
    result = spec.train(dataset, labelled, trial, weights=previous)
    tested = spec.evaluate(result.model, dataset, trial)
    record = {"trial": trial, "strategy": strategy, "cycle": cycle, "labels": int(len(labelled)),
              "test_accuracy": tested["test_accuracy"], "train_seconds": result.train_seconds,
              "test_seconds": tested["test_seconds"], "scoring_seconds": 0.0, "selection_seconds": 0.0,
              "picked": 0}
    arrays = {}
    if cycle < settings["cycles"]:
        picks, timing = _pick(context, dataset, spec, labelled, result, strategy, trial, cycle, uses, options,
                              proxy_options, settings)
        record.update(timing, picked=int(len(picks)),
                      picked_class_counts=np.bincount(dataset.labels.numpy()[picks],
                                                      minlength=dataset.num_classes).tolist())
        labelled = np.sort(np.concatenate([labelled, picks]))
        arrays["picks"] = picks  # the cycle's picks, best first (reports)
    arrays[""] = labelled  # the labelled set after this cycle's picks
    return CellOutput(record, arrays=arrays, weights=state_dict(result.model) if settings["warm_start"] else None)


def _pick(context: TaskContext, dataset, spec: TrainingSpec, labelled, result, strategy, trial, cycle, uses, options,
          proxy_options, settings) -> tuple[np.ndarray, dict]:
    """The cycle's picks (dataset indices) and their timings; the cycle's model is the proxy."""
    train_indices, pool_subset = dataset.train_indices, settings["pool_subset"]
    pool = train_indices[np.isin(train_indices, labelled, invert=True)]
    if pool_subset is not None and pool_subset < len(pool):
        pool = np.sort(np.random.default_rng([13, trial, cycle]).choice(pool, pool_subset, replace=False))
    made = make_inputs(dataset, labelled, pool, uses, spec, trial, options=proxy_options,
                       trained=result if uses & set(MODEL_INPUTS) else None)
    choice = choose(strategy, made, pool, min(settings["budget"], len(pool)), seed=trial * 1000 + cycle,
                    class_balanced=settings["class_balanced"], options=options, timing=context.timing)
    return choice.indices, {"scoring_seconds": made.scoring_seconds + made.records_seconds,
                            "selection_seconds": choice.seconds}


def summarize(run_dir: str | Path) -> dict:
    """The results from the cycle records of an al run folder alone: per strategy and label
    count the test accuracy over trials; per strategy the area under the learning curve; the
    paired differences to `random` (per label count and of the areas) over the trials both have."""
    run_dir = Path(run_dir)
    config = runs.read_json(run_dir / runs.CONFIG)
    records = [{**record, "cell": name} for name, record in runs.Cells(run_dir).records().items()
               if "cycle" in record]  # not the initial sets a strategy chose
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
    return {"config": {**{k: config[k] for k in keys}, "initial_strategy": config.get("initial_strategy", RANDOM)},
            "label_counts": label_counts, "rows": rows, "areas": area_rows, "cycles": records}


def _area(label_counts: list[int], accuracies: list[float]) -> float:
    """Mean accuracy over the label range: the trapezoidal area divided by the range (the
    accuracy itself for a single point)."""
    if len(label_counts) == 1:
        return float(accuracies[0])
    x, y = np.asarray(label_counts, dtype=np.float64), np.asarray(accuracies, dtype=np.float64)
    return float(((y[1:] + y[:-1]) / 2 * np.diff(x)).sum() / (x[-1] - x[0]))


def results_tables(results: dict) -> tuple[Table, Table, Table]:
    """(accuracy per label count with a column per strategy and its difference to random;
    the area under each learning curve; the long table of results.csv: one row per strategy
    and label count)."""
    strategies = results["config"]["strategies"]
    rows = {(r["strategy"], r["labels"]): r for r in results["rows"]}
    columns = [Column("labels", kind="int")]
    for strategy in strategies:
        columns.append(Column(strategy, kind="summary"))
        if strategy != RANDOM and RANDOM in strategies:
            columns.append(Column(f"{strategy}:vs_random", f"{strategy} vs random", "difference"))
    wide = Table("Active learning: test accuracy (%), mean ± std over trials, and the paired difference to random "
                 "(95 % CI)", columns, [
                     {"labels": n, **{key: value for s in strategies for key, value in (
                         (s, rows[(s, n)]["test_accuracy"]), (f"{s}:vs_random", rows[(s, n)]["vs_random"]))
                         if any(c.key == key for c in columns)}} for n in results["label_counts"]])
    areas = Table("Area under the learning curve (mean accuracy %)", [
        Column("strategy"), Column("area", "area under the curve (mean accuracy %)", "summary"),
        Column("vs_random", "vs random (95 % CI)", "difference"), Column("trials", kind="int")],
        [{"strategy": a["strategy"], "area": a["area"], "vs_random": a["vs_random"], "trials": len(a["trials"])}
         for a in results["areas"]])
    long = Table("Test accuracy per strategy and label count", [
        Column("strategy"), Column("labels", kind="int"), Column("trials", kind="int"),
        Column("accuracy", kind="summary"), Column("vs_random", kind="difference")],
        [{"strategy": r["strategy"], "labels": r["labels"], "trials": len(r["trials"]), "accuracy": r["test_accuracy"],
          "vs_random": r["vs_random"]} for r in results["rows"]])
    return wide, areas, long
