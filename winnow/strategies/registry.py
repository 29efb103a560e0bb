"""The strategy registry and the arrays a strategy may ask for.

A strategy is a plain function. Its parameters say what it gets:

* input arrays, by the names in `INPUTS` (`probs`, `features`, ...): declared at registration
  as `needs` (an error when not provided) or `optional` (None when not provided);
* context, by the names in `CONTEXT` (`pool_size`, `budget`, `seed`, ...), filled in by the
  shared code in `selection.py`;
* options: every other parameter, keyword-only with a default. Unknown option names are an error.

    @register_strategy("margin", needs=("probs",), rowwise=True)
    def margin(probs, *, temperature=1.0): ...

A new input (say per-epoch training records) is one field of `StrategyInputs` plus one line
in `INPUTS`; strategies that do not name it never see it.
"""

from __future__ import annotations

import copy
import fnmatch
import inspect
from dataclasses import dataclass
from typing import Callable

import numpy as np

# name -> (axis that runs over the pool, or None for arrays that are not per pool sample; meaning)
INPUTS: dict[str, tuple[int | None, str]] = {
    "probs": (0, "(N, K) class probabilities of the pool"),
    "features": (0, "(N, D) penultimate features of the pool"),
    "labels": (0, "(N,) given labels of the pool (pruning a labelled set)"),
    "mc_probs": (1, "(T, N, K) class probabilities of T MC-dropout passes over the pool"),
    "labelled_features": (None, "(L, D) penultimate features of the already-labelled set"),
    "val_logits": (None, "(V, K) logits of a labelled hold-out split, for temperature fitting"),
    "val_labels": (None, "(V,) labels of that hold-out split"),
    "early_probs": (1, "(R, N, K) class probabilities of the pool after the first epochs of R short training runs"),
    "correct_history": (1, "(E, N) 1 where the pool sample was classified correctly when it was trained on in "
                           "epoch e of a training run, else 0"),
}

# Filled in by the shared code; a strategy takes those it names.
CONTEXT = {
    "pool_size": "N, the number of pool samples (of the chunk, for row-wise strategies)",
    "num_classes": "K, from probs, mc_probs, val_logits or early_probs; None when none is given",
    "budget": "how many samples will be picked (batch strategies must take it)",
    "seed": "an int; the same seed gives the same scores",
    "chunk_size": "rows per chunk for whole-pool computations; None = the strategy's default",
    "inputs": "the StrategyInputs itself, for strategies built from other strategies",
}

KINDS = ("score", "batch")


class OptionError(ValueError):
    """A strategy option's value is not valid, whatever the data: `selection.check_options` finds
    it with a dry run on a made-up pool, before any model is trained."""


@dataclass
class StrategyInputs:
    """The arrays strategies may need; each is optional. Shapes are checked once, here.

    probs : (N, K)   features : (N, D)   labels : (N,)   mc_probs : (T, N, K)
    labelled_features : (L, D)   val_logits : (V, K)   val_labels : (V,)
    early_probs : (R, N, K)   correct_history : (E, N)
    pool_size : N, only needed when no pool array is given (e.g. for `random`).
    """

    probs: np.ndarray | None = None
    features: np.ndarray | None = None
    labels: np.ndarray | None = None
    mc_probs: np.ndarray | None = None
    labelled_features: np.ndarray | None = None
    val_logits: np.ndarray | None = None
    val_labels: np.ndarray | None = None
    early_probs: np.ndarray | None = None
    correct_history: np.ndarray | None = None
    pool_size: int | None = None

    def __post_init__(self):
        ndims = dict(probs=2, features=2, labels=1, mc_probs=3, labelled_features=2, val_logits=2, val_labels=1,
                     early_probs=3, correct_history=2)
        for name, ndim in ndims.items():
            value = getattr(self, name)
            if value is None:
                continue
            value = np.asarray(value)
            if value.ndim != ndim:
                raise ValueError(f"input {name} must have {ndim} dimensions {INPUTS[name][1].split(' ')[0]}, "
                                 f"got shape {value.shape}")
            integer = name in ("labels", "val_labels")
            if integer and not np.issubdtype(value.dtype, np.integer):
                raise ValueError(f"input {name} must be integers, got {value.dtype}")
            if not integer:
                if not np.issubdtype(value.dtype, np.floating):
                    value = value.astype(np.float32)
                if not np.isfinite(value).all():
                    raise ValueError(f"input {name} has non-finite values")
            setattr(self, name, value)

        sizes = {name: getattr(self, name).shape[axis] for name, (axis, _) in INPUTS.items()
                 if axis is not None and getattr(self, name) is not None}
        if self.pool_size is not None:
            size = self.pool_size
            if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 0:
                raise ValueError(f"pool_size must be an int >= 0, got {self.pool_size!r}")
            sizes["pool_size"] = int(self.pool_size)
        if len(set(sizes.values())) > 1:
            raise ValueError("pool inputs disagree on the pool size N: "
                             + ", ".join(f"{name} {n}" for name, n in sizes.items()))
        self._n = next(iter(sizes.values()), None)

        classes = {name: getattr(self, name).shape[-1] for name in ("probs", "mc_probs", "val_logits", "early_probs")
                   if getattr(self, name) is not None}
        if len(set(classes.values())) > 1:
            raise ValueError("inputs disagree on the number of classes K: "
                             + ", ".join(f"{name} {k}" for name, k in classes.items()))
        self._k = next(iter(classes.values()), None)

        if self.features is not None and self.labelled_features is not None \
                and self.features.shape[1] != self.labelled_features.shape[1]:
            raise ValueError(f"labelled_features have {self.labelled_features.shape[1]} dimensions, "
                             f"features have {self.features.shape[1]}")
        if (self.val_logits is None) != (self.val_labels is None):
            raise ValueError("give val_logits and val_labels together")
        if self.val_logits is not None and len(self.val_logits) != len(self.val_labels):
            raise ValueError(f"val_logits has {len(self.val_logits)} rows, val_labels {len(self.val_labels)}")
        for name in ("labels", "val_labels"):
            value = getattr(self, name)
            if value is not None and len(value):
                low, high = value.min(), value.max()
                if low < 0 or (self._k is not None and high >= self._k):
                    bad = low if low < 0 else high
                    raise ValueError(f"input {name} has label {bad} outside [0, {self._k if self._k else 'K'})")

    @property
    def num_samples(self) -> int | None:
        """N, the pool size; None when no pool array and no pool_size was given."""
        return self._n

    @property
    def num_classes(self) -> int | None:
        return self._k

    def provided(self) -> list[str]:
        return [name for name in INPUTS if getattr(self, name) is not None]

    def rows(self, positions) -> "StrategyInputs":
        """The same inputs restricted to pool rows `positions` (an index array or a slice);
        arrays that are not per pool sample are shared, not copied."""
        changes = {}
        for name, (axis, _) in INPUTS.items():
            value = getattr(self, name)
            if axis is not None and value is not None:
                changes[name] = value[(slice(None),) * axis + (positions,)]
        subset = copy.copy(self)  # no second check: rows of checked arrays are valid
        for name, value in changes.items():
            setattr(subset, name, value)
        subset._n = len(range(self._n)[positions]) if isinstance(positions, slice) else len(positions)
        subset.pool_size = subset._n
        return subset


@dataclass(frozen=True)
class Strategy:
    """A registered strategy: the function and what it declared."""

    name: str
    fn: Callable
    kind: str  # "score": one score per sample; "batch": greedy picks encoded as scores
    needs: tuple[str, ...]
    optional: tuple[str, ...]
    rowwise: bool  # a sample's score depends on its own rows only, so the pool can be scored in chunks
    context: tuple[str, ...]
    options: dict  # option name -> default

    @property
    def description(self) -> str:
        return (inspect.getdoc(self.fn) or "").split("\n\n")[0].replace("\n", " ")

    def check_inputs(self, inputs: StrategyInputs) -> None:
        """Raise a ValueError naming the first needed input that was not provided."""
        for name in self.needs:
            if getattr(inputs, name) is None:
                raise ValueError(f"strategy {self.name!r} needs input {name!r} ({INPUTS[name][1]}), "
                                 "which was not provided")
        if inputs.num_samples is None:
            raise ValueError(f"strategy {self.name!r} needs the pool size: give a pool array or pool_size")

    def check_options(self, options: dict) -> None:
        unknown = sorted(set(options) - set(self.options))
        if unknown:
            known = ", ".join(sorted(self.options)) or "none"
            raise OptionError(f"unknown option(s) {', '.join(unknown)} for strategy {self.name!r}; known: {known}")


_REGISTRY: dict[str, Strategy] = {}


def register_strategy(name: str, needs: tuple[str, ...] = (), *, optional: tuple[str, ...] = (),
                      kind: str = "score", rowwise: bool = False):
    """Decorator: register `fn` under `name`.

    needs / optional : input names from `INPUTS` the function takes as parameters
    kind : "score" (higher = pick first, one finite float per pool sample) or "batch" (takes
        `budget`; returns `budget - rank` for the picked samples and -inf for the rest)
    rowwise : the score of a sample depends only on its own rows of the pool inputs, so the
        shared code may compute it in chunks of rows (kind "score" only)
    """
    needs, optional = tuple(needs), tuple(optional)
    for input_name in needs + optional:
        if input_name not in INPUTS:
            raise ValueError(f"strategy {name!r} declares unknown input {input_name!r}; known: {', '.join(INPUTS)}")
    if kind not in KINDS:
        raise ValueError(f"strategy {name!r} has kind {kind!r}; choose one of {', '.join(KINDS)}")
    if rowwise and kind != "score":
        raise ValueError(f"strategy {name!r}: only score strategies can be rowwise")

    def decorate(fn: Callable) -> Callable:
        if name in _REGISTRY:
            raise ValueError(f"strategy {name!r} is already registered")
        declared = set(needs + optional)
        context, options, taken = [], {}, set()
        for p in inspect.signature(fn).parameters.values():
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD, p.POSITIONAL_ONLY):
                raise ValueError(f"strategy {name!r}: parameter {p.name!r} must be named, not *args, **kwargs "
                                 "or positional-only")
            if p.name in INPUTS:
                if p.name not in declared:
                    raise ValueError(f"strategy {name!r} takes input {p.name!r} without declaring it")
                taken.add(p.name)
            elif p.name in CONTEXT:
                context.append(p.name)
            elif p.kind is p.KEYWORD_ONLY and p.default is not p.empty:
                options[p.name] = p.default
            else:
                raise ValueError(f"strategy {name!r}: parameter {p.name!r} is neither an input, nor context, "
                                 "nor a keyword-only option with a default")
        if declared - taken:
            raise ValueError(f"strategy {name!r} declares input(s) {', '.join(sorted(declared - taken))} "
                             "but has no parameter for them")
        if kind == "batch" and "budget" not in context:
            raise ValueError(f"batch strategy {name!r} must take the budget")
        _REGISTRY[name] = Strategy(name=name, fn=fn, kind=kind, needs=needs, optional=optional, rowwise=rowwise,
                                   context=tuple(context), options=options)
        return fn

    return decorate


def get_strategy(name: str) -> Strategy:
    """The registered strategy `name`; an error naming the known ones otherwise."""
    if name not in _REGISTRY:
        raise ValueError(f"unknown strategy {name!r}; known: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name]


def list_strategies(pattern: str = "*") -> list[str]:
    """Registered names matching the shell-style `pattern`, sorted."""
    return sorted(n for n in _REGISTRY if fnmatch.fnmatchcase(n, pattern))
