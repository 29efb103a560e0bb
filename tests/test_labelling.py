"""Tests of active learning with people labelling (`winnow.experiments.labelling`) and the
contact sheet (`winnow.plots`).

The images are 60 synthetic 16x16 PNGs of 3 classes whose class is known by construction (which
quadrant is bright, as in tests/test_train.py), named img_000.png ... in a shuffled order, so
neither the file name nor the order gives the class away. Answers are given from that truth.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from winnow import plots
from winnow.data import DataError, label_files
from winnow.experiments import labelling
from winnow.runs import RunExistsError

CLASSES = ["bottom", "left", "right"]  # bright quadrant: bottom half, top-left, top-right
PER_CLASS = 20
# A tiny, fast proxy: an MLP for 3 epochs on the CPU.
FAST = dict(preset="small", model="mlp", recipe_overrides={"epochs": 3, "device": "cpu"})


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """(folder, path -> true class) of the 60 images."""
    root = tmp_path_factory.mktemp("photos")
    rng = np.random.default_rng(0)
    names = rng.permutation(3 * PER_CLASS)
    truth = {}
    for i in range(3 * PER_CLASS):
        label = i // PER_CLASS
        image = rng.integers(0, 60, size=(16, 16, 3)).astype(np.uint8)
        rows, cols = [(slice(8, 16), slice(0, 16)), (slice(0, 8), slice(0, 8)), (slice(0, 8), slice(8, 16))][label]
        image[rows, cols] += 180
        path = f"img_{names[i]:03d}.png"
        Image.fromarray(image).save(root / path)
        truth[path] = CLASSES[label]
    return root, dict(sorted(truth.items()))


@pytest.fixture(autouse=True)
def cache_dir(tmp_path, monkeypatch) -> Path:
    cache = tmp_path / "cache"
    monkeypatch.setenv("WINNOW_CACHE", str(cache))
    return cache


def write_csv(path: Path, rows: list, header=("path", "label")) -> Path:
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def first_of_each_class(truth: dict[str, str], count: int = 3) -> list[tuple[str, str]]:
    return [(path, label) for name in CLASSES for path, label in list(
        (p, c) for p, c in truth.items() if c == name)[:count]]


@pytest.fixture
def started(photos, tmp_path) -> Path:
    """A labelling folder with 3 labels per class."""
    root, truth = photos
    labels = write_csv(tmp_path / "labels.csv", first_of_each_class(truth))
    labelling.init(f"folder:{root}", labels, tmp_path / "al", **FAST)
    return tmp_path / "al"


# ---------------------------------------------------------------- init


def test_init_writes_the_config_and_the_initial_labels(photos, tmp_path):
    root, truth = photos
    unanswered = next(path for path in truth if path not in dict(first_of_each_class(truth)))
    labels = write_csv(tmp_path / "labels.csv", first_of_each_class(truth) + [(f"./{unanswered}", "")])
    status = labelling.init(f"folder:{root}", labels, tmp_path / "al", options={"temperature": 1.0}, **FAST)
    config = json.loads((tmp_path / "al" / "config.json").read_text())
    assert config["command"] == "al-labelling"
    assert config["data"] == f"folder:{root.resolve()}"
    assert config["class_names"] == CLASSES  # sorted distinct labels of the CSV
    assert (config["strategy"], config["options"], config["preset"], config["model"]) == (
        "margin", {"temperature": 1.0}, "small", "mlp")
    assert config["recipe_overrides"] == {"epochs": 3, "device": "cpu"}
    rows = read_csv(tmp_path / "al" / "labels.csv")
    assert [(r["path"], r["label"], r["source"]) for r in rows] == [
        (path, label, "initial") for path, label in first_of_each_class(truth)]  # the empty label is skipped
    assert status["classes"] == {name: 3 for name in CLASSES}
    assert (status["labelled"], status["images"], status["unlabelled"], status["pending"]) == (9, 60, 51, 0)
    assert status["next_cycle"] == 1


def test_explicit_classes_may_have_no_example_yet(photos, tmp_path):
    root, truth = photos
    labels = write_csv(tmp_path / "labels.csv", first_of_each_class(truth)[:3])  # only "bottom"
    status = labelling.init(f"folder:{root}", labels, tmp_path / "al", classes=["right", "bottom", "left"], **FAST)
    assert status["classes"] == {"right": 0, "bottom": 3, "left": 0}
    with pytest.raises(ValueError, match=r"1 class\(es\) \['bottom'\].*at least two"):
        labelling.init(f"folder:{root}", labels, tmp_path / "other", **FAST)
    assert not (tmp_path / "other").exists()


def test_init_names_every_bad_line_and_writes_nothing(photos, tmp_path):
    root, truth = photos
    (a, _), (b, _), (c, _) = list(truth.items())[:3]
    labels = write_csv(tmp_path / "labels.csv", [
        (a, "left"),           # line 2: fine
        ("nowhere.png", "left"),  # line 3: not an image of the folder
        (b, "left"),           # line 4
        (b, "right"),          # line 5: b again, with another label
        (a, "left"),           # line 6: a again, same label
        (c, "cat"),            # line 7: not a class
    ])
    with pytest.raises(DataError) as error:
        labelling.init(f"folder:{root}", labels, tmp_path / "al", classes=CLASSES, **FAST)
    message = str(error.value)
    assert "4 problems, nothing was written" in message
    assert "line 3: 'nowhere.png' is not an image of folder:" in message
    assert f"line 5: {b} is also in line 4" in message
    assert f"line 6: {a} is also in line 2" in message
    assert f"line 7: unknown class 'cat' for {c}; classes: bottom, left, right" in message
    assert not (tmp_path / "al").exists()


@pytest.mark.parametrize("arguments, error, message", [
    (dict(recipe_overrides={"seed": 1}), ValueError, r"the seed is set by --seed of `al next`, not by --set seed"),
    (dict(data_options={"test_fraction": 0.2}), DataError, r"test_fraction do not apply"),
    (dict(strategy="nonsense"), ValueError, r"unknown strategy 'nonsense'"),
    (dict(options={"nonsense": 1}), ValueError, r"unknown option\(s\) nonsense for strategy 'margin'"),
    (dict(strategy="self_confidence"), ValueError, r"needs labels"),
    (dict(preset="nonsense"), ValueError, r"unknown preset 'nonsense'"),
    (dict(classes=["a", "a"]), ValueError, r"classes must be distinct"),
])
def test_bad_arguments_are_refused_before_anything_is_written(photos, tmp_path, arguments, error, message):
    root, truth = photos
    labels = write_csv(tmp_path / "labels.csv", first_of_each_class(truth))
    with pytest.raises(error, match=message):
        labelling.init(f"folder:{root}", labels, tmp_path / "al", **{**FAST, **arguments})
    assert not (tmp_path / "al").exists()


def test_bad_labels_file_and_data_spec_are_named(photos, tmp_path):
    root, _ = photos
    with pytest.raises(DataError, match=r"needs the columns path and label.*found file, class"):
        labelling.init(f"folder:{root}", write_csv(tmp_path / "l.csv", [], ("file", "class")), tmp_path / "al")
    with pytest.raises(FileNotFoundError, match=r"missing\.csv"):
        labelling.init(f"folder:{root}", tmp_path / "missing.csv", tmp_path / "al")
    with pytest.raises(DataError, match=r"folder:PATH"):
        labelling.init("digits", None, tmp_path / "al", classes=CLASSES)


def test_an_existing_folder_needs_force_and_force_never_removes_other_files(started, photos, tmp_path):
    root, truth = photos
    labels = write_csv(tmp_path / "labels.csv", first_of_each_class(truth, 1))
    with pytest.raises(RunExistsError, match="already exists; pass --force"):
        labelling.init(f"folder:{root}", labels, started, **FAST)
    labelling.next_cycle(started, budget=5)
    (started / ".labels.csv.k2x9_a1.tmp").write_text("left by an interrupted write")
    labelling.init(f"folder:{root}", labels, started, force=True, **FAST)  # its own files only: replaced
    assert sorted(p.name for p in started.iterdir()) == ["config.json", "labels.csv"]
    assert len(read_csv(started / "labels.csv")) == 3

    (started / "queries").mkdir()
    (started / "queries" / "my_answers.csv").write_text("path,label\n")
    with pytest.raises(RunExistsError, match=r"holds files that are not a run's \(queries\)"):
        labelling.init(f"folder:{root}", labels, started, force=True, **FAST)
    assert (started / "queries" / "my_answers.csv").exists()

    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.txt").write_text("precious")
    with pytest.raises(RunExistsError, match=r"not a run's \(thesis.txt\)"):
        labelling.init(f"folder:{root}", labels, tmp_path / "mine", force=True, **FAST)
    assert (tmp_path / "mine" / "thesis.txt").read_text() == "precious"


# ---------------------------------------------------------------- next_cycle and the contact sheet


def test_next_cycle_writes_the_queries_the_contact_sheet_and_a_record(started, photos):
    _, truth = photos
    record = labelling.next_cycle(started, budget=12)
    rows = read_csv(started / "queries" / "cycle_1.csv")
    assert list(rows[0]) == ["rank", "path", "predicted", "score", "label"]
    assert [int(r["rank"]) for r in rows] == list(range(1, 13))
    paths = [r["path"] for r in rows]
    labelled = {path for path, _ in first_of_each_class(truth)}
    assert len(set(paths)) == 12 and not set(paths) & labelled and set(paths) <= set(truth)
    assert {r["predicted"] for r in rows} <= set(CLASSES) and all(r["label"] == "" for r in rows)
    scores = [float(r["score"]) for r in rows]
    assert scores == sorted(scores, reverse=True)  # margin: best first

    with Image.open(started / "queries" / "cycle_1.png") as sheet:
        assert sheet.format == "PNG"
        assert sheet.size == plots.sheet_size(12, columns=10) == (10 * 104, 2 * 118)

    assert record == json.loads((started / "cycles" / "cycle_1.json").read_text())
    assert (record["cycle"], record["budget"], record["queried_count"]) == (1, 12, 12)
    assert (record["labelled_count"], record["pending_count"], record["pool_count"], record["image_count"]) == (
        9, 0, 51, 60)
    assert record["labelled_class_counts"] == {name: 3 for name in CLASSES}
    assert record["proxy"]["model"] == "mlp" and record["proxy"]["epochs_run"] == 3
    assert record["proxy"]["recipe"]["seed"] == 0 and record["proxy"]["trained_on"] == 9
    assert sum(record["queried_predicted_counts"].values()) == 12


def test_pending_queries_stay_out_of_later_cycles_and_an_unfinished_cycle_is_redone(started):
    labelling.next_cycle(started, budget=20)
    first = {r["path"] for r in read_csv(started / "queries" / "cycle_1.csv")}
    second = labelling.next_cycle(started, budget=20, strategy="random", seed=3)
    assert second["cycle"] == 2 and second["pending_count"] == 20 and second["pool_count"] == 31
    assert second["proxy"] is None  # random needs no model
    rows = read_csv(started / "queries" / "cycle_2.csv")
    assert not {r["path"] for r in rows} & first
    assert all(r["predicted"] == "" for r in rows)

    (started / "queries" / "cycle_3.png").write_bytes(b"left by an interrupted run")
    (started / "cycles" / "cycle_3.json").write_text("{}")
    with pytest.raises(ValueError, match=r"budget 12 is larger than the pool of 11 images.*less 40 still waiting"):
        labelling.next_cycle(started, budget=12)
    third = labelling.next_cycle(started, budget=11)
    assert third["cycle"] == 3  # the unfinished cycle 3 is made again, not skipped
    with Image.open(started / "queries" / "cycle_3.png") as sheet:
        assert sheet.size == plots.sheet_size(11)
    status = labelling.status(started)
    assert [c["queried"] for c in status["cycles"]] == [20, 20, 11]
    assert (status["pending"], status["next_cycle"]) == (51, 4)


def test_a_model_strategy_needs_labels_but_random_starts_cold(photos, tmp_path):
    root, _ = photos
    labelling.init(f"folder:{root}", None, tmp_path / "cold", classes=CLASSES, **FAST)
    with pytest.raises(ValueError, match=r"nothing is labelled yet.*'random'"):
        labelling.next_cycle(tmp_path / "cold", budget=5)
    record = labelling.next_cycle(tmp_path / "cold", budget=5, strategy="random")
    assert (record["labelled_count"], record["queried_count"]) == (0, 5)


def test_contact_sheet_layout_and_checks(tmp_path):
    images = np.zeros((3, 1, 8, 12), dtype=np.uint8)
    images[1] = 255
    sheet = plots.contact_sheet(images, ["a", "a very long caption that cannot fit", "c"], tmp_path / "s.png",
                                columns=2, thumb_size=24)
    assert sheet.size == plots.sheet_size(3, columns=2, thumb_size=24) == (2 * 32, 2 * 46)
    with Image.open(tmp_path / "s.png") as written:
        assert written.size == sheet.size and written.mode == "RGB"
        # image 1 (white, 12x8 enlarged twice to 24x16) sits centred in the second cell
        assert written.getpixel((32 + 4 + 12, 4 + 12)) == (255, 255, 255)
        assert written.getpixel((4 + 12, 4 + 12)) == (0, 0, 0)
    with pytest.raises(ValueError, match="2 captions"):
        plots.contact_sheet(images, ["a", "b"], tmp_path / "t.png")
    with pytest.raises(ValueError, match="uint8"):
        plots.contact_sheet(images.astype(np.float32), ["a", "b", "c"], tmp_path / "t.png")


# ---------------------------------------------------------------- import_labels


def labels_of(folder: Path) -> dict[str, tuple[str, str]]:
    return {r["path"]: (r["label"], r["source"]) for r in read_csv(folder / "labels.csv")}


def test_import_csv_adds_labels_with_their_source(started, photos, tmp_path):
    _, truth = photos
    labelling.next_cycle(started, budget=5)
    queried = [r["path"] for r in read_csv(started / "queries" / "cycle_1.csv")]
    unasked = next(p for p in truth if p not in queried and p not in labels_of(started))
    initial = first_of_each_class(truth)[0]
    answers = write_csv(tmp_path / "answers.csv", [
        (queried[0], truth[queried[0]]), (queried[1], truth[queried[1]]), (queried[2], ""),
        (unasked, truth[unasked]), initial])
    counts = labelling.import_labels(started, answers)
    assert counts == {"file": "answers.csv", "added": 3, "unchanged": 1, "overwritten": 0, "unanswered": 1}
    labels = labels_of(started)
    assert labels[queried[0]] == (truth[queried[0]], "cycle_1")
    assert labels[unasked] == (truth[unasked], "answers.csv")
    assert labels[initial[0]] == (initial[1], "initial")
    assert queried[2] not in labels
    assert labelling.status(started)["pending"] == 3

    before = (started / "labels.csv").read_bytes()
    again = labelling.import_labels(started, answers)  # importing twice changes nothing
    assert (again["added"], again["unchanged"]) == (0, 4)
    assert (started / "labels.csv").read_bytes() == before
    imports = [json.loads(line) for line in (started / "imports.jsonl").read_text().splitlines()]
    assert [record["added"] for record in imports] == [3, 0]


def test_import_errors_name_every_row_and_import_nothing(started, photos, tmp_path):
    _, truth = photos
    labelled = first_of_each_class(truth)
    free = [p for p in truth if p not in dict(labelled)]
    wrong = next(name for name in CLASSES if name != labelled[0][1])
    answers = write_csv(tmp_path / "answers.csv", [
        (free[0], truth[free[0]]),      # line 2: fine
        ("cat/nowhere.jpg", "left"),    # line 3: unknown path
        (free[1], "Left"),              # line 4: unknown class (names are exact)
        (free[2], "left"),              # line 5
        (free[2], "left"),              # line 6: the same image again, same label
        (free[3], "left"),              # line 7
        (free[3], "right"),             # line 8: again, another label
        (labelled[0][0], wrong),        # line 9: already labelled otherwise
    ])
    original = (tmp_path / "answers.csv").read_bytes()
    before = (started / "labels.csv").read_bytes()
    with pytest.raises(DataError) as error:
        labelling.import_labels(started, answers)
    message = str(error.value)
    assert "answers.csv: 5 problems, nothing was imported" in message
    assert "line 3: 'cat/nowhere.jpg' is not an image of folder:" in message
    assert f"line 4: unknown class 'Left' for {free[1]}; classes: bottom, left, right" in message
    assert f"line 6: {free[2]} is also in line 5" in message
    assert f"line 8: {free[3]} is also in line 7" in message
    assert f"line 9: {labelled[0][0]} is already labelled {labelled[0][1]!r} (initial), not {wrong!r}; " \
           "pass --force" in message
    assert (started / "labels.csv").read_bytes() == before
    assert (tmp_path / "answers.csv").read_bytes() == original
    assert not (started / "imports.jsonl").exists()


def test_force_overwrites_an_existing_label(started, photos, tmp_path):
    _, truth = photos
    path, label = first_of_each_class(truth)[0]
    wrong = next(name for name in CLASSES if name != label)
    answers = write_csv(tmp_path / "fix.csv", [(path, wrong)])
    with pytest.raises(DataError, match="pass --force"):
        labelling.import_labels(started, answers)
    counts = labelling.import_labels(started, answers, force=True)
    assert (counts["overwritten"], counts["added"]) == (1, 0)
    assert labels_of(started)[path] == (wrong, "fix.csv")
    assert labelling.status(started)["classes"][label] == 2


def test_bad_answers_files_are_named(started, tmp_path):
    (tmp_path / "answers.txt").write_text("path,label\n")
    with pytest.raises(DataError, match=r"give a \.csv .* or Label Studio's \.json"):
        labelling.import_labels(started, tmp_path / "answers.txt")
    with pytest.raises(FileNotFoundError, match="gone.csv"):
        labelling.import_labels(started, tmp_path / "gone.csv")
    (tmp_path / "broken.json").write_text("[{")
    with pytest.raises(DataError, match=r"broken\.json: not a JSON file"):
        labelling.import_labels(started, tmp_path / "broken.json")
    (tmp_path / "object.json").write_text("{}")
    with pytest.raises(DataError, match=r"a list of tasks; got a dict"):
        labelling.import_labels(started, tmp_path / "object.json")
    with pytest.raises(FileNotFoundError, match="not a labelling folder"):
        labelling.import_labels(tmp_path, tmp_path / "answers.txt")


def task(image: str, *annotations, task_id=None) -> dict:
    """A Label Studio task; each annotation is a class name, a list of names, or ("cancelled", name)."""
    made = []
    for annotation in annotations:
        cancelled = isinstance(annotation, tuple)
        choices = annotation[1] if cancelled else annotation
        choices = [choices] if isinstance(choices, str) else choices
        made.append({"id": len(made) + 1, "was_cancelled": cancelled,
                     "result": [{"from_name": "choice", "to_name": "image", "type": "choices",
                                 "value": {"choices": choices}}]})
    return {"id": task_id, "data": {"image": image}, "annotations": made} if task_id is not None \
        else {"data": {"image": image}, "annotations": made}


def test_label_studio_export_is_matched_by_url_path_suffix_or_file_name(started, photos, tmp_path):
    _, truth = photos
    free = [p for p in truth if p not in dict(first_of_each_class(truth))]
    tasks = [
        task(f"/data/local-files/?d=datasets/photos/{free[0]}", truth[free[0]], task_id=11),
        task(f"/data/upload/3/8a7c9f01-{free[1]}", truth[free[1]]),
        task(free[2], ("cancelled", "left"), truth[free[2]], ("cancelled", "right")),  # the last one not cancelled
        task(f"/home/me/photos/{free[3]}", truth[free[3]]),
        task(f"http://localhost:8080/data/local-files/?d={free[4]}", truth[free[4]]),
        task(free[5]),  # not annotated yet
        task(free[6], ("cancelled", "left")),  # skipped by the annotator
    ]
    (tmp_path / "export.json").write_text(json.dumps(tasks))
    counts = labelling.import_labels(started, tmp_path / "export.json")
    assert counts == {"file": "export.json", "added": 5, "unchanged": 0, "overwritten": 0, "unanswered": 2}
    labels = labels_of(started)
    for path in free[:5]:
        assert labels[path] == (truth[path], "export.json")
    assert free[5] not in labels and free[6] not in labels


def test_label_studio_errors_name_the_task(started, photos, tmp_path):
    _, truth = photos
    free = [p for p in truth if p not in dict(first_of_each_class(truth))]
    tasks = [
        task(free[0], "left"),
        task("/data/upload/1/abcd1234-elsewhere.png", "left", task_id=7),  # task 1: no such image
        task(free[0], "left"),  # task 2: the same image as task 0
        task(free[1], "dog"),  # task 3: not a class
    ]
    (tmp_path / "export.json").write_text(json.dumps(tasks))
    with pytest.raises(DataError) as error:
        labelling.import_labels(started, tmp_path / "export.json")
    message = str(error.value)
    assert "3 problems" in message
    assert "task 1 (id 7): image '/data/upload/1/abcd1234-elsewhere.png' matches no image" in message
    assert f"task 2: {free[0]} is also in task 0" in message
    assert f"task 3: unknown class 'dog' for {free[1]}" in message

    (tmp_path / "two.json").write_text(json.dumps([task(free[0], "left"), task(free[1], ["left", "right"]),
                                                   {"data": {}, "annotations": []}]))
    with pytest.raises(DataError) as error:
        labelling.import_labels(started, tmp_path / "two.json")
    assert "task 1: its last annotation holds 2 choices ['left', 'right']" in str(error.value)
    assert "task 2: no image in its data" in str(error.value)
    assert not (started / "imports.jsonl").exists()


def test_path_matcher_rules_and_ambiguity():
    matcher = label_files.PathMatcher(["a/cat.png", "b/cat.png", "b/dog.png", "top.png", "x/y/top.png"])
    assert matcher.find("b/dog.png") == ["b/dog.png"]
    assert matcher.find("/data/local-files/?d=data/b/cat.png") == ["b/cat.png"]  # longest path ending it
    assert matcher.find("/srv/x/y/top.png") == ["x/y/top.png"]
    assert matcher.find("/srv/z/top.png") == ["top.png"]
    assert matcher.find("y/top.png") == ["x/y/top.png"]  # it ends an image path
    assert matcher.find("dog.png") == ["b/dog.png"]
    assert matcher.find("/data/upload/2/0f3e-dog.png") == ["b/dog.png"]  # upload prefix dropped
    assert matcher.find("/srv/0f3e-dog.png") == []  # only uploads lose the prefix
    assert matcher.find("cat.png") == ["a/cat.png", "b/cat.png"]  # ambiguous
    assert matcher.find("http://host/data/local-files/?d=my%20photos%2Fb%2Fdog.png") == ["b/dog.png"]
    answers = [label_files.Answer("task 0", "cat.png", "x")]
    assert matcher.match(answers, "folder:/p") == [
        "task 0: image 'cat.png' matches 2 images of folder:/p: a/cat.png, b/cat.png"]


# ---------------------------------------------------------------- the whole loop


def test_two_cycles_of_asking_and_answering(photos, tmp_path):
    root, truth = photos
    labels = write_csv(tmp_path / "labels.csv", first_of_each_class(truth))
    folder = tmp_path / "loop"
    labelling.init(f"folder:{root}", labels, folder, **FAST)

    first = labelling.next_cycle(folder, budget=15)
    # the labeller fills in the label column of the queries file and sends it back
    rows = read_csv(folder / "queries" / "cycle_1.csv")
    answered = tmp_path / "cycle_1_answered.csv"
    write_csv(answered, [[r["rank"], r["path"], r["predicted"], r["score"], truth[r["path"]]] for r in rows],
              header=("rank", "path", "predicted", "score", "label"))
    assert labelling.import_labels(folder, answered)["added"] == 15

    second = labelling.next_cycle(folder, budget=15, seed=1)
    assert (second["cycle"], second["labelled_count"], second["pending_count"], second["pool_count"]) == (2, 24, 0, 36)
    assert second["proxy"]["trained_on"] == 24 and first["proxy"]["trained_on"] == 9
    queried = [r["path"] for r in read_csv(folder / "queries" / "cycle_2.csv")]
    assert not set(queried) & {r["path"] for r in rows}
    export = [task(f"/data/local-files/?d=photos/{path}", truth[path], task_id=i) for i, path in enumerate(queried)]
    (tmp_path / "export.json").write_text(json.dumps(export))
    assert labelling.import_labels(folder, tmp_path / "export.json")["added"] == 15

    status = labelling.status(folder)
    assert (status["labelled"], status["unlabelled"], status["pending"], status["next_cycle"]) == (39, 21, 0, 3)
    assert [(c["queried"], c["answered"], c["pending"]) for c in status["cycles"]] == [(15, 15, 0), (15, 15, 0)]
    labels = labels_of(folder)
    assert all(labels[path][0] == truth[path] for path in labels)
    assert {source for _, source in labels.values()} == {"initial", "cycle_1", "cycle_2"}
    assert sum(status["classes"].values()) == 39


def test_command_line_init_next_import_status(photos, tmp_path, capsys):
    from winnow.cli import main

    root, truth = photos
    labels = write_csv(tmp_path / "labels.csv", first_of_each_class(truth))
    folder = tmp_path / "cli"
    assert main(["al", "init", "--data", f"folder:{root}", "--labels", str(labels), "--preset", "small",
                 "--model", "mlp", "--epochs", "3", "--out", str(folder)]) == 0
    assert "9 of 60 images labelled" in capsys.readouterr().out
    assert main(["al", "next", str(folder), "--budget", "6"]) == 0
    assert "cycle 1: 6 images to label" in capsys.readouterr().out
    rows = read_csv(folder / "queries" / "cycle_1.csv")
    answers = write_csv(tmp_path / "answers.csv", [(r["path"], truth[r["path"]]) for r in rows])
    assert main(["al", "import", str(folder), str(answers)]) == 0
    assert "6 labels added" in capsys.readouterr().out
    assert main(["al", "status", str(folder)]) == 0
    assert "15 of 60 images labelled" in capsys.readouterr().out
    wrong = write_csv(tmp_path / "wrong.csv", [(rows[0]["path"], "no-such-class")])
    assert main(["al", "import", str(folder), str(wrong)]) == 2
    error = capsys.readouterr().err
    assert error.startswith("winnow al import: error:") and "no-such-class" in error
