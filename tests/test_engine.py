"""The experiment engine's parts on small constructed data: cells (a record written last, arrays
beside it), timing summed over sessions, the training spec's rules, and the one choose seam."""

from __future__ import annotations

import numpy as np
import pytest

from winnow import runs
from winnow.data import from_arrays
from winnow.experiments.engine import Run, TrainingSpec
from winnow.experiments.proxy import MadeInputs, choose


def blobs(size: int = 32, per_class: int = 12) -> object:
    """Three classes of 3-channel images of brightness 40, 120 and 200 plus noise; a quarter is test."""
    generator = np.random.default_rng(0)
    labels = np.repeat(np.arange(3), per_class)
    images = np.clip(generator.normal(40 + 80 * labels[:, None, None, None], 10, (len(labels), 3, size, size)), 0, 255)
    return from_arrays(images.astype(np.uint8), labels, ["dark", "mid", "bright"],
                       test_indices=np.arange(0, len(labels), 4))


def test_a_cell_is_done_only_once_its_record_is_written(tmp_path):
    cells = runs.Cells(tmp_path)
    assert not cells.done("a-s0") and cells.records() == {}
    kept = np.array([3, 1, 2], dtype=np.int64)
    cells.save("a-s0", {"accuracy": 0.5}, arrays={"": kept, "picks": kept[:1]})
    assert cells.done("a-s0") and cells.record("a-s0") == {"accuracy": 0.5}
    np.testing.assert_array_equal(cells.array("a-s0"), kept)
    np.testing.assert_array_equal(cells.array("a-s0", "picks"), [3])
    assert sorted(p.name for p in (tmp_path / "cells").iterdir()) == ["a-s0-picks.npy", "a-s0.json", "a-s0.npy"]

    with pytest.raises(TypeError):  # the record cannot be written, after the arrays were
        cells.save("b-s0", {"x": object()}, arrays={"": kept})
    assert not cells.done("b-s0") and list(cells.records()) == ["a-s0"]


def test_timing_sums_the_sessions_of_a_run(tmp_path):
    first = runs.Timing(tmp_path, resumed=False)
    first.add("training", 2.5)
    first.add("data", 0.5)
    saved = first.save()
    assert saved["sessions"] == 1 and saved["parts"] == {"data": 0.5, "training": 2.5, "scoring": 0.0, "testing": 0.0}
    second = runs.Timing(tmp_path, resumed=True)
    second.add("training", 1.0)
    again = second.save()
    assert again["sessions"] == 2 and again["parts"]["training"] == 3.5
    assert again["wall_seconds"] >= saved["wall_seconds"]
    assert runs.Timing(tmp_path, resumed=False).to_dict()["sessions"] == 1  # a new run starts from nothing
    with pytest.raises(ValueError, match="unknown time part 'thinking'"):
        second.add("thinking", 1.0)


def test_the_spec_resolves_the_preset_and_its_model_once():
    small, large = blobs(size=8), blobs(size=32)
    assert (TrainingSpec.resolve(small).preset, TrainingSpec.resolve(small).model) == ("small", "mlp")
    spec = TrainingSpec.resolve(large, overrides={"device": "cpu"})
    assert (spec.preset, spec.model) == ("cpu", "fastnet_s")
    assert TrainingSpec.resolve(large, "lenet5", "cpu").model == "lenet5"
    with pytest.raises(ValueError, match="unknown model"):
        TrainingSpec.resolve(large, "nosuch", "cpu")


def test_a_new_epochs_stretches_the_resize_schedule_in_every_override():
    spec = TrainingSpec.resolve(blobs(), preset="cpu")  # 6.3 epochs, 16 px for 2 and 24 px for 3
    proxy = spec.override({"epochs": 3.15})  # prune's --set proxy.epochs, clean's --set cv.epochs
    assert proxy.recipe.epochs == 3.15 and proxy.recipe.resize_stages() == [(16, 1.0), (24, 1.5)]
    assert spec.recipe.resize_stages() == [(16, 2.0), (24, 3.0)]
    assert spec.override({}) == spec and spec.attach(runs.Timing.__new__(runs.Timing)) == spec


@pytest.mark.parametrize("option", ["--seeds", "--trials", "--seed"])
def test_a_seed_in_the_overrides_is_refused_with_one_message(option):
    with pytest.raises(ValueError, match=f"the seed is set by {option}"):
        TrainingSpec.resolve(blobs(size=8), overrides={"seed": 3}, seed_option=option)
    with pytest.raises(ValueError, match=f"the seed is set by {option}"):
        TrainingSpec.resolve(blobs(size=8)).override({"seed": 3}, seed_option=option)


def test_training_and_testing_are_timed_in_the_run(tmp_path, one_thread):
    dataset = blobs(size=8)
    run = Run.open(tmp_path / "run", {"command": "test"})
    spec = TrainingSpec.resolve(dataset, overrides={"epochs": 20}).attach(run.timing)
    result = spec.train(dataset, dataset.train_indices, seed=0)
    tested = spec.evaluate(result.model, dataset, seed=0)
    assert tested["test_accuracy"] == 1.0  # three brightness levels, far apart
    assert run.timing.parts["training"] == pytest.approx(result.train_seconds)
    assert run.timing.parts["testing"] > 0 and tested["test_seconds"] > 0
    again = spec.train(dataset, dataset.train_indices, seed=0)
    assert [r["train_loss"] for r in again.history] == [r["train_loss"] for r in result.history]  # same seed


def test_choose_returns_pool_indices_best_first():
    pool = np.array([10, 20, 30, 40, 50])
    probs = np.array([[0.9, 0.1], [0.5, 0.5], [0.6, 0.4], [1.0, 0.0], [0.55, 0.45]])  # margin: 0.8 0 0.2 1 0.1
    choice = choose("margin", MadeInputs(arrays={"probs": probs}), pool, 3, seed=0)
    assert choice.indices.tolist() == [20, 50, 30] and choice.positions.tolist() == [1, 4, 2]
    assert choice.indices.dtype == np.int64 and choice.seconds >= 0
    only_labels = choose("random", MadeInputs(arrays={"probs": probs}), pool, 2, seed=0, uses=set())
    assert len(set(only_labels.indices)) == 2 and set(only_labels.indices) <= set(pool)
