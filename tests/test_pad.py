"""Presentation-attack detection metrics (ISO/IEC 30107-3) on hand-worked cases and the notes'
golden example; PAD on an ordinary labelled dataset (`winnow train --pad-bona-fide`, `winnow
evaluate`): where the threshold is fixed, the saved scores, the report's curves, bad input."""

from __future__ import annotations

import hashlib
import shutil

import numpy as np
import pytest
import torch
from PIL import Image
from scipy.stats import norm

from winnow import plots, runs
from winnow.cli import main
from winnow.data import from_arrays, load
from winnow.experiments.train import train_run
from winnow.metrics import pad_curve, pad_metrics, pad_threshold
from winnow.models import create_model
from winnow.train import Recipe, predict


def test_the_notes_example_with_apcer_and_bpcer_the_right_way_round():
    """17 458 bona fide (15 636 accepted, 1 822 rejected), 40 252 attacks (2 010 accepted): the
    notes computed these swapped; ISO/IEC 30107-3 gives APCER = 2 010 / 40 252."""
    bona_fide = np.r_[np.ones(17_458, bool), np.zeros(40_252, bool)]
    scores = np.r_[np.full(15_636, 0.9), np.full(1_822, 0.1), np.full(2_010, 0.9), np.full(38_242, 0.1)]
    metrics = pad_metrics(bona_fide, scores, threshold=0.5)
    assert metrics["apcer"] == pytest.approx(0.049935, abs=5e-7)
    assert metrics["bpcer"] == pytest.approx(0.104365, abs=5e-7)
    assert metrics["acer"] == pytest.approx(0.07715, abs=5e-6)
    assert metrics["accuracy"] == pytest.approx(0.933599, abs=5e-7)
    assert (metrics["bona_fide_count"], metrics["attack_count"]) == (17_458, 40_252)


def test_several_attack_types_report_the_worst_and_each():
    bona_fide = np.array([True] * 4 + [False] * 6)
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.1, 0.7, 0.2, 0.3, 0.4, 0.95])
    types = np.array(["-"] * 4 + ["print"] * 2 + ["replay"] * 4)
    metrics = pad_metrics(bona_fide, scores, 0.65, attack_types=types)
    assert metrics["apcer_per_type"] == {"print": 0.5, "replay": 0.25}  # 0.7 of 2 prints, 0.95 of 4 replays
    assert metrics["apcer"] == 0.5 and metrics["bpcer"] == 0.25 and metrics["acer"] == 0.375
    assert metrics["accuracy"] == 0.7  # 3 bona fide accepted, 1 print and 3 replays rejected
    # APCER <= 10 % for both types needs a threshold above the 0.95 replay: every bona fide is rejected
    assert metrics["bpcer_at_apcer"]["10%"] == 1.0
    assert pad_threshold(bona_fide, scores, "apcer:0.25", attack_types=types) == 0.8  # print 0, replay 1/4


def test_the_eer_threshold_of_separable_scores_is_the_middle_of_the_gap():
    """Attacks 0.1, 0.3, bona fide 0.8, 0.9: every threshold in (0.3, 0.8] makes no error; the
    edge 0.8 would reject a new bona fide presentation scoring just below the lowest seen."""
    bona_fide = np.array([False, False, True, True])
    metrics = pad_metrics(bona_fide, np.array([0.1, 0.3, 0.8, 0.9]), 0.5)
    assert metrics["eer"] == 0.0 and metrics["eer_threshold"] == pytest.approx(0.55)


def test_the_equal_error_rate_by_hand():
    """Bona fide 0.6-0.9, attacks 0.1, 0.2, 0.3, 0.65: above 0.6 and up to 0.65 one of four of
    each is wrong; the threshold is the middle of that gap."""
    bona_fide = np.array([True] * 4 + [False] * 4)
    scores = np.array([0.6, 0.7, 0.8, 0.9, 0.1, 0.2, 0.3, 0.65])
    metrics = pad_metrics(bona_fide, scores, 0.5)
    assert metrics["eer"] == 0.25 and metrics["eer_threshold"] == pytest.approx(0.625)
    assert pad_threshold(bona_fide, scores) == pytest.approx(0.625)
    assert (metrics["apcer"], metrics["bpcer"]) == (0.25, 0.0)  # at 0.5: the 0.65 attack passes
    assert metrics["bpcer_at_apcer"] == {"1%": 0.25, "5%": 0.25, "10%": 0.25}  # above 0.65: the 0.6 is rejected


@pytest.mark.parametrize("args, message", [
    ((np.array([1, 0]), np.array([0.5, 0.1]), 0.3), "is_bona_fide must be booleans"),
    ((np.array([True, False]), np.array([0.5]), 0.3), "must be two \\(N,\\) arrays of the same N"),
    ((np.array([True, False]), np.array([0.5, np.nan]), 0.3), "bona_fide_scores\\[1\\] = nan is not finite"),
    ((np.array([True, True]), np.array([0.5, 0.1]), 0.3), "need both bona fide and attack presentations; got only "
                                                          "bona fide"),
    ((np.array([True, False]), np.array([0.5, 0.1]), 0.7), "threshold 0.7 is outside the scores' range \\[0.1, 0.5\\]"),
    ((np.array([True, False]), np.array([0.5, 0.1]), float("inf")), "threshold must be a finite number"),
])
def test_bad_input_is_a_one_line_error(args, message):
    with pytest.raises(ValueError, match=message):
        pad_metrics(*args)


@pytest.mark.parametrize("rule", ["apcer", "apcer:x", "apcer:2", "far:0.1"])
def test_a_threshold_rule_that_does_not_parse_is_named(rule):
    with pytest.raises(ValueError, match=f"threshold rule {rule!r} is not valid"):
        pad_threshold(np.array([True, False]), np.array([0.5, 0.1]), rule)


# ---------------------------------------------------------------- PAD on an ordinary labelled dataset
# Three classes of 8x8 grey images told apart by their brightness: real (bona fide), print and
# replay (the attack types). The MLP of the small preset separates them in 30 epochs.

LEVELS = {"real": 200, "print": 40, "replay": 110}
EPOCHS = "30"
TEST_KEYS = ("apcer", "apcer_per_type", "bpcer", "acer", "accuracy", "eer", "eer_threshold", "bpcer_at_apcer",
             "threshold", "bona_fide_count", "attack_count")


def _images(levels, count: int, generator) -> np.ndarray:
    """(len(levels) * count, 8, 8) uint8: `count` images of each brightness, in that order."""
    return np.stack([np.clip(generator.normal(level, 8, (8, 8)), 0, 255)
                     for level in levels for _ in range(count)]).astype(np.uint8)


def _arrays_dataset(train_count: int = 40, test_count: int = 10):
    generator = np.random.default_rng(0)
    images = np.concatenate([_images(LEVELS.values(), train_count, generator),
                             _images(LEVELS.values(), test_count, generator)])
    labels = np.r_[np.repeat([0, 1, 2], train_count), np.repeat([0, 1, 2], test_count)]
    return from_arrays(images, labels, list(LEVELS), test_indices=np.arange(3 * train_count, len(labels)))


def _hashes(folder) -> dict:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def pad_run(tmp_path_factory, one_thread):
    """A `winnow train --pad-bona-fide real` run on a folder with train/, val/ and test/, whose val
    split's real images are darker (130 instead of 200): its EER threshold is not the test split's."""
    root = tmp_path_factory.mktemp("pad")
    generator = np.random.default_rng(1)
    for split, count, levels in (("train", 40, LEVELS), ("val", 10, {**LEVELS, "real": 130}), ("test", 10, LEVELS)):
        for name, level in levels.items():
            (root / "data" / split / name).mkdir(parents=True)
            for i, image in enumerate(_images([level], count, generator)):
                Image.fromarray(image).save(root / "data" / split / name / f"{i}.png")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("WINNOW_CACHE", str(root / "cache"))
        spec = f"folder:{root / 'data'}"
        assert main(["train", "--data", spec, "--epochs", EPOCHS, "--pad-bona-fide", "real",
                     "--out", str(root / "run")]) == 0
        yield root / "run", load(spec)


def test_train_with_a_given_threshold_gets_every_presentation_of_separable_data_right(tmp_path):
    final = train_run(_arrays_dataset(), tmp_path / "run", recipe_overrides={"epochs": float(EPOCHS)},
                      pad_bona_fide="real", pad_threshold="0.5")
    pad = final["pad"]
    assert (pad["apcer"], pad["bpcer"], pad["acer"], pad["accuracy"], pad["eer"]) == (0, 0, 0, 1, 0)
    assert pad["apcer_per_type"] == {"print": 0.0, "replay": 0.0}
    assert pad["bpcer_at_apcer"] == {"1%": 0.0, "5%": 0.0, "10%": 0.0}
    assert (pad["threshold"], pad["threshold_split"], pad["bona_fide_count"], pad["attack_count"]) == (0.5, None, 10, 20)
    assert pad["attack_types"] == ["print", "replay"] and pad["bona_fide_class"] == "real"
    config = runs.read_json(tmp_path / "run" / runs.CONFIG)
    assert config["pad"]["threshold_rule"] == "0.5" and config["recipe"]["val_fraction"] == 0  # nothing held out
    assert not (tmp_path / "run" / runs.VAL_INDICES).exists()
    with np.load(tmp_path / "run" / runs.PAD_SCORES) as saved:
        assert sorted(saved.files) == ["test_labels", "test_scores"]


def test_without_a_val_split_a_stratified_part_of_train_fixes_the_threshold(tmp_path):
    dataset = _arrays_dataset()
    final = train_run(dataset, tmp_path / "run", recipe_overrides={"epochs": float(EPOCHS)}, pad_bona_fide="real",
                      pad_threshold="apcer:0.05")
    pad, config = final["pad"], runs.read_json(tmp_path / "run" / runs.CONFIG)
    held_out = np.load(tmp_path / "run" / runs.VAL_INDICES)
    assert (pad["threshold_split"], pad["threshold_split_count"], len(held_out)) == ("dev", 12, 12)  # 4 of 40 a class
    assert np.isin(held_out, dataset.train_indices).all() and np.bincount(dataset.labels[held_out]).tolist() == [4] * 3
    assert "val_fraction set to 0.1 by --pad-bona-fide" in config["calibrate_note"]
    assert pad["threshold_how"] == "a stratified 0.1 of the train split held out under seed 0, never trained on"
    with np.load(tmp_path / "run" / runs.PAD_SCORES) as saved:
        assert (saved["development_labels"] == dataset.labels.numpy()[held_out]).all()
        bona_fide = saved["development_labels"] == 0
        assert pad["threshold"] == pad_threshold(bona_fide, saved["development_scores"], "apcer:0.05",
                                                 np.array(list(LEVELS))[saved["development_labels"]])


def test_the_threshold_comes_from_the_val_split_and_the_test_metrics_from_the_saved_scores(pad_run):
    run, dataset = pad_run
    pad = runs.read_json(run / runs.FINAL)["pad"]
    assert dataset.class_names == ["print", "real", "replay"] and len(dataset.val_indices) == 30
    assert (pad["threshold_split"], pad["threshold_split_count"], pad["threshold_rule"]) == ("val", 30, "eer")
    assert (np.load(run / runs.VAL_INDICES) == dataset.val_indices).all()
    # the model's scores, predicted here from model.pt, not read from the run's arrays
    config = runs.read_json(run / runs.CONFIG)
    model = create_model(config["model"], dataset.num_classes, dataset.in_channels)
    model.load_state_dict(runs.load_weights(run / runs.WEIGHTS))
    names = np.array(dataset.class_names)
    val = predict(model, dataset, dataset.val_indices, Recipe.from_dict(config["recipe"]))
    val_threshold = pad_threshold(val.labels == 1, val.probs[:, 1], "eer", names[val.labels])
    test = predict(model, dataset, dataset.test_indices, Recipe.from_dict(config["recipe"]))
    test_threshold = pad_threshold(test.labels == 1, test.probs[:, 1], "eer", names[test.labels])
    assert pad["threshold"] == val_threshold != test_threshold  # darker real images in val: another threshold
    with np.load(run / runs.PAD_SCORES) as saved:
        assert (saved["test_scores"] == test.probs[:, 1]).all() and (saved["test_labels"] == test.labels).all()
        expected = pad_metrics(saved["test_labels"] == 1, saved["test_scores"], val_threshold,
                               names[saved["test_labels"]], score_range=(0, 1))
    assert {key: pad[key] for key in TEST_KEYS} == expected
    assert set(pad["apcer_per_type"]) == {"print", "replay"} and pad["eer_threshold"] == test_threshold


def test_evaluate_gives_the_same_numbers_and_leaves_the_run_untouched(pad_run, tmp_path, monkeypatch):
    run, _ = pad_run
    monkeypatch.setenv("WINNOW_CACHE", str(run.parent / "cache"))
    before = _hashes(run)
    assert main(["evaluate", str(run), "--pad-bona-fide", "real", "--out", str(tmp_path / "eval")]) == 0
    assert main(["evaluate", str(run), "--pad-bona-fide", "real", "--pad-threshold", "apcer:0.1",
                 "--out", str(tmp_path / "apcer")]) == 0
    assert _hashes(run) == before
    trained, evaluated = runs.read_json(run / runs.FINAL), runs.read_json(tmp_path / "eval" / runs.FINAL)
    assert {k: v for k, v in evaluated["pad"].items() if k != "threshold_how"} == \
        {k: v for k, v in trained["pad"].items() if k != "threshold_how"}
    assert evaluated["test_accuracy"] == trained["test_accuracy"]
    with np.load(run / runs.PAD_SCORES) as a, np.load(tmp_path / "eval" / runs.PAD_SCORES) as b:
        assert a.files == b.files and all((a[name] == b[name]).all() for name in a.files)
        development = a["development_labels"] == 1, a["development_scores"], \
            np.array(["print", "real", "replay"])[a["development_labels"]]
    other = runs.read_json(tmp_path / "apcer" / runs.FINAL)["pad"]
    assert other["threshold"] == pad_threshold(*development[:2], "apcer:0.1", development[2])
    assert other["threshold_rule"] == "apcer:0.1" and other["development"]["apcer"] <= 0.1
    config = runs.read_json(tmp_path / "eval" / runs.CONFIG)
    assert config["command"] == "evaluate" and config["run_dir"] == str(run.resolve())


def test_evaluate_refuses_to_write_into_the_run_folder(pad_run, capsys):
    run, _ = pad_run
    before = _hashes(run)
    for out in (run, run / "evaluation"):
        assert main(["evaluate", str(run), "--pad-bona-fide", "real", "--out", str(out), "--force"]) == 2
        assert "evaluate writes a new folder and never changes the run's" in capsys.readouterr().err
    assert _hashes(run) == before


def test_the_report_draws_the_roc_and_det_curves_and_the_pad_table(pad_run, tmp_path, monkeypatch):
    from test_report import Page, assert_self_contained

    run, _ = pad_run
    monkeypatch.setenv("WINNOW_CACHE", str(run.parent / "cache"))
    assert main(["evaluate", str(run), "--pad-bona-fide", "real", "--out", str(tmp_path / "eval")]) == 0
    pad = runs.read_json(run / runs.FINAL)["pad"]
    for folder in (run, tmp_path / "eval"):
        text = (folder / runs.REPORT_HTML).read_text(encoding="utf-8")
        page = Page(text)
        assert {"Presentation-attack detection", "ROC and DET curves", "Confusion matrix"} <= set(page.titles("h3"))
        assert "APCER print" in text and "APCER replay" in text and "APCER (worst attack type)" in text
        assert f"threshold {pad['threshold']:.6g} (eer) fixed on the val split (30 images" in text
        assert_self_contained(text, page)
        with Image.open(folder / runs.PAD_CURVES_PNG) as curves:
            curves.verify()
    assert "evaluation" in (tmp_path / "eval" / runs.REPORT_HTML).read_text(encoding="utf-8")


def test_the_curves_of_the_hand_worked_case():
    """Bona fide 0.6-0.9, attacks 0.1, 0.2 (print) and 0.3, 0.65 (replay)."""
    bona_fide = np.array([True] * 4 + [False] * 4)
    scores = np.array([0.6, 0.7, 0.8, 0.9, 0.1, 0.2, 0.3, 0.65])
    curve = pad_curve(bona_fide, scores, np.array(["-"] * 4 + ["print"] * 2 + ["replay"] * 2))
    assert curve["thresholds"][:-1].tolist() == [0.1, 0.2, 0.3, 0.6, 0.65, 0.7, 0.8, 0.9]
    assert curve["bpcer"].tolist() == [0, 0, 0, 0, 0.25, 0.25, 0.5, 0.75, 1]
    assert curve["apcer_per_type"]["print"].tolist() == [1, 0.5, 0, 0, 0, 0, 0, 0, 0]
    assert curve["apcer_per_type"]["replay"].tolist() == [1, 1, 1, 0.5, 0.5, 0, 0, 0, 0]
    assert curve["apcer_pooled"].tolist() == [1, 0.75, 0.5, 0.25, 0.25, 0, 0, 0, 0]
    assert (curve["apcer"] == np.maximum(curve["apcer_per_type"]["print"], curve["apcer_per_type"]["replay"])).all()


def test_the_det_axes_are_normal_deviates_labelled_in_percent():
    positions, labels = plots.det_axis()
    assert labels == ["0.1", "0.5", "1", "2", "5", "10", "20", "40", "60"]
    assert np.allclose(positions, norm.ppf([0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.4, 0.6]))
    assert positions[6] == pytest.approx(-0.841621, abs=1e-6)  # 20 %: 0.84 standard deviations below the mean


def test_a_threshold_fixed_elsewhere_may_lie_outside_the_test_scores():
    bona_fide, scores = np.array([True, False]), np.array([0.5, 0.1])
    metrics = pad_metrics(bona_fide, scores, 0.9, score_range=(0, 1))  # both rejected
    assert (metrics["apcer"], metrics["bpcer"], metrics["accuracy"]) == (0.0, 1.0, 0.5)
    with pytest.raises(ValueError, match=r"threshold 1.5 is outside the score range \[0, 1\]"):
        pad_metrics(bona_fide, scores, 1.5, score_range=(0, 1))


def test_a_split_without_bona_fide_presentations_is_refused_before_training(tmp_path):
    dataset = _arrays_dataset()
    no_real = from_arrays(dataset.images, dataset.labels, dataset.class_names, test_indices=dataset.test_indices,
                          val_indices=np.flatnonzero(dataset.labels.numpy() == 1)[:5])  # 5 prints
    with pytest.raises(ValueError, match=r"^--pad-bona-fide real: the val split \(5 images\) holds no 'real' image; "
                                         "PAD metrics need both$"):
        train_run(no_real, tmp_path / "run", pad_bona_fide="real")
    only_real = from_arrays(dataset.images, dataset.labels, dataset.class_names, test_indices=np.arange(3))
    with pytest.raises(ValueError, match=r"^--pad-bona-fide real: the test split \(3 images\) holds no attack "):
        train_run(only_real, tmp_path / "run", pad_bona_fide="real", pad_threshold="0.5")
    assert not (tmp_path / "run").exists()


def test_scores_that_are_not_finite_are_a_one_line_error(pad_run, tmp_path, monkeypatch, capsys):
    run, _ = pad_run
    monkeypatch.setenv("WINNOW_CACHE", str(run.parent / "cache"))
    broken = tmp_path / "broken"
    shutil.copytree(run, broken)
    weights = runs.load_weights(broken / runs.WEIGHTS)
    runs.save_weights(broken / runs.WEIGHTS, _Weights({k: torch.full_like(v, float("nan")) if v.is_floating_point()
                                                       else v for k, v in weights.items()}))
    capsys.readouterr()
    assert main(["evaluate", str(broken), "--pad-bona-fide", "real", "--out", str(tmp_path / "eval")]) == 2
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0 and error.startswith("winnow evaluate: error: --pad-bona-fide real: 30 bona fide "
                                                       "scores on the val split are not finite"), error
    assert not (tmp_path / "eval").exists()


class _Weights(torch.nn.Module):
    """A module whose state dict is `state` (runs.save_weights saves a module's)."""

    def __init__(self, state: dict):
        super().__init__()
        self._state = state

    def state_dict(self, *args, **kwargs):
        return self._state
