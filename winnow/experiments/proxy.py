"""The proxy model: what a strategy needs, computed with the one trainer.

A strategy declares array inputs (`strategies.INPUTS`); this module makes them for a pool from
a proxy model trained on the labelled set, and times each part, because the cost of scoring is
part of the result:

* `train_seconds`  : training the proxy (needed for probs, features, MC passes, records);
* `scoring_seconds`: predicting the pool (and the labelled set and hold-out) and MC passes;
* `records_seconds`: the extra short training runs of `early_probs` (EL2N), reported apart.

    wanted = plan_inputs([get_strategy("margin")], mode="file")
    made = make_inputs(dataset, labelled, pool, wanted, spec, seed)
    choice = choose("margin", made, pool, budget, seed=seed)   # choice.indices: best first
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .. import data
from ..strategies import Strategy, StrategyInputs, check_options, get_strategy, select_scored
from ..train import Outputs, TrainResult
from .engine import TrainingSpec

log = logging.getLogger("winnow.experiments.proxy")

MODEL_INPUTS = ("probs", "features", "labelled_features", "mc_probs", "correct_history", "val_logits", "val_labels")
# input -> the labelled-set modes that can give it: "none" (nothing labelled), "file" (a labelled
# set and the rest of the train split as pool), "all" (the train split is both)
AVAILABLE = {
    "probs": ("file", "all"),
    "features": ("file", "all"),
    "labelled_features": ("file",),
    "mc_probs": ("file", "all"),
    "labels": ("all",),
    "correct_history": ("all",),
    "early_probs": ("all",),
    "val_logits": ("file", "all"),
    "val_labels": ("file", "all"),
}


@dataclass
class ProxyOptions:
    """How the inputs beyond probs and features are made.

    mc_passes, mc_dropout : MC-dropout passes for `mc_probs` (see `train.predict`)
    early_runs, early_epochs : `early_probs` come from `early_runs` fresh models trained
        `early_epochs` epochs each (the recipe with its schedule shortened to that length,
        seeds recipe.seed + 1, + 2, ...), then predicting the pool
    """

    mc_passes: int = 20
    mc_dropout: float = 0.5
    early_runs: int = 2
    early_epochs: float = 1.0

    def __post_init__(self):
        for name in ("mc_passes", "early_runs"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an int >= 1, got {value!r}")
        if not 0 <= self.mc_dropout < 1:
            raise ValueError(f"mc_dropout must be in [0, 1), got {self.mc_dropout!r}")
        if isinstance(self.early_epochs, bool) or not isinstance(self.early_epochs, (int, float)) \
                or not self.early_epochs > 0:
            raise ValueError(f"early_epochs must be a number > 0, got {self.early_epochs!r}")


@dataclass
class MadeInputs:
    """Strategy inputs for a pool and what making them cost."""

    arrays: dict = field(default_factory=dict)  # input name -> array, ready for StrategyInputs(**arrays)
    result: TrainResult | None = None  # the proxy's training, when one was trained
    pool_outputs: Outputs | None = None
    train_seconds: float = 0.0
    scoring_seconds: float = 0.0
    records_seconds: float = 0.0


def check_strategies(strategies: list[str], options: dict | None) -> dict[str, dict]:
    """Distinct, known strategy names, and options (name -> {key: value}) that each name among
    them accepts; returns a copy of the options. Errors name the strategy or option."""
    if not strategies or len(set(strategies)) != len(strategies):
        raise ValueError(f"strategies must be distinct and at least one, got {strategies}")
    for name in strategies:
        get_strategy(name)  # an unknown name is an error naming the known ones
    options = {name: dict(values) for name, values in (options or {}).items()}
    for name, values in options.items():
        if name not in strategies:
            raise ValueError(f"options given for strategy {name!r}, which is not among the strategies {strategies}")
        check_options(name, values)
    return options


def plan_inputs(strategies: list[Strategy], mode: str, class_balanced: bool = False) -> set[str]:
    """The inputs to make for `strategies` in labelled-set `mode` ("none", "file" or "all"); a
    ValueError, before anything is trained, for a needed input that mode cannot give.

    A strategy that takes the `inputs` context (e.g. `hybrid`, which scores with another
    strategy) may use any input, so it gets every cheap one the mode can give (not the MC
    passes or the extra short runs, which it must declare)."""
    wanted: set[str] = set()
    for strategy in strategies:
        for name in strategy.needs:
            if mode in AVAILABLE.get(name, ()):
                continue
            if name in MODEL_INPUTS and mode == "none":
                raise ValueError(f"strategy {strategy.name!r} needs {name} from a proxy model, which is trained "
                                 "on the labelled set: pass --labelled FILE (active learning), or --labelled all "
                                 "to score a fully labelled train split (pruning)")
            if name in ("labels", "correct_history", "early_probs"):
                raise ValueError(f"strategy {strategy.name!r} needs {name}, which exists only when the whole train "
                                 "split is labelled and is the pool (pruning: --labelled all)")
            raise ValueError(f"strategy {strategy.name!r} needs input {name!r}, which cannot be made here")
        wanted |= {name for name in strategy.needs + strategy.optional if mode in AVAILABLE.get(name, ())}
        if "inputs" in strategy.context and wanted & set(MODEL_INPUTS):
            wanted |= {name for name, modes in AVAILABLE.items()
                       if mode in modes and name not in ("mc_probs", "early_probs", "correct_history")}
    if class_balanced and mode == "file":  # balance by the proxy's predicted class
        wanted.add("probs")
    if class_balanced and mode == "none":
        raise ValueError("class balancing needs the classes of the pool: pass --labelled FILE (the proxy "
                         "model's predicted class is used) or --labelled all (the given labels are used)")
    if mode == "all":
        wanted.add("labels")
    if "val_logits" in wanted or "val_labels" in wanted:
        wanted |= {"val_logits", "val_labels"}
    return wanted


def inputs_used(strategy: Strategy, wanted: set[str], class_balanced: bool = False) -> set[str]:
    """The planned inputs (`plan_inputs`) that `strategy` uses: all of them for a strategy that
    takes the `inputs` context, else those it declares; plus probs for class balancing."""
    used = set(wanted) if "inputs" in strategy.context else wanted & set(strategy.needs + strategy.optional)
    return used | {"probs"} if class_balanced else used


def needs_training(wanted: set[str]) -> bool:
    """Whether making `wanted` trains anything (the proxy, or the short runs of early_probs)."""
    return bool(wanted & {*MODEL_INPUTS, "early_probs"})


def make_inputs(
    dataset: data.Dataset,
    labelled_indices: np.ndarray,
    pool_indices: np.ndarray,
    wanted: set[str],
    spec: TrainingSpec | None,
    seed: int = 0,
    *,
    options: ProxyOptions | None = None,
    trained: TrainResult | None = None,
    on_epoch_end: Callable[[dict], None] | None = None,
) -> MadeInputs:
    """Train the proxy (`spec`, under `seed`) on `labelled_indices` when `wanted` needs one, and
    make every input in `wanted` for the pool `pool_indices` (arrays in pool order). `spec`
    may be None when nothing is trained (`needs_training`).

    trained : a model already trained on `labelled_indices` (an active-learning cycle's own
        model) to use as the proxy instead of training one; its training is not counted.
    """
    options = options or ProxyOptions()
    made = MadeInputs()
    if "labels" in wanted:
        made.arrays["labels"] = dataset.labels.numpy()[pool_indices]
    if wanted & set(MODEL_INPUTS):
        result = trained or spec.train(dataset, labelled_indices, seed, on_epoch_end=on_epoch_end)
        made.result, made.train_seconds = result, 0.0 if trained else result.train_seconds

        started = time.perf_counter()
        passes = options.mc_passes if "mc_probs" in wanted else 0
        pool = spec.predict(result.model, dataset, pool_indices, seed, mc_passes=passes, mc_dropout=options.mc_dropout)
        made.pool_outputs = pool
        made.arrays.update(probs=pool.probs, features=pool.features)
        if passes:
            made.arrays["mc_probs"] = pool.mc_probs
        if "labelled_features" in wanted:
            made.arrays["labelled_features"] = spec.predict(result.model, dataset, labelled_indices, seed).features
        if "val_logits" in wanted and result.val_indices is not None:
            held_out = spec.predict(result.model, dataset, result.val_indices, seed)
            made.arrays.update(val_logits=held_out.logits, val_labels=held_out.labels)
        if "correct_history" in wanted:
            made.arrays["correct_history"] = _in_pool_order(result, pool_indices)
        made.scoring_seconds = time.perf_counter() - started

    if "early_probs" in wanted:
        started = time.perf_counter()
        short = spec.override({"epochs": options.early_epochs})  # short: no min_steps
        runs = []
        for run in range(1, options.early_runs + 1):
            model = short.train(dataset, labelled_indices, seed + run).model
            runs.append(short.predict(model, dataset, pool_indices, seed + run).probs)
        made.arrays["early_probs"] = np.stack(runs)  # (R, N, K)
        made.records_seconds = time.perf_counter() - started
    return made


@dataclass
class Choice:
    """What a strategy picked from a pool.

    indices : (B,) dataset indices, best first;  positions : (B,) their positions in the pool
    scores : (B,) the scores they were ranked by;  seconds : the strategy's own time
    """

    indices: np.ndarray
    positions: np.ndarray
    scores: np.ndarray
    seconds: float


def choose(strategy: str, made: MadeInputs, pool_indices: np.ndarray, budget: int, *, seed: int,
           class_balanced: bool = False, options: dict | None = None, uses: set[str] | None = None,
           timing=None) -> Choice:
    """The one seam from strategy inputs to picks: the `budget` pool samples `strategy` ranks
    first, given the arrays of `made` (only those in `uses`, when given). Timed as "scoring"."""
    arrays = made.arrays if uses is None else {name: made.arrays[name] for name in uses if name in made.arrays}
    started = time.perf_counter()
    positions, scores = select_scored(strategy, StrategyInputs(pool_size=len(pool_indices), **arrays), budget,
                                      seed=seed, class_balanced=class_balanced, **(options or {}))
    seconds = time.perf_counter() - started
    if timing is not None:
        timing.add("scoring", seconds)
    return Choice(np.asarray(pool_indices)[positions].astype(np.int64), positions, scores, seconds)


def _in_pool_order(result: TrainResult, pool_indices: np.ndarray) -> np.ndarray:
    """The proxy's (E, n) correct_history as (E, N) columns in pool order; -1 (never trained
    on) for pool samples the proxy did not train on (its validation hold-out)."""
    history = np.full((len(result.correct_history), len(pool_indices)), -1, dtype=np.int8)
    column = {int(index): c for c, index in enumerate(result.train_indices)}
    for position, index in enumerate(pool_indices):
        c = column.get(int(index))
        if c is not None:
            history[:, position] = result.correct_history[:, c]
    return history
