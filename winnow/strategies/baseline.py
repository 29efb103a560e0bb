"""The baseline every other strategy has to beat."""

from __future__ import annotations

from ._arrays import rng
from .registry import register_strategy


@register_strategy("random")
def random_scores(*, pool_size, seed):
    """Uniform random scores from `seed`: a uniformly random subset, in random order."""
    return rng(seed, 1).random(pool_size)
