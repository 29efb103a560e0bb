"""Tests of `winnow select` on the embedded digits (1 347 train images), called in-process with
`winnow.cli.main`: the run folder, known answers recomputed from the saved proxy, and the errors."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import winnow
import winnow.experiments.select as select_experiment
from winnow import runs
from winnow.cli import main
from winnow.data import DataError, from_arrays, load
from winnow.data.split import stratified_split
from winnow.experiments.proxy import ProxyOptions
from winnow.experiments.select import read_labelled, select_run
from winnow.models import create_model
from winnow.strategies import StrategyInputs, fit_temperature, select
from winnow.train import Recipe, predict

BUDGET = 30


@pytest.fixture(scope="module")
def digits():
    return load("digits")


@pytest.fixture(scope="module")
def labelled(digits, tmp_path_factory):
    """50 train-split indices drawn with a seed, as a CSV with an `index` column: (path, indices)."""
    indices = np.random.default_rng(7).choice(digits.train_indices, 50, replace=False)
    path = tmp_path_factory.mktemp("labelled") / "labelled.csv"
    write_index_csv(path, indices)
    return path, indices


@pytest.fixture(scope="module")
def pool(digits, labelled):
    """The train split minus the labelled set, in train-split order."""
    return digits.train_indices[~np.isin(digits.train_indices, labelled[1])]


def write_index_csv(path: Path, indices) -> None:
    path.write_text("index\n" + "".join(f"{int(i)}\n" for i in indices))


def run_select(out: Path, *args: str) -> tuple[int, Path]:
    return main(["select", "--data", "digits", *args, "--out", str(out)]), out


@pytest.fixture(scope="module")
def margin_run(labelled, tmp_path_factory, one_thread):
    """margin, budget 30, proxy trained 3 epochs on the 50 labelled digits: (exit code, run folder)."""
    out = tmp_path_factory.mktemp("select") / "margin"
    return run_select(out, "--strategy", "margin", "--budget", str(BUDGET), "--labelled", str(labelled[0]),
                      "--epochs", "3")


def random_run(tmp_path_factory, labelled, seed: int, *extra: str) -> Path:
    out = tmp_path_factory.mktemp("select") / f"random{seed}"
    code, _ = run_select(out, "--strategy", "random", "--budget", str(BUDGET), "--labelled", str(labelled[0]),
                         "--seed", str(seed), *extra)
    assert code == 0
    return out


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def saved_proxy_outputs(out: Path, digits, indices):
    """The saved proxy's predictions for `indices`, with the recipe the run recorded."""
    config = runs.read_json(out / runs.CONFIG)
    model = create_model(config["model"], digits.num_classes, digits.in_channels)
    model.load_state_dict(runs.load_weights(out / runs.WEIGHTS))
    return predict(model, digits, indices, Recipe.from_dict(config["recipe"]))


# ---------------------------------------------------------------- the run folder of a margin selection


def test_margin_run_records_config_and_counts(margin_run):
    code, out = margin_run
    assert code == 0
    config = runs.read_json(out / runs.CONFIG)
    assert config["command"] == "select" and config["strategy"] == "margin"
    assert config["budget"] == BUDGET and config["seed"] == 0 and config["options"] == {}
    assert config["winnow_version"] == winnow.__version__
    assert config["preset"] == "small" and config["model"] == "mlp"  # auto preset for 8 px images
    assert Recipe.from_dict(config["recipe"]).epochs == 3
    assert len(runs.read_jsonl(out / runs.METRICS)) == 3  # the proxy's epochs
    final = runs.read_json(out / runs.FINAL)
    assert (final["train_count"], final["labelled_count"], final["pool_count"], final["selected_count"]) == \
        (1347, 50, 1297, BUDGET)
    assert final["proxy_trained"] is True
    assert final["proxy_train_seconds"] > 0 and final["scoring_seconds"] > 0
    assert sum(final["selected_class_counts"].values()) == BUDGET


def test_selection_is_distinct_pool_indices(margin_run, digits, labelled):
    _, out = margin_run
    selected = np.load(out / runs.SELECTED_NPY)
    assert selected.dtype == np.int64 and selected.shape == (BUDGET,)
    assert len(np.unique(selected)) == BUDGET
    assert np.isin(selected, digits.train_indices).all()
    assert not np.isin(selected, labelled[1]).any()


def test_csv_rows_match_the_npy_in_order(margin_run, digits):
    _, out = margin_run
    rows = read_csv(out / runs.SELECTED_CSV)
    selected = np.load(out / runs.SELECTED_NPY)
    assert [int(row["rank"]) for row in rows] == list(range(BUDGET))
    assert [int(row["index"]) for row in rows] == selected.tolist()
    assert [row["label"] for row in rows] == [digits.class_names[digits.labels[i]] for i in selected]
    scores = [float(row["score"]) for row in rows]
    assert scores == sorted(scores, reverse=True), "best first"
    final = runs.read_json(out / runs.FINAL)
    predicted = [row["predicted"] for row in rows]
    assert {name: predicted.count(name) for name in digits.class_names} == final["selected_predicted_counts"]


def test_margin_picks_equal_select_on_the_saved_proxy(margin_run, digits, pool):
    _, out = margin_run
    probs = saved_proxy_outputs(out, digits, pool).probs
    expected = pool[select("margin", StrategyInputs(probs=probs), BUDGET, seed=0)]
    selected = np.load(out / runs.SELECTED_NPY)
    assert selected.tolist() == expected.tolist()
    # by hand: the top pick has the smallest gap between the two likeliest classes in the pool
    top2 = np.sort(probs, axis=1)[:, -2:]
    gaps = top2[:, 1] - top2[:, 0]
    assert gaps[pool == selected[0]][0] == gaps.min()
    csv_scores = np.array([float(row["score"]) for row in read_csv(out / runs.SELECTED_CSV)])
    np.testing.assert_allclose(csv_scores, -gaps[np.searchsorted(pool, selected)], atol=1e-6)


# ---------------------------------------------------------------- random and class balancing


def test_random_is_determined_by_the_seed(tmp_path_factory, labelled, pool):
    first = np.load(random_run(tmp_path_factory, labelled, 0) / runs.SELECTED_NPY)
    again = np.load(random_run(tmp_path_factory, labelled, 0) / runs.SELECTED_NPY)
    other_out = random_run(tmp_path_factory, labelled, 1)
    other = np.load(other_out / runs.SELECTED_NPY)
    assert first.tolist() == again.tolist()
    assert first.tolist() != other.tolist()
    assert np.isin(first, pool).all() and np.isin(other, pool).all()
    assert not (other_out / runs.WEIGHTS).exists(), "random needs no proxy model"
    assert runs.read_json(other_out / runs.CONFIG)["recipe"] is None


def test_random_without_labelled_set_selects_from_the_whole_train_split(tmp_path, digits):
    code, out = run_select(tmp_path / "run", "--strategy", "random", "--fraction", "0.01")
    assert code == 0
    final = runs.read_json(out / runs.FINAL)
    assert (final["labelled_count"], final["pool_count"], final["budget"]) == (0, 1347, 13)  # round(13.47)
    assert np.isin(np.load(out / runs.SELECTED_NPY), digits.train_indices).all()


def test_class_balanced_random_over_the_labelled_train_split_gives_3_per_class(tmp_path, digits):
    code, out = run_select(tmp_path / "run", "--strategy", "random", "--budget", str(BUDGET), "--labelled", "all",
                           "--class-balanced")
    assert code == 0
    selected = np.load(out / runs.SELECTED_NPY)
    assert np.bincount(digits.labels[selected].numpy(), minlength=10).tolist() == [3] * 10
    final = runs.read_json(out / runs.FINAL)
    assert final["selected_class_counts"] == {name: 3 for name in digits.class_names}
    assert final["pool_count"] == 1347 and not final["proxy_trained"]


def test_class_balanced_selection_of_unlabelled_pool_balances_the_predicted_class(tmp_path, digits, labelled, pool):
    code, out = run_select(tmp_path / "run", "--strategy", "random", "--budget", str(BUDGET), "--labelled",
                           str(labelled[0]), "--class-balanced", "--epochs", "30")
    assert code == 0
    predicted = saved_proxy_outputs(out, digits, pool).predictions
    assert (np.bincount(predicted, minlength=10) >= 3).all(), "the proxy predicts every class 3 times or more"
    selected = np.load(out / runs.SELECTED_NPY)
    assert np.bincount(predicted[np.searchsorted(pool, selected)], minlength=10).tolist() == [3] * 10


def test_pruning_with_labelled_all_gives_the_strategy_the_labels(tmp_path, digits):
    code, out = run_select(tmp_path / "run", "--strategy", "self_confidence", "--budget", "20", "--labelled", "all",
                           "--epochs", "1", "--set", "strategy.keep=easy")
    assert code == 0
    train = digits.train_indices
    outputs = saved_proxy_outputs(out, digits, train)
    expected = train[select("self_confidence", StrategyInputs(probs=outputs.probs, labels=outputs.labels), 20,
                            seed=0, keep="easy")]
    assert np.load(out / runs.SELECTED_NPY).tolist() == expected.tolist()
    assert runs.read_json(out / runs.CONFIG)["options"] == {"keep": "easy"}
    # without --strategy, --labelled all prunes with the default: self_confidence, keep auto (20 of 1 347: easy)
    code, default = run_select(tmp_path / "default", "--budget", "20", "--labelled", "all", "--epochs", "1")
    assert code == 0 and runs.read_json(default / runs.CONFIG)["strategy"] == "self_confidence"
    assert np.load(default / runs.SELECTED_NPY).tolist() == expected.tolist()


def test_bald_uses_the_mc_dropout_passes_of_the_saved_proxy(tmp_path, digits, labelled, pool):
    code, out = run_select(tmp_path / "run", "--strategy", "bald", "--budget", str(BUDGET), "--labelled",
                           str(labelled[0]), "--epochs", "3", "--mc-passes", "6", "--mc-dropout", "0.3")
    assert code == 0
    config = runs.read_json(out / runs.CONFIG)
    assert config["proxy_options"]["mc_passes"] == 6 and config["proxy_options"]["mc_dropout"] == 0.3
    model = create_model(config["model"], digits.num_classes, digits.in_channels)
    model.load_state_dict(runs.load_weights(out / runs.WEIGHTS))
    outputs = predict(model, digits, pool, Recipe.from_dict(config["recipe"]), mc_passes=6, mc_dropout=0.3)
    expected = pool[select("bald", StrategyInputs(mc_probs=outputs.mc_probs), BUDGET, seed=0)]
    assert np.load(out / runs.SELECTED_NPY).tolist() == expected.tolist()


@pytest.mark.parametrize("strategy, extra", [("el2n", ["--early-runs", "2", "--early-epochs", "1"]),
                                             ("forgetting", [])])
def test_pruning_strategies_get_their_training_records(tmp_path, digits, strategy, extra):
    code, out = run_select(tmp_path / "run", "--strategy", strategy, "--fraction", "0.5", "--labelled", "all",
                           "--epochs", "3", *extra)
    assert code == 0
    final = runs.read_json(out / runs.FINAL)
    assert final["selected_count"] == round(0.5 * 1347)
    assert (final["records_seconds"] > 0) == (strategy == "el2n")  # the short runs are timed apart
    assert final["proxy_trained"] == (strategy == "forgetting")  # el2n needs only the short runs
    selected = np.load(out / runs.SELECTED_NPY)
    assert len(np.unique(selected)) == len(selected) and np.isin(selected, digits.train_indices).all()


def test_hybrid_gets_the_probabilities_its_uncertainty_part_needs(tmp_path, digits, labelled, pool):
    """hybrid declares only features, but scores uncertainty with margin, which needs probs; with
    lam=0 it is exactly the margin order of the saved proxy."""
    code, out = run_select(tmp_path / "run", "--strategy", "hybrid", "--budget", "10", "--labelled",
                           str(labelled[0]), "--epochs", "1", "--set", "strategy.lam=0",
                           "--set", 'strategy.uncertainty_options={"temperature": 2.0}')
    assert code == 0
    probs = saved_proxy_outputs(out, digits, pool).probs
    expected = pool[select("margin", StrategyInputs(probs=probs), 10, seed=0, temperature=2.0)]
    assert np.load(out / runs.SELECTED_NPY).tolist() == expected.tolist()


def test_diversity_strategy_runs_with_labelled_features(tmp_path, digits, labelled, pool):
    code, out = run_select(tmp_path / "run", "--strategy", "coreset", "--budget", "10", "--labelled",
                           str(labelled[0]), "--epochs", "1")
    assert code == 0
    labelled_features = saved_proxy_outputs(out, digits, labelled[1]).features
    outputs = saved_proxy_outputs(out, digits, pool)
    expected = pool[select("coreset", StrategyInputs(features=outputs.features, labelled_features=labelled_features),
                           10, seed=0)]
    assert np.load(out / runs.SELECTED_NPY).tolist() == expected.tolist()


def test_temperature_is_fitted_on_the_proxys_hold_out(tmp_path, digits, labelled, pool):
    """With --set val_fraction=0.2 the proxy holds out part of the labelled set, whose logits
    fit the temperature of `--set strategy.temperature=fit`."""
    code, out = run_select(tmp_path / "run", "--strategy", "entropy", "--budget", "10", "--labelled",
                           str(labelled[0]), "--epochs", "2", "--set", "val_fraction=0.2",
                           "--set", "strategy.temperature=fit")
    assert code == 0
    recipe = Recipe.from_dict(runs.read_json(out / runs.CONFIG)["recipe"])
    held_out = labelled[1][stratified_split(digits.labels.numpy()[labelled[1]], 0.2, recipe.seed)["test"]]
    val = saved_proxy_outputs(out, digits, held_out)
    probs = saved_proxy_outputs(out, digits, pool).probs
    temperature = fit_temperature(val.logits, val.labels)
    assert temperature != 1.0
    expected = pool[select("entropy", StrategyInputs(probs=probs), 10, seed=0, temperature=temperature)]
    assert np.load(out / runs.SELECTED_NPY).tolist() == expected.tolist()


def test_temperature_fit_without_a_hold_out_is_an_error(tmp_path, labelled, capsys):
    code, _ = run_select(tmp_path / "run", "--strategy", "margin", "--budget", "10", "--labelled", str(labelled[0]),
                         "--epochs", "1", "--set", "strategy.temperature=fit")
    assert code == 2
    assert "temperature='fit' needs inputs 'val_logits'" in capsys.readouterr().err


# ---------------------------------------------------------------- the labelled set


def test_npy_and_csv_labelled_sets_are_read_alike(tmp_path, digits, labelled):
    np.save(tmp_path / "labelled.npy", labelled[1])
    assert read_labelled(tmp_path / "labelled.npy", digits).tolist() == labelled[1].tolist()
    assert read_labelled(labelled[0], digits).tolist() == labelled[1].tolist()


def test_labelled_index_outside_the_train_split_is_named(tmp_path, digits, capsys):
    test_index = int(digits.test_indices[0])
    write_index_csv(tmp_path / "bad.csv", [*digits.train_indices[:3], test_index])
    code, out = run_select(tmp_path / "run", "--strategy", "random", "--budget", "5", "--labelled",
                           str(tmp_path / "bad.csv"))
    assert code == 2
    error = capsys.readouterr().err
    assert f"line 5: index {test_index} is not in the train split" in error
    assert not out.exists(), "nothing is written for invalid input"


@pytest.mark.parametrize("content, message", [
    ("index\n{train}\n{train}\n", "line 3: index {train} is listed twice"),
    ("index\n{train}\nseven\n", "line 3: index 'seven' is not an integer"),
    ("number\n1\n", "needs a column 'index'"),
    ("path\na.png\n", "a 'path' column needs folder data"),
])
def test_bad_labelled_csv_is_refused_with_its_line(tmp_path, digits, content, message):
    train = int(digits.train_indices[0])
    (tmp_path / "labelled.csv").write_text(content.format(train=train))
    with pytest.raises(DataError, match=message.format(train=train)):
        read_labelled(tmp_path / "labelled.csv", digits)


def test_folder_data_is_selected_and_labelled_by_path(tmp_path, monkeypatch):
    monkeypatch.setenv("WINNOW_CACHE", str(tmp_path / "cache"))
    root = tmp_path / "pets"
    for class_index, name in enumerate(("cat", "dog")):
        for i in range(4):
            (root / name).mkdir(parents=True, exist_ok=True)
            Image.new("RGB", (4, 4), (60 * class_index, 10 * i, 0)).save(root / name / f"{i}.png")
    dataset = load(f"folder:{root}", test_fraction=0.25)
    first = dataset.train_indices[0]
    (tmp_path / "labelled.csv").write_text(f"path\n{dataset.paths[first]}\n")
    code = main(["select", "--data", f"folder:{root}", "--test-fraction", "0.25", "--strategy", "random", "--budget",
                 "5", "--labelled", str(tmp_path / "labelled.csv"), "--out", str(tmp_path / "run")])
    assert code == 0
    rows = read_csv(tmp_path / "run" / runs.SELECTED_CSV)
    selected = np.load(tmp_path / "run" / runs.SELECTED_NPY)
    assert sorted(selected.tolist()) == sorted(set(dataset.train_indices.tolist()) - {int(first)})
    assert [row["path"] for row in rows] == [dataset.paths[i] for i in selected]
    assert [row["label"] for row in rows] == [dataset.class_names[dataset.labels[i]] for i in selected]


# ---------------------------------------------------------------- from Python


def test_select_run_takes_a_dataset_made_from_arrays(tmp_path, digits):
    """The same margin selection from a Dataset of arrays as from the digits spec: the source is
    only where the images come from."""
    arrays = from_arrays(digits.images.numpy(), digits.labels.numpy(), digits.class_names,
                         test_indices=digits.test_indices)
    finals = [select_run(source, tmp_path / name, strategy="margin", budget=10, labelled="all",
                         recipe_overrides={"epochs": 1})
              for name, source in (("arrays", arrays), ("spec", "digits"))]
    assert np.load(tmp_path / "arrays" / runs.SELECTED_NPY).tolist() == \
        np.load(tmp_path / "spec" / runs.SELECTED_NPY).tolist()
    assert runs.read_json(tmp_path / "arrays" / runs.CONFIG)["data"] == "arrays"
    assert finals[0]["wall_seconds"] >= finals[0]["proxy_train_seconds"] > 0
    with pytest.raises(ValueError, match="apply to a data spec, not to a Dataset"):
        select_run(arrays, tmp_path / "options", strategy="random", budget=5, data_options={"image_size": 8})


@pytest.mark.parametrize("strategy", ["margin", "random"])
def test_a_seed_among_the_recipe_overrides_is_the_one_seed_error(tmp_path, strategy):
    with pytest.raises(ValueError, match=r"the seed is set by --seed, not by --set seed=\.\.\."):
        select_run("digits", tmp_path / "run", strategy=strategy, budget=5, labelled="all",
                   recipe_overrides={"seed": 1})
    assert not (tmp_path / "run").exists()


# ---------------------------------------------------------------- errors and arguments


@pytest.mark.parametrize("args, message", [
    (["--strategy", "nope", "--budget", "5"], "unknown strategy 'nope'; known: "),
    (["--strategy", "random", "--budget", "1298", "--labelled", "LABELLED"],
     "budget 1298 is larger than the pool of 1297 samples"),
    (["--strategy", "random", "--fraction", "1.5"], "fraction must be in (0, 1]"),
    (["--strategy", "margin", "--budget", "5", "--labelled", "LABELLED", "--set", "strategy.sharpness=2"],
     "unknown option(s) sharpness for strategy 'margin'; known: temperature"),
    (["--strategy", "margin", "--budget", "5"], "needs probs from a proxy model"),
    (["--strategy", "self_confidence", "--budget", "5", "--labelled", "LABELLED"], "exists only when the whole train split is labelled"),
    (["--strategy", "random", "--budget", "5", "--class-balanced"], "class balancing needs the classes of the pool"),
    (["--strategy", "random", "--budget", "5", "--labelled", "nope.txt"], "give a .csv or .npy file, or 'all'"),
    (["--strategy", "random", "--budget", "5", "--labelled", "missing.csv"], "labelled set missing.csv does not exist"),
    (["--strategy", "margin", "--budget", "5", "--labelled", "LABELLED", "--model", "nope"], "unknown model 'nope'"),
    (["--strategy", "random", "--budget", "1348", "--labelled", "all"],
     "budget 1348 is larger than the pool of 1347 samples (the train split)"),
])
def test_bad_requests_are_errors_before_anything_is_written(args, message, tmp_path, labelled, capsys):
    args = [str(labelled[0]) if a == "LABELLED" else a for a in args]
    code, out = run_select(tmp_path / "run", *args)
    assert code == 2
    error = capsys.readouterr().err
    assert error.startswith("winnow select: error: ") and message in error
    assert not out.exists()


def test_bad_option_value_from_the_strategy_is_an_error_not_a_traceback(tmp_path, capsys):
    code, _ = run_select(tmp_path / "run", "--strategy", "self_confidence", "--budget", "5", "--labelled", "all",
                         "--epochs", "1", "--set", "strategy.keep=medium")
    assert code == 2
    assert "keep must be 'hard', 'easy', 'coverage' or 'auto', got 'medium'" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()  # found before the proxy was trained


def test_malformed_strategy_setting_is_an_error(capsys):
    assert main(["select", "--strategy", "margin", "--budget", "5", "--set", "strategy.temperature", "--out", "x"]) == 2
    assert "--set expects KEY=VALUE" in capsys.readouterr().err


def test_existing_run_folder_needs_force_and_force_replaces_it(margin_run, tmp_path, capsys):
    _, out = margin_run
    before = {path.name: path.read_bytes() for path in out.iterdir()}
    assert run_select(out, "--strategy", "random", "--budget", "5")[0] == 2
    assert "--force" in capsys.readouterr().err
    assert {path.name: path.read_bytes() for path in out.iterdir()} == before
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    assert run_select(copy, "--strategy", "random", "--budget", "5", "--force")[0] == 0
    assert sorted(p.name for p in copy.iterdir() if p.name not in runs.REPORT_FILES) == sorted(
        [runs.CONFIG, runs.FINAL, *runs.SELECTION_FILES])  # and the report the command writes at its end
    assert np.load(copy / runs.SELECTED_NPY).shape == (5,)


def test_arguments_become_a_select_run_call(monkeypatch, capsys):
    calls = []

    def stub(source, out, on_progress, **arguments):
        calls.append({"source": source, "out": out, **arguments})
        return {"strategy": "margin", "budget": 7, "selected_count": 7, "pool_count": 100, "train_count": 120,
                "labelled_count": 20, "proxy_trained": True, "proxy_train_seconds": 1.5, "scoring_seconds": 0.25,
                "device": "cpu", "selected_class_counts": {"a": 4, "b": 3, "c": 0},
                "selected_predicted_counts": {"a": 3, "b": 4, "c": 0}}

    monkeypatch.setattr(select_experiment, "select_run", stub)
    code = main(["select", "--data", "cifar10:/c", "--strategy", "margin", "--budget", "7", "--labelled", "l.csv",
                 "--class-balanced", "--model", "fastnet_xs", "--preset", "cpu", "--epochs", "4", "--seed", "3",
                 "--device", "cpu", "--set", "lr=0.5", "--set", "strategy.temperature=1.5", "--mc-passes", "9",
                 "--out", "somewhere", "--force"])
    assert code == 0
    assert calls[0].pop("proxy_options") == ProxyOptions(mc_passes=9)
    assert calls == [{
        "source": "cifar10:/c", "out": "somewhere", "strategy": "margin", "budget": 7, "fraction": None,
        "labelled": "l.csv", "class_balanced": True, "options": {"temperature": 1.5}, "seed": 3,
        "model": "fastnet_xs", "preset": "cpu", "recipe_overrides": {"lr": 0.5, "device": "cpu", "epochs": 4.0},
        "weights": None, "data_options": {}, "force": True, "features": None, "feature_options": {},
    }]
    printed = capsys.readouterr().out
    assert "somewhere" in printed and "margin" in printed and "1.50 s" in printed


def test_budget_and_fraction_are_exclusive_and_one_is_required(capsys):
    for sizes in ([], ["--budget", "5", "--fraction", "0.5"]):
        with pytest.raises(SystemExit) as exit:
            main(["select", "--strategy", "random", *sizes, "--out", "x"])
        assert exit.value.code == 2


def test_select_help_lists_every_strategy(capsys):
    from winnow.strategies import list_strategies

    with pytest.raises(SystemExit):
        main(["select", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for name in list_strategies():
        assert name in text
    for option in ("--labelled FILE", "--class-balanced", "--set KEY=VALUE", "--fraction F", "--force"):
        assert option in text
