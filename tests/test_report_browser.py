"""Reports opened in a real browser: headless Chromium (Debian's `chromium`, installed by `make
setup`), kept off the network, driven over the DevTools protocol (tests/chromium_page.py).

Each report must load without console errors and without asking for anything but itself, show
every image (natural width > 0), have its sections, fit the window's width, and give a full-page
screenshot; the screenshots are copied to /tmp/winnow-report-shots/ for people to look at.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from chromium_page import INSTALL_HINT, Chromium, chromium_binary
from report_runs import EXPECTED_HEADINGS

from winnow import runs
from winnow.report import write_report

SHOTS = Path("/tmp/winnow-report-shots")

PAGE_FACTS = """(() => ({
  images: [...document.images].map(i => ({complete: i.complete, width: i.naturalWidth, height: i.naturalHeight})),
  headings: [...document.querySelectorAll("h2, h3, h4")].map(h => h.textContent.trim()),
  summaries: [...document.querySelectorAll("details > summary")].map(s => s.textContent.trim()),
  pageWidth: document.documentElement.scrollWidth,
  windowWidth: window.innerWidth,
  fonts: getComputedStyle(document.body).fontFamily,
}))()"""


@pytest.fixture(scope="module")
def browser():
    try:
        chromium_binary()
    except FileNotFoundError:
        pytest.fail(INSTALL_HINT)
    with Chromium() as chromium:
        yield chromium


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    return tmp_path_factory.mktemp("shots")


def check_page(browser: Chromium, html: Path, shot: Path, headings: list[str]) -> dict:
    page = browser.open(html)
    facts = page.evaluate(PAGE_FACTS)
    assert page.console_errors == [], page.console_errors
    assert page.requests == [html.resolve().as_uri()], "the report asks for nothing but itself"
    assert facts["images"], f"{html} shows no image"
    broken = [i for i, image in enumerate(facts["images"]) if not image["complete"] or image["width"] == 0]
    assert broken == [], f"images {broken} of {html} did not render"
    missing = [h for h in headings if h not in facts["headings"]]
    assert missing == [], f"{html} lacks the sections {missing}"
    assert "Configuration and versions" in facts["summaries"]
    assert facts["pageWidth"] <= facts["windowWidth"], "nothing sticks out sideways"
    assert "system-ui" in facts["fonts"]
    page.screenshot(shot)
    with open(shot, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    shutil.copy(shot, SHOTS / shot.name)
    return facts


@pytest.mark.parametrize("kind", sorted(EXPECTED_HEADINGS))
def test_each_commands_report_renders(browser, shots, report_runs, kind):
    for folder in report_runs[kind]:
        check_page(browser, folder / runs.REPORT_HTML, shots / f"{folder.name}.png", EXPECTED_HEADINGS[kind])


def test_a_report_on_every_run_renders_with_its_comparisons(browser, shots, report_runs, tmp_path):
    folders = [f for group in report_runs.values() for f in group]
    html = write_report(folders, tmp_path / "all.html", save_figures=False)
    headings = [h for group in EXPECTED_HEADINGS.values() for h in group] + [
        "Runs in this report", "Final metrics side by side", "Area under the learning curve"]
    facts = check_page(browser, html, shots / "all-runs.png", headings)
    assert sum(h.startswith("Comparison of 2 ") for h in facts["headings"]) == 2  # train and al
    assert len(facts["images"]) >= 15


def test_a_narrow_window_still_fits(browser, shots, report_runs):
    html = report_runs["train"][0] / runs.REPORT_HTML
    page = browser.open(html, width=480, height=900)
    facts = page.evaluate(PAGE_FACTS)
    assert facts["pageWidth"] <= facts["windowWidth"]
    assert all(image["width"] > 0 for image in facts["images"])
    page.screenshot(shots / "train-narrow.png")
    shutil.copy(shots / "train-narrow.png", SHOTS / "train-narrow.png")
