"""Tests of the time budget (`winnow.budget`, `Recipe.time_budget`): durations, the plan's
arithmetic by hand, the probe leaves the model alone, and `fit` fits its schedule to the budget."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from test_train import QUICK, fresh_model, quadrant_dataset
from winnow.budget import Budget, parse_duration, plan_budget, shares
from winnow.train import Recipe, _lr_factor, fit, get_preset


@pytest.mark.parametrize("text, seconds", [("90", 90), ("90s", 90), ("6m", 360), ("1.5h", 5400), ("1h30m", 5400),
                                           ("2m30s", 150), (" 6M ", 360), (42, 42), (0.5, 0.5)])
def test_durations_parse_to_seconds(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text, message", [("", "is not a duration"), ("m", "is not a duration"),
                                           ("six", "is not a duration"), ("6x", "is not a duration"),
                                           ("-3", "is not a duration"), ("0", "must be longer than 0"),
                                           (0, "must be longer than 0"), ("0m", "must be longer than 0")])
def test_bad_durations_are_one_line_errors_naming_the_option(text, message):
    with pytest.raises(ValueError, match=f"--time-budget {text!r} {message}"):
        parse_duration(text)


def test_shares_of_the_resize_schedule():
    assert shares([(16, 2.0), (24, 3.0)], 10.0) == [(16, 0.0, 0.2), (24, 0.2, 0.5), (None, 0.5, 1.0)]
    assert shares([], 4.0) == [(None, 0.0, 1.0)]
    assert shares([(16, 4.0)], 4.0) == [(16, 0.0, 1.0)]  # resized to the end: no full-size part


def test_the_plan_by_hand():
    """Half the steps at 16 px (0.1 s each), half at full size (0.3 s): 0.2 s a step on average,
    so 10 s buy 50 steps. If the first 11 steps (all at 16 px) take 0.2 s each, twice the probe
    (the first step at a size is its warm-up and not counted), a 16 px step costs 0.2 s and a
    full-size one, not seen yet, twice its probe: 2.2 s + 0.2 (0.5 T - 11) + 0.6 x 0.5 T <= 10 s
    gives T = 25."""
    budget = Budget(seconds=10.0, spans=shares([(16, 5.0)], 10.0), step_cost={16: 0.1, None: 0.3})
    assert budget.predicted(50, 50) == pytest.approx(10.0)
    assert budget.predicted(10, 50) == pytest.approx(1.0)
    assert budget.predicted(30, 50) == pytest.approx(0.1 * 25 + 0.3 * 5)
    assert budget.total_steps() == 50
    for _ in range(11):
        budget.observe(16, 0.2)
    assert budget.scale == pytest.approx(2.0) and budget.cost(None) == pytest.approx(0.6)
    assert budget.replan(11, 2.2) == 25
    assert budget.total_steps(done=49, elapsed=20.0) == 50  # over budget already: one more step ends it


def test_the_probe_time_counts_against_the_budget():
    budget = Budget(seconds=10.0, spans=shares([], 1.0), step_cost={None: 0.5}, probe_seconds=4.0)
    assert budget.total_steps(elapsed=budget.probe_seconds) == 12  # 6 s left, 0.5 s a step


def test_the_probe_trains_a_copy_and_draws_nothing_of_the_models():
    dataset = quadrant_dataset(per_class=10)
    model = fresh_model("mlp", dataset)
    model(torch.zeros(1, 3, 16, 16))  # materialise the lazy layers
    before = {k: v.clone() for k, v in model.state_dict().items()}
    probe = __import__("copy").deepcopy(model)
    optimizer = torch.optim.SGD(probe.parameters(), lr=0.1)
    calls = []

    def probe_step(x, y):
        calls.append(tuple(x.shape))
        loss = torch.nn.functional.cross_entropy(probe(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        torch.rand(3)  # a draw of the global generator, as augmentation or dropout would make

    images, labels = dataset.images[:40], dataset.labels[:40]
    recipe = QUICK.replace(epochs=4, batch_size=8, resize_schedule="8:1,12:1")
    state = torch.random.get_rng_state()
    budget = plan_budget(probe_step, images, labels, recipe, 5.0,
                         lambda x, size: torch.nn.functional.interpolate(x.float() / 255, size=size or 16))
    assert torch.equal(torch.random.get_rng_state(), state)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert calls == [(8, 3, 8, 8)] * 3 + [(8, 3, 12, 12)] * 3 + [(8, 3, 16, 16)] * 3  # 1 untimed + 2 timed each
    assert set(budget.step_cost) == {8, 12, None} and all(cost > 0 for cost in budget.step_cost.values())


class StepClock:
    """A clock that only moves when `fit` takes a training step: each step costs `step` seconds."""

    def __init__(self, step: float):
        self.now, self.step = 0.0, step

    def perf_counter(self) -> float:
        return self.now

    def train_step(self, real):
        def step(*args, **kwargs):
            self.now += self.step
            return real(*args, **kwargs)
        return step


@pytest.mark.parametrize("seconds, steps", [(8.0, 125), (4.0, 61)])
def test_fit_takes_the_steps_the_budget_buys(monkeypatch, seconds, steps):
    """Steps of 1/16 s: the probe takes 3 of them (one untimed, two timed), so 8 s buy
    (8 - 3/16) x 16 = 125 steps, and the re-plans, seeing steps cost what the probe said, keep it."""
    import winnow.budget
    import winnow.train

    clock = StepClock(1 / 16)
    monkeypatch.setattr(winnow.train, "time", clock)
    monkeypatch.setattr(winnow.budget, "time", clock)
    monkeypatch.setattr(winnow.train, "_train_step", clock.train_step(winnow.train._train_step))
    dataset = quadrant_dataset()
    recipe = QUICK.replace(epochs=1, time_budget=seconds)
    result = fit(fresh_model("mlp", dataset), dataset, dataset.train_indices, recipe)
    assert result.steps == steps and result.train_seconds == seconds
    assert result.recipe.epochs == steps / (len(dataset.train_indices) // recipe.batch_size)


class SizeClock:
    """A clock that moves by what a training step costs at its image side: `probed` while the
    budget's probe runs, `actual` in the training itself."""

    def __init__(self, probed: dict[int, float], actual: dict[int, float]):
        self.now, self.probed, self.actual, self.probing = 0.0, probed, actual, False

    def perf_counter(self) -> float:
        return self.now

    def train_step(self, real):
        def step(model, optimizer, x, *args, **kwargs):
            self.now += (self.probed if self.probing else self.actual)[x.shape[-1]]
            return real(model, optimizer, x, *args, **kwargs)
        return step

    def plan(self, real):
        def plan(*args, **kwargs):
            self.probing = True
            try:
                return real(*args, **kwargs)
            finally:
                self.probing = False
        return plan


def test_fit_fills_the_budget_when_the_probe_misjudges_small_images(monkeypatch):
    """The probe has 8 px steps at a third of what they cost and full-size (16 px) ones right, as
    when a fixed per-step cost dominates small images. Scaling every size by what the 8 px steps
    showed planned full-size steps at 3x their cost and ended the training a third early (the
    15-Scene runs used 143 of 180 s); each size's own steps make the last plan exact: the training
    ends less than one full-size step before the budget."""
    import winnow.budget
    import winnow.train

    clock = SizeClock(probed={8: 0.01, 16: 0.04}, actual={8: 0.03, 16: 0.04})
    monkeypatch.setattr(winnow.train, "time", clock)
    monkeypatch.setattr(winnow.budget, "time", clock)
    monkeypatch.setattr(winnow.train, "_train_step", clock.train_step(winnow.train._train_step))
    monkeypatch.setattr(winnow.train, "_plan_budget", clock.plan(winnow.train._plan_budget))
    dataset = quadrant_dataset()
    recipe = QUICK.replace(epochs=2, resize_schedule="8:1", time_budget=6.0)
    result = fit(fresh_model("lenet5", dataset), dataset, dataset.train_indices, recipe)
    assert 6.0 - 0.04 < result.train_seconds <= 6.0 + 1e-9
    steps_per_epoch = len(dataset.train_indices) // recipe.batch_size
    stages = result.recipe.resize_stages()
    eights = sum(winnow.train._train_size(step / steps_per_epoch, stages) == 8 for step in range(result.steps))
    assert 0 < eights < result.steps  # both sizes trained at


def test_fit_under_a_budget_completes_the_schedule_it_planned():
    """On the real clock: the steps taken are the steps planned, and the last one has the
    schedule's last learning rate."""
    dataset = quadrant_dataset()
    recipe = QUICK.replace(epochs=1, time_budget=1.0, schedule="linear")
    result = fit(fresh_model("mlp", dataset), dataset, dataset.train_indices, recipe)
    steps_per_epoch = len(dataset.train_indices) // recipe.batch_size
    assert result.steps == round(result.recipe.epochs * steps_per_epoch) > 1
    assert len(result.history) == int(np.ceil(result.steps / steps_per_epoch))
    warmup = round(recipe.warmup_fraction * result.steps)
    assert result.history[-1]["lr"] == pytest.approx(recipe.lr * _lr_factor(result.steps - 1, result.steps, warmup,
                                                                             result.recipe))
    assert result.recipe.time_budget == 1.0


def test_a_budget_sets_the_length_so_min_steps_and_epochs_give_way():
    cpu = get_preset("cpu")
    assert cpu.override(time_budget=360).time_budget == 360
    assert cpu.override(time_budget=360).epochs == cpu.epochs  # the first plan's shares
    assert cpu.override(time_budget=360).override(epochs=2).time_budget == 0  # el2n's short runs are short
    with pytest.raises(ValueError, match="epochs=3 and time_budget=60 both set the training's length"):
        cpu.override(epochs=3, time_budget=60)
    with pytest.raises(ValueError, match="time_budget=-1.0 is not valid"):
        Recipe(time_budget=-1.0)
    dataset = quadrant_dataset(per_class=10)  # 30 images: min_steps would stretch 1 epoch to 200 steps
    result = fit(fresh_model("mlp", dataset), dataset, dataset.train_indices,
                 QUICK.replace(epochs=1, min_steps=200, time_budget=0.3))
    assert result.steps < 200


def test_compile_trains_through_the_compiled_forward_with_the_same_numbers(monkeypatch):
    """`Recipe.compile` trains through `torch.compile(model)`: the same parameters, so with
    dynamo's eager backend (no code generation, quick) the numbers are eager's; the first step at
    each image size is counted in `compile_seconds`."""
    dataset = quadrant_dataset()
    recipe = QUICK.replace(epochs=2, resize_schedule="8:1")
    eager = fit(fresh_model("lenet5", dataset), dataset, dataset.train_indices, recipe)
    compiled_with = []
    real_compile = torch.compile

    def compile_eagerly(model, **options):
        compiled_with.append(options)
        return real_compile(model, backend="eager", **options)

    monkeypatch.setattr(torch, "compile", compile_eagerly)
    compiled = fit(fresh_model("lenet5", dataset), dataset, dataset.train_indices, recipe.replace(compile=True))
    assert compiled_with == [{"dynamic": False}]
    assert [r["train_loss"] for r in compiled.history] == pytest.approx([r["train_loss"] for r in eager.history],
                                                                        rel=1e-5)
    for name, value in eager.model.state_dict().items():
        torch.testing.assert_close(compiled.model.state_dict()[name], value, rtol=1e-4, atol=1e-6)
    assert eager.compile_seconds == 0 and 0 < compiled.compile_seconds < compiled.train_seconds
