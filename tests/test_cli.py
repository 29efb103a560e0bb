"""Tests of the `winnow` command line, called in-process with `winnow.cli.main`, plus the installed script."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import winnow
import winnow.experiments.train as train_experiment
from winnow import metrics, runs
from winnow.cli import main
from winnow.data import load
from winnow.models import create_model, list_models
from winnow.train import Recipe, predict


@pytest.fixture(scope="module")
def digits():
    return load("digits")


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory, one_thread):
    """`winnow train --data digits --epochs 2` into a fresh folder: (exit code, run folder)."""
    out = tmp_path_factory.mktemp("cli") / "digits"
    return main(["train", "--data", "digits", "--epochs", "2", "--out", str(out)]), out


# ---------------------------------------------------------------- a real run on the digits


def test_train_writes_the_resolved_config(digits_run):
    code, out = digits_run
    assert code == 0
    config = runs.read_json(out / runs.CONFIG)
    assert config["winnow_version"] == winnow.__version__
    assert config["data"] == "digits"
    assert config["model"] in list_models()
    assert config["class_names"] == [str(d) for d in range(10)]
    recipe = Recipe.from_dict(config["recipe"])  # every key is a recipe option with a valid value
    assert recipe.epochs == 2 and recipe.seed == 0


def test_train_writes_one_metrics_record_per_epoch(digits_run):
    _, out = digits_run
    records = runs.read_jsonl(out / runs.METRICS)
    assert [record["epoch"] for record in records] == [1, 2]
    for record in records:
        assert record["train_loss"] > 0 and 0 <= record["train_accuracy"] <= 1


def test_final_metrics_are_consistent(digits_run, digits):
    _, out = digits_run
    final = runs.read_json(out / runs.FINAL)
    test_count = len(digits.test_indices)
    assert test_count == 450  # 25 % of each digit's images
    assert final["test_count"] == test_count
    assert 0 <= final["test_accuracy"] <= 1
    matrix = np.array(final["confusion_matrix"])
    assert matrix.shape == (10, 10)
    assert matrix.sum() == test_count
    assert np.bincount(digits.labels[digits.test_indices].numpy(), minlength=10).tolist() == matrix.sum(1).tolist()
    assert final["test_accuracy"] == pytest.approx(np.trace(matrix) / matrix.sum(), abs=1e-12)
    assert list(final["per_class_accuracy"]) == [str(d) for d in range(10)]
    for d in range(10):
        assert final["per_class_accuracy"][str(d)] == pytest.approx(matrix[d, d] / matrix[d].sum(), abs=1e-12)
    assert final["train_seconds"] > 0
    assert final["device"] == "cpu"
    assert final["epochs_run"] == 2
    assert final["winnow_version"] == winnow.__version__


def test_saved_weights_reproduce_the_test_accuracy(digits_run, digits):
    _, out = digits_run
    config, final = runs.read_json(out / runs.CONFIG), runs.read_json(out / runs.FINAL)
    model = create_model(config["model"], 10, 1)
    model.load_state_dict(torch.load(out / runs.WEIGHTS, weights_only=True))
    outputs = predict(model, digits, digits.test_indices, Recipe.from_dict(config["recipe"]))
    assert outputs.accuracy == final["test_accuracy"]
    assert metrics.confusion_matrix(outputs.labels, outputs.probs).tolist() == final["confusion_matrix"]


def test_existing_run_folder_needs_force(digits_run, capsys):
    _, out = digits_run
    before = {name: (out / name).read_bytes() for name in runs.RUN_FILES}
    assert main(["train", "--data", "digits", "--epochs", "2", "--out", str(out)]) == 2
    assert "--force" in capsys.readouterr().err
    assert {name: (out / name).read_bytes() for name in runs.RUN_FILES} == before


def test_force_replaces_the_run_files(digits_run, tmp_path):
    _, out = digits_run
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    code = main(["train", "--data", "digits", "--epochs", "1", "--set", "warmup_fraction=0", "--out", str(copy),
                 "--force"])
    assert code == 0
    assert [record["epoch"] for record in runs.read_jsonl(copy / runs.METRICS)] == [1], "old records are gone"
    assert runs.read_json(copy / runs.CONFIG)["recipe"]["epochs"] == 1


def test_unknown_data_spec_is_an_error_not_a_traceback(tmp_path, capsys):
    assert main(["train", "--data", "nope", "--out", str(tmp_path / "run")]) == 2
    assert "winnow train: error: unknown data spec 'nope'" in capsys.readouterr().err


# ---------------------------------------------------------------- arguments


def fake_train_run(monkeypatch) -> list[dict]:
    """Replace train_run by a stub that records its arguments; returns the list of calls."""
    calls = []

    def stub(data_spec, out, **options):
        calls.append({"data_spec": data_spec, "out": out, **options})
        return {"per_class_accuracy": {"a": 1.0, "b": None}, "confusion_matrix": [[1, 0], [0, 0]],
                "test_accuracy": 1.0, "test_count": 1, "train_seconds": 0.0, "device": "cpu"}

    monkeypatch.setattr(train_experiment, "train_run", stub)
    return calls


def test_arguments_become_a_train_run_call(monkeypatch, capsys):
    calls = fake_train_run(monkeypatch)
    code = main(["train", "--data", "folder:/pics", "--image-size", "32", "--test-fraction", "0.3",
                 "--skip-bad-images", "--model", "fastnet_xs", "--preset", "cpu", "--epochs", "4", "--seed", "3",
                 "--device", "cpu", "--set", "lr=0.5", "--set", "cutout=8", "--set", "tta=no", "--out", "somewhere",
                 "--force"])
    assert code == 0
    assert calls == [{
        "data_spec": "folder:/pics", "out": "somewhere", "model": "fastnet_xs", "preset": "cpu", "force": True,
        "calibrate": False, "tensorboard": False,
        "recipe_overrides": {"lr": 0.5, "cutout": 8, "tta": False, "seed": 3, "device": "cpu", "epochs": 4.0},
        "data_options": {"image_size": 32, "skip_bad_images": True, "test_fraction": 0.3},
    }]
    assert "somewhere" in capsys.readouterr().out


@pytest.mark.parametrize("setting, key, value", [("seed=5", "seed", 5), ("device=cpu", "device", "cpu")])
def test_set_seed_or_device_is_not_silently_replaced(monkeypatch, setting, key, value):
    calls = fake_train_run(monkeypatch)
    try:
        main(["train", "--set", setting, "--out", "somewhere"])
    except SystemExit as exit:  # refusing --set seed= in favour of --seed is fine too
        assert exit.code == 2
        return
    assert calls[0]["recipe_overrides"][key] == value


def test_one_epoch_on_the_digits_runs(tmp_path, capsys):
    code = main(["train", "--data", "digits", "--epochs", "1", "--out", str(tmp_path / "run")])
    assert code == 0, capsys.readouterr().err


@pytest.mark.parametrize(
    "setting, message",
    [
        ("nosuch=1", r"KEY one of: epochs, batch_size, .*eval_batch_size \(got 'nosuch=1'\)"),
        ("lr", r"argument --set: expected KEY=VALUE"),
        ("lr=abc", r"argument --set: lr: 'abc' is not a valid float"),
        ("batch_size=1.5", r"argument --set: batch_size: '1.5' is not a valid int"),
        ("flip=maybe", r"argument --set: flip: 'maybe' is not a valid bool"),
    ],
)
def test_bad_set_values_are_rejected_by_argparse(setting, message, capsys, monkeypatch):
    calls = fake_train_run(monkeypatch)
    with pytest.raises(SystemExit) as exit:
        main(["train", "--set", setting, "--out", "somewhere"])
    assert exit.value.code == 2
    assert re.search(message, capsys.readouterr().err)
    assert calls == []


def test_out_is_required(capsys):
    with pytest.raises(SystemExit) as exit:
        main(["train", "--data", "digits"])
    assert exit.value.code == 2
    assert "--out" in capsys.readouterr().err


def test_top_level_help_lists_the_commands(capsys):
    with pytest.raises(SystemExit) as exit:
        main(["--help"])
    assert exit.value.code == 0
    text = capsys.readouterr().out
    assert "train" in text and "--version" in text and "--verbose" in text


def test_train_help_names_every_option_and_model(capsys):
    with pytest.raises(SystemExit) as exit:
        main(["train", "--help"])
    assert exit.value.code == 0
    text = capsys.readouterr().out
    for option in ("--data", "--model", "--preset", "--epochs", "--seed", "--device", "--set", "--out", "--force",
                   "--image-size", "--test-fraction", "--skip-bad-images", "--cifar100-labels"):
        assert option in text
    for name in list_models():
        assert name in text


# ---------------------------------------------------------------- as a program


def test_module_prints_the_version():
    result = subprocess.run([sys.executable, "-m", "winnow.cli", "--version"], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"winnow {winnow.__version__}"


def test_installed_console_script_runs():
    beside_python = Path(sys.executable).parent / "winnow"  # the venv's own script first
    script = str(beside_python) if beside_python.is_file() else shutil.which("winnow")
    assert script, "the winnow script is missing: run `make setup`"
    result = subprocess.run([script, "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "usage: winnow" in result.stdout and "train" in result.stdout
