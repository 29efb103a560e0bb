"""Tests of `winnow prune` on the embedded digits (1 347 train images, the small MLP recipe cut
to a few epochs): the cells, the statistics recomputed from them, resumption after an
interruption, and the command line."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest

import winnow.experiments.prune as prune_experiment
from winnow import runs
from winnow.cli import main
from test_active import two_clusters
from winnow.data import load
from winnow.experiments.prune import prune_run, summarize
from winnow.stats import paired_difference
from winnow.strategies import StrategyInputs, select

FAST = {"epochs": 4.0}


@pytest.fixture(scope="module")
def digits():
    return load("digits")


@pytest.fixture(scope="module")
def pruned(tmp_path_factory, one_thread):
    """random and margin at 0.5, seeds 0 and 1: (results, run folder, cells in finishing order)."""
    out = tmp_path_factory.mktemp("prune") / "run"
    finished = []
    results = prune_run("digits", out, fractions=[0.5], strategies=["random", "margin"], seeds=[0, 1],
                        recipe_overrides=FAST, on_cell=finished.append)
    return results, out, finished


def test_every_cell_is_run_once_and_recorded(pruned, digits):
    results, out, finished = pruned
    names = sorted((c["strategy"], c["fraction"], c["seed"]) for c in finished)
    assert names == sorted([("full", 1.0, s) for s in (0, 1)] + [(m, 0.5, s) for m in ("random", "margin")
                                                                   for s in (0, 1)])
    kept = round(0.5 * len(digits.train_indices))
    for cell in finished:
        saved = runs.read_json(out / "cells" / (f"full-s{cell['seed']}.json" if cell["strategy"] == "full" else
                                               f"{cell['strategy']}-f0.5-s{cell['seed']}.json"))
        assert saved == json.loads(json.dumps(cell))
        assert 0.5 < cell["test_accuracy"] <= 1  # 4 epochs on the digits learn something
        if cell["strategy"] != "full":
            indices = np.load(out / "cells" / f"{cell['strategy']}-f0.5-s{cell['seed']}.npy")
            assert len(indices) == cell["kept"] == kept and len(np.unique(indices)) == kept
            assert np.isin(indices, digits.train_indices).all()
            assert sum(cell["kept_class_counts"]) == kept
    for name in ("results.md", "results.csv", "results.json", "config.json", "final.json"):
        assert (out / name).is_file()


def test_the_proxy_is_the_full_data_run_and_its_cost_is_charged_to_margin_only(pruned):
    _, out, finished = pruned
    cells = {(c["strategy"], c["seed"]): c for c in finished}
    for seed in (0, 1):
        proxy = runs.read_json(out / "cells" / f"proxy-s{seed}.json")
        assert cells[("full", seed)]["source"] == "proxy"
        assert cells[("full", seed)]["test_accuracy"] == proxy["test_accuracy"]
        assert cells[("margin", seed)]["proxy_train_seconds"] == proxy["train_seconds"] > 0
        assert cells[("random", seed)]["proxy_train_seconds"] == 0 and cells[("random", seed)]["scoring_seconds"] == 0


def test_margin_keeps_what_select_gives_on_the_saved_proxy_outputs(pruned, digits):
    _, out, _ = pruned
    cells = runs.Cells(out)
    inputs = StrategyInputs(probs=cells.array("proxy-s1", "probs"), labels=cells.array("proxy-s1", "labels"))
    np.testing.assert_array_equal(saved_labels := inputs.labels, digits.labels.numpy()[digits.train_indices])
    expected = digits.train_indices[np.sort(select("margin", inputs, round(0.5 * len(saved_labels)), seed=1))]
    np.testing.assert_array_equal(np.load(out / "cells" / "margin-f0.5-s1.npy"), expected)


def test_results_are_recomputed_from_the_cells(pruned):
    results, out, finished = pruned
    accuracy = {(c["strategy"], c["seed"]): c["test_accuracy"] for c in finished}
    rows = {(r["strategy"], r["fraction"]): r for r in results["rows"]}
    margin = rows[("margin", 0.5)]
    values = [accuracy[("margin", 0)], accuracy[("margin", 1)]]
    assert margin["test_accuracy"]["mean"] == pytest.approx(np.mean(values))
    assert margin["test_accuracy"]["std"] == pytest.approx(np.std(values, ddof=1))
    expected = paired_difference(values, [accuracy[("random", 0)], accuracy[("random", 1)]])
    assert margin["vs_random"] == pytest.approx(expected.to_dict())
    assert rows[("random", 0.5)]["vs_random"] is None and rows[("full", 1.0)]["vs_full"] is None
    written = json.loads((out / "results.json").read_text())
    assert summarize(out) == {k: v for k, v in written.items() if k not in ("tables", "csv_table", "timing", "cells_run")}
    table = list(csv.DictReader(io.StringIO((out / "results.csv").read_text())))
    assert [(r["strategy"], float(r["fraction"])) for r in table] == [("full", 1.0), ("random", 0.5), ("margin", 0.5)]
    assert float(table[2]["vs_random_mean"]) == pytest.approx(expected.mean)
    markdown = (out / "results.md").read_text()
    assert f"| 0.5 | margin |  | {margin['kept']} | 2 | {100 * np.mean(values):.2f} ± " in markdown  # no end: margin


def test_the_table_names_what_each_hardness_score_kept(tmp_path, one_thread):
    """keep="auto" on the digits (about 140 a class) resolves to the easy end, kept per class; an
    explicit keep="hard" stays hard; random keeps no part of a difficulty range."""
    out = tmp_path / "run"
    results = prune_run("digits", out, fractions=[0.3], strategies=["random", "self_confidence", "el2n"], seeds=[0],
                        options={"el2n": {"keep": "hard"}}, recipe_overrides=FAST)
    ends = {r["strategy"]: r["keep"] for r in results["rows"]}
    assert ends == {"full": None, "random": None, "self_confidence": "easy", "el2n": "hard"}
    markdown = (out / "results.md").read_text()
    assert "| 0.3 | self_confidence | easy |" in markdown and "| 0.3 | el2n | hard |" in markdown
    cells = runs.Cells(out)
    inputs = StrategyInputs(probs=cells.array("proxy-s0", "probs"), labels=cells.array("proxy-s0", "labels"))
    given = inputs.probs[np.arange(len(inputs.labels)), inputs.labels]
    kept = np.isin(load("digits").train_indices, np.load(out / "cells" / "self_confidence-f0.3-s0.npy"))
    for c in range(10):  # of every class its share, the most confidently right
        members = inputs.labels == c
        assert abs(kept[members].sum() - 0.3 * members.sum()) <= 1
        assert given[kept & members].min() >= given[~kept & members].max()


def test_a_repeated_command_runs_nothing_again(pruned):
    results, out, _ = pruned
    before = {p.name: p.stat().st_mtime_ns for p in (out / "cells").iterdir()}
    finished = []
    again = prune_run("digits", out, fractions=[0.5], strategies=["random", "margin"], seeds=[0, 1],
                      recipe_overrides=FAST, on_cell=finished.append)
    assert finished == [] and again["rows"] == results["rows"]
    assert results["cells_run"] == 8 and again["cells_run"] == 0  # 2 proxies, 2 full, 4 subsets; then "all N cells already done"
    assert {p.name: p.stat().st_mtime_ns for p in (out / "cells").iterdir()} == before


def test_an_interrupted_run_resumes_without_redoing_finished_cells(tmp_path, one_thread, monkeypatch):
    out, finished = tmp_path / "run", []

    def stop_after_two(cell):
        finished.append(cell)
        if len(finished) == 2:
            raise KeyboardInterrupt

    arguments = dict(fractions=[0.3], strategies=["random", "margin"], seeds=[0, 1], recipe_overrides=FAST)
    with pytest.raises(KeyboardInterrupt):
        prune_run("digits", out, on_cell=stop_after_two, **arguments)
    done = {(c["strategy"], c["seed"]) for c in finished}
    assert done == {("full", 0), ("random", 0)}
    trained = []  # the proxy of seed 0 is not trained again: its outputs are in the run folder
    original_make_inputs = prune_experiment.make_inputs
    monkeypatch.setattr(prune_experiment, "make_inputs", lambda *a, **k: trained.append(1) or original_make_inputs(*a, **k))
    rest = []
    results = prune_run("digits", out, on_cell=rest.append, **arguments)
    assert {(c["strategy"], c["seed"]) for c in rest} == {("margin", 0), ("full", 1), ("random", 1), ("margin", 1)}
    assert len(trained) == 1  # seed 1 only
    assert all(len(r["seeds"]) == 2 for r in results["rows"])


def test_more_seeds_and_strategies_add_cells_and_fewer_leave_them_out(tmp_path, one_thread):
    out, finished = tmp_path / "run", []
    prune_run("digits", out, fractions=[0.5], strategies=["random"], seeds=[0], recipe_overrides=FAST,
              on_cell=finished.append)
    assert len(finished) == 2
    results = prune_run("digits", out, fractions=[0.5], strategies=["random", "margin"], seeds=[0, 1],
                        recipe_overrides=FAST, on_cell=finished.append)
    assert [(c["strategy"], c["seed"]) for c in finished[2:]] == [("margin", 0), ("full", 1), ("random", 1),
                                                                   ("margin", 1)]
    assert runs.read_json(out / "config.json")["seeds"] == [0, 1]
    assert all(row["seeds"] == [0, 1] for row in results["rows"])
    fewer = prune_run("digits", out, fractions=[0.5], strategies=["random"], seeds=[1], recipe_overrides=FAST)
    assert [(r["strategy"], r["seeds"]) for r in fewer["rows"]] == [("full", [1]), ("random", [1])]


def test_another_configuration_in_the_same_folder_is_refused_until_forced(pruned, tmp_path):
    _, out, _ = pruned
    with pytest.raises(runs.RunExistsError, match=r"differs in proxy_recipe, recipe\)"):
        prune_run("digits", out, fractions=[0.5], strategies=["random", "margin"], seeds=[0, 1],
                  recipe_overrides={"epochs": 5.0})
    copy = tmp_path / "copy"
    runs.write_json(copy / "config.json", {"command": "prune"})
    runs.write_json(copy / "cells" / "random-f0.3-s0.json", {})
    finished = []
    prune_run("digits", copy, fractions=[0.3], strategies=["random"], seeds=[0], recipe_overrides=FAST, force=True,
              on_cell=finished.append)
    assert len(finished) == 2  # full and random, from scratch


def test_without_a_model_strategy_the_full_run_is_trained_and_scale_epochs_stretches_subsets(tmp_path, one_thread):
    finished = []
    prune_run("digits", tmp_path / "run", fractions=[0.25], strategies=["random"], seeds=[0], scale_epochs=True,
              recipe_overrides=FAST, on_cell=finished.append)
    cells = {c["strategy"]: c for c in finished}
    assert cells["full"]["source"] == "trained" and cells["full"]["epochs_run"] == 4
    assert cells["random"]["epochs_run"] == 16  # 4 epochs / 0.25
    assert not (tmp_path / "run" / "cells" / "proxy-s0.json").exists()


@pytest.mark.parametrize("arguments, message", [
    (dict(fractions=[1.0]), "must be in (0, 1)"),
    (dict(fractions=[0.5, 0.5]), "distinct"),
    (dict(strategies=["random", "nope"]), "unknown strategy 'nope'"),
    (dict(options={"margin": {"temperature": 2.0}}), "not among the strategies"),
    (dict(strategies=["margin"], options={"margin": {"temp": 2.0}}), "unknown option"),
    (dict(seeds=[]), "seeds"),
    (dict(recipe_overrides={"seed": 1}), "the seed is set by --seeds"),
    (dict(proxy_overrides={"seed": 1}), "the seed is set by --seeds"),
])
def test_bad_arguments_are_named_before_anything_is_written(tmp_path, arguments, message):
    call = {**dict(fractions=[0.5], strategies=["random"], seeds=[0]), **arguments}
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        prune_run("digits", tmp_path / "run", **call)
    assert not (tmp_path / "run").exists()


def test_features_replace_the_proxy_for_strategies_over_features(tmp_path, one_thread):
    from winnow import features

    dataset, out = two_clusters(), tmp_path / "run"
    prune_run(dataset, out, fractions=[0.5], strategies=["random", "coreset"], seeds=[0], features="tiny",
              model="mlp", recipe_overrides={"epochs": 2.0})
    proxy = runs.read_json(out / "cells" / "proxy-s0.json")
    assert proxy["arrays"] == ["features", "labels"] and proxy["train_seconds"] == 0 and proxy["epochs"] is None
    train = dataset.train_indices
    rows = features.create_features("tiny").transform(dataset.images[train])
    np.testing.assert_array_equal(np.load(out / "cells" / "proxy-s0-features.npy"), rows)
    kept = round(0.5 * len(train))
    expected = np.sort(train[select("coreset", StrategyInputs(features=rows, labels=dataset.labels.numpy()[train]),
                                    kept, seed=0)])
    np.testing.assert_array_equal(np.load(out / "cells" / "coreset-f0.5-s0.npy"), expected)
    cell = runs.read_json(out / "cells" / "coreset-f0.5-s0.json")
    assert cell["proxy_train_seconds"] == 0 and cell["scoring_seconds"] == proxy["scoring_seconds"]
    assert runs.read_json(out / "cells" / "full-s0.json")["source"] == "trained"  # no proxy to stand for it
    config = runs.read_json(out / "config.json")
    assert (config["features"], config["feature_options"], config["proxy_recipe"]) == ("tiny", {}, None)


@pytest.mark.parametrize("arguments, message", [
    (dict(strategies=["random", "margin"]), "features of an extractor (tiny) give a strategy features only, not probs, "
                                            "which strategy 'margin' needs"),
    (dict(strategies=["hybrid"]), "not probs, which strategy 'hybrid' needs"),
    (dict(proxy_overrides={"epochs": 1.0}), "proxy recipe overrides (epochs) apply to a proxy network"),
    (dict(features="hog"), "unknown features 'hog'"),
    (dict(feature_options={"nope": 1}), "features 'tiny' has no option 'nope'"),
    (dict(features=None, feature_options={"size": 8}), "feature_options apply only with features"),
])
def test_features_refuse_what_they_cannot_give_before_anything_runs(tmp_path, arguments, message):
    call = {**dict(fractions=[0.5], strategies=["coreset"], seeds=[0], features="tiny"), **arguments}
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        prune_run(two_clusters(), tmp_path / "run", **call)
    assert not (tmp_path / "run").exists()


def test_a_dataset_from_arrays_is_pruned_and_timed(tmp_path, one_thread):
    """From Python, a Dataset built in memory is pruned like a data spec; the run records its wall
    time (summed over sessions) with the training part inside it."""
    from winnow.data import from_arrays

    generator = np.random.default_rng(0)
    labels = np.repeat(np.arange(3), 40)
    images = (generator.integers(0, 60, size=(120, 1, 8, 8)) + 60 * labels[:, None, None, None]).astype(np.uint8)
    dataset = from_arrays(images, labels, ["a", "b", "c"], test_indices=np.arange(0, 120, 4))
    results = prune_run(dataset, tmp_path / "run", fractions=[0.5], strategies=["random"], seeds=[0],
                        recipe_overrides=FAST)
    assert [r["kept"] for r in results["rows"]] == [90, 45]
    assert runs.read_json(tmp_path / "run" / "config.json")["data"] == "arrays"
    timing = runs.read_timing(tmp_path / "run")
    assert timing["sessions"] == 1 and timing["wall_seconds"] >= timing["parts"]["training"] > 0
    prune_run(dataset, tmp_path / "run", fractions=[0.5], strategies=["random"], seeds=[0], recipe_overrides=FAST)
    again = runs.read_timing(tmp_path / "run")
    assert again["sessions"] == 2 and again["wall_seconds"] > timing["wall_seconds"]
    assert again["parts"]["training"] == timing["parts"]["training"]  # nothing was trained again


def test_command_line_arguments_become_a_prune_run_call(monkeypatch, capsys, tmp_path):
    seen = {}

    def fake(data_spec, out, **kwargs):
        seen.update(kwargs, data_spec=data_spec, out=out)
        runs.write_json(tmp_path / "config.json", {"data": "digits", "fractions": [0.3], "strategies": ["random"],
                                                   "seeds": [0], "model": "mlp", "preset": "small",
                                                   "scale_epochs": False, "class_balanced": False})
        results = {"rows": [{"strategy": "full", "fraction": 1.0, "keep": None, "kept": 10, "seeds": [0],
                             "test_accuracy": {"mean": 0.9, "std": 0.0, "n": 1}, "vs_random": None, "vs_full": None,
                             "choose_seconds": 0.0, "proxy_train_seconds": 0.0, "records_seconds": 0.0,
                             "selection_seconds": 0.0, "train_seconds": 1.0}], "cells": [{}], "cells_run": 0}
        return {**results, "tables": [prune_experiment.results_table(results).to_dict()]}

    monkeypatch.setattr(prune_experiment, "prune_run", fake)
    code = main(["prune", "--data", "digits", "--fractions", "0.3,0.5", "--strategies", "random,margin",
                 "--seeds", "3", "--set", "strategy.margin.temperature=2", "--epochs", "5", "--set", "proxy.epochs=2",
                 "--mc-passes", "7", "--out", str(tmp_path / "x")])
    assert code == 0
    assert seen["fractions"] == [0.3, 0.5] and seen["strategies"] == ["random", "margin"]
    assert seen["seeds"] == [0, 1, 2] and seen["options"] == {"margin": {"temperature": 2}}
    assert seen["recipe_overrides"] == {"epochs": 5.0} and seen["proxy_overrides"] == {"epochs": 2.0}
    assert seen["proxy_options"].mc_passes == 7
    printed = capsys.readouterr().out
    row = next(line for line in printed.splitlines() if " 90.00 " in line)
    assert "±" not in row  # one seed: the value alone
    assert "all 1 cells already done" in printed
    main(["prune", "--fractions", "0.5", "--seeds", "4,7", "--out", str(tmp_path / "y")])
    assert seen["seeds"] == [4, 7] and seen["strategies"] == ["random", "self_confidence"]  # the default
    assert seen["distill"] is None and seen["distill_options"] is None and seen["features"] is None
    main(["prune", "--fractions", "0.5", "--strategies", "coreset", "--features", "tiny", "--set", "features.size=8",
          "--out", str(tmp_path / "f")])
    assert seen["features"] == "tiny" and seen["feature_options"] == {"size": 8}
    main(["prune", "--fractions", "0.5", "--strategies", "random", "--distill", "kd", "--alpha", "0.3",
          "--out", str(tmp_path / "z")])
    assert seen["distill"] == "kd" and seen["distill_options"].alpha == 0.3 and seen["distill_options"].temperature == 4
    assert main(["prune", "--fractions", "0.5", "--strategies", "random", "--alpha", "0.3", "--out", "w"]) == 2
    assert "--alpha apply only with --distill SPEC" in capsys.readouterr().err


def test_command_line_errors_are_messages_not_tracebacks(tmp_path, capsys):
    code = main(["prune", "--fractions", "0.5,2", "--strategies", "random", "--out", str(tmp_path / "x")])
    assert code == 2 and "winnow prune: error: fraction 2.0 must be in (0, 1)" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["prune", "--fractions", "a", "--strategies", "random", "--out", str(tmp_path / "x")])
    assert "expected numbers separated by commas" in capsys.readouterr().err
