"""`winnow report`: the HTML made from real run folders of every command (tests/report_runs.py),
its embedded figures, the comparison of runs of one kind, the PNG files written beside the runs,
and the errors for what is not a run folder."""

from __future__ import annotations

import base64
import html
import io
import json
import re
import shutil
import sys
import types
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from winnow import calibration, plots, runs
from winnow.cli import main
from winnow.report import NotARunFolderError, render_report, write_report
from winnow.report.build import is_report

from report_runs import EXPECTED_HEADINGS

EXPECTED_FIGURES = {  # per kind, the PNG files the report writes into the run folder
    "train": [runs.TRAINING_CURVES_PNG, runs.CONFUSION_PNG, runs.PER_CLASS_PNG],
    "select": [runs.SELECTED_PNG, runs.SELECTED_CLASSES_PNG, runs.TRAINING_CURVES_PNG],
    "prune": [runs.PRUNE_PNG],
    "al": [runs.LEARNING_CURVES_PNG],
    "clean": [],
}


class Page(HTMLParser):
    """What the tests look at in a report: headings, images, links, section ids, forbidden tags."""

    def __init__(self, text: str):
        super().__init__()
        self.headings: list[tuple[str, str]] = []
        self.images: list[dict] = []
        self.urls: list[str] = []
        self.ids: list[str] = []
        self.tags: list[str] = []
        self._heading: list | None = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append(tag)
        if tag in ("h1", "h2", "h3", "h4"):
            self._heading = [tag, ""]
        if tag == "img":
            self.images.append(attrs)
        for name in ("src", "href"):
            if attrs.get(name):
                self.urls.append(attrs[name])
        if "id" in attrs:
            self.ids.append(attrs["id"])

    def handle_data(self, data):
        if self._heading is not None:
            self._heading[1] += data

    def handle_endtag(self, tag):
        if self._heading is not None and tag == self._heading[0]:
            self.headings.append((tag, self._heading[1].strip()))
            self._heading = None

    def titles(self, level: str | None = None) -> list[str]:
        return [text for tag, text in self.headings if level is None or tag == level]


def decode_png(uri: str) -> Image.Image:
    assert uri.startswith("data:image/png;base64,"), uri[:60]
    image = Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1], validate=True)))
    image.load()
    assert image.format == "PNG" and image.width > 0 and image.height > 0
    return image


def all_runs(report_runs) -> list[Path]:
    return [folder for folders in report_runs.values() for folder in folders]


def assert_self_contained(text: str, page: Page) -> None:
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", text, re.I)
    assert all(u.startswith(("data:image/png;base64,", "#")) for u in page.urls), \
        [u[:40] for u in page.urls if not u.startswith(("data:", "#"))]
    assert "script" not in page.tags and "link" not in page.tags and "iframe" not in page.tags
    assert "@import" not in text and "url(" not in text
    assert 'class="note warn section-error"' not in text, re.findall(r"Could not build[^<]*", text)


# ---------------------------------------------------------------- each command's own report


@pytest.mark.parametrize("kind", sorted(EXPECTED_HEADINGS))
def test_every_command_writes_its_report_and_figures(report_runs, kind):
    for folder in report_runs[kind]:
        path = folder / runs.REPORT_HTML
        assert path.is_file() and is_report(path), f"{kind} wrote no report.html in {folder}"
        text = path.read_text(encoding="utf-8")
        page = Page(text)
        assert page.titles("h2") == [folder.name]
        assert set(EXPECTED_HEADINGS[kind]) <= set(page.titles("h3")), page.titles("h3")
        assert "Configuration and versions" in text and html.escape(f'"command": "{kind}"') in text
        assert_self_contained(text, page)
        assert page.images, "every kind shows at least one figure"
        for image in page.images:
            decoded = decode_png(image["src"])
            assert int(image["width"]) <= decoded.width and int(image["height"]) <= decoded.height
        for name in EXPECTED_FIGURES[kind]:
            with Image.open(folder / name) as saved:
                saved.verify()  # a whole PNG, written atomically
        assert not list(folder.glob(".*.tmp")), "no temporary file is left behind"


def test_al_report_shows_the_picks_of_each_cycle_in_a_grid(report_runs):
    folder = report_runs["al"][0]
    config = runs.read_json(folder / runs.CONFIG)
    picks = np.load(folder / runs.CELLS / "trial0-margin-cycle1-picks.npy")
    assert len(picks) == config["budget"] == 10
    labelled = np.load(folder / runs.CELLS / "trial0-margin-cycle1.npy")
    assert np.isin(picks, labelled).all()
    text = (folder / runs.REPORT_HTML).read_text(encoding="utf-8")
    assert Page(text).titles("h4") == ["random", "margin"]
    for strategy in ("random", "margin"):
        with Image.open(folder / runs.picks_png(strategy)) as sheet:
            # one row of the 10 picks of cycle 1; 8 px digits enlarged to 64 px
            assert sheet.size == plots.sheet_size(10, 10, 64)


def test_clean_report_names_the_filter_and_the_calibration_it_flagged_with(report_runs):
    text = (report_runs["clean"][0] / runs.REPORT_HTML).read_text(encoding="utf-8")
    assert "method, low_self_confidence, calibrated probabilities, 2 folds" in text


def test_select_report_grid_shows_the_selection_best_first(report_runs):
    folder = report_runs["select"][0]
    text = (folder / runs.REPORT_HTML).read_text(encoding="utf-8")
    assert "The first 30 of the 30 selected images, best first" in text
    with Image.open(folder / runs.SELECTED_PNG) as sheet:
        assert sheet.size == plots.sheet_size(30, 10, 64)
    rows = (folder / runs.SELECTED_CSV).read_text().splitlines()
    first = rows[1].split(",")
    assert f"<td class=\"num\">{first[1]}</td>" in text  # the top row of selected.csv is in the table


# ---------------------------------------------------------------- one report on many runs


@pytest.fixture(scope="module")
def combined(report_runs, tmp_path_factory):
    """The report on every run folder at once: (path, text, parsed page)."""
    out = tmp_path_factory.mktemp("combined") / "all.html"
    assert main(["report", *map(str, all_runs(report_runs)), "--out", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    return out, text, Page(text)


def test_one_report_on_every_kind_has_every_section(report_runs, combined):
    _, text, page = combined
    folders = all_runs(report_runs)
    assert page.titles("h2")[-len(folders):] == [f.name for f in folders]
    assert page.titles("h3").count("Configuration and versions") == 0  # a <summary>, not a heading
    assert text.count("<summary>Configuration and versions</summary>") == len(folders)
    for kind, headings in EXPECTED_HEADINGS.items():
        for heading in headings:
            assert heading in page.titles("h3"), (kind, heading)
    assert "Runs in this report" in page.titles("h3")
    assert [f"run-{i}" for i in range(1, len(folders) + 1)] == [i for i in page.ids if i.startswith("run-")]
    assert_self_contained(text, page)
    sizes = [decode_png(image["src"]).size for image in page.images]
    assert len(sizes) >= 12


def test_runs_of_one_kind_are_compared_side_by_side(combined, report_runs):
    _, text, page = combined
    assert {"compare-train", "compare-al"} <= set(page.ids)
    assert "compare-select" not in page.ids  # one selection run: nothing to compare
    train_a, train_b = (f.name for f in report_runs["train"])
    assert f"Comparison of 2 training runs: {train_a}, {train_b}" in page.titles("h2")
    section = text.split('id="compare-train"')[1].split("</section>")[0]
    assert f"<th class=\"num\">{train_a}</th><th class=\"num\">{train_b}</th>" in section
    for name in (train_a, train_b):
        accuracy = runs.read_json(report_runs["train"][[f.name for f in report_runs["train"]].index(name)]
                                  / runs.FINAL)["test_accuracy"]
        assert f"{100 * accuracy:.2f} %" in section
    assert "recipe: epochs" in section and "recipe: seed" in section  # the options in which the runs differ
    al = text.split('id="compare-al"')[1].split("</section>")[0]
    assert al.count("<img ") == 1  # both runs' curves in one plot
    for folder in report_runs["al"]:
        assert f"<td>{folder.name}</td><td>random</td>" in al


def test_the_cli_report_defaults_and_options(report_runs, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    select = report_runs["select"][0]
    assert main(["report", str(select), "--no-images", "--no-figures"]) == 0
    assert "report of 1 run folder(s) in report.html" in capsys.readouterr().out
    text = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "No image grid: images were not loaded (--no-images)" in text
    assert "Top of the selection" in text


# ---------------------------------------------------------------- other run folders


def test_a_run_whose_data_is_gone_shows_tables_instead_of_images(report_runs, tmp_path):
    folder = tmp_path / "moved"
    shutil.copytree(report_runs["select"][0], folder)
    config = runs.read_json(folder / runs.CONFIG)
    runs.write_json(folder / runs.CONFIG, {**config, "data": f"folder:{tmp_path / 'gone'}"})
    text = render_report([folder], save_figures=False)
    assert "No image grid: the images of folder:" in text and "does not exist" in text
    assert "Top of the selection" in text and "section-error" not in text


def test_an_unfinished_train_run_shows_its_epochs(report_runs, tmp_path):
    folder = tmp_path / "running"
    shutil.copytree(report_runs["train"][1], folder)
    (folder / runs.FINAL).unlink()
    text = render_report([folder], save_figures=False)
    page = Page(text)
    assert "This run has not finished" in text and "Training curves" in page.titles("h3")
    assert "Confusion matrix" not in page.titles("h3") and "not finished (started" in text
    assert_self_contained(text, page)


def test_calibration_in_a_train_run_gets_its_section(report_runs, tmp_path):
    folder = tmp_path / "calibrated"
    shutil.copytree(report_runs["train"][0], folder)
    generator = np.random.default_rng(0)
    labels = generator.integers(0, 10, 400)
    logits = generator.normal(size=(400, 10)) + 4 * np.eye(10)[labels]  # overconfident by a factor of 2
    record = calibration.temperature_scaling_report(2 * logits[:200], labels[:200], 2 * logits[200:], labels[200:])
    runs.write_json(folder / runs.CALIBRATION, {**record, "hold_out_count": 200, "test_count": 200})
    text = write_report([folder], folder / runs.REPORT_HTML).read_text(encoding="utf-8")
    page = Page(text)
    assert {"Calibration", "Reliability diagram"} <= set(page.titles("h3"))
    assert f"{record['temperature']:.3f}" in text
    assert f"{100 * record['test']['after']['ece']:.2f} %" in text
    with Image.open(folder / runs.RELIABILITY_PNG) as diagram:  # drawn, since the folder had none
        diagram.verify()
    assert_self_contained(text, page)


def test_a_labelling_folder_shows_its_labels_and_queries(tmp_path):
    folder = tmp_path / "labelling"
    (folder / "queries").mkdir(parents=True)
    (folder / "cycles").mkdir()
    runs.write_json(folder / runs.CONFIG, {"command": "al-labelling", "data": "folder:/photos",
                                           "class_names": ["cat", "dog"], "image_count": 12, "strategy": "margin"})
    (folder / "labels.csv").write_text("path,label,source\na.jpg,cat,initial\nb.jpg,dog,initial\nc.jpg,dog,cycle_1\n")
    images = np.random.default_rng(0).integers(0, 256, (4, 3, 16, 16), dtype=np.uint8)
    plots.contact_sheet(images, ["1: cat", "2: dog", "3: dog", "4: cat"], folder / "queries" / "cycle_1.png")
    runs.write_json(folder / "cycles" / "cycle_1.json", {
        "cycle": 1, "strategy": "margin", "queried_count": 4, "labelled_count": 2, "pool_count": 10,
        "queries_csv": "queries/cycle_1.csv", "contact_sheet": "queries/cycle_1.png", "seconds": 1.5})
    text = render_report([folder])
    page = Page(text)
    assert page.titles("h3") == ["Labels", "Cycle 1 queries"]
    assert "3 of 12" in text and len(page.images) == 2
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "cycles", "labels.csv", "queries"]
    assert_self_contained(text, page)


def test_an_unknown_kind_still_gets_its_config(tmp_path):
    folder = tmp_path / "future"
    folder.mkdir()
    runs.write_json(folder / runs.CONFIG, {"command": "someday", "data": "digits"})
    runs.write_json(folder / runs.FINAL, {"student_accuracy": 0.9})
    text = render_report([folder])
    assert "No report section is registered for runs of &#x27;someday&#x27;" in text
    assert "student_accuracy" in text


# ---------------------------------------------------------------- bad input


def test_a_folder_that_is_not_a_run_folder_is_named_in_the_error(tmp_path, capsys):
    empty = tmp_path / "holiday-photos"
    empty.mkdir()
    with pytest.raises(NotARunFolderError, match=f"{re.escape(str(empty))} is not a Winnow run folder: it has no "
                                                 "config.json"):
        write_report([empty], tmp_path / "r.html")
    assert not (tmp_path / "r.html").exists()
    assert main(["report", str(empty), "--out", str(tmp_path / "r.html")]) == 2
    assert f"winnow report: error: {empty} is not a Winnow run folder" in capsys.readouterr().err

    with pytest.raises(NotARunFolderError, match=f"{re.escape(str(tmp_path / 'nowhere'))} does not exist"):
        render_report([tmp_path / "nowhere"])
    note = tmp_path / "notes.txt"
    note.write_text("not a folder")
    with pytest.raises(NotARunFolderError, match="notes.txt is not a folder"):
        render_report([note])
    other = tmp_path / "other"
    other.mkdir()
    (other / "config.json").write_text(json.dumps({"lr": 0.1}))
    with pytest.raises(NotARunFolderError, match=r"config.json has no \"command\" field"):
        render_report([other])
    (other / "config.json").write_text("{not json")
    with pytest.raises(NotARunFolderError, match="not valid JSON"):
        render_report([other])
    with pytest.raises(ValueError, match="at least one run folder"):
        render_report([])


def test_a_file_that_is_not_a_report_is_never_overwritten(report_runs, tmp_path, capsys):
    mine = tmp_path / "thesis.html"
    mine.write_text("<html>my thesis</html>")
    with pytest.raises(runs.RunExistsError, match="exists and is not a Winnow report"):
        write_report(report_runs["train"][:1], mine)
    assert main(["report", str(report_runs["train"][0]), "--out", str(mine)]) == 2
    assert mine.read_text() == "<html>my thesis</html>"
    again = tmp_path / "report.html"
    write_report(report_runs["train"][:1], again, save_figures=False)
    write_report(report_runs["train"][:1], again, save_figures=False)  # its own report: replaced
    assert is_report(again)


def test_force_removes_report_files_but_never_a_users_file(report_runs, tmp_path):
    for kind in ("al", "train"):
        folder = tmp_path / kind
        shutil.copytree(report_runs[kind][0], folder)
        runs.prepare_run_dir(folder, force=True)
        assert list(folder.iterdir()) == []
    folder = tmp_path / "train-picks"
    shutil.copytree(report_runs["train"][0], folder)
    (folder / "picks_holiday.png").write_bytes(b"a photo of the user's")  # picks_*.png are an al run's only
    with pytest.raises(runs.RunExistsError, match="picks_holiday.png"):
        runs.prepare_run_dir(folder, force=True)
    assert (folder / runs.REPORT_HTML).is_file() and (folder / "picks_holiday.png").is_file()
    events = tmp_path / "tb"
    shutil.copytree(report_runs["train"][0], events)
    (events / runs.TENSORBOARD).mkdir()
    (events / runs.TENSORBOARD / "events.out.tfevents.1.host").write_bytes(b"events")
    runs.prepare_run_dir(events, force=True)
    assert list(events.iterdir()) == []
    (events / runs.TENSORBOARD).mkdir()
    (events / runs.TENSORBOARD / "notes.txt").write_text("mine")
    with pytest.raises(runs.RunExistsError, match="tensorboard"):
        runs.prepare_run_dir(events, force=True)


# ---------------------------------------------------------------- plots and TensorBoard


def test_plots_return_the_png_they_write(tmp_path):
    matrix = [[5, 1], [0, 4]]
    content = plots.plot_confusion_matrix(matrix, ["cat", "dog"], tmp_path / "c.png")
    assert content == (tmp_path / "c.png").read_bytes() and content[:8] == b"\x89PNG\r\n\x1a\n"
    assert plots.plot_confusion_matrix(matrix, ["cat", "dog"])[:8] == b"\x89PNG\r\n\x1a\n"  # no path: no file
    with pytest.raises(ValueError, match=r"shape \(2, 2\), expected \(3, 3\)"):
        plots.plot_confusion_matrix(matrix, ["a", "b", "c"])
    assert plots.strategy_colours(["margin", "random", "hybrid"])["random"] == plots.NEUTRAL


class FakeSummaryWriter:
    written: list = []

    def __init__(self, log_dir):
        self.log_dir = log_dir
        Path(log_dir).mkdir(parents=True)

    def add_scalar(self, tag, value, step):
        FakeSummaryWriter.written.append((tag, value, step))

    def flush(self):
        pass

    def close(self):
        FakeSummaryWriter.written.append("closed")


def test_train_tensorboard_writes_the_scalars_of_every_epoch(tmp_path, monkeypatch):
    module = types.ModuleType("torch.utils.tensorboard")
    module.SummaryWriter = FakeSummaryWriter
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", module)
    FakeSummaryWriter.written = []
    out = tmp_path / "run"
    assert main(["train", "--data", "digits", "--epochs", "2", "--tensorboard", "--out", str(out)]) == 0
    records = runs.read_jsonl(out / runs.METRICS)
    final = runs.read_json(out / runs.FINAL)
    expected = [(tag, r[key], r["epoch"]) for r in records for key, tag in (
        ("train_loss", "train/loss"), ("train_accuracy", "train/accuracy"), ("lr", "train/lr"),
        ("seconds", "time/seconds"))]
    assert sorted(w for w in FakeSummaryWriter.written if w != "closed") == sorted(
        expected + [("test/accuracy", final["test_accuracy"], 2)])
    assert FakeSummaryWriter.written[-1] == "closed" and (out / runs.TENSORBOARD).is_dir()


def test_train_tensorboard_without_the_package_says_how_to_install_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # import fails as when not installed
    out = tmp_path / "run"
    assert main(["train", "--data", "digits", "--epochs", "1", "--tensorboard", "--out", str(out)]) == 2
    assert "needs the tensorboard package, which is not installed: pip install tensorboard" in capsys.readouterr().err
    assert not out.exists(), "nothing is written before the check"
