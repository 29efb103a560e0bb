"""`winnow prune`: is a model-chosen subset of the training data better than a random one?

For every seed: a proxy model is trained on the whole train split with the one trainer (only
when some strategy needs its outputs) and gives the strategies their inputs (`proxy.py`).
For every fraction and strategy, the strategy keeps that fraction of the train split, a fresh
model is trained on it with the same recipe and seed, and tested. The full-data run is a cell
too; when the proxy uses the training recipe and model, the proxy IS the full-data run.

Every finished cell is a cell of the run folder (`runs.Cells`: `cells/NAME.json` with the
kept indices as `NAME.npy` beside it; `cell_name` gives the names), and the proxy's outputs
are the cell `proxy-s{seed}` (one .npy per input, and its weights): a command
stopped at any moment and run again with the same arguments skips what is done. Run again with
more fractions, strategies or seeds (and otherwise the same arguments), it adds their cells.

The cost of choosing is part of the result: each subset cell records the proxy's training
time (when the strategy uses the proxy), the time to predict its inputs, the extra short runs
(`early_probs`, EL2N) and the selection itself, next to the training time of the subset.

    results = prune_run("cifar10:~/data", "runs/prune", fractions=[0.5],
                        strategies=["random", "margin"], seeds=[0, 1, 2])

With `features` (an extractor of `winnow.features`: tiny, bovw, pretrained), strategies that need
only features and labels (coreset, typiclust, kmeans_margin, mmd, random) score the extractor's
features of the train split instead of a trained proxy's: pruning with no proxy training. The
features are the cell `proxy-s{seed}` like a proxy's outputs; a strategy that needs
probabilities is refused before anything runs.

With `distill` (a loss spec of `winnow.distill`, e.g. "kd"), every subset is also trained with
the full-data model of the same seed as its teacher (the full cell's or the proxy's weights: no
extra training), on the same kept indices: rows "STRATEGY + teacher", compared with random and
full data like the plain ones (Ben-Baruch et al., ICML 2025).
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from pathlib import Path

import numpy as np

from .. import data, runs, stats
from ..distill import DistillOptions, Distillation, format_loss_spec, parse_loss_spec
from ..strategies import get_strategy
from ..strategies.pruning import resolved_keep
from ..table import Column, Table
from .baseline import feature_inputs, plan_feature_inputs
from .backend import Backend, CellOutput, Shared, Task, TaskContext, make_backend, state_dict
from .engine import Run, TrainingSpec, check_seeds, load_data, run_config
from .proxy import (MODEL_INPUTS, MadeInputs, ProxyOptions, check_strategies, choose, inputs_used, make_inputs,
                    needs_training, plan_inputs)

log = logging.getLogger("winnow.experiments.prune")

FULL = "full"
RANDOM = "random"
WITH_TEACHER = " + teacher"  # a subset trained with the full-data model as teacher: "random + teacher"


def prune_run(
    source: str | data.Dataset,
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
    weights: str | None = None,
    proxy_overrides: dict | None = None,
    proxy_options: ProxyOptions | None = None,
    data_options: dict | None = None,
    force: bool = False,
    on_progress=None,
    on_cell=None,
    distill: str | None = None,
    distill_options: DistillOptions | None = None,
    features: str | None = None,
    feature_options: dict | None = None,
    backend: str | Backend = "local",
    address: str | None = None,
    cpus_per_cell: float | None = None,
    gpus_per_cell: float | None = None,
) -> dict:
    """Run (or resume) the pruning comparison in `out` and return its results (also written to
    results.json, results.csv and results.md).

    source : a data spec, or a `Dataset` (e.g. from `winnow.data.from_arrays`)
    fractions : shares of the train split to keep, each in (0, 1)
    strategies : registered strategy names; each keeps the top-scored samples
    seeds : one proxy and one training per seed and cell; the seed is shared by all cells of
        a seed (paired comparison)
    options : per strategy, its own options, e.g. {"margin": {"temperature": 2.0}}
    scale_epochs : train subsets for epochs / fraction (the same number of steps as the full
        run) instead of the recipe's epochs (the same number of passes over the data)
    recipe_overrides : the training recipe (as for `winnow train`); proxy_overrides change
        the proxy's recipe on top of it (e.g. fewer epochs for a cheaper proxy)
    weights : pretrained weights every trained model starts from: a state dict file or a named
        source such as torchvision:resnet50 (`winnow.weights`, `TrainingSpec.resolve`)
    on_progress : called with the trainer's progress (`winnow.progress`)
    on_cell : called with each cell record as it finishes (for printing progress)
    distill : a loss spec (`winnow.distill`): every subset also trained with the full-data model
        of its seed as teacher, with `distill_options` (temperature, alpha)
    features, feature_options : an extractor (`winnow.features`, e.g. "tiny", or "pretrained" with
        {"weights": PATH}) whose features the strategies score instead of a trained proxy's
    backend : where the cells run (`experiments.backend`): "local" (this process) or "ray", with
        `address` (auto, HOST:PORT; None: a local Ray instance), `cpus_per_cell` and
        `gpus_per_cell` (fractions pack cells on one GPU); or a `Backend`. Not part of the
        configuration: a run resumes on either backend.
    """
    backend = make_backend(backend, address=address, cpus_per_cell=cpus_per_cell, gpus_per_cell=gpus_per_cell,
                           on_progress=on_progress)
    fractions, strategies, seeds, options = _check(fractions, strategies, seeds, options)
    distill = None if distill is None else format_loss_spec(parse_loss_spec(distill))
    distill_options = (distill_options or DistillOptions()) if distill else None
    proxy_options = proxy_options or ProxyOptions()
    dataset, data_seconds = load_data(source, data_options)
    spec = TrainingSpec.resolve(dataset, model, preset, recipe_overrides, weights=weights)
    proxy_spec = spec.override(proxy_overrides)
    wanted = _plan(dataset, strategies, class_balanced, features, feature_options, proxy_overrides)
    config = {
        **run_config("prune", source, data_options, dataset),
        "fractions": fractions,
        "strategies": strategies,
        "seeds": seeds,
        "options": options,
        "class_balanced": class_balanced,
        "scale_epochs": scale_epochs,
        **spec.to_config(),
        "proxy_recipe": None if features else proxy_spec.recipe.to_dict(),
        "proxy_options": dataclasses.asdict(proxy_options),
        "distill": distill,
        "distill_options": distill_options.to_dict() if distill else None,
        **({"features": features, "feature_options": dict(feature_options or {})} if features else {}),
    }
    backend.start()
    run = Run.open(out, config, grid=("fractions", "strategies", "seeds", "distill", "distill_options"), force=force,
                   data_seconds=data_seconds)
    grid = _Grid(run, dataset, backend.share(dataset), backend.share, spec=spec, proxy_spec=proxy_spec, wanted=wanted,
                 proxy_options=proxy_options, options=options, class_balanced=class_balanced,
                 scale_epochs=scale_epochs, features=features, feature_options=feature_options, distill=distill,
                 distill_options=distill_options, on_cell=on_cell)
    backend.run(run, [grid.seed_chain(seed) for seed in seeds])
    results = summarize(run.path)
    return run.finish(results, [results_table(results)], cells=len(results["cells"]))


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


def cell_name(strategy: str, fraction: float, seed: int, distill: str | None = None) -> str:
    """The cell of `strategy` keeping `fraction` under `seed` (`full-s{seed}` for the full data);
    with `distill`, the same subset trained with a teacher (`...-teacher-{hash of the loss spec}`)."""
    if strategy == FULL:
        return f"{FULL}-s{seed}"
    name = f"{strategy}-f{fraction:g}-s{seed}"
    return name if distill is None else f"{name}-teacher-{hashlib.sha1(distill.encode()).hexdigest()[:6]}"


def _plan(dataset, strategies: list[str], class_balanced: bool, features: str | None, feature_options: dict | None,
          proxy_overrides: dict | None) -> set[str]:
    """The inputs to make for `strategies` (`proxy.plan_inputs`, or with `features`
    `baseline.plan_feature_inputs`, for each strategy); errors before anything runs."""
    chosen = [get_strategy(name) for name in strategies]
    if not features:
        if feature_options:
            raise ValueError("feature_options apply only with features (--features NAME)")
        return plan_inputs(chosen, "all", class_balanced)
    if proxy_overrides:
        raise ValueError(f"proxy recipe overrides ({', '.join(sorted(proxy_overrides))}) apply to a proxy network, "
                         f"which features {features!r} replace: leave out --set proxy.KEY")
    shape = (len(dataset.train_indices), *dataset.images.shape[1:])
    wanted: set[str] = set()
    for i, strategy in enumerate(chosen):  # the extractor's own check (shape) once: it may load weights
        wanted |= plan_feature_inputs(strategy, "all", class_balanced, features, feature_options,
                                      shape=shape if i == 0 else None)
    return wanted | {"labels"}


@dataclasses.dataclass
class _Grid:
    """The cells of a prune run, one chain per seed (`backend`): the proxy (when a strategy needs
    it), then the full-data cell and every subset together, then the subsets with a teacher."""

    run: Run
    dataset: data.Dataset
    shared: Shared  # the dataset, as the tasks read it
    share: object  # the backend's share(value) -> Shared
    spec: TrainingSpec
    proxy_spec: TrainingSpec
    wanted: set
    proxy_options: ProxyOptions
    options: dict
    class_balanced: bool
    scale_epochs: bool
    features: str | None
    feature_options: dict | None
    distill: str | None
    distill_options: DistillOptions | None
    on_cell: object

    @property
    def proxy_is_full(self) -> bool:
        return self.proxy_spec == self.spec and not self.features  # extractor features are no full-data run

    def seed_chain(self, seed: int):
        """The cells of `seed` not done yet (a `backend.Chain`)."""
        cells, strategies, fractions = self.run.cells, self.run.config["strategies"], self.run.config["fractions"]
        subset_cells = [(f, s) for f in fractions for s in strategies if not cells.done(cell_name(s, f, seed))]
        full_done = cells.done(cell_name(FULL, 1.0, seed))
        for_subsets = any(needs_training(inputs_used(get_strategy(s), self.wanted)) for _, s in subset_cells)
        for_full = self.proxy_is_full and not full_done and bool(self.wanted & set(MODEL_INPUTS))
        proxy = None
        if for_subsets or for_full:
            proxy = yield from self._proxy(seed)
        tasks = []
        if not full_done:
            if self.proxy_is_full and proxy is not None and proxy[1].get("test_accuracy") is not None:
                record = {**_full_record(self.dataset, seed), "test_accuracy": proxy[1]["test_accuracy"],
                          "train_seconds": proxy[1]["train_seconds"], "source": "proxy"}
                self.run.save_cell(cell_name(FULL, 1.0, seed), record,
                                   on_cell=None if self.on_cell is None else _placed(self.on_cell, proxy[2]))
            else:
                tasks.append(Task(cell_name(FULL, 1.0, seed), _full_cell, dict(
                    dataset=self.shared, seed=seed, spec=self.spec, keep_weights=bool(self.distill)), self.on_cell))
        made = self.share(proxy[0]) if proxy is not None else None
        tasks += [Task(cell_name(strategy, fraction, seed), _subset_cell, dict(
            dataset=self.shared, strategy=strategy, fraction=fraction, seed=seed, spec=self.spec,
            options=self.options.get(strategy, {}), class_balanced=self.class_balanced,
            scale_epochs=self.scale_epochs, made=made, wanted=self.wanted), self.on_cell)
            for fraction, strategy in subset_cells]
        if tasks:
            yield tasks
        taught = [(f, s) for f in fractions for s in strategies if self.distill
                  and not cells.done(cell_name(s, f, seed, self.distill))]
        if taught:
            teacher = self.share((yield from self._teacher_weights(seed)))
            yield [self._taught(strategy, fraction, seed, teacher) for fraction, strategy in taught]

    def _taught(self, strategy: str, fraction: float, seed: int, teacher: Shared) -> Task:
        """The task of the plain cell's subset (its kept indices) trained with the `teacher` weights."""
        plain = cell_name(strategy, fraction, seed)
        return Task(cell_name(strategy, fraction, seed, self.distill), _taught_cell, dict(
            dataset=self.shared, fraction=fraction, seed=seed, spec=self.spec, scale_epochs=self.scale_epochs,
            teacher=teacher, distill=self.distill, distill_options=self.distill_options,
            plain=self.run.cells.record(plain), kept=self.run.cells.array(plain)), self.on_cell)

    def _proxy(self, seed: int):
        """(inputs, record, where it ran) of the proxy for seed `seed`: loaded from its cell when a
        previous run made it, else made by a task (`_proxy_cell`) and saved (arrays in train-split
        order)."""
        name = f"proxy-s{seed}"
        if self.run.cells.done(name):
            record = self.run.cells.record(name)
            arrays, ran_on = {key: self.run.cells.array(name, key) for key in record["arrays"]}, None
            log.info("seed %d: proxy outputs loaded from %s", seed, self.run.cells.folder)
        else:
            output = yield Task(name, _proxy_cell, dict(
                dataset=self.shared, seed=seed, wanted=self.wanted, spec=self.proxy_spec, options=self.proxy_options,
                features=self.features, feature_options=self.feature_options))
            record, arrays, ran_on = output.record, output.arrays, output.ran_on
        return MadeInputs(arrays=arrays, train_seconds=record["train_seconds"],
                          scoring_seconds=record["scoring_seconds"],
                          records_seconds=record["records_seconds"]), record, ran_on

    def _teacher_weights(self, seed: int):
        """The full-data model's weights of `seed`, the teacher of the distilled subsets: the full
        cell's, or the proxy's when the proxy is the full run; trained (cell `teacher-s{seed}`) only
        when neither kept them (a folder made before with no teacher)."""
        names = [cell_name(FULL, 1.0, seed), *([f"proxy-s{seed}"] if self.proxy_is_full else []), f"teacher-s{seed}"]
        for name in names:
            if self.run.cells.has_weights(name):
                return self.run.cells.weights(name)
        output = yield Task(f"teacher-s{seed}", _teacher_cell, dict(dataset=self.shared, seed=seed, spec=self.spec))
        return output.weights


def _placed(on_cell, ran_on: str | None):
    """`on_cell` told where the cell's numbers were made (the proxy's task), when elsewhere."""
    return on_cell if ran_on is None else (lambda record: on_cell({**record, "ran_on": ran_on}))


def _proxy_cell(context: TaskContext, *, dataset, seed: int, wanted: set[str], spec: TrainingSpec,
                options: ProxyOptions, features: str | None, feature_options: dict | None) -> CellOutput:
    """The proxy of seed `seed`: trained on the whole train split, its outputs the strategies'
    inputs; with `features`, the extractor's features (`baseline.feature_inputs`, seeded by
    `seed`) and nothing trained."""
    spec = context.attach(spec)
    if features:
        log.info("seed %d: %s features of the train split", seed, features)
        made = feature_inputs(dataset, dataset.train_indices, dataset.train_indices, wanted, features,
                              feature_options, seed)
        context.timing.add("scoring", made.scoring_seconds)
    else:
        log.info("seed %d: training the proxy", seed)
        made = make_inputs(dataset, dataset.train_indices, dataset.train_indices, wanted, spec, seed,
                           options=options)
    record = {"seed": seed, "train_seconds": made.train_seconds, "scoring_seconds": made.scoring_seconds,
              "records_seconds": made.records_seconds, "epochs": None, "test_accuracy": None,
              "arrays": sorted(made.arrays)}
    if made.result is None:
        return CellOutput(record, arrays=made.arrays)
    record.update(spec.evaluate(made.result.model, dataset, seed), epochs=made.result.history)
    return CellOutput(record, arrays=made.arrays, weights=state_dict(made.result.model))


def _full_record(dataset, seed: int) -> dict:
    return {"strategy": FULL, "fraction": 1.0, "seed": seed, "kept": len(dataset.train_indices),
            "selection_seconds": 0.0, "scoring_seconds": 0.0, "proxy_train_seconds": 0.0, "records_seconds": 0.0}


def _full_cell(context: TaskContext, *, dataset, seed: int, spec: TrainingSpec, keep_weights: bool) -> CellOutput:
    """The full-data cell trained on its own (when the proxy was not trained with the training
    recipe); its weights kept when `keep_weights`: the teacher of distilled subsets."""
    result, tested = context.attach(spec).train_and_test(dataset, dataset.train_indices, seed)
    return CellOutput({**_full_record(dataset, seed), **tested, "source": "trained"},
                      weights=state_dict(result.model) if keep_weights else None)


def _teacher_cell(context: TaskContext, *, dataset, seed: int, spec: TrainingSpec) -> CellOutput:
    result = context.attach(spec).train(dataset, dataset.train_indices, seed)
    return CellOutput({"seed": seed, "train_seconds": result.train_seconds}, weights=state_dict(result.model))


def _taught_cell(context: TaskContext, *, dataset, fraction, seed, spec: TrainingSpec, scale_epochs, teacher: dict,
                 distill, distill_options, plain: dict, kept: np.ndarray) -> CellOutput:
    """The subset of the plain cell (same kept indices) trained with the full-data model as teacher."""
    spec = context.attach(spec)
    teacher_model = spec.fresh_model(dataset, seed)
    teacher_model.load_state_dict(teacher)
    subset_spec = spec.with_epochs(spec.recipe.epochs / fraction) if scale_epochs else spec
    objective = Distillation(teacher_model, parse_loss_spec(distill), distill_options)
    try:
        _, trained = subset_spec.train_and_test(dataset, kept, seed, objective=objective)
    finally:
        objective.close()
    return CellOutput({**{key: plain[key] for key in ("strategy", "fraction", "seed", "kept", "selection_seconds",
                                                      "scoring_seconds", "proxy_train_seconds", "records_seconds",
                                                      "kept_class_counts", "options")},
                       "keep": plain.get("keep"), **trained, "distill": distill})


def _subset_cell(context: TaskContext, *, dataset, strategy, fraction, seed, spec: TrainingSpec, options,
                 class_balanced, scale_epochs, made: MadeInputs | None, wanted) -> CellOutput:
    """`strategy` keeps `fraction` of the train split (scoring the proxy's inputs `made`); a fresh
    model is trained on it and tested."""
    spec = context.attach(spec)
    train_indices = dataset.train_indices
    uses = inputs_used(get_strategy(strategy), wanted, class_balanced) | {"labels"}
    made = made if made is not None else MadeInputs(arrays={"labels": dataset.labels.numpy()[train_indices]})
    choice = choose(strategy, made, train_indices, max(1, round(fraction * len(train_indices))), seed=seed,
                    class_balanced=class_balanced, options=options, uses=uses, timing=context.timing)
    kept = train_indices[np.sort(choice.positions)].astype(np.int64)
    subset_spec = spec.with_epochs(spec.recipe.epochs / fraction) if scale_epochs else spec
    uses_proxy = bool(uses & set(MODEL_INPUTS))
    _, trained = subset_spec.train_and_test(dataset, kept, seed)
    cell = {
        "strategy": strategy, "fraction": fraction, "seed": seed, "kept": len(kept),
        **trained,
        "selection_seconds": choice.seconds,
        "scoring_seconds": made.scoring_seconds if uses_proxy else 0.0,
        "proxy_train_seconds": made.train_seconds if uses_proxy else 0.0,
        "records_seconds": made.records_seconds if "early_probs" in uses else 0.0,
        "kept_class_counts": np.bincount(dataset.labels.numpy()[kept], minlength=dataset.num_classes).tolist(),
        "options": options,
        "keep": resolved_keep(strategy, options, len(kept), len(train_indices), dataset.num_classes),
    }
    return CellOutput(cell, arrays={"": kept})


def summarize(run_dir: str | Path) -> dict:
    """The results table from the cells of a prune run folder: per fraction and strategy the
    test accuracy (mean ± std over seeds), the paired difference to `random` at the same
    fraction and to the full-data run (95 % t intervals, over the seeds both have), and the
    mean times. Reads the folder only, so a report can be made from it at any time."""
    run_dir = Path(run_dir)
    config = runs.read_json(run_dir / runs.CONFIG)
    cells = [record for name, record in runs.Cells(run_dir).records().items()
             if not name.startswith("proxy-") and "strategy" in record]
    cells = [c for c in cells if c["seed"] in config["seeds"] and c.get("distill") in (None, config.get("distill"))
             and (c["strategy"] == FULL or (c["strategy"] in config["strategies"]
                                            and c["fraction"] in config["fractions"]))]
    by_key = {(c["strategy"] + (WITH_TEACHER if c.get("distill") else ""), c["fraction"], c["seed"]): c
              for c in cells}
    rows = []
    full = {c["seed"]: c["test_accuracy"] for c in cells if c["strategy"] == FULL}
    rows.append(_row(FULL, 1.0, [c for c in cells if c["strategy"] == FULL], None, full))
    for fraction in config["fractions"]:
        random_acc = {seed: c["test_accuracy"] for (s, f, seed), c in by_key.items() if s == RANDOM and f == fraction}
        taught = [s + WITH_TEACHER for s in config["strategies"]] if config.get("distill") else []
        for strategy in [*config["strategies"], *taught]:
            group = [c for (s, f, _), c in by_key.items() if s == strategy and f == fraction]
            rows.append(_row(strategy, fraction, group, None if strategy == RANDOM else random_acc, full))
    return {"config": {**{k: config[k] for k in ("data", "fractions", "strategies", "seeds", "model", "preset",
                                                 "scale_epochs", "class_balanced")}, "distill": config.get("distill"),
                       "features": config.get("features")},
            "rows": rows, "cells": cells}


def _row(strategy, fraction, group, random_acc, full) -> dict:
    accuracies = {c["seed"]: c["test_accuracy"] for c in group}
    seeds = sorted(accuracies)
    keeps = {c.get("keep") for c in group}  # recorded by the cell (older cells: not at all)

    def mean_of(key):
        return float(np.mean([c[key] for c in group])) if group else None

    return {
        "strategy": strategy, "fraction": fraction, "seeds": seeds,
        "kept": group[0]["kept"] if group else None,
        "keep": "/".join(sorted(k for k in keeps if k)) or None,  # what was kept, keep="auto" resolved
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


def results_table(results: dict) -> Table:
    """The results as one table: per fraction and strategy the test accuracy (mean ± std, in %),
    the paired differences to random and full data (points), and the times (seconds)."""
    columns = [Column("fraction", kind="number"), Column("strategy"), Column("keep"),
               Column("kept", kind="int"),
               Column("seeds", kind="int"), Column("accuracy", "test accuracy % (mean ± std)", "summary"),
               Column("vs_random", "vs random (95 % CI)", "difference"),
               Column("vs_full", "vs full (95 % CI)", "difference"),
               Column("choose_seconds", "choosing s", "seconds"),
               Column("proxy_train_seconds", "of which proxy training s", "seconds"),
               Column("records_seconds", kind="seconds", hidden=True),
               Column("selection_seconds", kind="seconds", hidden=True),
               Column("train_seconds", "training s", "seconds")]
    rows = [{"fraction": row["fraction"], "strategy": row["strategy"], "keep": row["keep"], "kept": row["kept"],
             "seeds": len(row["seeds"]), "accuracy": row["test_accuracy"], "vs_random": row["vs_random"],
             "vs_full": row["vs_full"], **{key: row[key] for key in ("choose_seconds", "proxy_train_seconds",
                                                                     "records_seconds", "selection_seconds",
                                                                     "train_seconds")}}
            for row in results["rows"]]
    distill = results.get("config", {}).get("distill")
    return Table("Pruning: test accuracy (%) per kept fraction, mean ± std over seeds", columns, rows, notes=(
        "Differences are paired (the same seed for both), in points, with a 95 % t interval. Choosing = the "
        "proxy's training (when the strategy needs it), its predictions and the selection. Keep: what a hardness "
        "score kept: its hard end, its easy end (per class) or an even coverage (keep=\"auto\" resolved)."
        + (f" '+ teacher': the same subset trained with the full-data model of its seed as teacher (loss {distill})."
           if distill else "")))
