"""Tests of `winnow clean`: noise injection, folds and ranking methods on constructed arrays with
known answers; then the whole experiment on the embedded digits (1 347 train images, the small
MLP recipe cut to a few epochs) with injected noise: the flags against the injected errors, the
out-of-fold bookkeeping, the files, resumption, and the command line."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest

import winnow.experiments.clean as clean_experiment
import winnow.experiments.engine as engine
from winnow import cleaning, runs
from winnow.cli import main
from winnow.data import from_arrays, load
from winnow.experiments.clean import cell_name, clean_run, summarize
from winnow.stats import paired_difference
from winnow.strategies import label_issues
from winnow.strategies import StrategyInputs, compute_scores, list_strategies, select
from winnow.train import check_no_seed

FAST = {"epochs": 4.0}
CIFAR10 = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
ARGUMENTS = dict(method="confident_learning", folds=3, seeds=[0], inject_noise=0.2, remove="auto",
                 recipe_overrides=FAST)


@pytest.fixture(scope="module")
def digits():
    return load("digits")


# ---------------------------------------------------------------- noise injection


@pytest.mark.parametrize("rate", [0.0, 0.2, 0.37])
def test_symmetric_noise_corrupts_exactly_the_share_asked_and_changes_every_label_it_touches(rate):
    labels = np.random.default_rng(1).integers(0, 7, size=1001)
    original = labels.copy()
    noisy, corrupted = cleaning.inject_noise(labels, rate, "symmetric", [str(c) for c in range(7)], seed=3)
    np.testing.assert_array_equal(labels, original)  # the input is not changed
    assert len(corrupted) == round(rate * 1001) == len(np.unique(corrupted))
    changed = np.flatnonzero(noisy != labels)
    np.testing.assert_array_equal(changed, corrupted)  # every corrupted label differs, nothing else does
    assert noisy.min() >= 0 and noisy.max() < 7


def test_symmetric_noise_draws_the_other_classes_uniformly_and_is_fixed_by_its_seed():
    labels = np.zeros(30000, dtype=np.int64)  # every label 0: the new ones spread over classes 1..4
    noisy, corrupted = cleaning.inject_noise(labels, 0.5, "symmetric", list("abcde"), seed=0)
    counts = np.bincount(noisy[corrupted], minlength=5)
    assert counts[0] == 0
    assert np.all(np.abs(counts[1:] - 15000 / 4) < 5 * np.sqrt(15000 / 4))  # 5 sigma of a binomial
    again, again_corrupted = cleaning.inject_noise(labels, 0.5, "symmetric", list("abcde"), seed=0)
    np.testing.assert_array_equal(again, noisy)
    np.testing.assert_array_equal(again_corrupted, corrupted)
    other, _ = cleaning.inject_noise(labels, 0.5, "symmetric", list("abcde"), seed=1)
    assert (other != noisy).any()


def test_asymmetric_noise_follows_the_cifar10_map_by_class_name():
    names = CIFAR10[::-1]  # the map goes by name, not by position
    labels = np.repeat(np.arange(10), 100)
    noisy, corrupted = cleaning.inject_noise(labels, 0.3, "asymmetric", names, seed=0)
    assert len(corrupted) == 300
    expected = {"truck": "automobile", "bird": "airplane", "deer": "horse", "cat": "dog", "dog": "cat"}
    for position in corrupted:
        assert expected[names[labels[position]]] == names[noisy[position]]
    untouched = [names.index(n) for n in ("airplane", "automobile", "frog", "horse", "ship")]
    assert not np.isin(labels[corrupted], untouched).any()
    with pytest.raises(ValueError, match="needs 600 samples of the classes it flips, but there are 500"):
        cleaning.inject_noise(labels, 0.6, "asymmetric", names, seed=0)


def test_asymmetric_noise_of_other_classes_moves_each_class_to_the_next():
    names = ["a", "b", "c", "d"]
    assert cleaning.asymmetric_map(names) == {0: 1, 1: 2, 2: 3, 3: 0}
    labels = np.repeat(np.arange(4), 50)
    noisy, corrupted = cleaning.inject_noise(labels, 0.5, "asymmetric", names, seed=2)
    assert len(corrupted) == 100
    np.testing.assert_array_equal(noisy[corrupted], (labels[corrupted] + 1) % 4)


@pytest.mark.parametrize("rate, kind, message", [
    (1.0, "symmetric", r"must be in \[0, 1\)"),
    (-0.1, "symmetric", r"must be in \[0, 1\)"),
    (0.1, "pairwise", "unknown noise kind 'pairwise'"),
])
def test_bad_noise_is_refused(rate, kind, message):
    with pytest.raises(ValueError, match=message):
        cleaning.inject_noise(np.zeros(10, dtype=np.int64), rate, kind, ["a", "b"], seed=0)


# ---------------------------------------------------------------- folds and methods


def test_stratified_folds_partition_every_class_evenly():
    labels = np.repeat(np.arange(3), [10, 11, 13])
    fold_of = cleaning.stratified_folds(labels, 4, seed=5)
    assert set(fold_of) == {0, 1, 2, 3}
    sizes = np.bincount(fold_of)
    assert sizes.sum() == len(labels) and sizes.max() - sizes.min() <= 1
    for c in range(3):
        per_class = np.bincount(fold_of[labels == c], minlength=4)
        assert per_class.max() - per_class.min() <= 1
    np.testing.assert_array_equal(cleaning.stratified_folds(labels, 4, seed=5), fold_of)
    with pytest.raises(ValueError, match="--folds 11 is larger than the smallest class"):
        cleaning.stratified_folds(labels, 11, seed=0)
    with pytest.raises(ValueError, match="--folds must be an int >= 2"):
        cleaning.stratified_folds(labels, 1, seed=0)


def test_self_confidence_and_low_max_prob_rank_by_their_own_probability():
    labels = np.array([0, 0, 1, 2])
    probs = np.array([[0.34, 0.33, 0.33],  # unsure of every class: the lowest top probability
                      [0.05, 0.90, 0.05],  # sure of another class: the lowest probability of its label
                      [0.10, 0.80, 0.10],
                      [0.20, 0.10, 0.70]])
    ranked, scores = cleaning.rank_label_issues("self_confidence", labels, probs)
    np.testing.assert_array_equal(ranked, [1, 0, 3, 2])
    np.testing.assert_allclose(scores, [0.34, 0.05, 0.80, 0.70])
    ranked, scores = cleaning.rank_label_issues("low_max_prob", labels, probs)
    np.testing.assert_array_equal(ranked, [0, 3, 2, 1])
    np.testing.assert_allclose(scores, [0.34, 0.90, 0.80, 0.70])


def _planted(n, k, seed=0):
    """Probabilities of a model sure of the true class (0.8, and 0.95 on the mislabelled samples),
    with a tenth of the labels changed: (labels, pred_probs, mislabelled positions)."""
    rng = np.random.default_rng(seed)
    true = np.arange(n) % k
    wrong = rng.choice(n, n // 10, replace=False)
    confidence = np.full(n, 0.8)
    confidence[wrong] = 0.95
    probs = np.repeat(((1 - confidence) / (k - 1))[:, None], k, axis=1)
    probs[np.arange(n), true] = confidence
    probs += rng.uniform(0, 0.01, probs.shape)
    probs /= probs.sum(1, keepdims=True)
    labels = true.copy()
    labels[wrong] = (true[wrong] + rng.integers(1, k, len(wrong))) % k
    return labels, probs, wrong


@pytest.mark.parametrize("n, k", [(300, 3), (1000, 10)])
def test_confident_learning_finds_exactly_the_planted_label_errors(n, k):
    labels, probs, wrong = _planted(n, k)
    ranked, scores = cleaning.rank_label_issues("confident_learning", labels, probs)
    assert sorted(ranked) == list(range(n))  # every sample ranked once
    count = cleaning.auto_flag_count("confident_learning", labels, probs)
    assert count == len(wrong)
    assert set(ranked[:count]) == set(wrong)
    np.testing.assert_allclose(scores, probs[np.arange(n), labels])
    assert np.all(np.diff(scores[ranked[:count]]) >= 0)  # the issues by self-confidence, lowest first
    assert cleaning.auto_flag_count("self_confidence", labels, probs) == len(wrong)


def test_calibration_recovers_the_temperature_that_made_probabilities_too_sharp():
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 1.5, size=(20000, 5))
    true_probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    labels = (rng.random((20000, 1)) > true_probs.cumsum(1)).sum(1)  # each label drawn from softmax(logits)
    sharp = np.exp(2 * logits) / np.exp(2 * logits).sum(1, keepdims=True)  # the same logits, twice too sharp
    calibrated, temperature = cleaning.calibrate_probs(labels, sharp)
    assert temperature == pytest.approx(2.0, rel=0.05)  # log(sharp) / 2 = logits - const
    assert np.abs(calibrated - true_probs).max() < 0.05
    np.testing.assert_allclose(calibrated.sum(1), 1.0)
    np.testing.assert_array_equal(calibrated.argmax(1), sharp.argmax(1))  # each sample's classes keep their order
    again, one = cleaning.calibrate_probs(labels, true_probs)  # already calibrated: T stays near 1
    assert one == pytest.approx(1.0, rel=0.05) and np.abs(again - true_probs).max() < 0.02


def test_unknown_filter_is_named():
    with pytest.raises(ValueError, match="unknown --filter-by 'magic'; choose one of cleanlab's low_self_confidence"):
        cleaning.rank_label_issues("confident_learning", np.zeros(2, dtype=int), np.full((2, 2), 0.5), "magic")


def test_flag_quality_by_hand():
    quality = cleaning.flag_quality([1, 2, 3, 4], [3, 4, 5, 6, 7, 8])
    assert quality["true_positives"] == 2
    assert quality["precision"] == pytest.approx(2 / 4) and quality["recall"] == pytest.approx(2 / 6)
    assert quality["f1"] == pytest.approx(2 * 0.5 * (1 / 3) / (0.5 + 1 / 3))
    assert cleaning.flag_quality([1], [2])["f1"] == 0.0
    assert np.isnan(cleaning.flag_quality([], [2])["precision"])


def test_the_label_issue_strategies_put_a_label_of_probability_001_first():
    labels = np.arange(30) % 3
    probs = np.full((30, 3), 0.05)
    probs[np.arange(30), labels] = 0.9  # every label confidently right ...
    probs[7] = [0.98, 0.01, 0.01]  # ... but sample 7's: class 1 has probability 0.01
    inputs = StrategyInputs(probs=probs, labels=labels)
    assert list_strategies("label_issue_*") == sorted(cleaning.METHODS.values())
    for name in ("label_issue_self_confidence", "label_issue_confident_learning"):
        assert select(name, inputs, 1).tolist() == [7]
    probs[12] = [0.4, 0.3, 0.3]  # the flattest row: low_max_prob's first; it ignores the label, so 7 comes last
    ranked = select("label_issue_low_max_prob", StrategyInputs(probs=probs, labels=labels), 30)
    assert ranked[0] == 12 and ranked[-1] == 7


@pytest.mark.parametrize("method", list(cleaning.METHODS))
def test_rank_label_issues_is_the_registry_order_of_the_methods_strategy(method):
    labels, probs, _ = _planted(300, 3, seed=1)
    ranked, _ = cleaning.rank_label_issues(method, labels, probs)
    inputs = StrategyInputs(probs=probs, labels=labels)
    chosen = select(cleaning.METHODS[method], inputs, 300)
    if method == "noise_posterior":  # classes nothing is mistaken for tie at P(correct) = 1: the same scores in order
        scores = compute_scores(cleaning.METHODS[method], inputs)
        np.testing.assert_array_equal(scores[ranked], scores[chosen])
        assert len(np.unique(scores)) > 10
    else:
        np.testing.assert_array_equal(ranked, chosen)  # no equal scores here, so no tie-break differs


def test_unknown_method_is_named():
    with pytest.raises(ValueError, match="unknown --method 'magic'; choose one of confident_learning"):
        cleaning.rank_label_issues("magic", np.zeros(2, dtype=int), np.full((2, 2), 0.5))


def _class_map_noise(n_per_class=300, seed=0):
    """Four classes; 30 % of class 0's labels flipped to 1. Probabilities of a model that learnt
    the flip (a true 0 gets P(given 1) = 0.3) and finds class 2 hard (0.28 on its own label,
    the rest spread): (labels, probs, flipped positions)."""
    rng = np.random.default_rng(seed)
    true = np.repeat(np.arange(4), n_per_class)
    probs = np.zeros((len(true), 4))
    probs[true == 0] = [0.68, 0.3, 0.01, 0.01]
    probs[true == 1] = [0.05, 0.93, 0.01, 0.01]
    probs[true == 2] = [0.24, 0.24, 0.28, 0.24]
    probs[true == 3] = [0.01, 0.01, 0.01, 0.97]
    probs[np.flatnonzero(true == 3)[:5]] = [0.01, 0.01, 0.6, 0.38]  # five 3s that look like 2s: labelled right
    probs += rng.uniform(0, 0.04, probs.shape)
    probs /= probs.sum(1, keepdims=True)
    labels = true.copy()
    flipped = rng.choice(np.flatnonzero(true == 0), int(0.3 * n_per_class), replace=False)
    labels[flipped] = 1
    return labels, probs, np.sort(flipped)


def test_the_noise_posterior_finds_class_to_class_flips_that_self_confidence_mixes_with_hard_images():
    labels, probs, flipped = _class_map_noise()
    noise = cleaning.estimate_noise(labels, probs)
    assert noise.concentration == 1.0  # the two off-diagonal cells: 0 labelled 1, and the five 2-like 3s
    assert noise.joint[3, 2] > 0  # the confident joint counts the five as 2s labelled 3 ...
    assert noise.flips.sum() == 1 and noise.flips[1, 0]  # ... but a cell that small is confusion, not a flip
    off = noise.transition - np.diag(np.diag(noise.transition))
    assert off[0, 1] > 0.1 and off.sum() == off[0, 1]  # P(given 1 | true 0), and no other flip
    np.testing.assert_allclose(noise.transition.sum(1), 1.0)
    by_posterior = cleaning.rank_label_issues("noise_posterior", labels, probs)[0][:len(flipped)]
    by_confidence = cleaning.rank_label_issues("self_confidence", labels, probs)[0][:len(flipped)]
    assert set(by_posterior) == set(flipped)
    assert cleaning.flag_quality(by_confidence, flipped)["precision"] < 0.2  # the hard class 2 comes first
    assert cleaning.choose_method(labels, probs)[0] == "noise_posterior"
    flags = cleaning.flag_label_issues(labels, probs, "auto")
    assert flags.method == "noise_posterior" and len(flags.positions) == round(flags.noise.flip_rate * len(labels))
    assert set(flags.positions) <= set(flipped)  # as many as the estimated flip mass, every one a flipped label
    pairs = cleaning.confused_pairs(flags.noise, ["a", "b", "c", "d"], top=1)
    assert [(p["true"], p["given"]) for p in pairs] == [("a", "b")]


def test_the_noise_posterior_by_hand_for_a_two_class_flip():
    transition = np.array([[0.8, 0.2], [0.0, 1.0]])  # true 0 labelled 1 a fifth of the time; 1 never moves
    probs = np.array([[0.8, 0.2], [0.5, 0.5], [0.2, 0.8]])  # noisy posteriors q
    labels = np.array([1, 1, 0])
    # p = q T^-1 = (q0 / 0.8, q1 - q0 / 4): [1, 0], [0.625, 0.375], [0.25, 0.75];
    # P(correct | given 1) = p1 / (0.2 p0 + p1), and a given 0 is always right (nothing is mistaken for 0)
    correct = label_issues.noise_posterior_of(probs, labels, transition)
    np.testing.assert_allclose(correct, [0.0, 0.375 / (0.2 * 0.625 + 0.375), 1.0])


def test_auto_keeps_confident_learning_when_the_noise_is_spread_over_every_pair():
    labels, probs, wrong = _planted(1000, 10)
    method, noise = cleaning.choose_method(labels, probs)
    assert method == "confident_learning" and noise.concentration < cleaning.CONCENTRATED
    assert noise.rate == pytest.approx(0.1, abs=0.02)
    auto = cleaning.flag_label_issues(labels, probs, "auto")
    plain = cleaning.flag_label_issues(labels, probs, "confident_learning")
    np.testing.assert_array_equal(auto.positions, plain.positions)


# ---------------------------------------------------------------- the experiment on the digits


@pytest.fixture(scope="module")
def cleaned(tmp_path_factory, one_thread):
    """20 % symmetric noise, confident learning, 3 folds, seed 0, retrained: (results, folder, records)."""
    out = tmp_path_factory.mktemp("clean") / "run"
    finished = []
    results = clean_run("digits", out, on_cell=finished.append, **ARGUMENTS)
    return results, out, finished


def test_every_fold_trains_on_the_other_folds_and_predicts_its_own(tmp_path, digits, monkeypatch, one_thread):
    trained, predicted = [], []
    original_fit, original_predict = engine.fit, engine.predict

    def fit(model, dataset, indices, recipe, **kwargs):
        trained.append(np.asarray(indices).copy())
        return original_fit(model, dataset, indices, recipe, **kwargs)

    def predict(model, dataset, indices, recipe, **kwargs):
        predicted.append((len(trained), np.asarray(indices).copy()))
        return original_predict(model, dataset, indices, recipe, **kwargs)

    monkeypatch.setattr(engine, "fit", fit)
    monkeypatch.setattr(engine, "predict", predict)
    clean_run("digits", tmp_path / "run", method="self_confidence", folds=4, seeds=[3],
              recipe_overrides={"epochs": 1.0})
    train = digits.train_indices
    assert len(trained) == len(predicted) == 4  # no --remove: the fold models only
    for fold, ((fits_before, held_out), trained_on) in enumerate(zip(predicted, trained)):
        assert fits_before == fold + 1  # predicted by the model of this fold, trained just before
        assert len(np.intersect1d(held_out, trained_on)) == 0  # which never saw those samples
        np.testing.assert_array_equal(np.sort(np.concatenate([held_out, trained_on])), train)
    every = np.concatenate([held_out for _, held_out in predicted])
    np.testing.assert_array_equal(np.sort(every), train)  # each training sample predicted exactly once
    for fold, (_, held_out) in enumerate(predicted):
        assert cell_name("fold", 3, fold=fold) == f"cv-s3-k{fold}"  # the names of a run folder stay as they were
        np.testing.assert_array_equal(np.load(tmp_path / "run" / "cells" / f"cv-s3-k{fold}-held_out.npy"), held_out)
        assert np.load(tmp_path / "run" / "cells" / f"cv-s3-k{fold}.npy").shape == (len(held_out), 10)


def _out_of_fold(out, digits, seed, folds):
    """The out-of-fold probabilities in train-split order, put together from the fold cells."""
    position = {int(i): p for p, i in enumerate(digits.train_indices)}
    probs = np.full((len(digits.train_indices), 10), np.nan)
    for fold in range(folds):
        held_out = np.load(out / "cells" / f"cv-s{seed}-k{fold}-held_out.npy")
        probs[[position[int(i)] for i in held_out]] = np.load(out / "cells" / f"cv-s{seed}-k{fold}.npy")
    return probs


def test_the_flags_find_the_injected_errors(cleaned, digits):
    results, out, finished = cleaned
    train = digits.train_indices
    noisy, positions = cleaning.inject_noise(digits.labels.numpy()[train], 0.2, "symmetric", digits.class_names, 0)
    corrupted = train[positions]
    flags = [c for c in finished if c["cell"] == "flags"]
    assert len(flags) == 1 and flags[0]["corrupted"] == round(0.2 * len(train)) == len(corrupted)
    flagged = np.load(out / "cells" / "flags-confident_learning-low_self_confidence-auto-s0.npy")
    hits = np.isin(flagged, corrupted).sum()
    assert flags[0]["precision"] == pytest.approx(hits / len(flagged)) and flags[0]["precision"] > 0.5  # chance: 0.2
    assert flags[0]["recall"] == pytest.approx(hits / len(corrupted)) and flags[0]["recall"] > 0.5
    probs = _out_of_fold(out, digits, 0, 3)
    assert not np.isnan(probs).any()
    np.testing.assert_allclose(clean_experiment.read_out_of_fold(out, 0, train, 10), probs, rtol=1e-6)
    calibrated, temperature = cleaning.calibrate_probs(noisy, probs)  # by default the flags use calibrated probs
    assert flags[0]["temperature"] == pytest.approx(temperature)
    expected = cleaning.confident_learning_issues(noisy, calibrated, "low_self_confidence")
    np.testing.assert_array_equal(flagged, train[expected])
    quality = runs.read_json(out / "flag_quality.json")
    assert quality["precision"]["mean"] == flags[0]["precision"] and quality["recall"]["n"] == 1
    assert quality["per_seed"][0]["f1"] == flags[0]["f1"]


def test_flags_csv_lists_the_flags_with_given_and_suggested_labels(cleaned, digits):
    _, out, _ = cleaned
    rows = list(csv.DictReader(io.StringIO((out / "flags.csv").read_text())))
    assert list(rows[0]) == ["rank", "index", "given_label", "suggested_label", "score", "injected", "original_label"]
    flagged = np.load(out / "flags.npy")
    assert [int(r["index"]) for r in rows] == flagged.tolist()
    assert [int(r["rank"]) for r in rows] == list(range(len(rows)))
    train = digits.train_indices
    noisy, positions = cleaning.inject_noise(digits.labels.numpy()[train], 0.2, "symmetric", digits.class_names, 0)
    position = {int(i): p for p, i in enumerate(train)}
    corrupted = set(positions.tolist())
    # one seed: the run's flags come from its probabilities, calibrated to the given labels
    probs = cleaning.calibrate_probs(noisy, _out_of_fold(out, digits, 0, 3))[0]
    for row in rows:
        p = position[int(row["index"])]
        assert row["given_label"] == digits.class_names[noisy[p]]
        assert row["suggested_label"] == digits.class_names[probs[p].argmax()]
        assert float(row["score"]) == pytest.approx(probs[p, noisy[p]], rel=1e-6)
        assert row["original_label"] == digits.class_names[digits.labels[int(row["index"])]]
        assert row["injected"] == ("true" if p in corrupted else "false")
    from PIL import Image

    with Image.open(out / "flagged.png") as sheet:
        assert sheet.width > 0 and sheet.height > 0


def test_trainings_and_their_differences_come_from_the_cells(cleaned, digits):
    results, out, finished = cleaned
    trainings = {c["cell"]: c for c in finished if c["cell"] in ("noisy", "cleaned", "true")}
    assert set(trainings) == {"noisy", "cleaned", "true"}
    flagged = np.load(out / "flags.npy")
    assert trainings["cleaned"]["kept"] == len(digits.train_indices) - len(flagged)
    np.testing.assert_array_equal(np.load(out / "cells" / "cleaned-confident_learning-low_self_confidence-auto-s0.npy"),
                                  np.setdiff1d(digits.train_indices, flagged))
    for record in trainings.values():
        assert 0.5 < record["test_accuracy"] <= 1  # 4 epochs on the digits learn something
    rows = {r["labels"]: r for r in results["rows"]}
    expected = paired_difference([trainings["cleaned"]["test_accuracy"]], [trainings["noisy"]["test_accuracy"]])
    assert rows["cleaned"]["vs_noisy"] == pytest.approx(expected.to_dict(), nan_ok=True)
    assert rows["true"]["test_accuracy"]["mean"] == trainings["true"]["test_accuracy"]
    written = {k: v for k, v in runs.read_json(out / "results.json").items()
               if k not in ("tables", "csv_table", "timing", "cells_run")}  # what Run.finish adds
    assert json.dumps(summarize(out)) == json.dumps(written)  # NaN == NaN here
    table = list(csv.DictReader(io.StringIO((out / "results.csv").read_text())))
    assert [r["row"] for r in table] == ["noisy", "cleaned", "true", "flags"]
    assert float(table[1]["vs_noisy_mean"]) == pytest.approx(expected.mean)
    assert f"| cleaned | {trainings['cleaned']['kept']} | {100 * trainings['cleaned']['test_accuracy']:.2f} | 1 |" \
        in (out / "results.md").read_text()  # one seed: the accuracy alone


def test_a_repeated_command_trains_nothing_again(cleaned, monkeypatch):
    results, out, _ = cleaned
    before = {p.name: p.stat().st_mtime_ns for p in (out / "cells").iterdir()}
    fits, finished = [], []
    monkeypatch.setattr(engine, "fit", lambda *a, **k: fits.append(1))
    again = clean_run("digits", out, on_cell=finished.append, **ARGUMENTS)
    assert fits == [] and finished == [] and again["cells_run"] == 0
    assert _without_timing(again) == _without_timing(results)
    assert {p.name: p.stat().st_mtime_ns for p in (out / "cells").iterdir()} == before


def _without_timing(results: dict) -> str:
    return json.dumps({k: v for k, v in results.items() if k not in ("timing", "cells_run")})


def _numbers(rows: list[dict]) -> str:
    """The rows without their times, as JSON (so that NaN equals NaN)."""
    return json.dumps([{k: v for k, v in row.items() if k != "train_seconds"} for row in rows])


def test_an_interrupted_run_resumes_to_the_same_numbers(cleaned, tmp_path, one_thread):
    results, reference, _ = cleaned
    out, finished = tmp_path / "run", []

    def stop_after_two(record):
        finished.append(record)
        if len(finished) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        clean_run("digits", out, on_cell=stop_after_two, **ARGUMENTS)
    assert [(c["cell"], c.get("fold")) for c in finished] == [("fold", 0), ("fold", 1)]
    rest = []
    resumed = clean_run("digits", out, on_cell=rest.append, **ARGUMENTS)
    assert [c["cell"] for c in rest] == ["fold", "flags", "noisy", "true", "cleaned"]
    assert _numbers(resumed["rows"]) == _numbers(results["rows"])
    assert json.dumps(resumed["flags"]) == json.dumps(results["flags"])
    np.testing.assert_array_equal(np.load(out / "flags.npy"), np.load(reference / "flags.npy"))


def _copy_of_run(reference, out):
    """A copy of the run folder `reference` (its config and cells) in `out`."""
    for path in [reference / "config.json", *(reference / "cells").iterdir()]:
        target = out / path.relative_to(reference)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(path.read_bytes())
    return out


def test_another_method_reuses_the_folds_and_the_trainings_it_does_not_change(cleaned, tmp_path):
    out = _copy_of_run(cleaned[1], tmp_path / "copy")
    finished = []
    results = clean_run("digits", out, on_cell=finished.append, **{**ARGUMENTS, "method": "low_max_prob",
                                                                    "remove": 50})
    assert [c["cell"] for c in finished] == ["flags", "cleaned"]
    assert finished[0]["flagged"] == 50
    flagged = np.load(out / "cells" / "flags-low_max_prob-k50-s0.npy")
    dataset = load("digits")
    train = dataset.train_indices
    probs = _out_of_fold(out, dataset, 0, 3)
    noisy = cleaning.inject_noise(dataset.labels.numpy()[train], 0.2, "symmetric", dataset.class_names, 0)[0]
    expected = train[np.argsort(cleaning.calibrate_probs(noisy, probs)[0].max(1), kind="stable")[:50]]
    np.testing.assert_array_equal(flagged, expected)
    assert [r["kept"] for r in results["rows"]] == [len(train), len(train) - 50, len(train)]


def test_method_auto_records_its_choice_and_keeps_confident_learning_under_symmetric_noise(cleaned, tmp_path):
    out = _copy_of_run(cleaned[1], tmp_path / "copy")
    finished = []
    results = clean_run("digits", out, on_cell=finished.append, **{**ARGUMENTS, "method": "auto", "remove": None})
    assert [c["cell"] for c in finished] == ["flags"]  # the folds are reused
    dataset = load("digits")
    train = dataset.train_indices
    noisy = cleaning.inject_noise(dataset.labels.numpy()[train], 0.2, "symmetric", dataset.class_names, 0)[0]
    calibrated = cleaning.calibrate_probs(noisy, _out_of_fold(out, dataset, 0, 3))[0]
    chosen, noise = cleaning.choose_method(noisy, calibrated)
    record = finished[0]
    assert record["chosen"] == chosen == "confident_learning"  # 20 % symmetric noise is spread over every pair
    assert record["noise_concentration"] == pytest.approx(noise.concentration)
    assert record["noise_rate"] == pytest.approx(noise.rate)
    assert record["confused"] == cleaning.confused_pairs(noise, dataset.class_names)
    np.testing.assert_array_equal(np.load(out / "cells" / "flags-auto-low_self_confidence-auto-s0.npy"),
                                  np.load(out / "cells" / "flags-confident_learning-low_self_confidence-auto-s0.npy"))
    flag_table = results["tables"][0]
    assert flag_table["rows"][0]["chosen"] == "confident_learning"


def test_another_filter_raw_probabilities_and_scaled_epochs_reuse_the_folds(cleaned, tmp_path):
    out = _copy_of_run(cleaned[1], tmp_path / "copy")
    finished = []
    results = clean_run("digits", out, on_cell=finished.append, filter_by="prune_by_noise_rate", calibrate=False,
                        scale_epochs=True, **ARGUMENTS)
    assert [c["cell"] for c in finished] == ["flags", "cleaned"]  # the folds, noisy and true are reused
    dataset = load("digits")
    train = dataset.train_indices
    noisy = cleaning.inject_noise(dataset.labels.numpy()[train], 0.2, "symmetric", dataset.class_names, 0)[0]
    raw = _out_of_fold(out, dataset, 0, 3)
    flagged = np.load(out / "cells" / "flags-confident_learning-prune_by_noise_rate-auto-raw-s0.npy")
    np.testing.assert_array_equal(flagged, train[cleaning.confident_learning_issues(noisy, raw, "prune_by_noise_rate")])
    assert finished[0]["temperature"] is None
    cleaned_cell = runs.read_json(
        out / "cells" / "cleaned-confident_learning-prune_by_noise_rate-auto-raw-same-steps-s0.json")
    kept = len(train) - len(flagged)
    assert cleaned_cell["kept"] == kept and cleaned_cell["epochs"] == pytest.approx(FAST["epochs"] * len(train) / kept)
    rows = {r["labels"]: r for r in results["rows"]}
    assert rows["cleaned"]["per_seed"] == [cleaned_cell["test_accuracy"]]  # the summary reads this run's cells
    assert results["config"]["filter_by"] == "prune_by_noise_rate" and results["config"]["scale_epochs"] is True


@pytest.mark.parametrize("arguments, message", [
    (dict(method="magic"), "unknown --method 'magic'"),
    (dict(filter_by="magic"), "unknown --filter-by 'magic'"),
    (dict(folds=1), "--folds must be an int >= 2"),
    (dict(folds=500), "--folds 500 is larger than the smallest class"),
    (dict(inject_noise=1.0), r"--inject-noise must be a rate in \[0, 1\)"),
    (dict(inject_noise=-0.2), r"--inject-noise must be a rate in \[0, 1\)"),
    (dict(remove=5000), "--remove 5000 is not smaller than the train split"),
    (dict(remove=0), "--remove must be 'auto' or an int >= 1"),
    (dict(inject_noise=None, noise_kind="asymmetric"), "apply only with --inject-noise"),
    (dict(seeds=[]), "--seeds"),
])
def test_bad_arguments_are_named_before_anything_is_written(tmp_path, arguments, message):
    with pytest.raises(ValueError, match=message):
        clean_run("digits", tmp_path / "run", **{**ARGUMENTS, **arguments})
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("overrides", [dict(recipe_overrides={"seed": 1}), dict(cv_overrides={"seed": 1})])
def test_a_seed_in_either_recipe_is_the_one_seed_error(tmp_path, overrides):
    with pytest.raises(ValueError) as expected:
        check_no_seed({"seed": 1}, "--seeds")
    with pytest.raises(ValueError) as error:
        clean_run("digits", tmp_path / "run", **{**ARGUMENTS, **overrides})
    assert str(error.value) == str(expected.value)
    assert not (tmp_path / "run").exists()


def test_a_dataset_from_arrays_is_cleaned_as_a_spec_is(tmp_path, digits, one_thread):
    dataset = from_arrays(digits.images.numpy(), digits.labels.numpy(), digits.class_names,
                          test_indices=digits.test_indices)
    finished = []
    results = clean_run(dataset, tmp_path / "run", method="self_confidence", folds=2, seeds=[0], inject_noise=0.1,
                        recipe_overrides={"epochs": 1.0}, on_cell=finished.append)
    assert [c["cell"] for c in finished] == ["fold", "fold", "flags"] and results["rows"] == []
    assert runs.read_json(tmp_path / "run" / "config.json")["data"] == "arrays"
    flagged = np.load(tmp_path / "run" / "flags.npy")
    assert results["flags"]["flagged"]["mean"] == len(flagged) > 0
    with pytest.raises(ValueError, match="data options"):
        clean_run(dataset, tmp_path / "other", data_options={"test_fraction": 0.2})


# ---------------------------------------------------------------- the command line


def test_the_command_line_runs_clean_end_to_end(tmp_path, capsys, one_thread):
    out = tmp_path / "run"
    code = main(["clean", "--data", "digits", "--method", "self_confidence", "--folds", "2", "--seeds", "1",
                 "--inject-noise", "0.1", "--noise-kind", "asymmetric", "--noise-seed", "4", "--remove", "auto",
                 "--epochs", "2", "--set", "cv.epochs=3", "--filter-by", "both", "--raw-probs", "--scale-epochs",
                 "--out", str(out)])
    printed = capsys.readouterr().out
    assert code == 0
    config = runs.read_json(out / "config.json")
    assert config["noise"] == {"rate": 0.1, "kind": "asymmetric", "seed": 4} and config["seeds"] == [0]
    assert config["recipe"]["epochs"] == 2 and config["cv_recipe"]["epochs"] == 3 and config["remove"] == "auto"
    assert config["filter_by"] == "both" and config["calibrate"] is False and config["scale_epochs"] is True
    assert "seed 0 || fold 2/2" in printed and "Training after cleaning" in printed and "cleaned" in printed
    assert "|| self_confidence || estimated noise" in printed  # the flags' line: the method and the noise estimate
    for name in ("flags.csv", "flags.npy", "flagged.png", "flag_quality.json", "results.md", "results.csv"):
        assert (out / name).is_file()
    quality = runs.read_json(out / "flag_quality.json")
    assert 0 <= quality["precision"]["mean"] <= 1 and 0 <= quality["recall"]["mean"] <= 1


def test_command_line_errors_are_messages_not_tracebacks(tmp_path, capsys):
    code = main(["clean", "--folds", "1", "--out", str(tmp_path / "x")])
    assert code == 2 and "winnow clean: error: --folds must be an int >= 2, got 1" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["clean", "--remove", "some", "--out", str(tmp_path / "x")])
    assert "expected auto or a count >= 1, got 'some'" in capsys.readouterr().err
    code = main(["clean", "--noise-kind", "asymmetric", "--out", str(tmp_path / "x")])
    assert code == 2 and "apply only with --inject-noise" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_shorter_fold_models_keep_the_share_of_the_resize_schedule():
    from winnow.train import get_preset

    spec = engine.TrainingSpec("fastnet_s", "cpu", get_preset("cpu"))  # 6.3 epochs: 2 at 16 px, 3 at 24 px, ...
    cv = spec.override({"epochs": 3.15, "lr": 0.5}).recipe  # what clean_run makes of cv_overrides
    assert cv.epochs == 3.15 and cv.lr == 0.5 and cv.resize_stages() == [(16, 1.0), (24, 1.5)]
    assert spec.override({"epochs": 3.0, "resize_schedule": ""}).recipe.resize_stages() == []
    assert spec.override(None) == spec


def test_folder_data_gets_paths_in_flags_csv_and_stays_untouched(tmp_path, monkeypatch, one_thread):
    from PIL import Image

    monkeypatch.setenv("WINNOW_CACHE", str(tmp_path / "cache"))
    root, rng = tmp_path / "photos", np.random.default_rng(0)
    for label, name in enumerate(("bottom", "left", "right")):
        (root / name).mkdir(parents=True)
        for i in range(24):
            image = rng.integers(0, 60, size=(16, 16, 3)).astype(np.uint8)
            image[[np.s_[8:, :], np.s_[:8, :8], np.s_[:8, 8:]][label]] += 180
            Image.fromarray(image).save(root / name / f"{i:02d}.png")
    before = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    out = tmp_path / "run"
    clean_run(f"folder:{root}", out, method="self_confidence", folds=2, seeds=[0], inject_noise=0.1,
              data_options={"test_fraction": 0.25}, preset="small", model="mlp", recipe_overrides={"epochs": 3.0})
    assert {p: p.read_bytes() for p in root.rglob("*") if p.is_file()} == before
    dataset = load(f"folder:{root}", test_fraction=0.25)
    rows = list(csv.DictReader(io.StringIO((out / "flags.csv").read_text())))
    assert rows and list(rows[0])[:3] == ["rank", "index", "path"]
    for row in rows:
        assert row["path"] == dataset.paths[int(row["index"])]
        assert row["original_label"] == row["path"].split("/")[-2]
