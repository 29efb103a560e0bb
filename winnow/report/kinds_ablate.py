"""The report's sections of `winnow ablate` runs: the results table, per setting a bar of the
mean test accuracy with ± std error bars and each seed as a dot (the base in grey), and the
same training images as each setting augments them (written by the run)."""

from __future__ import annotations

from pathlib import Path

from .. import plots, runs
from ..experiments.ablate import EXAMPLES_PNG
from . import html as h
from .kinds import difference, not_finished, stored_table, summary_text
from .registry import Block, Context, Run, register_kind

ABLATE_PNG = "ablate_results.png"
runs.register_run_files("ablate", r"ablate_results\.png")


def _ablate_headline(run: Run) -> str:
    results = run.json(runs.RESULTS_JSON)
    rows = [r for r in (results or {}).get("rows", []) if r["test_accuracy"]["n"]]
    base = next((r for r in rows if r["vs_base"] is None), None)
    varied = [r for r in rows if r["vs_base"] is not None]
    if base is None or not varied:
        return "not finished"
    best = max(varied, key=lambda r: r["vs_base"]["mean"])
    return (f"base {summary_text(base['test_accuracy'])}; best {best['setting']} "
            f"{summary_text(best['test_accuracy'])} ({100 * best['vs_base']['mean']:+.2f} points)")


def plot_ablation(results: dict, path: str | Path | None = None) -> bytes:
    """Test accuracy (%) per setting: bars of the mean with ± one std error bars, each seed's
    accuracy as a dot; the base grey."""
    per_seed = {}
    for cell in results["cells"]:
        per_seed.setdefault(cell["setting"], []).append(100 * cell["test_accuracy"])
    bars = [{"label": row["setting"], "mean": 100 * row["test_accuracy"]["mean"],
             "std": 100 * row["test_accuracy"]["std"], "dots": per_seed.get(row["setting"], []),
             "colour": "#8a94a6" if row["vs_base"] is None else plots.PALETTE[x % len(plots.PALETTE)]}
            for x, row in enumerate(r for r in results["rows"] if r["test_accuracy"]["n"])]
    return plots.plot_seed_bars(bars, "Test accuracy per setting (mean ± std over seeds; dots: seeds)", path)


@register_kind("ablate", "ablation", headline=_ablate_headline,
               compare=lambda group, context: _compare_ablate(group, context))
def ablate_sections(run: Run, context: Context) -> list[Block]:
    results = run.json(runs.RESULTS_JSON)
    if results is None:
        return not_finished(run, "cells")
    base = results["rows"][0]
    items = [(summary_text(base["test_accuracy"]), "base test accuracy %"),
             (str(len(results["rows"]) - 1), "settings against the base"),
             (str(len(results["config"]["seeds"])), "seeds")]
    return [Block("Results", h.cards(items) + stored_table(results) + h.note(
                "Green: the whole interval is above 0; red: below.")),
            Block("Settings against the base", context.figure(
                run, ABLATE_PNG, lambda p: plot_ablation(results, p),
                "Test accuracy of the base (grey) and of each setting (the base with one option changed); bars: "
                "mean ± std over seeds, dots: each seed. The accuracy axis is zoomed to the values shown.")),
            Block("Augmented examples", _examples(run))]


def _examples(run: Run):
    sheet = run.file(EXAMPLES_PNG)
    if not sheet.is_file():
        return h.note(f"{sheet} is missing (runs before this version did not write it).")
    return h.figure(sheet.read_bytes(), "The same training images as they are (first row), then as a training step "
                    "of each setting sees them (seed 0; the base first).", pixelated=True)


def _compare_ablate(group: list[Run], context: Context) -> list[Block]:
    rows = []
    for run in group:
        for row in (run.json(runs.RESULTS_JSON) or {}).get("rows", []):
            rows.append([run.name, row["setting"], summary_text(row["test_accuracy"]),
                         str(row["test_accuracy"]["n"]), difference(row.get("vs_base"))])
    return [Block("Results side by side", h.table(["run", "setting", "test accuracy %", "seeds",
                                                   "vs base (95 % CI)"], rows, align="llrrr"))]
