"""Calibration metrics against hand-computed values, temperature scaling, and the calibrate commands."""

from __future__ import annotations

import hashlib
import shutil

import numpy as np
import pytest
from PIL import Image

import winnow.strategies
from winnow import calibration, runs
from winnow.calibration import (apply_temperature, brier_score, calibration_summary, expected_calibration_error,
                                fit_temperature, maximum_calibration_error, negative_log_likelihood,
                                reliability_diagram, softmax, temperature_scaling_report)
from winnow.cli import main
from winnow.experiments.calibrate import calibrate_run

# Five samples, three classes. Top-1 confidence, and whether the top class is the label:
#   0: 0.90 right   1: 0.85 wrong (label 1)   2: 0.50 right   3: 0.45 wrong (label 2)   4: 0.70 right
LABELS = np.array([0, 1, 0, 2, 0])
PROBS = np.array([[0.90, 0.05, 0.05],
                  [0.85, 0.10, 0.05],
                  [0.50, 0.30, 0.20],
                  [0.30, 0.45, 0.25],
                  [0.70, 0.20, 0.10]])


# ---------------------------------------------------------------- metrics by hand


def test_ece_and_mce_with_five_bins():
    # Bins (0, .2], (.2, .4], (.4, .6], (.6, .8], (.8, 1]:
    #   (.4, .6]: .50 right, .45 wrong -> confidence .475, accuracy .5, gap .025, 2 samples
    #   (.6, .8]: .70 right            -> confidence .70,  accuracy 1,  gap .30,  1 sample
    #   (.8, 1]:  .90 right, .85 wrong -> confidence .875, accuracy .5, gap .375, 2 samples
    # ECE = (2 * .025 + 1 * .30 + 2 * .375) / 5 = 1.1 / 5 = .22;  MCE = .375
    assert expected_calibration_error(LABELS, PROBS, bins=5) == pytest.approx(0.22, abs=1e-12)
    assert maximum_calibration_error(LABELS, PROBS, bins=5) == pytest.approx(0.375, abs=1e-12)


def test_one_bin_compares_mean_confidence_with_accuracy():
    # mean confidence (.9 + .85 + .5 + .45 + .7) / 5 = 3.4 / 5 = .68; accuracy 3 / 5 = .6; gap .08
    assert expected_calibration_error(LABELS, PROBS, bins=1) == pytest.approx(0.08, abs=1e-12)
    assert maximum_calibration_error(LABELS, PROBS, bins=1) == pytest.approx(0.08, abs=1e-12)


def test_a_confidence_on_an_edge_belongs_to_the_lower_bin():
    # Two bins (0, .5], (.5, 1]; the .5 goes to the first:
    #   (0, .5]: .50 right, .45 wrong      -> confidence .475, accuracy 1/2, gap .025
    #   (.5, 1]: .90, .85 wrong, .70       -> confidence 2.45/3, accuracy 2/3, gap (2.45 - 2) / 3 = .15
    # ECE = (2 * .025 + 3 * .15) / 5 = .1;  MCE = .15 (with .5 in the upper bin it would be .45)
    assert expected_calibration_error(LABELS, PROBS, bins=2) == pytest.approx(0.1, abs=1e-12)
    assert maximum_calibration_error(LABELS, PROBS, bins=2) == pytest.approx(0.15, abs=1e-12)


def test_default_is_fifteen_bins():
    # With 15 bins of width 1/15: .45 in (6/15, 7/15], .5 in (7/15, 8/15], .7 in (10/15, 11/15],
    # .85 in (12/15, 13/15], .9 in (13/15, 14/15]: one sample per bin, so
    # ECE = (|1 - .9| + |0 - .85| + |1 - .5| + |0 - .45| + |1 - .7|) / 5 = (.1 + .85 + .5 + .45 + .3) / 5 = .44
    assert expected_calibration_error(LABELS, PROBS) == pytest.approx(0.44, abs=1e-12)
    assert expected_calibration_error(LABELS, PROBS, bins=15) == expected_calibration_error(LABELS, PROBS)
    assert maximum_calibration_error(LABELS, PROBS) == pytest.approx(0.85, abs=1e-12)


def test_negative_log_likelihood_by_hand():
    # probabilities of the labels: .9, .1, .5, .25, .7
    # NLL = -(ln .9 + ln .1 + ln .5 + ln .25 + ln .7) / 5 = -ln(.007875) / 5 = 0.968812...
    assert negative_log_likelihood(LABELS, PROBS) == pytest.approx(-np.log(0.9 * 0.1 * 0.5 * 0.25 * 0.7) / 5,
                                                                   rel=1e-12)
    assert negative_log_likelihood(LABELS, PROBS) == pytest.approx(0.9688124188540881, rel=1e-12)


def test_brier_score_by_hand():
    # sum over classes of (p - onehot)^2, per sample:
    #   0: .1^2 + .05^2 + .05^2          = .015
    #   1: .85^2 + .9^2 + .05^2          = 1.535
    #   2: .5^2 + .3^2 + .2^2            = .38
    #   3: .3^2 + .45^2 + .75^2          = .855
    #   4: .3^2 + .2^2 + .1^2            = .14
    # mean = 2.925 / 5 = .585
    assert brier_score(LABELS, PROBS) == pytest.approx(0.585, abs=1e-12)


def test_reliability_diagram_by_hand():
    diagram = reliability_diagram(LABELS, PROBS, bins=5)
    np.testing.assert_allclose(diagram["edges"], [0, 0.2, 0.4, 0.6, 0.8, 1.0])
    assert diagram["counts"] == [0, 0, 2, 1, 2]
    assert diagram["confidence"][:2] == [None, None] and diagram["accuracy"][:2] == [None, None]
    np.testing.assert_allclose(diagram["confidence"][2:], [0.475, 0.7, 0.875])
    np.testing.assert_allclose(diagram["accuracy"][2:], [0.5, 1.0, 0.5])


def test_perfectly_calibrated_predictions_have_no_error():
    # 4 samples at confidence .75 with 3 right, 10 at .9 with 9 right: accuracy = confidence in each bin.
    probs = np.array([[0.75, 0.25]] * 4 + [[0.1, 0.9]] * 10)
    labels = np.array([0, 0, 0, 1] + [1] * 9 + [0])
    for bins in (1, 4, 15, 100):
        assert expected_calibration_error(labels, probs, bins) == pytest.approx(0.0, abs=1e-12)
        assert maximum_calibration_error(labels, probs, bins) == pytest.approx(0.0, abs=1e-12)


def test_certain_right_predictions_score_zero():
    labels = np.array([2, 0, 1])
    probs = np.eye(3)[labels]
    assert expected_calibration_error(labels, probs) == 0.0
    assert negative_log_likelihood(labels, probs) == 0.0
    assert brier_score(labels, probs) == 0.0
    # certain and wrong: Brier 1^2 + 1^2 = 2 per sample, NLL -ln(tiny) = 708.4, finite
    wrong = np.eye(3)[(labels + 1) % 3]
    assert brier_score(labels, wrong) == 2.0
    assert negative_log_likelihood(labels, wrong) == pytest.approx(-np.log(np.finfo(np.float64).tiny))


def test_summary_gathers_every_metric():
    summary = calibration_summary(LABELS, PROBS, bins=5)
    assert summary["count"] == 5 and summary["bins"] == 5
    assert summary["accuracy"] == pytest.approx(0.6)
    assert summary["ece"] == pytest.approx(0.22) and summary["mce"] == pytest.approx(0.375)
    assert summary["nll"] == pytest.approx(0.9688124188540881) and summary["brier"] == pytest.approx(0.585)
    assert summary["reliability"] == reliability_diagram(LABELS, PROBS, bins=5)


@pytest.mark.parametrize("function", [expected_calibration_error, maximum_calibration_error, negative_log_likelihood,
                                      brier_score, reliability_diagram, calibration_summary])
@pytest.mark.parametrize("labels, probs, message", [
    (LABELS[:4], PROBS, r"labels must be \(5,\) integers"),
    (LABELS.astype(float), PROBS, r"labels must be \(5,\) integers"),
    (np.array([0, 3, 0, 2, 0]), PROBS, r"labels\[1\] = 3 is outside \[0, 3\)"),
    (np.array([0, -1, 0, 2, 0]), PROBS, r"labels\[1\] = -1"),
    (np.array([0, 1, 0, 1, 0]), PROBS[:, :2], r"probs rows must sum to 1: row 0 sums to 0.95"),
    (LABELS, PROBS[0], r"probs must have shape \(N, K\)"),
    (LABELS, -PROBS, r"probs must be finite and in \[0, 1\]"),
    (LABELS, np.where(PROBS == 0.9, np.nan, PROBS), r"probs must be finite"),
])
def test_bad_inputs_name_the_argument(function, labels, probs, message):
    with pytest.raises(ValueError, match=message):
        function(labels, probs)


@pytest.mark.parametrize("function", [expected_calibration_error, maximum_calibration_error, reliability_diagram,
                                      calibration_summary])
@pytest.mark.parametrize("bins", [0, -3, 2.5, True])
def test_bins_must_be_a_positive_int(function, bins):
    with pytest.raises(ValueError, match="bins must be an int >= 1"):
        function(LABELS, PROBS, bins)


# ---------------------------------------------------------------- temperature scaling


def sampled_labels(logits: np.ndarray, temperature: float, seed: int) -> np.ndarray:
    """One label drawn from each row of softmax(logits / temperature)."""
    p = softmax(logits, temperature)
    return (p.cumsum(1) < np.random.default_rng(seed).random((len(p), 1))).sum(1)


@pytest.mark.parametrize("true_temperature", [0.4, 1.0, 1.7, 4.0])
def test_fit_recovers_the_temperature_that_made_the_labels(true_temperature):
    logits = np.random.default_rng(3).normal(scale=4, size=(8000, 10))
    labels = sampled_labels(logits, true_temperature, seed=4)
    fitted = fit_temperature(logits, labels)
    assert abs(fitted - true_temperature) / true_temperature < 0.05
    # and it is the minimum: a step of 2 % either way raises the NLL
    nll = {t: negative_log_likelihood(labels, softmax(logits, t)) for t in (fitted / 1.02, fitted, fitted * 1.02)}
    assert nll[fitted] < nll[fitted / 1.02] and nll[fitted] < nll[fitted * 1.02]


def test_strategies_use_the_same_temperature_functions():
    assert winnow.strategies.fit_temperature is calibration.fit_temperature
    assert winnow.strategies.apply_temperature is calibration.apply_temperature
    logits = np.random.default_rng(0).normal(scale=3, size=(40, 5))
    for t in (0.3, 1.0, 2.5):
        np.testing.assert_allclose(apply_temperature(softmax(logits), t), softmax(logits, t), rtol=1e-9)


@pytest.mark.parametrize("logits, labels, message", [
    (np.zeros((4, 3)), np.array([0, 1, 2]), r"val_labels must be \(4,\) integers"),
    (np.zeros((4, 3)), np.array([0, 1, 2, 3]), r"val_labels must be in \[0, 3\)"),
    (np.zeros(4), np.array([0, 1, 2, 0]), r"val_logits must have shape \(V, K\)"),
    (np.full((2, 3), np.inf), np.array([0, 1]), r"val_logits has non-finite values"),
])
def test_fit_temperature_bad_inputs_name_the_argument(logits, labels, message):
    with pytest.raises(ValueError, match=message):
        fit_temperature(logits, labels)


def test_scaling_report_improves_the_hold_out_it_was_fitted_on():
    r = np.random.default_rng(5)
    logits = r.normal(scale=2, size=(3000, 4)) * 3  # the labels come from logits / 3: over-confident by 3x
    labels = sampled_labels(logits, 3.0, seed=6)
    report = temperature_scaling_report(logits[:1000], labels[:1000], logits[1000:], labels[1000:], bins=10)
    assert report["temperature"] == pytest.approx(fit_temperature(logits[:1000], labels[:1000]))
    assert report["temperature"] == pytest.approx(3.0, rel=0.1)
    for split in ("hold_out", "test"):
        before, after = report[split]["before"], report[split]["after"]
        assert before["accuracy"] == after["accuracy"]  # dividing the logits by T > 0 keeps the arg max
        assert after["bins"] == 10 and len(after["reliability"]["edges"]) == 11
    assert report["hold_out"]["after"]["nll"] <= report["hold_out"]["before"]["nll"]
    assert report["test"]["after"]["ece"] < report["test"]["before"]["ece"] / 2  # 2 000 samples: a clear gain


# ---------------------------------------------------------------- the commands, on the digits


def file_digests(folder) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


@pytest.fixture(scope="module")
def calibrated_run(tmp_path_factory, one_thread):
    """`winnow train --data digits --epochs 3 --calibrate`: the run folder."""
    out = tmp_path_factory.mktemp("calibrate") / "digits"
    assert main(["train", "--data", "digits", "--epochs", "3", "--calibrate", "--out", str(out)]) == 0
    return out


def test_train_calibrate_writes_the_hold_out_and_the_calibration(calibrated_run):
    from winnow.data import load

    digits = load("digits")
    config = runs.read_json(calibrated_run / runs.CONFIG)
    assert config["calibrate"] is True and config["recipe"]["val_fraction"] == 0.1
    assert "val_fraction set to 0.1 by --calibrate" in config["calibrate_note"]
    hold_out = np.load(calibrated_run / runs.VAL_INDICES)
    assert hold_out.dtype == np.int64
    assert np.isin(hold_out, digits.train_indices).all() and len(np.unique(hold_out)) == len(hold_out)
    assert abs(len(hold_out) - 0.1 * len(digits.train_indices)) <= 10  # stratified: rounded per class

    record = runs.read_json(calibrated_run / runs.CALIBRATION)
    final = runs.read_json(calibrated_run / runs.FINAL)
    assert record["hold_out_count"] == final["val_count"] == final["calibration"]["hold_out_count"] == len(hold_out)
    assert record["test_count"] == final["test_count"] == len(digits.test_indices)
    assert record["bins"] == 15
    before, after = record["test"]["before"], record["test"]["after"]
    assert before["accuracy"] == after["accuracy"] == pytest.approx(final["test_accuracy"], abs=1e-12)
    assert final["test_ece"] == pytest.approx(before["ece"]) and final["test_nll"] == pytest.approx(before["nll"])
    assert final["calibration"]["test_ece"] == pytest.approx(after["ece"])
    assert sum(before["reliability"]["counts"]) == sum(after["reliability"]["counts"]) == record["test_count"]
    # the temperature minimises the hold-out NLL over a range that includes T = 1
    assert record["hold_out"]["after"]["nll"] <= record["hold_out"]["before"]["nll"] + 1e-12
    with Image.open(calibrated_run / runs.RELIABILITY_PNG) as picture:
        assert picture.format == "PNG" and picture.width > 500


def test_calibrate_command_refits_and_changes_nothing_else(calibrated_run, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(calibrated_run, run)
    trained = runs.read_json(run / runs.CALIBRATION)
    kept = {name: digest for name, digest in file_digests(run).items()
            if name not in (runs.CALIBRATION, runs.RELIABILITY_PNG, *runs.REPORT_FILES)}  # the report is redone
    assert main(["calibrate", str(run), "--bins", "10"]) == 0
    out = capsys.readouterr().out
    assert "temperature" in out and "test ECE" in out and "->" in out
    assert {name: d for name, d in file_digests(run).items() if name in kept} == kept
    record = runs.read_json(run / runs.CALIBRATION)
    assert record["bins"] == 10 and len(record["test"]["after"]["reliability"]["counts"]) == 10
    # the same weights and hold-out give the same temperature as at the end of training
    assert record["temperature"] == pytest.approx(trained["temperature"], rel=1e-6)
    assert record["hold_out"]["after"]["nll"] <= record["hold_out"]["before"]["nll"] + 1e-12


def test_calibrate_redraws_the_trainers_split_when_the_file_is_missing(calibrated_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(calibrated_run, run)
    (run / runs.VAL_INDICES).unlink()
    record = calibrate_run(run)
    assert record["hold_out_count"] == runs.read_json(calibrated_run / runs.CALIBRATION)["hold_out_count"]
    assert record["temperature"] == pytest.approx(runs.read_json(calibrated_run / runs.CALIBRATION)["temperature"],
                                                  rel=1e-6)
    assert not (run / runs.VAL_INDICES).exists()


def test_force_replaces_a_calibrated_run(calibrated_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(calibrated_run, run)
    assert main(["train", "--data", "digits", "--epochs", "1", "--out", str(run), "--force"]) == 0
    assert all((run / name).is_file() for name in runs.RUN_FILES)
    assert not any((run / name).exists() for name in runs.CALIBRATION_FILES)  # a plain run: no hold-out


def test_a_run_without_a_hold_out_is_refused_with_the_way_out(tmp_path, capsys):
    run = tmp_path / "plain"
    assert main(["train", "--data", "digits", "--epochs", "1", "--out", str(run)]) == 0
    assert not (run / runs.VAL_INDICES).exists()
    before = file_digests(run)
    capsys.readouterr()
    assert main(["calibrate", str(run)]) == 2
    error = capsys.readouterr().err
    assert f"run folder {run} has no hold-out" in error
    assert "winnow train --calibrate" in error and "--set val_fraction=0.1" in error
    assert file_digests(run) == before


def test_calibrate_needs_a_run_folder(tmp_path, capsys):
    assert main(["calibrate", str(tmp_path)]) == 2
    assert f"{tmp_path} is not a run folder (no config.json)" in capsys.readouterr().err
