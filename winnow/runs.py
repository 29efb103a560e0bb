"""Run folders: the single record of a run, and the one place that knows their layout.

    RUN_DIR/
      config.json     the resolved configuration (data, model, recipe, seed, version)
      metrics.jsonl   one JSON record per epoch, appended as training goes
      final.json      final metrics (test accuracy, per-class accuracy, confusion matrix, timings)
      model.pt        the weights: a state dict, loadable with torch.load(weights_only=True)
      selected.csv    `winnow select`: the chosen samples, best first (rank, index, path, label, score)
      selected.npy    `winnow select`: their dataset indices, int64, best first
      val_indices.npy the hold-out (dataset indices, int64) of a run trained with one, never trained on
      calibration.json  `winnow calibrate` / `train --calibrate`: the temperature and the metrics
                      before and after scaling; reliability.png their reliability diagrams
      flags.csv, flags.npy  `winnow clean`: the flagged samples, most likely wrongly labelled first;
                      flagged.png their contact sheet; flag_quality.json precision, recall and F1
                      against injected noise
      duplicates.json, duplicates.png  `winnow clean --duplicates`: every group of identical or
                      near-duplicate images (members, splits, classes, leaks) and a sheet of them
      cells/          commands made of many trainings (prune, al, clean): one record per finished
                      cell (`Cells`), so a repeated command resumes where it stopped
      timing.json     those commands: the elapsed (wall) time summed over every session that
                      worked on the run, and its parts (data, training, scoring, testing)
      results.md, results.csv, results.json   those commands' summary tables
      report.html     `winnow report` (and every command at its end): the run as one self-contained page;
                      its figures beside it as PNG (REPORT_FIGURES, and picks_STRATEGY.png of `winnow al`)
      tensorboard/    `winnow train --tensorboard`: TensorBoard event files of the per-epoch scalars
      pad_scores.npz  `winnow train --pad-bona-fide` and `winnow evaluate`: the bona fide scores and
                      labels of the test split (and of the split that fixed the threshold), for the
                      report's ROC and DET curves (pad_curves.png)

Every file is written atomically (a temporary file renamed into place), so a run stopped at
any moment leaves either the old or the new version of a file, never half of one.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from pathlib import Path

import numpy as np
import torch

CONFIG, METRICS, FINAL, WEIGHTS = "config.json", "metrics.jsonl", "final.json", "model.pt"
RUN_FILES = (CONFIG, METRICS, FINAL, WEIGHTS)
SELECTED_CSV, SELECTED_NPY = "selected.csv", "selected.npy"
SELECTION_FILES = (SELECTED_CSV, SELECTED_NPY)  # written by `winnow select` besides the run files
CELLS = "cells"
RESULTS_MD, RESULTS_CSV, RESULTS_JSON = "results.md", "results.csv", "results.json"
RESULT_FILES = (RESULTS_MD, RESULTS_CSV, RESULTS_JSON)
VAL_INDICES, CALIBRATION, RELIABILITY_PNG = "val_indices.npy", "calibration.json", "reliability.png"
CALIBRATION_FILES = (VAL_INDICES, CALIBRATION, RELIABILITY_PNG)
FLAGS_CSV, FLAGS_NPY, FLAGGED_PNG, FLAG_QUALITY = "flags.csv", "flags.npy", "flagged.png", "flag_quality.json"
CLEANING_FILES = (FLAGS_CSV, FLAGS_NPY, FLAGGED_PNG, FLAG_QUALITY)  # written by `winnow clean`
DUPLICATES_JSON, DUPLICATES_PNG = "duplicates.json", "duplicates.png"
DUPLICATE_FILES = (DUPLICATES_JSON, DUPLICATES_PNG)  # written by `winnow clean --duplicates`
PAD_SCORES, PAD_CURVES_PNG = "pad_scores.npz", "pad_curves.png"  # presentation-attack detection (`experiments.pad`)
TIMING = "timing.json"
REPORT_HTML = "report.html"
TRAINING_CURVES_PNG, CONFUSION_PNG = "training_curves.png", "confusion_matrix.png"
PER_CLASS_PNG = "per_class_accuracy.png"
SELECTED_PNG, SELECTED_CLASSES_PNG = "selected.png", "selected_classes.png"
PRUNE_PNG, LEARNING_CURVES_PNG = "prune_results.png", "learning_curves.png"
REPORT_FIGURES = (TRAINING_CURVES_PNG, CONFUSION_PNG, PER_CLASS_PNG, SELECTED_PNG, SELECTED_CLASSES_PNG, PRUNE_PNG,
                  LEARNING_CURVES_PNG, PAD_CURVES_PNG)
REPORT_FILES = (REPORT_HTML, *REPORT_FIGURES)  # written by `winnow report` and at the end of every command
TENSORBOARD = "tensorboard"  # `winnow train --tensorboard`: holds only events.out.tfevents.* files
_OWN_FILES = ((TIMING,) + RUN_FILES + SELECTION_FILES + RESULT_FILES + CALIBRATION_FILES + CLEANING_FILES
              + DUPLICATE_FILES + (PAD_SCORES,) + REPORT_FILES)
_CELL_SUFFIXES = (".json", ".npy", ".npz", ".jsonl", ".pt", ".tmp")
_VOLATILE = ("winnow_version", "torch_version", "python_version", "command_line", "git_commit")  # may change between a run and its resumption


class RunExistsError(FileExistsError):
    pass


def prepare_run_dir(path: str | os.PathLike, force: bool = False) -> Path:
    """Create `path` for a new run. An existing run folder is refused unless `force`.

    With `force`, only the files a run writes are removed; a folder that holds anything else
    (something that is not a run of ours) is refused even then, so nothing of the user's is
    ever deleted.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise RunExistsError(f"{path} exists and is not a folder")
    if path.is_dir() and any(path.iterdir()):
        others = sorted(p.name for p in path.iterdir() if not _is_run_file(p.name, path))
        if not force:
            raise RunExistsError(f"run folder {path} already exists; pass --force to replace its run files")
        if others:
            raise RunExistsError(f"{path} holds files that are not a run's ({', '.join(others[:5])}); "
                                 "choose another --out folder")
        for leftover in path.iterdir():
            shutil.rmtree(leftover) if leftover.is_dir() else leftover.unlink()
    path.mkdir(parents=True, exist_ok=True)
    return path


def open_resumable_run(path: str | os.PathLike, config: dict, force: bool = False,
                       grid: tuple[str, ...] = ()) -> tuple[Path, bool]:
    """(folder, resumed) for a command made of cells that can be resumed.

    A new or empty folder gets `config`. A folder holding a run with the same config (versions
    aside) is resumed: its finished cells are kept. The `grid` keys (e.g. the seeds) may differ:
    they only add or leave out cells, so the run is resumed and its config records the new
    grid. Any other difference is an error naming the keys, unless `force`, which removes the
    run's files and starts again (`prepare_run_dir`'s rules: nothing that is not a run file
    is ever removed).
    """
    path = Path(path)
    existing = path / CONFIG
    if existing.is_file() and not force:
        old = _with_new_recipe_defaults(read_json(existing), _json_round_trip(config))
        differ = sorted(k for k in set(old) | set(config)
                        if k not in _VOLATILE and old.get(k) != _json_round_trip(config.get(k)))
        if set(differ) - set(grid):
            raise RunExistsError(f"run folder {path} holds a run with another configuration (differs in "
                                 f"{', '.join(k for k in differ if k not in grid)}); choose another --out, or pass "
                                 "--force to replace it")
        if differ:
            write_json(existing, config)
        return path, True
    path = prepare_run_dir(path, force=force)
    write_json(path / CONFIG, config)
    return path, False


def _with_new_recipe_defaults(old, new):
    """`old` (a stored config) with the recipe fields added to Winnow since it was written filled
    in at their defaults, wherever `new` has them at the default: a run written before a field
    existed trained as if it had its default, so it resumes."""
    if not isinstance(old, dict) or not isinstance(new, dict):
        return old
    from .train import Recipe

    defaults = _json_round_trip(Recipe().to_dict())
    filled = {key: _with_new_recipe_defaults(value, new.get(key)) for key, value in old.items()}
    looks_like_recipe = "epochs" in old and "batch_size" in old
    if looks_like_recipe:
        filled.update({key: value for key, value in new.items()
                       if key not in old and key in defaults and value == defaults[key]})
    return filled


def _json_round_trip(value):
    return json.loads(json.dumps(value))


_COMMAND_FILES: dict[str, re.Pattern] = {}  # command -> its own files (`register_run_files`)


def register_run_files(command: str, *patterns: str) -> None:
    r"""Declare the files a run folder of `command` holds besides the common run files: regexes
    over '/'-separated paths inside the folder (r"queries/cycle_[0-9]+\.csv"). With force,
    `prepare_run_dir` removes them, and the temporaries of their interrupted writes, from a
    folder whose config.json names `command`; a sub-folder goes when every file in it matches."""
    _COMMAND_FILES[command] = re.compile("|".join(f"(?:{pattern})" for pattern in patterns))


register_run_files("al", r"picks_[\w.-]+\.png")  # the images a strategy picked, per cycle


def _is_run_file(name: str, folder: Path | None = None) -> bool:
    """A file a run writes, the temporary file of an atomic write that was interrupted, the
    cells folder holding only cell records, or a file the folder's command declared its own."""
    if name == CELLS and folder is not None:
        cells = folder / CELLS
        return cells.is_dir() and all(p.is_file() and p.suffix in _CELL_SUFFIXES for p in cells.rglob("*")
                                      if not p.is_dir())
    if name == TENSORBOARD and folder is not None:
        events = folder / TENSORBOARD
        return events.is_dir() and all(p.is_file() and p.name.startswith("events.out.tfevents.")
                                       for p in events.iterdir())
    if name in _OWN_FILES or any(name.startswith(f".{f}.") and name.endswith(".tmp") for f in _OWN_FILES):
        return True
    own = _COMMAND_FILES.get(_command_of(folder))
    if own is None:
        return False
    entry = folder / name
    files = [p for p in entry.rglob("*") if not p.is_dir()] if entry.is_dir() else [entry]
    return all(own.fullmatch(_written_name(p.relative_to(folder).as_posix())) for p in files)


def _written_name(path: str) -> str:
    """"queries/cycle_1.csv" for the temporary "queries/.cycle_1.csv.k2x9.tmp" of its atomic write."""
    return re.sub(r"(^|/)\.([^/]+)\.[^./]+\.tmp$", r"\1\2", path)


def _command_of(folder: Path | None) -> str | None:
    """The command named in `folder`'s config.json; None when it has none that can be read."""
    try:
        return None if folder is None else read_json(folder / CONFIG).get("command")
    except (OSError, ValueError, AttributeError):
        return None


def picks_png(strategy: str) -> str:
    """The figure of the images `strategy` picked in each cycle of a `winnow al` run."""
    return f"picks_{strategy}.png"


def _atomic_write(path: Path, write) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    umask = os.umask(0)
    os.umask(umask)
    try:
        os.fchmod(fd, 0o666 & ~umask)  # as an ordinary file would be, not mkstemp's 0600
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: str | os.PathLike, data) -> None:
    _atomic_write(Path(path), lambda f: f.write((json.dumps(data, indent=2, allow_nan=True) + "\n").encode()))


def write_text(path: str | os.PathLike, text: str) -> None:
    _atomic_write(Path(path), lambda f: f.write(text.encode()))


def write_bytes(path: str | os.PathLike, content: bytes) -> None:
    _atomic_write(Path(path), lambda f: f.write(content))


def save_array(path: str | os.PathLike, array) -> None:
    """A .npy file, loadable with numpy.load(allow_pickle=False)."""
    _atomic_write(Path(path), lambda f: np.save(f, np.asarray(array), allow_pickle=False))


def save_arrays(path: str | os.PathLike, **arrays) -> None:
    """Several named arrays as one .npz file, loadable with numpy.load(allow_pickle=False)."""
    _atomic_write(Path(path), lambda f: np.savez(f, **{name: np.asarray(a) for name, a in arrays.items()}))


def read_json(path: str | os.PathLike):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def append_jsonl(path: str | os.PathLike, record: dict) -> None:
    """Append one record as a line; the line is written whole with one write and synced."""
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(record) + "\n")
        f.flush()
        os.fsync(f.fileno())


def read_jsonl(path: str | os.PathLike) -> list[dict]:
    """Records of a JSON-lines file; a last line cut short by an interruption is ignored."""
    records = []
    path = Path(path)
    if not path.exists():
        return records
    lines = path.read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            if i == len(lines) - 1:
                break
            raise ValueError(f"{path}: line {i + 1} is not valid JSON")
    return records


def save_weights(path: str | os.PathLike, model: torch.nn.Module) -> None:
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    _atomic_write(Path(path), lambda f: torch.save(state, f))


def load_weights(path: str | os.PathLike) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)


def read_run(path: str | os.PathLike) -> dict:
    """Everything a report needs from a run folder: config, per-epoch metrics and final metrics."""
    path = Path(path)
    if not (path / CONFIG).exists():
        raise FileNotFoundError(f"{path} is not a run folder (no {CONFIG})")
    final = path / FINAL
    return {
        "path": str(path),
        "config": read_json(path / CONFIG),
        "metrics": read_jsonl(path / METRICS),
        "final": read_json(final) if final.exists() else None,
    }


class Cells:
    """The cells of a run folder: units of work whose record is written last.

    A cell NAME is `cells/NAME.json` (its record) with its arrays beside it (`NAME.npy` for the
    key "", `NAME-KEY.npy` otherwise) and optionally weights (`NAME.pt`). Arrays and weights are
    written first and the record last, each atomically: a cell whose record exists is finished,
    and a run stopped at any moment resumes at the first unfinished cell.

        cells = Cells(run_dir)
        if not cells.done("random-f0.5-s0"):
            cells.save("random-f0.5-s0", {"test_accuracy": 0.91}, arrays={"": kept})
        kept = cells.array("random-f0.5-s0")
    """

    def __init__(self, run_dir: str | os.PathLike):
        self.folder = Path(run_dir) / CELLS

    def _path(self, name: str, key: str = "", suffix: str = ".npy") -> Path:
        return self.folder / (f"{name}-{key}{suffix}" if key else f"{name}{suffix}")

    def done(self, name: str) -> bool:
        return self._path(name, suffix=".json").is_file()

    def record(self, name: str) -> dict:
        return read_json(self._path(name, suffix=".json"))

    def array(self, name: str, key: str = "") -> np.ndarray:
        return np.load(self._path(name, key), allow_pickle=False)

    def has_array(self, name: str, key: str = "") -> bool:
        return self._path(name, key).is_file()

    def weights(self, name: str) -> dict:
        return load_weights(self._path(name, suffix=".pt"))

    def has_weights(self, name: str) -> bool:
        return self._path(name, suffix=".pt").is_file()

    def drop_weights(self, name: str) -> None:
        self._path(name, suffix=".pt").unlink(missing_ok=True)

    def save(self, name: str, record: dict, *, arrays: dict | None = None,
             weights: torch.nn.Module | None = None) -> dict:
        """Write the cell's arrays and weights, then its record (which marks it done)."""
        for key, value in (arrays or {}).items():
            save_array(self._path(name, key), value)
        if weights is not None:
            save_weights(self._path(name, suffix=".pt"), weights)
        write_json(self._path(name, suffix=".json"), record)
        return record

    def records(self) -> dict[str, dict]:
        """name -> record of every finished cell, by name."""
        return {p.stem: read_json(p) for p in sorted(self.folder.glob("*.json"))}


class Timing:
    """The elapsed time of a run, summed over the sessions that worked on it, and its parts.

    `timing.json` holds `wall_seconds` (real time from the start of each session to its last
    saved step), `sessions` and `parts` (seconds spent on data, training, scoring, testing).
    `add(part, seconds)` counts a part; `save()` writes the file (after every cell, so a
    stopped run keeps the time it spent).
    """

    PARTS = ("data", "training", "scoring", "testing")

    def __init__(self, run_dir: str | os.PathLike, resumed: bool):
        import time

        self._now = time.perf_counter
        self.path = Path(run_dir) / TIMING
        previous = read_json(self.path) if resumed and self.path.is_file() else {}
        self.before = float(previous.get("wall_seconds", 0.0))
        self.sessions = int(previous.get("sessions", 0)) + 1
        self.parts = {part: float(previous.get("parts", {}).get(part, 0.0)) for part in self.PARTS}
        self.started = self._now()

    def add(self, part: str, seconds: float) -> None:
        if part not in self.parts:
            raise ValueError(f"unknown time part {part!r}; known: {', '.join(self.PARTS)}")
        self.parts[part] += float(seconds)

    @property
    def wall_seconds(self) -> float:
        return self.before + self._now() - self.started

    def to_dict(self) -> dict:
        return {"wall_seconds": self.wall_seconds, "sessions": self.sessions, "parts": dict(self.parts)}

    def save(self) -> dict:
        record = self.to_dict()
        write_json(self.path, record)
        return record


def read_timing(run_dir: str | os.PathLike) -> dict | None:
    """The run's timing.json (wall time and parts), None for a run that has none."""
    path = Path(run_dir) / TIMING
    return read_json(path) if path.is_file() else None
