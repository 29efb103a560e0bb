"""Small real run folders of every command on the embedded digits, made once per test session
for the report tests (tests/test_report.py, tests/test_report_browser.py). Each command runs
through `winnow.cli.main`, so each folder also holds the report.html the command wrote.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from winnow.cli import main

FAST = ["--data", "digits", "--epochs", "1"]
EXPECTED_HEADINGS = {  # per kind, the section headings its report must have
    "train": ["Final metrics", "Training curves", "Confusion matrix", "Per-class accuracy"],
    "select": ["Selection", "Selected images", "Top of the selection", "Selected per class", "Proxy training"],
    "prune": ["Results", "Accuracy against random and full data"],
    "al": ["Learning curves", "Accuracy per label count", "Area under the learning curve", "Images picked per cycle"],
    "clean": ["Flags", "Flag quality against the injected noise", "Flagged images", "Top flags",
              "Accuracy after removing the flags"],
}


def _run(*argv: str) -> None:
    assert main(list(argv)) == 0, f"winnow {' '.join(argv)} failed"


@pytest.fixture(scope="session")
def report_runs(tmp_path_factory, one_thread) -> dict[str, list[Path]]:
    """kind -> run folders: two train, one select, one prune (2 strategies x 1 seed x 1 fraction),
    two al (2 cycles, 1 trial), one clean (2 folds, injected noise, removal)."""
    root = tmp_path_factory.mktemp("report-runs")
    made: dict[str, list[Path]] = {}

    def out(kind: str, name: str) -> str:
        made.setdefault(kind, []).append(root / name)
        return str(root / name)

    _run("train", *FAST, "--out", out("train", "train-a"))
    _run("train", "--data", "digits", "--epochs", "2", "--seed", "1", "--out", out("train", "train-b"))
    _run("select", *FAST, "--strategy", "margin", "--budget", "30", "--labelled", "all",
         "--out", out("select", "select-margin"))
    _run("prune", *FAST, "--fractions", "0.5", "--strategies", "random,margin", "--seeds", "1",
         "--out", out("prune", "prune"))
    for name, strategies in (("al-margin", "random,margin"), ("al-entropy", "random,entropy")):
        _run("al", *FAST, "--initial", "20", "--budget", "10", "--cycles", "2", "--trials", "1",
             "--strategies", strategies, "--out", out("al", name))
    _run("clean", *FAST, "--folds", "2", "--seeds", "1", "--inject-noise", "0.1", "--remove", "auto",
         "--flagged-images", "20", "--out", out("clean", "clean"))
    return made
