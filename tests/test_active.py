"""Tests of the simulated active-learning loop (`winnow al`) on the embedded digits with a few
epochs of the small MLP recipe: the cycles, picks recomputed from a retrained model, the
statistics, resumption after an interruption, warm starts and the command line."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest
import torch
from PIL import Image

from winnow import runs
from winnow.cli import main
from winnow.data import load
from winnow.experiments.active import al_run, initial_set, summarize
from winnow.models import create_model
from winnow.strategies import StrategyInputs, select
from winnow.train import Recipe, fit, predict

FAST = {"epochs": 5.0}
LOOP = dict(initial=20, budget=20, cycles=3, trials=2, strategies=["random", "margin"], recipe_overrides=FAST)


@pytest.fixture(scope="module")
def digits():
    return load("digits")


@pytest.fixture(scope="module")
def loop(tmp_path_factory, one_thread):
    """random and margin, 20 + 20 per cycle, 3 cycles, 2 trials: (results, run folder, records in order)."""
    out = tmp_path_factory.mktemp("al") / "run"
    records = []
    return al_run("digits", out, on_cycle=records.append, **LOOP), out, records


def labelled_after(out, trial, strategy, cycle):
    return np.load(out / "cells" / f"trial{trial}-{strategy}-cycle{cycle}.npy")


def test_every_cycle_is_run_once_with_the_planned_label_counts(loop, digits):
    results, out, records = loop
    assert [(r["trial"], r["strategy"], r["cycle"], r["labels"]) for r in records] == [
        (t, s, c, 20 * c) for t in (0, 1) for s in ("random", "margin") for c in (1, 2, 3)]
    assert results["label_counts"] == [20, 40, 60]
    for r in records:
        assert 0.1 < r["test_accuracy"] <= 1
        assert r["picked"] == (20 if r["cycle"] < 3 else 0)
    for name in ("results.md", "results.csv", "results.json", "learning_curves.png", "config.json", "final.json"):
        assert (out / name).is_file()
    with Image.open(out / "learning_curves.png") as image:
        assert image.size[0] > 300 and image.size[1] > 200


def test_labelled_sets_grow_by_the_picks_from_a_shared_initial_set(loop, digits):
    _, out, _ = loop
    for trial in (0, 1):
        start = initial_set(digits, 20, trial)
        assert len(np.unique(start)) == 20 and np.isin(start, digits.train_indices).all()
        for strategy in ("random", "margin"):
            sets = [start] + [labelled_after(out, trial, strategy, c) for c in (1, 2)]
            for before, after in zip(sets, sets[1:]):
                assert len(after) == len(before) + 20 and np.isin(before, after).all()
            assert np.array_equal(labelled_after(out, trial, strategy, 3), sets[-1])  # the last cycle picks nothing
    assert not np.array_equal(initial_set(digits, 20, 0), initial_set(digits, 20, 1))


def test_margin_picks_are_what_select_gives_on_the_cycles_own_model(loop, digits):
    _, out, records = loop
    config = runs.read_json(out / "config.json")
    recipe = Recipe.from_dict(config["recipe"]).replace(seed=1)
    start = initial_set(digits, 20, 1)
    torch.manual_seed(1)
    model = fit(create_model(config["model"], digits.num_classes, digits.in_channels), digits, start, recipe).model
    pool = digits.train_indices[~np.isin(digits.train_indices, start)]
    probs = predict(model, digits, pool, recipe).probs
    expected = pool[select("margin", StrategyInputs(probs=probs), 20, seed=1 * 1000 + 1)]
    picks = np.setdiff1d(labelled_after(out, 1, "margin", 1), start)
    assert sorted(expected.tolist()) == picks.tolist()
    first = next(r for r in records if (r["trial"], r["strategy"], r["cycle"]) == (1, "margin", 1))
    assert first["test_accuracy"] == pytest.approx(predict(model, digits, digits.test_indices, recipe).accuracy)


def test_results_are_recomputed_from_the_records(loop):
    results, out, records = loop
    acc = {(r["trial"], r["strategy"], r["labels"]): r["test_accuracy"] for r in records}
    rows = {(r["strategy"], r["labels"]): r for r in results["rows"]}
    margin60 = [acc[(t, "margin", 60)] for t in (0, 1)]
    random60 = [acc[(t, "random", 60)] for t in (0, 1)]
    assert rows[("margin", 60)]["test_accuracy"]["mean"] == pytest.approx(np.mean(margin60))
    assert rows[("margin", 60)]["vs_random"]["mean"] == pytest.approx(np.mean(margin60) - np.mean(random60))
    areas = {r["strategy"]: r for r in results["areas"]}
    # trapezoids over 20, 40, 60 labels divided by the range 40: (a20 + 2 a40 + a60) / 4
    by_hand = [(acc[(t, "margin", 20)] + 2 * acc[(t, "margin", 40)] + acc[(t, "margin", 60)]) / 4 for t in (0, 1)]
    assert areas["margin"]["area"]["mean"] == pytest.approx(np.mean(by_hand))
    written = json.loads((out / "results.json").read_text())
    assert summarize(out) == {k: v for k, v in written.items() if k not in ("tables", "csv_table", "timing", "cells_run")}
    assert "| 60 | " in (out / "results.md").read_text()
    table = list(csv.DictReader(io.StringIO((out / "results.csv").read_text())))
    margin = next(r for r in table if r["strategy"] == "margin" and r["labels"] == "60")
    assert float(margin["accuracy_mean"]) == pytest.approx(np.mean(margin60))
    assert float(margin["vs_random_mean"]) == pytest.approx(np.mean(margin60) - np.mean(random60))


def test_an_interrupted_loop_resumes_and_ends_as_an_uninterrupted_one(loop, tmp_path, one_thread):
    results, _, _ = loop
    out, seen = tmp_path / "run", []

    def stop_after_four(record):
        seen.append(record)
        if len(seen) == 4:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        al_run("digits", out, on_cycle=stop_after_four, **LOOP)
    rest = []
    resumed = al_run("digits", out, on_cycle=rest.append, **LOOP)
    assert len(rest) == 12 - 4
    assert [(r["trial"], r["strategy"], r["cycle"]) for r in rest][0] == (0, "margin", 2)
    assert resumed["rows"] == results["rows"]  # deterministic: the same numbers as without the interruption
    again = []
    al_run("digits", out, on_cycle=again.append, **LOOP)
    assert again == []


def test_warm_start_keeps_the_last_weights_and_resumes_from_them(tmp_path, one_thread, monkeypatch):
    out, seen = tmp_path / "run", []
    arguments = {**LOOP, "trials": 1, "strategies": ["margin"], "warm_start": True}

    def stop_after_two(record):
        seen.append(record)
        if len(seen) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        al_run("digits", out, on_cycle=stop_after_two, **arguments)
    assert sorted(p.name for p in (out / "cells").glob("*.pt")) == ["trial0-margin-cycle2.pt"]
    loaded = []
    original = runs.load_weights
    monkeypatch.setattr(runs, "load_weights", lambda path: loaded.append(path.name) or original(path))
    al_run("digits", out, **arguments)
    assert loaded == ["trial0-margin-cycle2.pt"]
    assert sorted(p.name for p in (out / "cells").glob("*.pt")) == ["trial0-margin-cycle3.pt"]


@pytest.mark.parametrize("size", [1, 5, 11, 25, 100])
def test_a_stratified_initial_set_has_exactly_the_size_asked_for(digits, size):
    """Each class's share is rounded (1 of 1347 rounds to none in every class), then topped up or trimmed."""
    start = initial_set(digits, size, 0, stratified=True)
    assert len(np.unique(start)) == size and np.isin(start, digits.train_indices).all()
    if size == 100:  # a multiple of the 10 classes: the same number from each
        assert np.bincount(digits.labels.numpy()[start], minlength=10).tolist() == [10] * 10


def test_pool_subset_limits_where_picks_come_from(tmp_path, digits, one_thread):
    records = []
    al_run("digits", tmp_path / "run", initial=20, budget=10, cycles=2, trials=1, strategies=["margin"],
           pool_subset=50, recipe_overrides=FAST, on_cycle=records.append)
    start = initial_set(digits, 20, 0)
    pool = digits.train_indices[~np.isin(digits.train_indices, start)]
    subset = np.sort(np.random.default_rng([13, 0, 1]).choice(pool, 50, replace=False))
    picks = np.setdiff1d(labelled_after(tmp_path / "run", 0, "margin", 1), start)
    assert len(picks) == 10 and np.isin(picks, subset).all()


def two_clusters():
    """The ramps and checkerboards of test_baseline: 12 of each, 16 px, every 4th image test."""
    from test_baseline import two_clusters as clusters

    return clusters(per_cluster=12, size=16, test_every=4)


COLD = dict(initial=2, budget=2, cycles=2, strategies=["random", "coreset"], initial_strategy="typiclust",
            features="tiny", model="mlp", recipe_overrides={"epochs": 2.0})


def test_an_initial_strategy_chooses_one_set_per_trial_that_every_strategy_starts_from(tmp_path, one_thread):
    dataset, out, records = two_clusters(), tmp_path / "run", []
    results = al_run(dataset, out, trials=2, on_cycle=records.append, **COLD)
    for trial in (0, 1):
        start = np.load(out / "cells" / f"trial{trial}-initial.npy")
        assert sorted(dataset.labels.numpy()[start].tolist()) == [0, 1]  # typiclust on tiny: one of each cluster
        assert runs.read_json(out / "cells" / f"trial{trial}-initial.json")["class_counts"] == [1, 1]
        for strategy in ("random", "coreset"):
            first = next(r for r in records if (r["trial"], r["strategy"], r["cycle"]) == (trial, strategy, 1))
            assert first["labels"] == 2
            after = labelled_after(out, trial, strategy, 1)  # the initial set plus the cycle's 2 picks
            assert len(after) == 4 and np.isin(start, after).all()
    config = runs.read_json(out / "config.json")
    assert (config["initial_strategy"], config["features"], config["initial_options"], config["feature_options"]) \
        == ("typiclust", "tiny", {}, {})
    assert results["config"]["initial_strategy"] == "typiclust"
    assert [r["labels"] for r in results["rows"]] == [2, 4, 2, 4]  # the initial cells are not cycles

    from winnow.report import write_report

    page = write_report([out], tmp_path / "report.html").read_text()
    assert "typiclust" in page and "initial set (on tiny features)" in page
    (out / "results.json").unlink()  # as if interrupted: the status counts cycles, not the initial sets
    page = write_report([out], tmp_path / "report.html").read_text()
    assert "(8 cycles are done)" in page


def test_initial_sets_chosen_by_a_strategy_are_read_back_when_the_loop_resumes(tmp_path, one_thread, monkeypatch):
    import winnow.experiments.active as active

    dataset, out = two_clusters(), tmp_path / "run"
    al_run(dataset, out, trials=1, **COLD)
    first = np.load(out / "cells" / "trial0-initial.npy")
    (out / "cells" / "trial0-coreset-cycle2.json").unlink()  # interrupted before coreset's last cycle
    extracted, records = [], []
    real = active.feature_inputs
    monkeypatch.setattr(active, "feature_inputs", lambda *a, **k: extracted.append(k.get("seed")) or real(*a, **k))
    al_run(dataset, out, trials=2, on_cycle=records.append, **COLD)
    assert extracted == [1]  # trial 0's set is read from its cell, trial 1's is chosen
    assert np.array_equal(np.load(out / "cells" / "trial0-initial.npy"), first)
    assert [(r["trial"], r["strategy"], r["cycle"]) for r in records] == [
        (0, "coreset", 2), (1, "random", 1), (1, "random", 2), (1, "coreset", 1), (1, "coreset", 2)]
    with pytest.raises(runs.RunExistsError, match="differs in initial_strategy"):
        al_run(dataset, out, trials=2, **{**COLD, "initial_strategy": "coreset"})


def test_the_random_initial_set_is_the_default_and_leaves_the_config_as_before(loop):
    _, out, _ = loop
    config = runs.read_json(out / "config.json")
    assert not {"initial_strategy", "initial_options", "features", "feature_options"} & set(config)
    assert not list((out / "cells").glob("*initial*"))


@pytest.mark.parametrize("arguments, message", [
    (dict(initial_strategy="typiclust"), "initial strategy 'typiclust' chooses over features, and nothing is "
                                         "trained before the first cycle: give features"),
    (dict(features="tiny"), "features apply to an initial strategy over features"),
    (dict(initial_strategy="typiclust", features="tiny", stratified_initial=True),
     "stratified_initial applies to the random initial set"),
    (dict(initial_strategy="margin", features="tiny"), "not probs, which strategy 'margin' needs"),
    (dict(initial_strategy="nope", features="tiny"), "unknown strategy 'nope'"),
    (dict(initial_strategy="typiclust", features="hog"), "unknown features 'hog'"),
    (dict(initial_strategy="typiclust", features="tiny", initial_options={"nope": 1}), "nope"),
    (dict(initial=1000, budget=200, cycles=3), "more than the 1347 samples"),
    (dict(cycles=0), "cycles must be an int >= 1"),
    (dict(strategies=["nope"]), "unknown strategy 'nope'"),
    (dict(pool_subset=5), "pool_subset must be an int >= the budget"),
    (dict(options={"hybrid": {"lam": 1}}), "not among the strategies"),
])
def test_bad_arguments_are_named_before_anything_is_written(tmp_path, arguments, message):
    with pytest.raises(ValueError, match=message):
        al_run("digits", tmp_path / "run", **{**LOOP, **arguments})
    assert not (tmp_path / "run").exists()


def test_command_line_prints_one_line_per_cycle_and_the_table(tmp_path, capsys, one_thread):
    code = main(["al", "--data", "digits", "--initial", "20", "--budget", "10", "--cycles", "2", "--trials", "1",
                 "--strategy", "random,margin", "--epochs", "3", "--out", str(tmp_path / "run")])
    assert code == 0
    out = capsys.readouterr().out
    assert "Trial 1/1 || Cycle 1/2 || Labels 20 || random || test acc " in out
    assert "Trial 1/1 || Cycle 2/2 || Labels 30 || margin || test acc " in out
    assert "Area under the learning curve" in out and "learning_curves.png" in out
    code = main(["al", "--data", "digits", "--initial", "20", "--budget", "10", "--cycles", "2",
                 "--strategy", "random", "--set", "seed=3", "--out", str(tmp_path / "other")])
    assert code == 2 and "the seed is set by" in capsys.readouterr().err


def test_command_line_initial_strategy_and_its_options(tmp_path, capsys, monkeypatch, one_thread):
    import winnow.experiments.active as active

    monkeypatch.setattr(active, "load_data", lambda source, options=None, **_: (two_clusters(), 0.0))
    out = tmp_path / "run"
    code = main(["al", "--initial", "2", "--budget", "2", "--cycles", "2", "--trials", "1", "--strategy", "random",
                 "--initial-strategy", "typiclust", "--set", "strategy.typiclust.knn=3", "--features", "tiny",
                 "--set", "features.size=8", "--model", "mlp", "--epochs", "1", "--out", str(out)])
    assert code == 0 and "Trial 1/1 || Cycle 1/2 || Labels 2 || random" in capsys.readouterr().out
    config = runs.read_json(out / "config.json")
    assert (config["initial_options"], config["feature_options"], config["options"]) == ({"knn": 3}, {"size": 8}, {})
    assert main(["al", "--initial", "2", "--budget", "2", "--cycles", "2", "--strategy", "random", "--set",
                 "features.size=8", "--out", str(tmp_path / "bad")]) == 2
    assert "--set features.size: an option of the --features extractor, but --features is not given" in \
        capsys.readouterr().err
