"""The report's sections of `winnow distill` and `winnow ensemble` runs.

distill: the results table, teacher / student / student + teacher bars with ± std error bars and
each seed's accuracy as a dot, and the training curves of the teacher, the student alone and
each distilled student (first seed) side by side. ensemble: the members and the ensemble, and
the ensemble's confusion matrix.
"""

from __future__ import annotations

from pathlib import Path

from .. import plots, runs
from . import html as h
from .kinds import difference, not_finished, stored_table, summary_text
from .registry import Block, Context, Run, percent, register_kind

DISTILL_PNG = "distill_results.png"
DISTILL_CURVES_PNG = "distill_curves.png"
runs.register_run_files("distill", r"distill_results\.png|distill_curves\.png")


# ---------------------------------------------------------------- distill


def _row_label(row: dict) -> str:
    if row["role"] == "teacher":
        return f"teacher {row['model']}"
    return f"{row['model']} alone" if row["loss"] is None else f"+ {row['loss']}"


def _distill_headline(run: Run) -> str:
    results = run.json(runs.RESULTS_JSON)
    rows = [r for r in results["rows"] if r["role"] != "teacher" and r["test_accuracy"]["n"]]
    alone = next((r for r in rows if r["loss"] is None), None)
    taught = [r for r in rows if r["loss"] is not None]
    if alone is None or not taught:
        return "not finished"
    best = max(taught, key=lambda r: r["test_accuracy"]["mean"])
    gain = best.get("vs_student")
    return (f"student alone {summary_text(alone['test_accuracy'])}; with {best['loss']} "
            f"{summary_text(best['test_accuracy'])}" + (f" ({100 * gain['mean']:+.2f} points)" if gain else ""))


def plot_distill_results(results: dict, path: str | Path | None = None) -> bytes:
    """Test accuracy (%) of the teacher, the student alone and each distilled student: bars of
    the mean with ± one std error bars, each seed's accuracy as a dot."""
    per_seed = {}
    for cell in results["cells"]:
        per_seed.setdefault(cell["loss"], []).append(100 * cell["test_accuracy"])
    bars = [{"label": _row_label(row), "mean": 100 * row["test_accuracy"]["mean"],
             "std": 100 * row["test_accuracy"]["std"],
             "dots": [] if row["role"] == "teacher" else per_seed.get(row["loss"], []),
             "colour": plots.NEUTRAL if row["role"] == "teacher" else (
                 "#8a94a6" if row["loss"] is None else plots.PALETTE[x % len(plots.PALETTE)])}
            for x, row in enumerate(r for r in results["rows"] if r["test_accuracy"]["n"])]
    return plots.plot_seed_bars(bars, "Test accuracy (mean ± std over seeds; dots: seeds)", path, bar_width=1.3)


@register_kind("distill", "distillation run", headline=_distill_headline,
               compare=lambda group, context: _compare_distill(group, context))
def distill_sections(run: Run, context: Context) -> list[Block]:
    results = run.json(runs.RESULTS_JSON)
    if results is None:
        return not_finished(run, "cells")
    teacher = next((r for r in results["rows"] if r["role"] == "teacher"), None)
    alone = next((r for r in results["rows"] if r["role"] == "student" and r["loss"] is None), None)
    items = [(summary_text(teacher["test_accuracy"]) if teacher else "–", "teacher test accuracy %"),
             (summary_text(alone["test_accuracy"]) if alone else "–", "student alone %"),
             (str(len(results["config"]["seeds"])), "seeds")]
    blocks = [Block("Results", h.cards(items) + stored_table(results) + h.note(
        "Green: the whole interval is above 0; red: below."))]
    blocks.append(Block("Teacher, student and student + teacher", context.figure(
        run, DISTILL_PNG, lambda p: plot_distill_results(results, p),
        "Test accuracy of the teacher (one training), the student alone and the student taught with each loss "
        "(bars: mean ± std over seeds; dots: each seed). The accuracy axis is zoomed to the values shown.")))
    histories = _first_seed_histories(results)
    if histories:
        blocks.append(Block("Training curves", context.figure(
            run, DISTILL_CURVES_PNG, lambda p: plots.plot_training_curves(histories, p),
            "Per epoch, first seed: the loss trained on (a distilled student's includes its distillation terms, "
            "so the losses are not on one scale) and the accuracy on the augmented training batches.")))
    return blocks


def _first_seed_histories(results: dict) -> dict[str, list[dict]]:
    histories = {}
    teacher = results.get("teacher")
    if teacher and teacher.get("epochs"):
        histories[f"teacher {teacher['model']}"] = teacher["epochs"]
    seeds = sorted(c["seed"] for c in results["cells"])
    first = {c["loss"]: c for c in results["cells"] if seeds and c["seed"] == seeds[0]}
    for loss in [None, *results["config"]["losses"]]:
        if first.get(loss, {}).get("epochs"):
            histories["student alone" if loss is None else f"+ {loss}"] = first[loss]["epochs"]
    return histories


def _compare_distill(group: list[Run], context: Context) -> list[Block]:
    rows = []
    for run in group:
        for row in (run.json(runs.RESULTS_JSON) or {}).get("rows", []):
            rows.append([run.name, row["role"], row["model"], row["loss"] or "", summary_text(row["test_accuracy"]),
                         str(row["test_accuracy"]["n"]), difference(row.get("vs_student"))])
    return [Block("Results side by side", h.table(["run", "role", "model", "loss", "test accuracy %", "seeds",
                                                   "vs student alone (95 % CI)"], rows, align="llllrrr"))]


# ---------------------------------------------------------------- ensemble


def _ensemble_headline(run: Run) -> str:
    results = run.json(runs.RESULTS_JSON)
    return (f"ensemble of {len(results['members'])}: {percent(results['ensemble']['test_accuracy'])}; mean member "
            f"{summary_text(results['mean_member']['test_accuracy'])}")


@register_kind("ensemble", "ensemble", headline=_ensemble_headline)
def ensemble_sections(run: Run, context: Context) -> list[Block]:
    results = run.json(runs.RESULTS_JSON)
    if results is None or run.final is None:
        return [Block("Status", h.note("No results yet: run the same command again.", "warn"))]
    ensemble = results["ensemble"]
    items = [(percent(ensemble["test_accuracy"]), f"ensemble test accuracy ({len(results['members'])} members)"),
             (summary_text(results["mean_member"]["test_accuracy"]), "mean member %"),
             (f"{100 * results['gain']:+.2f}", "points over the mean member"),
             (percent(ensemble["test_ece"]), "ensemble calibration error (ECE)")]
    blocks = [Block("Results", h.cards(items) + stored_table(results))]
    final = run.final
    if final.get("confusion_matrix") is not None:
        names = list(final.get("per_class_accuracy") or run.config["class_names"])
        blocks.append(Block("Confusion matrix of the ensemble", context.figure(
            run, runs.CONFUSION_PNG, lambda p: plots.plot_confusion_matrix(final["confusion_matrix"], names, p),
            "Test images by true class (rows) and the ensemble's prediction (columns); the colour is the share of "
            "the row, the number the count.")))
    return blocks
