"""Tests of winnow.progress: the reporters the CLI passes to `fit` and `predict` as `on_progress`."""

from __future__ import annotations

import io

import pytest

from winnow import progress
from winnow.progress import BarReporter, LineReporter, describe, duration, reporter
from winnow.train import Progress


def training(step, total=400, epoch=3, num_epochs=10, elapsed=65.0, done=False):
    return Progress("training", step, total, epoch, num_epochs, elapsed, done)


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.mark.parametrize("seconds, text", [(0, "0s"), (5.4, "5s"), (59.6, "1m 00s"), (65, "1m 05s"),
                                           (150, "2m 30s"), (3599, "59m 59s"), (3720, "1h 02m")])
def test_duration_by_hand(seconds, text):
    assert duration(seconds) == text


def test_describe_by_hand():
    # 120 of 400 steps in 65 s: 280 more at 65/120 s each is 151.7 s
    assert describe(training(120)) == "training: epoch 3/10, step 120/400, 1m 05s elapsed, about 2m 32s left"
    assert describe(training(400, epoch=10, elapsed=200, done=True)) == (
        "training: epoch 10/10, step 400/400, 3m 20s elapsed, done")
    assert describe(training(150, epoch=4, elapsed=80, done=True)) == (
        "training: epoch 4/10, step 150/400, 1m 20s elapsed, stopped early")
    assert describe(Progress("predicting", 2, 8, 0, 0, 10.0)) == "predicting: batch 2/8, 10s elapsed, about 30s left"


def test_line_reporter_with_interval_0_writes_a_line_per_call():
    stream = io.StringIO()
    report = LineReporter(interval=0, stream=stream)
    report(training(120))
    report(training(121, elapsed=66))
    assert stream.getvalue().splitlines() == [
        "training: epoch 3/10, step 120/400, 1m 05s elapsed, about 2m 32s left",
        "training: epoch 3/10, step 121/400, 1m 06s elapsed, about 2m 32s left"]


def test_line_reporter_writes_at_most_once_an_interval_and_at_the_end_of_a_long_training():
    stream, clock = io.StringIO(), FakeClock()
    report = LineReporter(interval=60, stream=stream, clock=clock)
    clock.now += 59
    report(training(1))
    assert stream.getvalue() == "", "nothing before the first interval has passed"
    clock.now += 1
    report(training(2))
    assert len(stream.getvalue().splitlines()) == 1
    for step in range(3, 10):  # called again within the interval: nothing more
        clock.now += 5
        report(training(step))
    assert len(stream.getvalue().splitlines()) == 1
    clock.now += 30  # 65 s since the last line
    report(training(10))
    assert len(stream.getvalue().splitlines()) == 2
    clock.now += 1
    report(training(400, done=True))  # the end of a training of a minute or more gets its line
    lines = stream.getvalue().splitlines()
    assert len(lines) == 3 and lines[-1].endswith("done")
    clock.now += 1
    report(training(30, total=30, elapsed=4.0, done=True))  # the end of a 4-second training does not
    assert len(stream.getvalue().splitlines()) == 3
    clock.now += 1
    report(Progress("predicting", 3, 3, 0, 0, 1.0, done=True))  # the end of a prediction does not
    assert len(stream.getvalue().splitlines()) == 3


def test_line_reporter_writes_to_stderr_by_default(capsys):
    LineReporter(interval=0)(training(1))
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.startswith("training: epoch 3/10, step 1/400")


def test_reporter_chooses_by_stderr(monkeypatch):
    monkeypatch.setattr(progress.sys.stderr, "isatty", lambda: False, raising=False)
    plain = reporter(interval=0)
    assert isinstance(plain, LineReporter) and plain.interval == 0
    assert isinstance(reporter(), LineReporter) and reporter().interval == 60
    assert isinstance(reporter(True), BarReporter), "True draws a bar even off a terminal"
    assert reporter(False) is None
    monkeypatch.setattr(progress.sys.stderr, "isatty", lambda: True, raising=False)
    assert isinstance(reporter(), BarReporter)
    assert reporter(False) is None


def test_bar_reporter_starts_a_bar_per_run_and_removes_it_at_the_end():
    bar = BarReporter()
    bar(training(1, total=3))
    first = bar.bar
    assert first is not None
    bar(training(2, total=3))
    assert bar.bar is first
    bar(training(1, total=5))  # a new run before the last one was done: a new bar
    assert bar.bar is not None and bar.bar is not first
    bar(training(5, total=5, done=True))
    assert bar.bar is None
    bar(Progress("predicting", 1, 2, 0, 0, 0.1))
    bar.close()
    assert bar.bar is None
    bar.close()  # closing twice is harmless


def test_negative_interval_is_named():
    with pytest.raises(ValueError, match="interval"):
        LineReporter(interval=-1)
