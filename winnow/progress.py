"""Progress reporters for the CLI: what to do with the `Progress` records of `fit` and `predict`.

The trainer draws nothing; it calls `on_progress(record)` after every step or batch (see
`winnow.train.Progress`). A command picks a reporter once and passes it to every call:

    on_progress = reporter()  # a bar on a terminal, plain lines in a log, or None
    try:
        result = fit(model, dataset, train_indices, recipe, on_progress=on_progress)
    finally:
        if on_progress is not None:
            on_progress.close()  # only matters when training ends with an exception

- `BarReporter`: a rich progress bar on stderr, removed when its run ends (transient).
- `LineReporter`: for stderr that is not a terminal (nohup, CI logs): a line now and then,
  "training: epoch 3/10, step 120/400, 1m 05s elapsed, about 2m 30s left", at most once every
  `interval` seconds, and one at the end of every training.
"""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, Callable, TextIO

if TYPE_CHECKING:
    from .train import Progress

DEFAULT_INTERVAL = 60.0  # seconds between two lines of `LineReporter`


def reporter(enabled: bool | None = None, *, interval: float = DEFAULT_INTERVAL) -> BarReporter | LineReporter | None:
    """The reporter a command passes as `on_progress`.

    enabled : None (default) chooses by stderr: a bar on a terminal, plain lines otherwise;
        True draws a bar even when stderr is not a terminal; False reports nothing (returns None).
    interval : the least number of seconds between two periodic lines of the plain reporter
    """
    if enabled is False:
        return None
    if enabled or sys.stderr.isatty():
        return BarReporter()
    return LineReporter(interval=interval)


class LineReporter:
    """Plain lines on a stream (stderr by default), for logs.

    A line when at least `interval` seconds have passed since the last line (or since the
    reporter was made), and one when a training that lasted at least `interval` ends; short
    trainings (an active-learning cycle on a few labels) and the end of a prediction print
    nothing of their own, so a run of many of them does not fill the log.
    """

    def __init__(self, interval: float = DEFAULT_INTERVAL, stream: TextIO | None = None,
                 clock: Callable[[], float] = time.monotonic):
        if interval < 0:
            raise ValueError(f"interval must be >= 0 seconds, got {interval!r}")
        self.interval = interval
        self.stream = stream  # None: sys.stderr at the time of writing
        self.clock = clock
        self.last_line = clock()

    def __call__(self, record: Progress) -> None:
        now = self.clock()
        ends_training = record.done and record.stage == "training" and record.elapsed_seconds >= self.interval
        if ends_training or now - self.last_line >= self.interval:
            print(describe(record), file=self.stream or sys.stderr, flush=True)
            self.last_line = now

    def close(self) -> None:
        pass


class BarReporter:
    """A rich progress bar on stderr, one per run of `fit` or `predict`, gone when the run ends."""

    def __init__(self):
        self.bar = None
        self.task = None
        self.run = None  # (stage, total_steps) of the run the bar shows
        self.step = 0

    def __call__(self, record: Progress) -> None:
        run = (record.stage, record.total_steps)
        if self.bar is None or run != self.run or record.step <= self.step:  # a new run
            self.close()
            self._start(record)
        self.run, self.step = run, record.step
        info = f"epoch {record.epoch}/{record.num_epochs}" if record.num_epochs else ""
        self.bar.update(self.task, completed=record.step, info=info)
        if record.done:
            self.close()

    def _start(self, record: Progress) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, TextColumn, TimeRemainingColumn
        from rich.progress import Progress as RichProgress

        self.bar = RichProgress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[info]}"),
                                TimeRemainingColumn(), console=Console(stderr=True), transient=True)
        self.bar.start()
        self.task = self.bar.add_task(record.stage, total=record.total_steps, info="")

    def close(self) -> None:
        """Stop and remove the bar, if one is drawn."""
        if self.bar is not None:
            self.bar.stop()
        self.bar, self.task, self.run, self.step = None, None, None, 0


def describe(record: Progress) -> str:
    """One line for a log: "training: epoch 3/10, step 120/400, 1m 05s elapsed, about 2m 30s left"."""
    unit = "step" if record.stage == "training" else "batch"
    parts = [f"epoch {record.epoch}/{record.num_epochs}"] if record.num_epochs else []
    parts.append(f"{unit} {record.step}/{record.total_steps}")
    parts.append(f"{duration(record.elapsed_seconds)} elapsed")
    if record.done:
        parts.append("done" if record.step == record.total_steps else "stopped early")
    elif record.step > 0:
        left = record.elapsed_seconds * (record.total_steps - record.step) / record.step
        parts.append(f"about {duration(left)} left")
    return f"{record.stage}: {', '.join(parts)}"


def duration(seconds: float) -> str:
    """5 -> "5s", 65 -> "1m 05s", 3720 -> "1h 02m"."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m {seconds % 60:02d}s"
    return f"{seconds // 3600}h {seconds // 60 % 60:02d}m"
