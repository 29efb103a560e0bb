"""`winnow ablate`: a tiny end-to-end run on the digits, its table checked against the cells by
hand, resumption, the command line, its errors before any training, and its report."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as scipy_stats

from winnow import runs
from winnow.cli import main
from winnow.experiments.ablate import ablate_run, cell_name

VARY = {"mixup": [0.2, 1.0]}
SEEDS = [0, 1]


@pytest.fixture(scope="module")
def ablated(tmp_path_factory, one_thread):
    out = tmp_path_factory.mktemp("ablate") / "run"
    results = ablate_run("digits", out, base="small", vary=VARY, seeds=SEEDS,
                         recipe_overrides={"epochs": 2, "device": "cpu"})
    return out, results


def test_one_cell_per_setting_and_seed_with_the_base_first(ablated):
    out, results = ablated
    assert [row["setting"] for row in results["rows"]] == ["base", "mixup=0.2", "mixup=1.0"]
    records = runs.Cells(out).records()
    assert sorted(records) == sorted(cell_name(s, seed) for s in ("base", "mixup=0.2", "mixup=1.0") for seed in SEEDS)
    assert records["mixup=1.0-s1"]["changes"] == {"mixup": 1.0} and records["base-s0"]["changes"] == {}
    assert results["cells_run"] == 6
    table = results["tables"][0]
    assert [row["setting"] for row in table["rows"]] == ["base", "mixup=0.2", "mixup=1.0"]
    assert all(row["seeds"] == 2 for row in table["rows"])
    config = runs.read_json(out / "config.json")
    assert config["recipe"]["mixup"] == 0.0 and config["recipe"]["epochs"] == 2 and config["preset"] == "small"
    assert (out / "results.md").read_text().count("mixup=") == 2


def test_means_and_paired_differences_recomputed_from_the_cells_by_hand(ablated):
    out, results = ablated
    records = runs.Cells(out).records()
    accuracy = lambda setting: np.array([records[cell_name(setting, s)]["test_accuracy"] for s in SEEDS])  # noqa: E731
    base = accuracy("base")
    assert results["rows"][0]["vs_base"] is None
    assert results["rows"][0]["test_accuracy"]["mean"] == pytest.approx(base.mean())
    for row in results["rows"][1:]:
        values = accuracy(row["setting"])
        assert row["test_accuracy"]["mean"] == pytest.approx(values.mean())
        assert row["test_accuracy"]["std"] == pytest.approx(values.std(ddof=1))
        diffs = values - base
        half = scipy_stats.t.ppf(0.975, len(SEEDS) - 1) * diffs.std(ddof=1) / math.sqrt(len(SEEDS))
        assert row["vs_base"]["mean"] == pytest.approx(diffs.mean())
        assert row["vs_base"]["low"] == pytest.approx(diffs.mean() - half)
        assert row["vs_base"]["high"] == pytest.approx(diffs.mean() + half)


def test_a_second_call_trains_nothing_and_more_values_add_only_their_cells(ablated, tmp_path):
    out, results = ablated
    again = ablate_run("digits", out, base="small", vary=VARY, seeds=SEEDS, recipe_overrides={"epochs": 2,
                                                                                                "device": "cpu"})
    assert again["cells_run"] == 0 and again["rows"] == results["rows"]
    more = ablate_run("digits", out, base="small", vary={"mixup": [0.2, 1.0, 0.5]}, seeds=[0],
                      recipe_overrides={"epochs": 2, "device": "cpu"})
    assert more["cells_run"] == 1  # mixup=0.5 with seed 0; the rest is in the folder
    assert [row["setting"] for row in more["rows"]] == ["base", "mixup=0.2", "mixup=1.0", "mixup=0.5"]


def test_the_report_shows_the_bar_chart(ablated, tmp_path):
    from winnow.report import write_report

    out, _ = ablated
    page = write_report([out], tmp_path / "report.html").read_text()
    assert "ablation" in page and "Settings against the base" in page and "mixup=0.2" in page
    assert "Augmented examples" in page and "as a training step of each setting sees them" in page
    assert (out / "ablate_results.png").is_file()


@pytest.mark.parametrize("vary, message", [
    ({"nope": [1]}, "--vary nope: unknown recipe option"),
    ({"mixup": []}, "--vary mixup: give at least one value"),
    ({"mixup": ["big"]}, "--vary mixup='big': recipe option mixup='big' must be a float"),
    ({"mixup": [-1.0]}, "--vary mixup=-1.0: recipe option mixup=-1.0 is not valid"),
    ({"mixup": [0.2, 0.2]}, "--vary mixup: 0.2 is given twice"),
    ({"seed": [1]}, "--vary seed: the seeds are --seeds"),
    ({}, "--vary: give at least one"),
])
def test_bad_settings_fail_before_any_training(vary, message, tmp_path):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace("[", r"\[")):
        ablate_run("digits", tmp_path / "x", base="small", vary=vary, seeds=[0])
    assert not (tmp_path / "x").exists()


def test_ablate_command_line(tmp_path, capsys, one_thread):
    out = tmp_path / "cli"
    code = main(["ablate", "--data", "digits", "--base", "small", "--vary", "flip=true", "--vary",
                 "affine_degrees=10", "--epochs", "0.5", "--device", "cpu", "--seeds", "1", "--out", str(out)])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "seed 0 || flip=true" in printed and "affine_degrees=10.0" in printed and "Ablation of mlp" in printed
    assert (out / "report.html").is_file()
    assert main(["ablate", "--base", "small", "--vary", "flip=maybe", "--out", str(tmp_path / "bad")]) == 2
    err = capsys.readouterr().err
    assert "--vary flip: 'maybe' is not a valid bool" in err and err.count("\n") == 1


def test_the_run_shows_each_settings_augmentation_of_the_same_images(ablated):
    from PIL import Image

    from winnow.plots import sheet_size

    out, _ = ablated
    settings = 1 + sum(len(values) for _, values in runs.read_json(out / "config.json")["vary"])
    sheet = Image.open(out / "augmented_examples.png")
    assert sheet.size == sheet_size((1 + settings) * 6, columns=6)  # the originals, then each setting; six each


def test_combined_settings_change_several_options_together(tmp_path, one_thread):
    out = tmp_path / "combined"
    results = ablate_run("digits", out, base="small", vary={"mixup": [0.2]}, combine=[{"mixup": 0.2, "flip": False}],
                         seeds=[0], recipe_overrides={"epochs": 1, "device": "cpu"})
    assert [row["setting"] for row in results["rows"]] == ["base", "mixup=0.2", "mixup=0.2+flip=false"]
    record = runs.Cells(out).records()[cell_name("mixup=0.2+flip=false", 0)]
    assert record["changes"] == {"mixup": 0.2, "flip": False}
    more = ablate_run("digits", out, base="small", vary={"mixup": [0.2]}, seeds=[0],
                      combine=[{"mixup": 0.2, "flip": False}, {"cutmix": 1.0, "flip": False}],
                      recipe_overrides={"epochs": 1, "device": "cpu"})
    assert more["cells_run"] == 1 and more["rows"][-1]["setting"] == "cutmix=1.0+flip=false"


@pytest.mark.parametrize("combine, message", [
    ([{"mixup": 0.2}], "--combine 'mixup=0.2': give two or more"),
    ([{"mixup": 0.2, "nope": 1}], "--combine nope: unknown recipe option"),
    ([{"mixup": 0.2, "flip": False}, {"mixup": 0.2, "flip": False}], "--combine mixup=0.2+flip=false is given twice"),
    ([{"mixup": -1.0, "flip": False}], "--combine mixup=-1.0+flip=false: recipe option mixup=-1.0 is not valid"),
])
def test_bad_combinations_fail_before_any_training(combine, message, tmp_path):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace("+", r"\+")):
        ablate_run("digits", tmp_path / "x", base="small", vary={}, combine=combine, seeds=[0])
    assert not (tmp_path / "x").exists()


def test_combine_on_the_command_line(tmp_path, capsys):
    assert main(["ablate", "--base", "small", "--combine", "mixup=0.2+flip=maybe", "--out", str(tmp_path / "b")]) == 2
    err = capsys.readouterr().err
    assert "--combine flip: 'maybe' is not a valid bool" in err and err.count("\n") == 1
    with pytest.raises(SystemExit):
        main(["ablate", "--base", "small", "--combine", "mixup=0.2+", "--out", str(tmp_path / "c")])
    assert "--combine: expected KEY=V+KEY=V" in capsys.readouterr().err
