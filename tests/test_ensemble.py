"""Tests of `winnow ensemble` on the embedded digits: the mean of the members' test probabilities,
its metrics, resumption, the members' checks and the command line."""

from __future__ import annotations

import numpy as np
import pytest

from winnow import calibration, runs
from winnow.cli import main
from winnow.data import from_arrays, load
from winnow.experiments.ensemble import ensemble_run
from winnow.experiments.train import train_run
from winnow.models import create_model
from winnow.train import Recipe, predict


@pytest.fixture(scope="module")
def members(tmp_path_factory):
    folder = tmp_path_factory.mktemp("members")
    for seed in (0, 1, 2):
        train_run("digits", folder / f"s{seed}", seed=seed, model="mlp", recipe_overrides={"epochs": 2.0})
    return [folder / f"s{seed}" for seed in (0, 1, 2)]


def test_the_ensemble_is_the_mean_of_the_members_probabilities(members, tmp_path):
    results = ensemble_run(members, tmp_path / "ens")
    digits = load("digits")
    labels = digits.labels.numpy()[digits.test_indices]
    probs = []
    for member in members:
        config = runs.read_json(member / "config.json")
        model = create_model("mlp", 10, 1)
        model.load_state_dict(runs.load_weights(member / "model.pt"))
        probs.append(predict(model, digits, digits.test_indices, Recipe.from_dict(config["recipe"])).probs)
        final = runs.read_json(member / "final.json")
        assert results["members"][len(probs) - 1]["test_accuracy"] == pytest.approx(final["test_accuracy"])
    mean = np.mean(probs, axis=0)
    saved = np.load(tmp_path / "ens" / "ensemble_probs.npy")
    np.testing.assert_allclose(saved, mean, atol=1e-6)
    ensemble = results["ensemble"]
    assert ensemble["test_accuracy"] == pytest.approx(float((mean.argmax(1) == labels).mean()))
    assert ensemble["test_ece"] == pytest.approx(calibration.expected_calibration_error(labels, mean), abs=1e-6)
    accuracies = [m["test_accuracy"] for m in results["members"]]
    assert results["mean_member"]["test_accuracy"]["mean"] == pytest.approx(np.mean(accuracies))
    assert results["gain"] == pytest.approx(ensemble["test_accuracy"] - np.mean(accuracies))
    final = runs.read_json(tmp_path / "ens" / "final.json")
    assert np.array(final["confusion_matrix"]).sum() == len(labels) and len(final["per_class_accuracy"]) == 10
    markdown = (tmp_path / "ens" / "results.md").read_text()
    assert "| member 0: mlp | s0 |" in markdown and "| ensemble (mean probabilities) |" in markdown
    again = ensemble_run(members, tmp_path / "ens")
    assert again["cells_run"] == 0 and again["ensemble"] == results["ensemble"]


def _tiny_run(folder, classes, size=8):
    rng = np.random.default_rng(0)
    n = 30
    dataset = from_arrays(rng.integers(0, 255, (n, 1, size, size), dtype=np.uint8), np.arange(n) % len(classes),
                          classes, test_indices=np.arange(20, n))
    train_run(dataset, folder, model="mlp", recipe_overrides={"epochs": 1.0})
    return folder


def test_members_must_share_data_and_classes(members, tmp_path):
    with pytest.raises(ValueError, match="the members must share data and classes: .* has data 'digits', .* has "
                                         "'arrays'"):
        ensemble_run([members[0], _tiny_run(tmp_path / "a", ["a", "b"])], tmp_path / "x")
    with pytest.raises(ValueError, match="has class_names \\['a', 'b'\\], .* has \\['a', 'b', 'c'\\]"):
        ensemble_run([tmp_path / "a", _tiny_run(tmp_path / "b", ["a", "b", "c"])], tmp_path / "x")
    with pytest.raises(ValueError, match="at least two run folders, got 1"):
        ensemble_run([members[0]], tmp_path / "x")
    with pytest.raises(ValueError, match="a run folder is given twice"):
        ensemble_run([members[0], members[0]], tmp_path / "x")
    with pytest.raises(FileNotFoundError, match="is not a run folder"):
        ensemble_run([members[0], tmp_path / "nowhere"], tmp_path / "x")
    (tmp_path / "weightless").mkdir()
    (tmp_path / "weightless" / "config.json").write_text((members[1] / "config.json").read_text())
    with pytest.raises(FileNotFoundError, match="run folder .*weightless has no weights .model.pt. to ensemble"):
        ensemble_run([members[0], tmp_path / "weightless"], tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_ensemble_command_line(members, tmp_path, capsys):
    out = tmp_path / "cli"
    assert main(["ensemble", *map(str, members[:2]), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "Ensemble: the members" in printed and "ensemble_probs.npy" in printed
    assert (out / "report.html").is_file()
    assert main(["ensemble", str(members[0]), "--out", str(tmp_path / "bad")]) == 2
    assert "at least two run folders" in capsys.readouterr().err


def test_the_report_of_an_ensemble(members, tmp_path):
    from winnow.report import write_report

    ensemble_run(members, tmp_path / "ens")
    page = write_report([tmp_path / "ens"], tmp_path / "report.html").read_text()
    for text in ("Ensemble: the members", "Confusion matrix of the ensemble", "mean member",
                 "points over the mean member"):
        assert text in page
    assert (tmp_path / "ens" / "confusion_matrix.png").is_file()


def test_fit_weights_prefers_the_member_that_is_right_on_the_hold_out():
    from winnow.experiments.ensemble import fit_weights

    labels = np.array([0, 1, 0, 1])
    right = np.eye(2)[labels] * 0.98 + 0.01  # (V, K): 0.99 on the label
    uniform = np.full((4, 2), 0.5)
    weights = fit_weights(np.stack([uniform, right]), labels)
    assert weights.sum() == pytest.approx(1.0) and weights[1] > 0.99
    assert fit_weights(np.stack([right, right]), labels) == pytest.approx([0.5, 0.5])
    # a mixture is best when each member is right on half the hold-out
    half = np.where(np.arange(4)[:, None] < 2, right, 1 - right)
    weights = fit_weights(np.stack([half, 1 - half]), labels)
    assert weights == pytest.approx([0.5, 0.5], abs=1e-4)


def test_weights_fitted_on_the_members_shared_hold_out(tmp_path, members):
    folders = []
    for model in ("mlp", "lenet5"):  # same seed and val_fraction: the same hold-out
        folders.append(tmp_path / model)
        train_run("digits", folders[-1], seed=0, model=model, recipe_overrides={"epochs": 2.0, "val_fraction": 0.2})
    results = ensemble_run(folders, tmp_path / "fit", weights="fit")
    hold_out = np.load(folders[0] / "val_indices.npy")
    digits = load("digits")
    assert results["hold_out_count"] == len(hold_out) > 200 and not np.isin(hold_out, digits.test_indices).any()
    weights = np.array(results["weights"])
    assert weights.sum() == pytest.approx(1.0) and (weights > 0).all()
    cells = runs.Cells(tmp_path / "fit")
    expected = weights[0] * cells.array("member-0", "probs") + weights[1] * cells.array("member-1", "probs")
    np.testing.assert_allclose(np.load(tmp_path / "fit" / "ensemble_probs.npy"), expected, atol=1e-6)
    assert cells.array("member-0", "val_probs").shape == (len(hold_out), 10)
    assert "| ensemble (weighted mean) |" in (tmp_path / "fit" / "results.md").read_text()
    with pytest.raises(ValueError, match=f"weights fit needs every member's hold-out .*; {members[0]} has none"):
        ensemble_run([folders[0], members[0]], tmp_path / "x", weights="fit")
