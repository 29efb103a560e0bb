"""The code every strategy shares: input and option checks, chunked scoring, seeded top-k and
class balancing. A strategy only computes scores (higher = pick first); this module picks.

    inputs = StrategyInputs(probs=outputs.probs, features=outputs.features)
    positions = select("margin", inputs, budget=1000, seed=0, class_balanced=True)  # best first
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

from ._arrays import chunks, tiebreak_ranks
from .registry import OptionError, Strategy, StrategyInputs, get_strategy


def compute_scores(name: str, inputs: StrategyInputs | Mapping, *, budget: int | None = None, seed: int = 0,
                   chunk_size: int | None = None, **options) -> np.ndarray:
    """(N,) float64 scores of strategy `name` for every pool sample; higher = pick first.

    Batch strategies need `budget` and return budget - rank for their picks, -inf elsewhere.
    With `chunk_size`, row-wise strategies are scored `chunk_size` rows at a time (the result
    is the same) and whole-pool strategies use it for their blocks of distances or kernels.
    """
    strategy, inputs = _prepare(name, inputs, seed, chunk_size, options)
    if budget is not None or strategy.kind == "batch":
        budget = _check_budget(budget, inputs.num_samples, name)
    return _scores(strategy, inputs, budget, seed, chunk_size, options)


def select(name: str, inputs: StrategyInputs | Mapping, budget: int, *, seed: int = 0, class_balanced: bool = False,
           chunk_size: int | None = None, **options) -> np.ndarray:
    """(budget,) int64 pool positions chosen by strategy `name`, best first.

    Ties are broken by a random permutation drawn from `seed`, so the result is deterministic.
    class_balanced : equal picks per class (the given `labels` when provided, else the
        predicted class argmax(probs)); a class with too few samples gives all it has and the
        rest of the budget goes to the best of the remaining samples. Score strategies are
        scored once; batch strategies are run per class with that class's share.
    options : the strategy's own options; an unknown name is an error.
    """
    return select_scored(name, inputs, budget, seed=seed, class_balanced=class_balanced, chunk_size=chunk_size,
                         **options)[0]


def select_scored(name: str, inputs: StrategyInputs | Mapping, budget: int, *, seed: int = 0,
                  class_balanced: bool = False, chunk_size: int | None = None,
                  **options) -> tuple[np.ndarray, np.ndarray]:
    """`select`, and the (budget,) float64 scores the picks were ranked by: the strategy's
    scores for a score strategy, budget - rank (the pick order) for a batch strategy."""
    strategy, inputs = _prepare(name, inputs, seed, chunk_size, options)
    n = inputs.num_samples
    budget = _check_budget(budget, n, name)
    tiebreak = tiebreak_ranks(n, seed)
    pick_order = np.arange(budget, 0, -1, dtype=np.float64)
    if strategy.kind == "batch" and class_balanced:
        positions = _balanced_batch(strategy, inputs, _classes(inputs), budget, tiebreak, seed, chunk_size, options)
        return positions, pick_order
    scores = _scores(strategy, inputs, budget, seed, chunk_size, options)
    order = _ranked(scores, tiebreak)
    positions = _balanced(order, _classes(inputs), budget) if class_balanced else order[:budget]
    return positions, scores[positions] if strategy.kind == "score" else pick_order


def check_options(name: str, options: dict) -> None:
    """Check strategy `name`'s options before anything is trained for it: their names, and their
    values by a dry run on a small made-up pool. An `OptionError` there is an error whatever the
    data; any other error may come from the made-up pool and is left to the real run."""
    strategy = get_strategy(name)
    strategy.check_options(options)
    try:
        _call(strategy, example_inputs(), EXAMPLE_BUDGET, 0, None, dict(options))
    except OptionError:
        raise
    except Exception:  # noqa: BLE001 - the made-up pool's problem, not the options'
        pass


EXAMPLE_BUDGET = 12


def example_inputs(n: int = 48, classes: int = 4, dims: int = 6) -> StrategyInputs:
    """Every input a strategy may ask for, made up (seeded) for a pool of `n` samples."""
    generator = np.random.default_rng(0)

    def probs(*shape):
        logits = generator.normal(size=(*shape, classes))
        return np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)

    return StrategyInputs(probs=probs(n), features=generator.normal(size=(n, dims)), labels=np.arange(n) % classes,
                          mc_probs=probs(3, n), labelled_features=generator.normal(size=(8, dims)),
                          val_logits=generator.normal(size=(16, classes)), val_labels=np.arange(16) % classes,
                          early_probs=probs(2, n), correct_history=(generator.random((4, n)) < 0.7).astype(np.float32))


def _prepare(name, inputs, seed, chunk_size, options) -> tuple[Strategy, StrategyInputs]:
    strategy = get_strategy(name)
    if isinstance(inputs, Mapping):
        inputs = StrategyInputs(**inputs)
    elif not isinstance(inputs, StrategyInputs):
        raise TypeError(f"inputs must be a StrategyInputs or a dict, got {type(inputs).__name__}")
    strategy.check_inputs(inputs)
    strategy.check_options(options)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"seed must be an int, got {seed!r}")
    if chunk_size is not None and (isinstance(chunk_size, bool) or not isinstance(chunk_size, (int, np.integer))
                                   or chunk_size < 1):
        raise ValueError(f"chunk_size must be None or an int >= 1, got {chunk_size!r}")
    return strategy, inputs


def _check_budget(budget, n: int, name: str) -> int:
    if isinstance(budget, bool) or not isinstance(budget, (int, np.integer)):
        raise ValueError(f"budget must be an int, got {budget!r}")
    if not 0 < budget <= n:
        raise ValueError(f"budget must be in [1, {n}] (the pool size) for strategy {name!r}, got {budget}")
    return int(budget)


def _scores(strategy: Strategy, inputs: StrategyInputs, budget, seed, chunk_size, options) -> np.ndarray:
    n = inputs.num_samples
    if strategy.rowwise and chunk_size is not None and n > chunk_size:
        scores = np.concatenate([_call(strategy, inputs.rows(rows), budget, seed, chunk_size, options)
                                 for rows in chunks(n, chunk_size)])
    else:
        scores = _call(strategy, inputs, budget, seed, chunk_size, options)
    if scores.shape != (n,):
        raise RuntimeError(f"strategy {strategy.name!r} returned shape {scores.shape}, expected ({n},)")
    if np.isnan(scores).any() or np.isposinf(scores).any():
        raise RuntimeError(f"strategy {strategy.name!r} returned NaN or +inf scores")
    picked = int(np.isfinite(scores).sum())
    if strategy.kind == "score" and picked != n:
        raise RuntimeError(f"score strategy {strategy.name!r} returned -inf scores")
    if strategy.kind == "batch" and picked != budget:
        raise RuntimeError(f"batch strategy {strategy.name!r} picked {picked} samples, expected {budget}")
    return scores


def _call(strategy: Strategy, inputs: StrategyInputs, budget, seed, chunk_size, options) -> np.ndarray:
    kwargs = {name: getattr(inputs, name) for name in strategy.needs + strategy.optional}
    context = dict(pool_size=inputs.num_samples, num_classes=inputs.num_classes, budget=budget, seed=int(seed),
                   chunk_size=chunk_size, inputs=inputs)
    kwargs.update({name: context[name] for name in strategy.context})
    return np.asarray(strategy.fn(**kwargs, **options), dtype=np.float64)


def _ranked(scores: np.ndarray, tiebreak: np.ndarray) -> np.ndarray:
    """All positions, highest score first; equal scores in `tiebreak` order."""
    return np.lexsort((tiebreak, -scores))


def _classes(inputs: StrategyInputs) -> np.ndarray:
    if inputs.labels is not None:
        return inputs.labels
    if inputs.probs is not None:
        return inputs.probs.argmax(1)
    if inputs.mc_probs is not None:
        return inputs.mc_probs.mean(0).argmax(1)
    raise ValueError("class_balanced needs the classes of the pool: give labels or probs")


def _balanced(order: np.ndarray, classes: np.ndarray, budget: int) -> np.ndarray:
    """From positions ranked best first, the first budget // C of every class present, then the
    best of the rest up to `budget`; in ranked order."""
    present = np.unique(classes)
    quota = budget // len(present)
    ordered_classes = classes[order]
    rank_in_class = np.empty(len(order), dtype=np.int64)
    for c in present:
        members = ordered_classes == c
        rank_in_class[members] = np.arange(members.sum())
    chosen = rank_in_class < quota
    missing = budget - int(chosen.sum())
    if missing:
        chosen[np.flatnonzero(~chosen)[:missing]] = True
    return order[chosen]


def _balanced_batch(strategy, inputs, classes, budget, tiebreak, seed, chunk_size, options) -> np.ndarray:
    """Class balancing for batch strategies: run the strategy on each class's rows with that
    class's share, interleave the picks (every class's first pick, then every second, ...),
    then run it once more on the samples left for what the small classes could not give."""
    present = np.unique(classes)
    quota = budget // len(present)
    positions, ranks = [], []
    for c in present:
        rows = np.flatnonzero(classes == c)
        share = min(quota, len(rows))
        if share:
            scores = _scores(strategy, inputs.rows(rows), share, seed, chunk_size, options)
            positions.append(rows[_ranked(scores, tiebreak[rows])[:share]])
            ranks.append(np.arange(share))
    positions = np.concatenate(positions) if positions else np.empty(0, dtype=np.int64)
    ranks = np.concatenate(ranks) if ranks else np.empty(0, dtype=np.int64)
    chosen = positions[np.lexsort((tiebreak[positions], ranks))]
    missing = budget - len(chosen)
    if missing:
        rest = np.setdiff1d(np.arange(len(classes)), chosen)
        scores = _scores(strategy, inputs.rows(rest), missing, seed, chunk_size, options)
        chosen = np.concatenate([chosen, rest[_ranked(scores, tiebreak[rest])[:missing]]])
    return chosen.astype(np.int64)
