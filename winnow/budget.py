"""A training schedule fitted to the clock: `Recipe.time_budget` (`--time-budget 6m`).

`fit` asks `plan_budget` for the number of steps before the first one, from a short probe of
what a step costs at each image size of the recipe's resize schedule, tells the plan what each
step really took (`Budget.observe`), and asks the plan again at a few points of the training
(`Budget.replan`). A size already trained at is predicted from its own steps; a size not reached
yet from its probe, scaled by how far the probe was off at the sizes seen (the probe's ratios
between sizes are not to be trusted: small images cost more than their share of pixels). The
shares of the schedule stay the recipe's (warm-up, resize stages), so a longer budget stretches
every part and the learning rate always decays to its end; only the number of steps changes.

The probe trains a throw-away copy of the model for a few steps per size (at learning rate 0),
with its own random state, so the model's own training draws exactly what it would without a budget. How many steps
fit depends on the machine, so a budgeted run is reproducible only given its number of steps
(the recipe `fit` returns has them as `epochs`).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

import torch

REPLAN_AT = (0.03, 0.1, 0.2, 0.35, 0.5, 0.65, 0.8, 0.9)  # shares of the planned steps where the plan is redone


def parse_duration(text: str | float, option: str = "--time-budget") -> float:
    """Seconds from "90", "90s", "6m", "1.5h" or "1h30m"; a clear error otherwise."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        seconds = float(text)
    else:
        match = re.fullmatch(r"(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s?)?",
                             str(text).strip().lower())
        if not match or not any(match.groups()):
            raise ValueError(f"{option} {text!r} is not a duration: write seconds or e.g. 90s, 6m, 1.5h, 1h30m")
        seconds = sum(float(number or 0) * unit for number, unit in zip(match.groups(), (3600, 60, 1)))
    if not seconds > 0:
        raise ValueError(f"{option} {text!r} must be longer than 0 seconds")
    return seconds


def shares(stages: list[tuple[int, float]], epochs: float) -> list[tuple[int | None, float, float]]:
    """The resize schedule as [(size, start, end)] shares of the training; None = full size."""
    spans, start = [], 0.0
    for size, stage in stages:
        spans.append((size, start, start + stage / epochs))
        start += stage / epochs
    if start < 1:
        spans.append((None, start, 1.0))
    return spans


@dataclass
class Budget:
    """The plan for `seconds` of training: the shares of the recipe's schedule, the probed cost of
    a step at each size, and the seconds each step of the training took so far."""

    seconds: float
    spans: list[tuple[int | None, float, float]]
    step_cost: dict[int | None, float]
    probe_seconds: float = 0.0
    # size -> [steps after the first, their seconds]: the first step at a size pays its warm-up
    # (or compilation) and is not counted
    observed: dict[int | None, list] = field(default_factory=dict)

    def observe(self, size: int | None, seconds: float) -> None:
        """One training step at `size` took `seconds` (since the previous one ended, so the
        epoch's bookkeeping and validation count too)."""
        if size not in self.observed:
            self.observed[size] = [0, 0.0]
        else:
            self.observed[size][0] += 1
            self.observed[size][1] += seconds

    @property
    def scale(self) -> float:
        """Measured / probed cost over the steps seen (1 before any)."""
        measured = sum(seconds for _, seconds in self.observed.values())
        probed = sum(self.step_cost[size] * steps for size, (steps, _) in self.observed.items())
        return measured / probed if probed > 0 else 1.0

    def cost(self, size: int | None) -> float:
        """Predicted seconds of a step at `size`: the mean of its own steps once trained at,
        else the probe's figure times `scale`."""
        steps, seconds = self.observed.get(size, (0, 0.0))
        return seconds / steps if steps else self.step_cost[size] * self.scale

    def predicted(self, steps: int, total: int) -> float:
        """Predicted seconds of the first `steps` of a training of `total` steps."""
        costs = {size: self.cost(size) for size in self.step_cost}
        return sum(costs[size] * max(0.0, min(steps, end * total) - start * total) for size, start, end in self.spans)

    def total_steps(self, done: int = 0, elapsed: float = 0.0) -> int:
        """The most steps whose training ends within the budget, after `done` steps that took
        `elapsed` seconds (probe included); at least one more than `done`."""
        def fits(total: int) -> bool:
            rest = self.predicted(total, total) - self.predicted(done, total)
            return elapsed + rest <= self.seconds

        low, high = done + 1, max(done + 2, 2)
        while fits(high):
            low, high = high, high * 2
        while high - low > 1:
            middle = (low + high) // 2
            low, high = (middle, high) if fits(middle) else (low, middle)
        return low

    def replan(self, done: int, elapsed: float) -> int:
        """The steps of the whole training, redone after `done` steps (each `observe`d) took
        `elapsed` seconds of the budget (probe included)."""
        return self.total_steps(done, elapsed)


def plan_budget(probe_step, images: torch.Tensor, labels: torch.Tensor, recipe, seconds: float, to_input,
                repeats: int = 2) -> Budget:
    """Probe the cost of a training step at each size of the recipe's schedule (one untimed step,
    then `repeats` timed ones) and return the plan for `seconds`, the probe's time included.

    probe_step(x, y) : one training step of a throw-away copy of the model
    images, labels : the training set on the device (uint8 and int64); the first batch is used
    to_input(images, size) : the float batch at `size` (None = full size), as `fit` makes it
    """
    spans = shares(recipe.resize_stages(), recipe.epochs)
    started = time.perf_counter()
    batch = slice(0, min(recipe.batch_size, len(images)))
    cost = {}
    with torch.random.fork_rng(devices=[images.device] if images.device.type == "cuda" else []):
        for size, _, _ in spans:
            x, y = to_input(images[batch], size), labels[batch]
            probe_step(x, y)
            synchronize(images.device)
            start = time.perf_counter()
            for _ in range(repeats):
                probe_step(x, y)
            synchronize(images.device)
            cost[size] = (time.perf_counter() - start) / repeats
    return Budget(seconds=seconds, spans=spans, step_cost=cost, probe_seconds=time.perf_counter() - started)


def synchronize(device: torch.device) -> None:
    """Wait for the device's queued work (CUDA), so a timer reads the time it took."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
