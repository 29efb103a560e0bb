"""Selection strategies: functions over arrays, registered by name, with one direction:
a higher score = pick (or, when pruning, keep) first.

    from winnow.strategies import StrategyInputs, select, list_strategies
    inputs = StrategyInputs(probs=outputs.probs, features=outputs.features,
                            labelled_features=labelled.features)
    positions = select("hybrid", inputs, budget=1000, seed=0, lam=1.0)  # pool positions, best first

Each strategy declares the inputs it needs (`registry.INPUTS`); `select` checks them, validates
the options against the function's signature, computes the scores (in chunks for row-wise
strategies) and does the shared top-k with seeded tie-breaking and optional class balancing.
"score" strategies give one score per sample; "batch" strategies pick greedily (each pick
depends on the previous ones) and encode their order as budget - rank, -inf for the rest.
"""

from . import baseline, diversity, gradient, hybrid, label_issues, pruning, typical, uncertainty  # noqa: F401
from .registry import CONTEXT, INPUTS, Strategy, StrategyInputs, get_strategy, list_strategies, register_strategy
from .selection import check_options, compute_scores, select, select_scored
from .uncertainty import apply_temperature, fit_temperature

__all__ = [
    "CONTEXT", "INPUTS", "Strategy", "StrategyInputs", "apply_temperature", "check_options", "compute_scores",
    "fit_temperature", "get_strategy", "list_strategies", "register_strategy", "select", "select_scored",
]
