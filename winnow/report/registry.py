"""The report's registry of run kinds and what their builders share.

A kind (one per command: the "command" field of config.json) registers a function from a run to
its blocks (a heading and HTML each), and may add a function that compares several runs of that
kind and a one-line headline for the overview. An attachment is a file that any run folder may
hold (calibration.json in a trained run) with a builder of its own. Every run's wall time comes
from its timing.json (or final.json), whatever its kind: `wall_time`.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from .. import runs
from . import html as h

log = logging.getLogger("winnow.report")

PLOT_SCALE = 2 / 3  # plots are saved at 150 dpi and shown at 100 px per inch
OPEN_ENDED = ("al-labelling",)  # kinds of folder that never finish (no final.json)


class NotARunFolderError(ValueError):
    """A path given to the report that is not a Winnow run folder; the message names it."""


@dataclass
class Run:
    """One run folder as the report reads it."""

    path: Path
    config: dict
    final: dict | None
    metrics: list[dict]
    name: str = ""
    anchor: str = ""

    @property
    def kind(self) -> str:
        return str(self.config.get("command", "unknown"))

    def file(self, name: str) -> Path:
        return self.path / name

    def has(self, name: str) -> bool:
        return (self.path / name).is_file()

    def json(self, name: str):
        """The JSON file `name` of the folder, or None when it is absent."""
        return runs.read_json(self.path / name) if self.has(name) else None


@dataclass
class Block:
    """One part of a run's section: a heading and its HTML."""

    title: str
    html: str


@dataclass
class Kind:
    name: str
    title: str  # e.g. "training run"; plural with an s
    sections: Callable[[Run, "Context"], list[Block]]
    compare: Callable[[list[Run], "Context"], list[Block]] | None = None
    headline: Callable[[Run], str] | None = None
    wall_seconds: Callable[[Run], float | None] | None = None
    compare_with: str | None = None  # another kind whose comparison this kind's runs join ("train" for baselines)


KINDS: dict[str, Kind] = {}
ATTACHMENTS: dict[str, Callable[[Run, "Context"], list[Block]]] = {}  # file name -> builder


def register_kind(name: str, title: str, *, compare=None, headline=None, wall_seconds=None, compare_with=None):
    """Decorator: register `sections(run, context) -> [Block]` as the builder of run kind `name`.
    `compare_with`: the kind whose side-by-side comparison runs of this kind join (with its `compare`)."""
    def decorate(sections):
        KINDS[name] = Kind(name, title, sections, compare, headline, wall_seconds, compare_with)
        return sections
    return decorate


def register_attachment(file_name: str):
    """Decorator: a builder applied to every run folder that holds `file_name`."""
    def decorate(builder):
        ATTACHMENTS[file_name] = builder
        return builder
    return decorate


@dataclass
class Context:
    """What builders share: whether to write figures into the run folders and to load images,
    and the datasets loaded so far (one load per data spec, however many runs use it)."""

    save_figures: bool = True
    images: bool = True
    _datasets: dict = field(default_factory=dict)

    def figure(self, run: Run | None, name: str | None, draw: Callable[[Path | None], bytes], caption: str,
               *, pixelated: bool = False) -> h.Raw:
        """Draw a figure (`draw(path)` returns PNG bytes and writes them to `path` when given),
        saved as `name` in the run folder when figures are saved, and return it as HTML: plots
        at 2/3 of their pixel size, image grids (`pixelated`) at theirs."""
        path = run.file(name) if self.save_figures and run is not None and name else None
        try:
            png = draw(path)
        except OSError as error:  # a read-only run folder still gets its report
            log.warning("could not write %s: %s", path, error)
            png = draw(None)
        return h.figure(png, caption, pixelated=pixelated, scale=1.0 if pixelated else PLOT_SCALE)

    def dataset(self, config: dict):
        """(dataset, None) for the data spec of `config`, or (None, why not)."""
        if not self.images:
            return None, "images were not loaded (--no-images)"
        spec, options = config.get("data"), config.get("data_options") or {}
        if not spec:
            return None, "the run's config names no data"
        key = (spec, json.dumps(options, sort_keys=True))
        if key not in self._datasets:
            from .. import data  # the data layer only: no model, no trainer

            try:
                self._datasets[key] = (data.load(spec, **options), None)
            except (data.DataError, OSError, ValueError, TypeError) as error:
                self._datasets[key] = (None, f"the images of {spec} could not be loaded ({error})")
        dataset, reason = self._datasets[key]
        if dataset is not None and list(dataset.class_names) != list(config.get("class_names", dataset.class_names)):
            return None, f"{spec} now has other classes than when the run was made"
        return dataset, reason


def discover_kinds() -> dict[str, Kind]:
    """Import every module of the report package named kinds* (kinds.py, kinds_distill.py, ...),
    which registers its builders: a new command's report kind is one new module."""
    import importlib
    import pkgutil

    from . import __path__ as package_path

    for module in pkgutil.iter_modules(package_path):
        if module.name.startswith("kinds"):
            importlib.import_module(f"{__package__}.{module.name}")
    return KINDS


def wall_time(run: Run) -> str:
    """The run's elapsed time with its parts, e.g. "3 min 02 s (training 2 min 40 s, ...)":
    from timing.json (summed over resumptions), or final.json's wall_seconds, or the kind's own
    record (`Kind.wall_seconds`); "" when none was recorded."""
    timing = runs.read_timing(run.path)
    if timing is None and run.final and run.final.get("wall_seconds") is not None:
        timing = {"wall_seconds": run.final["wall_seconds"], "parts": {
            part: run.final.get(key) for part, key in (("data", "decode_seconds"), ("training", "train_seconds"),
                                                        ("scoring", "scoring_seconds"), ("testing", "test_seconds"))}}
    if timing is None:
        kind = KINDS.get(run.kind)
        seconds = kind.wall_seconds(run) if kind and kind.wall_seconds else None
        return format_seconds(seconds) if seconds is not None else ""
    return timing_text(timing)


def timing_text(timing: dict) -> str:
    """A timing.json record as "3 min 02 s (data 1.2 s, training 2 min 40 s, ...)", with "over N
    sessions" when the run was resumed: what the report and the command line show."""
    parts = ", ".join(f"{part} {format_seconds(seconds)}" for part, seconds in (timing.get("parts") or {}).items()
                      if seconds)
    sessions = timing.get("sessions", 1)
    return (format_seconds(timing["wall_seconds"]) + (f" ({parts})" if parts else "")
            + (f" over {sessions} sessions" if sessions > 1 else ""))


def format_value(value) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.4g}" if math.isfinite(value) else "–"
    return str(value)


def format_seconds(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "–"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes} min {rest:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def percent(fraction, digits: int = 2) -> str:
    if fraction is None or not np.isfinite(fraction):
        return "–"
    return f"{100 * fraction:.{digits}f} %"
