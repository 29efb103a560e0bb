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
import winnow.cli as cli
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
        options.pop("on_progress")  # the command line's progress reporter
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
        "data_spec": "folder:/pics", "out": "somewhere", "seed": 3, "model": "fastnet_xs", "preset": "cpu",
        "force": True, "calibrate": False, "tensorboard": False, "weights": None, "pad_bona_fide": None,
        "pad_threshold": None,
        "recipe_overrides": {"lr": 0.5, "cutout": 8, "tta": False, "device": "cpu", "epochs": 4.0},
        "data_options": {"image_size": 32, "skip_bad_images": True, "test_fraction": 0.3},
    }]
    assert "somewhere" in capsys.readouterr().out


def test_weights_and_freeze_reach_the_train_run_call(monkeypatch):
    calls = fake_train_run(monkeypatch)
    assert main(["train", "--weights", "torchvision:resnet50", "--freeze", "backbone", "--out", "somewhere"]) == 0
    assert calls[0]["weights"] == "torchvision:resnet50" and calls[0]["recipe_overrides"] == {"freeze": "backbone"}


def test_pad_options_reach_the_train_run_call(monkeypatch):
    calls = fake_train_run(monkeypatch)
    assert main(["train", "--pad-bona-fide", "real", "--pad-threshold", "apcer:0.05", "--out", "somewhere"]) == 0
    assert (calls[0]["pad_bona_fide"], calls[0]["pad_threshold"]) == ("real", "apcer:0.05")


def test_set_device_agrees_with_the_option(monkeypatch):
    calls = fake_train_run(monkeypatch)
    assert main(["train", "--set", "device=cpu", "--out", "somewhere"]) == 0
    assert calls[0]["recipe_overrides"] == {"device": "cpu"}
    assert main(["train", "--set", "device=cpu", "--device", "cuda", "--out", "somewhere"]) == 2


def test_one_epoch_on_the_digits_runs(tmp_path, capsys):
    code = main(["train", "--data", "digits", "--epochs", "1", "--out", str(tmp_path / "run")])
    assert code == 0, capsys.readouterr().err


@pytest.mark.parametrize(
    "setting, message",
    [
        ("nosuch=1", r"--set nosuch: unknown key 'nosuch'; KEY is one of: epochs, min_steps, time_budget, batch_size, .*eval_batch_size"),
        ("lr", r"--set expects KEY=VALUE .*\(got 'lr'\)"),
        ("lr=abc", r"--set lr: 'abc' is not a valid float"),
        ("batch_size=1.5", r"--set batch_size: '1.5' is not a valid int"),
        ("flip=maybe", r"--set flip: 'maybe' is not a valid bool"),
        ("proxy.epochs=2", r"--set proxy.epochs: this command takes no proxy.KEY; it takes KEY=VALUE$"),
        ("strategy.margin.temperature=2", r"takes no strategy.KEY; it takes KEY=VALUE$"),
    ],
)
def test_bad_set_values_are_one_line_errors(setting, message, capsys, monkeypatch):
    calls = fake_train_run(monkeypatch)
    assert main(["train", "--set", setting, "--out", "somewhere"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("winnow train: error: ") and error.count("\n") == 1
    assert re.search(message, error.strip())
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


# ---------------------------------------------------------------- --set on every command


def capture(monkeypatch, target: str, result) -> dict:
    """Replace the experiment function `target` ("module.function" under winnow.experiments) by a
    stub that records its keyword arguments and returns `result`; returns the record."""
    seen = {}

    def stub(*positional, **options):
        seen.update(options, positional=positional)
        return result

    module, name = target.split(".")
    monkeypatch.setattr(f"winnow.experiments.{module}.{name}", stub)
    return seen


PRUNE = ["prune", "--fractions", "0.5", "--strategies", "random,margin", "--out", "somewhere"]
AL = ["al", "--initial", "10", "--budget", "5", "--cycles", "2", "--strategy", "random,margin", "--out", "somewhere"]
SELECT = ["select", "--strategy", "margin", "--budget", "5", "--labelled", "all", "--out", "somewhere"]
SELECTION = {"strategy": "margin", "selected_count": 5, "budget": 5, "pool_count": 10, "train_count": 10,
             "labelled_count": 10, "proxy_trained": False, "scoring_seconds": 0.0, "selected_class_counts": {"a": 5},
             "selected_predicted_counts": None}
AL_RESULTS = {"config": {"strategies": []}, "rows": [], "label_counts": [], "areas": []}


def test_set_proxy_and_strategy_reach_prune_run(monkeypatch):
    seen = capture(monkeypatch, "prune.prune_run", {"rows": []})
    code = main([*PRUNE, "--epochs", "5", "--set", "lr=0.5", "--set", "proxy.epochs=2", "--set", "proxy.cutout=4",
                 "--set", "strategy.margin.temperature=2", "--set", 'strategy.hybrid.uncertainty_options={"a": 1}'])
    assert code == 0
    assert seen["recipe_overrides"] == {"lr": 0.5, "epochs": 5.0}
    assert seen["proxy_overrides"] == {"epochs": 2.0, "cutout": 4}
    assert seen["options"] == {"margin": {"temperature": 2}, "hybrid": {"uncertainty_options": {"a": 1}}}


def test_set_strategy_reaches_al_run(monkeypatch):
    seen = capture(monkeypatch, "active.al_run", AL_RESULTS)
    assert main([*AL, "--set", "strategy.margin.temperature=0.5", "--set", "strategy.hybrid.normalize=true"]) == 0
    assert seen["options"] == {"margin": {"temperature": 0.5}, "hybrid": {"normalize": True}}
    assert seen["recipe_overrides"] == {}


@pytest.mark.parametrize("setting", ["strategy.temperature=2", "strategy.margin.temperature=2"])
def test_set_strategy_on_select_is_the_one_strategy(monkeypatch, setting):
    seen = capture(monkeypatch, "select.select_run", SELECTION)
    assert main([*SELECT, "--set", setting, "--set", "epochs=1"]) == 0
    assert seen["options"] == {"temperature": 2} and seen["recipe_overrides"] == {"epochs": 1.0}
    assert seen["strategy"] == "margin" and seen["seed"] == 0


def test_labelling_verbs_take_the_strategy_options(monkeypatch, capsys):
    seen = capture(monkeypatch, "labelling.next_cycle",
                   {"cycle": 1, "queried_count": 2, "queries_csv": "q.csv", "contact_sheet": "q.png"})
    monkeypatch.setattr("winnow.cli._write_run_report", lambda spec, args: None)
    assert main(["al", "next", "somewhere", "--budget", "2", "--set", "strategy.temperature=3"]) == 0
    assert seen["options"] == {"temperature": 3} and seen["strategy"] is None
    assert main(["al", "next", "somewhere", "--budget", "2"]) == 0
    assert seen["options"] is None, "no options: the folder's own"
    assert main(["al", "next", "somewhere", "--budget", "2", "--strategy", "entropy",
                 "--set", "strategy.entropy.temperature=3"]) == 0
    assert seen["options"] == {"temperature": 3} and seen["strategy"] == "entropy"
    assert main(["al", "next", "somewhere", "--budget", "2", "--set", "strategy.margin.temperature=3"]) == 2
    assert "names strategy 'margin', but --strategy does not name it" in capsys.readouterr().err
    assert main(["al", "next", "somewhere", "--budget", "2", "--set", "lr=0.1"]) == 2
    assert "takes no recipe KEY; it takes strategy.KEY=VALUE" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv, message",
    [
        ([*PRUNE, "--set", "cv.lr=0.5"], "--set cv.lr: this command takes no cv.KEY; it takes KEY=VALUE, "
                                         "proxy.KEY=VALUE, features.KEY=VALUE, strategy.NAME.KEY=VALUE"),
        ([*PRUNE, "--set", "proxy.nosuch=1"], "unknown key 'proxy.nosuch'; proxy.KEY is one of: epochs, min_steps, time_budget, batch_size"),
        ([*PRUNE, "--set", "strategy.temperature=2"], "--set strategy.temperature: expected strategy.NAME.KEY"),
        ([*PRUNE, "--set", "strategy.margin.nosuch=2"], "unknown option(s) nosuch for strategy 'margin'; known: "
                                                        "temperature"),
        ([*PRUNE, "--set", "strategy.nosuch.k=2"], "--set strategy.nosuch.k: unknown strategy 'nosuch'; known: "),
        ([*PRUNE, "--set", "lr=0.1", "--set", "lr=0.2"], "--set lr is given twice"),
        ([*AL, "--set", "proxy.epochs=2"], "this command takes no proxy.KEY"),
        ([*SELECT, "--set", "strategy.entropy.temperature=2"], "names strategy 'entropy', but the strategy is "
                                                               "'margin'"),
        ([*SELECT, "--set", "strategy.temperature={"], "--set strategy.temperature: '{' is not valid JSON"),
        (["clean", "--out", "somewhere", "--set", "proxy.epochs=2"], "takes no proxy.KEY; it takes KEY=VALUE, "
                                                                     "cv.KEY=VALUE"),
        (["clean", "--out", "somewhere", "--set", "cv.nosuch=2"], "unknown key 'cv.nosuch'; cv.KEY is one of: "),
    ],
)
def test_set_errors_name_the_key_and_what_the_command_takes(monkeypatch, capsys, argv, message):
    for target in ("prune.prune_run", "active.al_run", "select.select_run"):
        monkeypatch.setattr(f"winnow.experiments.{target}", lambda *a, **k: pytest.fail("the run started"))
    assert main(argv) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"winnow {argv[0]}: error: ") and message in error


@pytest.mark.parametrize(
    "argv",
    [
        ["train", "--out", "somewhere", "--set", "seed=3"],
        [*SELECT, "--set", "seed=3"],
        [*PRUNE, "--set", "seed=3"],
        [*PRUNE, "--set", "proxy.seed=3"],
        [*AL, "--set", "seed=3"],
        ["clean", "--out", "somewhere", "--set", "cv.seed=3"],
        ["al", "init", "--data", "folder:x", "--out", "somewhere", "--set", "seed=3"],
        ["al", "next", "somewhere", "--budget", "2", "--set", "seed=3"],
    ],
)
def test_set_seed_is_refused_with_one_message(argv, capsys):
    from winnow.cli.options import SEED_ERROR

    assert main(argv) == 2
    name = " ".join(argv[:2]) if argv[0] == "al" and argv[1] in ("init", "next") else argv[0]
    assert capsys.readouterr().err == f"winnow {name}: error: {SEED_ERROR}\n"
    assert "--seed" in SEED_ERROR and "--seeds" in SEED_ERROR and "--trials" in SEED_ERROR


@pytest.mark.parametrize("old", ["--option", "--proxy-set", "--cv-set"])
def test_the_old_override_options_are_gone(old, capsys):
    with pytest.raises(SystemExit):
        main([*PRUNE, old, "epochs=2"])
    assert f"unrecognized arguments: {old}" in capsys.readouterr().err


# ---------------------------------------------------------------- the command registry


def test_every_registered_command_is_in_the_top_level_help(capsys):
    with pytest.raises(SystemExit) as exit:
        main(["--help"])
    assert exit.value.code == 0
    text = capsys.readouterr().out
    assert {"train", "select", "prune", "al", "al init", "al next", "al import", "al status", "clean", "calibrate",
            "report"} <= set(cli.COMMANDS)
    for name, spec in cli.COMMANDS.items():
        assert re.search(rf"^ +{name} +{re.escape(spec.help[:30])}", text, re.MULTILINE), name


@pytest.mark.parametrize("name", sorted(cli.discover_commands()))
def test_every_registered_command_has_help_and_a_report_kind(name, capsys):
    from winnow.report import KINDS

    spec = cli.COMMANDS[name]
    assert spec.report_kind is None or spec.report_kind in KINDS
    with pytest.raises(SystemExit) as exit:
        main([*name.split(" "), "--help"])
    assert exit.value.code == 0
    assert f"usage: winnow {name} " in capsys.readouterr().out


def test_a_command_registered_elsewhere_is_found(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(cli, "COMMANDS", dict(cli.COMMANDS))
    seen = []

    def add_arguments(parser):
        parser.add_argument("--times", type=int, default=1)

    @cli.command("echo", add_arguments, help="say hello", report_kind=None)
    def echo(args):
        seen.append(args.times)
        print("hello " * args.times)
        return 0

    @cli.command("al shout", add_arguments, help="say it loud", report_kind=None)
    def shout(args):
        raise ValueError(f"too loud: {args.times}")

    parser = cli.build_parser()
    assert "echo" in parser.format_help() and "al shout" in parser.format_help()
    assert main(["echo", "--times", "2"]) == 0 and seen == [2]
    assert capsys.readouterr().out == "hello hello \n"
    assert main(["al", "shout", "--times", "3"]) == 2
    assert capsys.readouterr().err == "winnow al shout: error: too loud: 3\n"
    with pytest.raises(ValueError, match="registered twice"):
        cli.command("echo", add_arguments, help="again")(echo)


# ---------------------------------------------------------------- as a program


@pytest.mark.parametrize("module", ["winnow", "winnow.cli"])
def test_module_prints_the_version(module):
    result = subprocess.run([sys.executable, "-m", module, "--version"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"winnow {winnow.__version__}"


def test_installed_console_script_runs():
    beside_python = Path(sys.executable).parent / "winnow"  # the venv's own script first
    script = str(beside_python) if beside_python.is_file() else shutil.which("winnow")
    assert script, "the winnow script is missing: run `make setup`"
    result = subprocess.run([script, "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "usage: winnow" in result.stdout and "train" in result.stdout
