"""Label files: the answers people give, read and matched to the images of a folder.

Two formats, each read into `Answer`s (where in the file, the image reference, the class name):

* CSV (`read_csv`): columns `path` (the image's path inside the folder) and `label` (a class
  name; empty = not answered); other columns are ignored, so a filled-in query CSV reads as it is.
  `match_exact` matches the paths to the folder's images ("./" allowed in front).
* Label Studio's JSON export (`read_label_studio`): a list of tasks, the image in `data.image`,
  the class in the last annotation that was not cancelled. `PathMatcher` matches its image URLs
  to the folder's paths.

Problems are collected, not raised one by one: `problem_report` words them all in one error,
naming the file and each CSV line or JSON task.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from .dataset import DataError

MAX_REPORTED = 20  # problems listed in one error


@dataclass
class Answer:
    """One row of a label file: where it is (for errors), the image it names and its class."""

    where: str  # "line 4" or "task 2 (id 17)"
    reference: str  # the path or URL as written
    label: str | None  # None or "" = not answered
    path: str | None = None  # the folder path it names, once matched


def problem_report(source, problems: list[str], consequence: str) -> str:
    shown = problems[:MAX_REPORTED]
    more = f"\n  ... and {len(problems) - len(shown)} more" if len(problems) > len(shown) else ""
    count = "a problem" if len(problems) == 1 else f"{len(problems)} problems"
    return f"{source}: {count}, {consequence}:\n  " + "\n  ".join(shown) + more


def read_csv(path: Path) -> list[Answer]:
    """Rows of a CSV with columns path and label (others ignored)."""
    check_file(path, "labels file")
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            columns = [name.strip() for name in reader.fieldnames or []]
            if not {"path", "label"} <= set(columns):
                raise DataError(f"{path}: needs the columns path and label (a class name); "
                                f"found {', '.join(columns) or 'no header'}")
            reader.fieldnames = columns
            answers = [Answer(f"line {reader.line_num}", (row["path"] or "").strip(), (row["label"] or "").strip())
                       for row in reader]
    except UnicodeDecodeError as error:
        raise DataError(f"labels file {path} is not UTF-8 text ({error.reason} at byte {error.start})") from None
    return answers


def check_file(path: Path, what: str) -> None:
    """A FileNotFoundError naming `what` and `path` when it does not exist or is not a file."""
    if not path.exists():
        raise FileNotFoundError(f"{what} {path} does not exist")
    if not path.is_file():
        raise FileNotFoundError(f"{what} {path} is not a file")


def match_exact(answers: list[Answer], image_paths: set[str], spec: str) -> list[str]:
    """Set each answer's path to its reference when that is an image path of the folder ("./"
    allowed in front); the problems of those that are not."""
    problems = []
    for answer in answers:
        reference = answer.reference[2:] if answer.reference.startswith("./") else answer.reference
        if reference in image_paths:
            answer.path = reference
        elif not reference:
            problems.append(f"{answer.where}: empty path")
        else:
            problems.append(f"{answer.where}: {answer.reference!r} is not an image of {spec} "
                            "(paths are relative to the folder, as in queries/cycle_K.csv)")
    return problems


def read_label_studio(path: Path) -> list[Answer]:
    """The tasks of a Label Studio JSON export: each task's image reference (`data.image`, or the
    only text value of `data`) and the single choice of its last annotation that was not
    cancelled (no such annotation = unanswered)."""
    try:
        tasks = json.loads(path.read_text(encoding="utf-8-sig"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise DataError(f"{path}: not a JSON file ({error})") from None
    if not isinstance(tasks, list):
        raise DataError(f"{path}: expected Label Studio's JSON export, a list of tasks; "
                             f"got a {type(tasks).__name__}")
    answers, problems = [], []
    for index, task in enumerate(tasks):
        where = f"task {index}"
        if not isinstance(task, dict):
            problems.append(f"{where}: not a task object")
            continue
        if "id" in task:
            where += f" (id {task['id']})"
        task_data = task.get("data") if isinstance(task.get("data"), dict) else {}
        texts = [value for value in task_data.values() if isinstance(value, str)]
        reference = task_data.get("image", texts[0] if len(texts) == 1 else None)
        if not isinstance(reference, str) or not reference:
            problems.append(f"{where}: no image in its data (expected data.image)")
            continue
        done = [a for a in task.get("annotations") or [] if isinstance(a, dict) and not a.get("was_cancelled")]
        label = None
        if done:
            choices = [choice for result in done[-1].get("result") or []
                       if isinstance(result, dict) and result.get("type") == "choices"
                       for choice in (result.get("value") or {}).get("choices") or []]
            if len(choices) != 1:
                problems.append(f"{where}: its last annotation holds {len(choices)} choices {choices}; "
                                "expected one class per image")
                continue
            label = str(choices[0]).strip()
        answers.append(Answer(where, reference, label))
    if problems:
        raise DataError(problem_report(path, problems, "nothing was imported"))
    return answers


class PathMatcher:
    """Finds the folder image a Label Studio image reference names.

    The reference is reduced to a path: the `d` parameter of a local-files URL
    (`/data/local-files/?d=photos/img.jpg`), else the decoded path of a URL
    (`/data/upload/3/8a7c-img.jpg`, `s3://bucket/photos/img.jpg`), else the text as it is. Then:

    1. by path: of the images for which one path ends the other (`/home/me/photos/img.jpg` and
       `photos/img.jpg`, `img.jpg` and `photos/img.jpg`, or the same path), the one sharing the
       most trailing folders with the reference; several sharing as many = ambiguous;
    2. else by file name: the images of that file name, or, for Label Studio uploads named
       `<hex>-<name>`, of `<name>`; more than one = ambiguous.
    """

    _UPLOAD_PREFIX = re.compile(r"[0-9a-fA-F]{4,}-(.+)")

    def __init__(self, image_paths: list[str]):
        self.image_paths = set(image_paths)
        self.by_name = defaultdict(list)
        for path in image_paths:
            self.by_name[path.rsplit("/", 1)[-1]].append(path)

    def match(self, answers: list[Answer], spec: str) -> list[str]:
        """Set each answer's path; the problems of those that match none or several."""
        problems = []
        for answer in answers:
            found = self.find(answer.reference)
            if len(found) == 1:
                answer.path = found[0]
            elif found:
                problems.append(f"{answer.where}: image {answer.reference!r} matches {len(found)} images of {spec}: "
                                f"{', '.join(found[:3])}{', ...' if len(found) > 3 else ''}")
            else:
                problems.append(f"{answer.where}: image {answer.reference!r} matches no image of {spec} "
                                "(by path, path suffix or file name)")
        return problems

    def find(self, reference: str) -> list[str]:
        """The images the reference may name, sorted: one, several (ambiguous) or none."""
        path, is_upload = reference_path(reference)
        parts = path.split("/")
        same_name = self.by_name.get(parts[-1], [])
        shared = {}  # image -> trailing path parts it shares with the reference, where one path ends the other
        for image in same_name:
            image_parts = image.split("/")
            common = min(len(parts), len(image_parts))
            if parts[-common:] == image_parts[-common:]:
                shared[image] = common
        if shared:
            most = max(shared.values())
            return sorted(image for image, count in shared.items() if count == most)
        upload = self._UPLOAD_PREFIX.fullmatch(parts[-1]) if is_upload else None
        if not same_name and upload:
            same_name = self.by_name.get(upload.group(1), [])
        return sorted(same_name)


def reference_path(reference: str) -> tuple[str, bool]:
    """(the path a Label Studio image reference stands for, whether it is an upload)."""
    parts = urlsplit(reference.strip())
    local = parse_qs(parts.query).get("d")
    if local:
        return local[0].lstrip("/"), False
    is_url = bool(parts.scheme or parts.query or parts.netloc) or reference.strip().startswith("/data/")
    path = (unquote(parts.path) if is_url else reference.strip()).lstrip("/")
    return path, is_url and path.startswith("data/upload/")


def labels_csv_text(labels: dict[str, tuple[str, str]]) -> str:
    """A labelling folder's labels.csv: path,label,source rows from path -> (class name, source)."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["path", "label", "source"])
    writer.writerows([path, label, source] for path, (label, source) in labels.items())
    return text.getvalue()


def read_labels(path: Path, class_names: list[str]) -> dict[str, tuple[str, str]]:
    """path -> (class name, source), in file order, from a labelling folder's labels.csv."""
    labels = {}
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        if reader.fieldnames is None or not {"path", "label", "source"} <= set(reader.fieldnames):
            raise DataError(f"{path}: expected the columns path,label,source")
        known = set(class_names)
        for row in reader:
            if row["label"] not in known:
                raise DataError(f"{path} line {reader.line_num}: unknown class {row['label']!r}")
            if row["path"] in labels:
                raise DataError(f"{path} line {reader.line_num}: {row['path']} is listed twice")
            labels[row["path"]] = (row["label"], row["source"])
    return labels


def class_names_of(classes, answers: list[Answer], labels_csv) -> list[str]:
    """The classes given, or the sorted labels of the answers; at least two."""
    if classes is not None:
        names = [str(name) for name in classes]
        if len(set(names)) != len(names) or not all(name.strip() == name and name for name in names):
            raise ValueError(f"classes must be distinct, non-empty names without surrounding spaces, got {names}")
    else:
        names = sorted({answer.label for answer in answers if answer.label})
    if len(names) < 2:
        where = "no labels file" if labels_csv is None else f"the labels of {labels_csv}"
        raise ValueError(f"{where} name{'s' if labels_csv is not None else ''} {len(names)} class(es) {names}; "
                         "a classifier needs at least two: give classes=[...] (--classes) to name them all")
    return names


def answer_problems(answers: list[Answer], class_names: list[str], existing: dict,
                     force: bool) -> list[str]:
    """Unknown classes, images named twice, and (without force) labels that would change; for
    answers whose path was matched."""
    problems = []
    known = set(class_names)
    first_row = {}
    for answer in answers:
        if answer.path is None:
            continue
        if answer.path in first_row:
            problems.append(f"{answer.where}: {answer.path} is also in {first_row[answer.path]}; give each image once")
            continue
        first_row[answer.path] = answer.where
        if not answer.label:
            continue
        if answer.label not in known:
            problems.append(f"{answer.where}: unknown class {answer.label!r} for {answer.path}; "
                            f"classes: {', '.join(class_names)}")
            continue
        old = existing.get(answer.path)
        if old is not None and old[0] != answer.label and not force:
            problems.append(f"{answer.where}: {answer.path} is already labelled {old[0]!r} ({old[1]}), not "
                            f"{answer.label!r}; pass --force to overwrite")
    return problems
