"""The report's sections, one builder per run kind, and the comparisons of several runs of a kind.

Each builder reads one run folder (its config, final record, results and cells) and returns its
blocks; figures are drawn by `winnow.plots` and saved beside the run's files.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import numpy as np

from .. import cleaning, plots, runs, stats
from ..table import Table
from . import html as h
from .registry import Block, Context, Run, format_seconds, percent, register_attachment, register_kind
from .images import grid

TABLE_ROWS = 15  # rows of a CSV shown (selected.csv, flags.csv)
GRID_IMAGES = 40  # images in the grid of a selection
PICKS_PER_CYCLE = 20  # images per cycle in the grids of an al run


# ---------------------------------------------------------------- formatting


def summary_text(d: dict | None, scale: float = 100.0) -> str:
    """"mean ± std" over several seeds; the value alone for one (a std of one value says nothing)."""
    if not d:
        return "–"
    if d["n"] == 1:
        return f"{d['mean'] * scale:.2f}"
    return stats.Summary(**d).format(scale)


def difference(d: dict | None, scale: float = 100.0) -> h.Raw | str:
    """A paired difference "+0.62 [+0.10, +1.14]", green when its interval is above 0, red below."""
    if not d:
        return ""
    text = stats.PairedDifference(**d).format(scale)
    low, high = d.get("low"), d.get("high")
    if low is not None and np.isfinite(low) and low > 0:
        return h.span(text, "pos")
    if high is not None and np.isfinite(high) and high < 0:
        return h.span(text, "neg")
    return text


def _seconds(value) -> str:
    return "" if value is None else f"{value:.1f}"


def _read_csv(path: Path, limit: int) -> tuple[list[str], list[list[str]], int]:
    """(columns, the first `limit` rows, the number of rows) of a CSV file."""
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        columns = next(reader, [])
        rows, count = [], 0
        for row in reader:
            if count < limit:
                rows.append(row)
            count += 1
    return columns, rows, count


def _csv_table(path: Path, caption: str) -> h.Raw:
    columns, rows, count = _read_csv(path, TABLE_ROWS)
    align = "".join("l" if c in ("path", "label", "predicted", "given_label", "suggested_label", "original_label",
                                 "injected") else "r" for c in columns)
    return h.table(columns, [[_short_number(v) for v in row] for row in rows], align=align,
                   caption=f"{caption}: the first {len(rows)} of {count} rows")


def _short_number(text: str) -> str:
    """A long float from a CSV written with repr, shortened for reading."""
    try:
        value = float(text)
    except ValueError:
        return text
    return text if text.lstrip("-").isdigit() else f"{value:.4g}"


# ---------------------------------------------------------------- train


def _train_headline(run: Run) -> str:
    return f"test accuracy {percent(run.final['test_accuracy'])}" if run.final else "not finished"



def _train_cards(run: Run) -> h.Raw:
    final = run.final
    items = [(percent(final["test_accuracy"]), f"test accuracy ({final.get('test_count', '?')} images)")]
    if final.get("test_top5_accuracy") is not None:
        items.append((percent(final["test_top5_accuracy"]), "top-5 accuracy"))
    if final.get("test_ece") is not None:
        items.append((percent(final["test_ece"]), "calibration error (ECE, uncalibrated)"))
    epochs = final.get("epochs_run")
    if epochs is not None:
        best = final.get("best_epoch")
        items.append((str(epochs), "epochs" + (f" (best {best})" if best is not None else "")))
    budget = ((run.config or {}).get("recipe") or {}).get("time_budget")
    items.append((format_seconds(final.get("train_seconds")), f"training on {final.get('device', '?')}"
                  + (f" (budget {format_seconds(budget)})" if budget else "")))
    return h.cards(items)


def _curves_caption(run: Run) -> str:
    has_validation = any(r.get("val_accuracy") is not None for r in run.metrics)
    return ("Loss and accuracy per epoch on the training batches (with augmentation)"
            + (", loss and accuracy on the held-out validation images (dashed; the validation loss "
               "without label smoothing)" if has_validation else "")
            + ", and the final test accuracy (dotted).")


@register_kind("train", "training run", headline=_train_headline,
               compare=lambda group, context: _compare_train(group, context))
def train_sections(run: Run, context: Context) -> list[Block]:
    blocks = []
    final = run.final
    if final is None:
        blocks.append(Block("Status", h.note("This run has not finished (no final.json yet); the epochs so far "
                                             "are shown.", "warn")))
    else:
        blocks.append(Block("Final metrics", _train_cards(run)))
    if run.metrics:
        test = {run.name: final.get("test_accuracy")} if final else None
        blocks.append(Block("Training curves", context.figure(
            run, runs.TRAINING_CURVES_PNG, lambda p: plots.plot_training_curves({run.name: run.metrics}, p, test),
            _curves_caption(run))))
    if final and final.get("confusion_matrix") is not None:
        names = list(final.get("per_class_accuracy") or run.config["class_names"])
        confusion = context.figure(
            run, runs.CONFUSION_PNG, lambda p: plots.plot_confusion_matrix(final["confusion_matrix"], names, p),
            "Test images by true class (rows) and predicted class (columns); the colour is the share of the row, "
            "the number the count.")
        per_class = context.figure(
            run, runs.PER_CLASS_PNG, lambda p: plots.plot_per_class_accuracy({run.name: final["per_class_accuracy"]},
                                                                             p),
            "Accuracy on the test images of each class.")
        blocks.append(Block("", h.columns([f"<h3>Confusion matrix</h3>{confusion}",
                                           f"<h3>Per-class accuracy</h3>{per_class}"])))
    if final and final.get("missing_modalities"):  # a model of several inputs, tested with some missing
        from ..experiments.modalities import missing_modality_table

        missing = final["missing_modalities"]
        note = h.note(missing["note"], "warn") if missing.get("note") else ""
        blocks.append(Block("Missing modalities", h.Raw(missing_modality_table(missing).to_html() + str(note))))
    return blocks


def _compare_train(group: list[Run], context: Context) -> list[Block]:
    finished = [r for r in group if r.final]
    best = max((r.final["test_accuracy"] for r in finished), default=None)

    def accuracy(run):
        if not run.final:
            return "–"
        text = percent(run.final["test_accuracy"])
        return h.span(text, "pos") if len(finished) > 1 and run.final["test_accuracy"] == best else text

    rows = [["test accuracy", *[accuracy(r) for r in group]],
            ["top-5 accuracy", *[percent((r.final or {}).get("test_top5_accuracy")) for r in group]],
            ["calibration error (ECE)", *[percent((r.final or {}).get("test_ece")) for r in group]],
            ["test images", *[str((r.final or {}).get("test_count", "–")) for r in group]],
            ["epochs", *[str((r.final or {}).get("epochs_run", "–")) for r in group]],
            ["training time", *[format_seconds((r.final or {}).get("train_seconds")) for r in group]],
            ["device", *[str((r.final or {}).get("device", "–")) for r in group]],
            ["model", *[str(r.config.get("model", "–")) for r in group]],
            ["preset", *[str(r.config.get("preset", "–")) for r in group]],
            ["data", *[str(r.config.get("data", "–")) for r in group]]]
    recipes = [r.config.get("recipe") for r in group]  # None for runs without one (a baseline's)
    trained = [rc for rc in recipes if rc]
    differing = sorted(k for k in set().union(*trained) if len({json.dumps(rc.get(k)) for rc in trained}) > 1)
    rows += [[f"recipe: {k}", *[json.dumps(rc.get(k)) if rc else "–" for rc in recipes]] for k in differing]
    blocks = [Block("Final metrics side by side", h.table(["", *[r.name for r in group]], rows)
                    + (h.note("Recipe rows list only the options in which the runs differ.") if differing else ""))]
    with_metrics = [r for r in group if r.metrics]
    if with_metrics:
        tests = {r.name: r.final.get("test_accuracy") for r in with_metrics if r.final}
        blocks.append(Block("Training curves", context.figure(
            None, None, lambda p: plots.plot_training_curves({r.name: r.metrics for r in with_metrics}, p, tests),
            "One colour per run: training loss, training accuracy (solid), validation (dashed) and final test "
            "accuracy (dotted).")))
    per_class = {r.name: r.final["per_class_accuracy"] for r in finished if r.final.get("per_class_accuracy")}
    if len(per_class) > 1 and len({tuple(v) for v in per_class.values()}) == 1:
        blocks.append(Block("Per-class accuracy", context.figure(
            None, None, lambda p: plots.plot_per_class_accuracy(per_class, p), "Test accuracy per class, one colour "
                                                                                 "per run.")))
    return blocks


# ---------------------------------------------------------------- select


def _labelled_text(labelled) -> str:
    if labelled is None:
        return "nothing (the pool is the train split)"
    if labelled == "all":
        return "the whole train split (pruning: the pool is the labelled set)"
    return str(labelled)



@register_kind("select", "selection run",
               headline=lambda run: f"{run.final['selected_count']} selected by {run.final['strategy']}", compare=lambda group, context: _compare_select(group, context))
def select_sections(run: Run, context: Context) -> list[Block]:
    final, config = run.final, run.config
    if final is None or not run.has(runs.SELECTED_NPY):
        return [Block("Status", h.note("This selection has not finished: no selected.npy yet.", "warn"))]
    selected = np.load(run.file(runs.SELECTED_NPY), allow_pickle=False)
    options = ", ".join(f"{k}={v}" for k, v in (config.get("options") or {}).items())
    items = [(str(final["selected_count"]), f"selected of a pool of {final['pool_count']}"),
             (final["strategy"], "strategy" + (f" ({options})" if options else "")),
             (format_seconds(final.get("scoring_seconds")), "scoring and selection")]
    if final.get("proxy_trained"):
        items.append((format_seconds(final.get("proxy_train_seconds")), f"proxy training on {final.get('device')}"))
    blocks = [Block("Selection", h.cards(items) + h.facts([
        ("labelled", _labelled_text(config.get("labelled"))),
        ("class balanced", "yes" if config.get("class_balanced") else "no"),
        ("seed", str(config.get("seed", ""))),
        ("proxy", f"{config['model']} (preset {config.get('preset')})" if config.get("model") else "none needed")]))]

    shown = selected[:GRID_IMAGES]
    figure, reason = grid(context, run, shown, None, runs.SELECTED_PNG,
                          f"The first {len(shown)} of the {len(selected)} selected images, best first (left to right, "
                          "top to bottom), each with its label.")
    blocks.append(Block("Selected images", figure if figure is not None
                        else h.note(f"No image grid: {reason}. The top rows of selected.csv follow.")))
    if run.has(runs.SELECTED_CSV):
        blocks.append(Block("Top of the selection", _csv_table(run.file(runs.SELECTED_CSV),
                                                               "selected.csv (rank 0 = picked first)")))
    counts = {"label": final["selected_class_counts"]}
    if final.get("selected_predicted_counts"):
        counts["predicted by the proxy"] = final["selected_predicted_counts"]
    blocks.append(Block("Selected per class", context.figure(
        run, runs.SELECTED_CLASSES_PNG, lambda p: plots.plot_class_counts(counts, p),
        "How many selected images each class has" + (" by their label and by the proxy's prediction."
                                                     if len(counts) > 1 else " (by their label)."))))
    if run.metrics:
        blocks.append(Block("Proxy training", context.figure(
            run, runs.TRAINING_CURVES_PNG, lambda p: plots.plot_training_curves({run.name: run.metrics}, p),
            "Loss and accuracy per epoch of the proxy model that gave the strategy its inputs.")))
    return blocks


def _compare_select(group: list[Run], context: Context) -> list[Block]:
    finished = [r for r in group if r.final and r.has(runs.SELECTED_NPY)]
    rows = [["strategy", *[(r.final or {}).get("strategy", "–") for r in group]],
            ["selected", *[str((r.final or {}).get("selected_count", "–")) for r in group]],
            ["pool", *[str((r.final or {}).get("pool_count", "–")) for r in group]],
            ["labelled", *[_labelled_text(r.config.get("labelled")) for r in group]],
            ["class balanced", *["yes" if r.config.get("class_balanced") else "no" for r in group]],
            ["scoring and selection", *[format_seconds((r.final or {}).get("scoring_seconds")) for r in group]],
            ["proxy training", *[format_seconds((r.final or {}).get("proxy_train_seconds")) if (r.final or {})
                                 .get("proxy_trained") else "–" for r in group]],
            ["data", *[r.config.get("data", "–") for r in group]]]
    blocks = [Block("Selections side by side", h.table(["", *[r.name for r in group]], rows))]
    if len(finished) > 1:
        chosen = {r.name: set(np.load(r.file(runs.SELECTED_NPY)).tolist()) for r in finished}
        names = list(chosen)
        overlap = [[a, *[_overlap(chosen[a], chosen[b]) for b in names]] for a in names]
        blocks.append(Block("Overlap of the selections", h.table(["", *names], overlap) + h.note(
            "Images chosen by both runs, and as a share of the union (Jaccard index). Comparable only when the "
            "runs used the same data.")))
    return blocks


def _overlap(a: set, b: set) -> str:
    union = len(a | b)
    return f"{len(a & b)} ({100 * len(a & b) / union:.0f} %)" if union else "–"


# ---------------------------------------------------------------- prune



def _prune_headline(run: Run) -> str:
    results = run.json(runs.RESULTS_JSON)
    rows = [r for r in results["rows"] if r["strategy"] != "full" and r["test_accuracy"]["n"]]
    full = next(r for r in results["rows"] if r["strategy"] == "full")
    best = max(rows, key=lambda r: r["test_accuracy"]["mean"])
    return (f"best subset {best['strategy']} at {100 * best['fraction']:g} %: {summary_text(best['test_accuracy'])}; "
            f"full data {summary_text(full['test_accuracy'])}")


def not_finished(run: Run, unit: str, leave_out: str | None = None) -> list[Block]:
    """The status of a run made of cells whose results.json is not written yet: how many of its
    cells (not counting those whose name matches the regular expression `leave_out`) are done."""
    done = sum(not (leave_out and re.match(leave_out, name)) for name in runs.Cells(run.path).records())
    return [Block("Status", h.note(f"No results yet: results.json is written when the command finishes "
                                   f"({done} {unit} are done). Run the same command again to resume.", "warn"))]


def stored_table(results: dict, index: int = 0) -> h.Raw:
    """Table `index` of a command's results.json (`Run.finish` stores them), as HTML."""
    tables = results.get("tables")
    if not tables or index >= len(tables):
        return h.note("This run's results.json holds no tables (made by an older winnow): run the same command "
                      "again to rewrite it.", "warn")
    return h.Raw(Table.from_dict(tables[index]).to_html())


@register_kind("prune", "pruning run", headline=_prune_headline,
               compare=lambda group, context: _compare_prune(group, context))
def prune_sections(run: Run, context: Context) -> list[Block]:
    results = run.json(runs.RESULTS_JSON)
    if results is None:
        return not_finished(run, "cells", leave_out="proxy-|teacher-")  # inputs, not results
    config = results["config"]
    seeds = config["seeds"]
    full = next((r for r in results["rows"] if r["strategy"] == "full"), None)
    items = [(summary_text(full["test_accuracy"]) if full else "–", "full-data test accuracy %"),
             (str(len(seeds)), "seeds (" + ", ".join(map(str, seeds)) + ")"),
             (str(len(results["cells"])), "trainings")]
    blocks = [Block("Results", h.cards(items) + stored_table(results) + h.note(
        "Green: the whole interval is above 0; red: below."))]
    blocks.append(Block("Accuracy against random and full data", context.figure(
        run, runs.PRUNE_PNG, lambda p: plots.plot_prune_results(results, p),
        "Test accuracy of each strategy's subset (bars, ± one std over seeds) against the full-data run (dashed "
        "line and band); right: the paired difference to random at the same fraction. The accuracy axis is "
        "zoomed to the values shown.")))
    return blocks


def _compare_prune(group: list[Run], context: Context) -> list[Block]:
    rows = []
    for run in group:
        results = run.json(runs.RESULTS_JSON)
        for row in (results or {}).get("rows", []):
            rows.append([run.name, f"{100 * row['fraction']:g} %", row["strategy"], summary_text(row["test_accuracy"]),
                         str(row["test_accuracy"]["n"]), difference(row["vs_random"]), difference(row["vs_full"])])
    figures = [f"<p><strong>{h.esc(r.name)}</strong></p>" + context.figure(
        None, None, lambda p, res=r.json(runs.RESULTS_JSON): plots.plot_prune_results(res, p), "")
        for r in group if r.has(runs.RESULTS_JSON)]
    return [Block("Results side by side", h.table(["run", "kept", "strategy", "test accuracy %", "seeds",
                                                   "vs random (95 % CI)", "vs full (95 % CI)"], rows,
                                                  align="lrlrrrr")),
            Block("Accuracy against random and full data", h.columns(figures))]


# ---------------------------------------------------------------- al



def _al_headline(run: Run) -> str:
    results = run.json(runs.RESULTS_JSON)
    areas = [a for a in results["areas"] if a["area"]["n"]]
    best = max(areas, key=lambda a: a["area"]["mean"])
    return f"best area under the curve: {best['strategy']} {summary_text(best['area'])} %"


def _al_area_table(results: dict, run_name: str | None = None) -> list[list]:
    return [[*([run_name] if run_name else []), a["strategy"], summary_text(a["area"]), str(len(a["trials"])),
             difference(a["vs_random"])] for a in results["areas"]]


@register_kind("al", "active-learning run", headline=_al_headline,
               compare=lambda group, context: _compare_al(group, context))
def al_sections(run: Run, context: Context) -> list[Block]:
    results = run.json(runs.RESULTS_JSON)
    if results is None:
        return not_finished(run, "cycles", leave_out=r"trial\d+-initial$")  # a cold start's initial sets
    config = run.config
    items = [(f"{config['initial']} → {results['label_counts'][-1]}", f"labels in {config['cycles']} cycles "
                                                                      f"(+{config['budget']} each)"),
             (str(config["trials"]), "trials (seeds 0.." + str(config["trials"] - 1) + ")"),
             (str(len(config["strategies"])), "strategies"),
             (config.get("initial_strategy", "random"), "initial set" + (f" (on {config['features']} features)"
                                                                          if config.get("features") else ""))]
    blocks = [Block("Learning curves", h.cards(items) + context.figure(
        run, runs.LEARNING_CURVES_PNG, lambda p: plots.plot_learning_curve_comparison({run.name: results}, p),
        f"Test accuracy against the number of labelled images, one line per strategy; the band is ± one std over "
        f"{config['trials']} trial(s), each trial starting every strategy from the same initial set."))]
    blocks.append(Block("Accuracy per label count", stored_table(results, 0) + h.note(
        "Test accuracy %, mean ± std over the trials, and the paired difference to random in points with a 95 % "
        "t interval (green: above 0, red: below).")))
    blocks.append(Block("Area under the learning curve", stored_table(results, 1) + h.note(
        "The area is the mean accuracy over the label range (trapezoidal), one number per learning curve.")))
    blocks.append(Block("Images picked per cycle", _picks(run, results, context)))
    return blocks


def _picks(run: Run, results: dict, context: Context) -> str:
    """Per strategy a grid of the first picks of each cycle of the first trial, one row per cycle."""
    config = run.config
    cells = runs.Cells(run.path)
    per_cycle = min(PICKS_PER_CYCLE, config["budget"])
    first_trial = {(r["strategy"], r["cycle"]): r for r in results["cycles"] if r["trial"] == 0}
    parts, missing = [], []
    for strategy in config["strategies"]:
        picks, rows = [], []
        for cycle in range(1, config["cycles"]):
            record = first_trial.get((strategy, cycle))
            if record is None or not record.get("picked") or not cells.has_array(record["cell"], "picks"):
                break
            picks.append(cells.array(record["cell"], "picks")[:per_cycle])
            rows.append(f"{config['initial'] + (cycle - 1) * config['budget']}")
        if not picks:
            missing.append(strategy)
            continue
        indices = np.concatenate(picks)
        counts = [len(p) for p in picks]
        if len(set(counts)) > 1:  # a short last cycle (pool exhausted): rows stay aligned only with equal counts
            indices = np.concatenate([p[:min(counts)] for p in picks])
        figure, reason = grid(context, run, indices, None, runs.picks_png(strategy),
                              f"{strategy}: the first {min(counts)} picks of each cycle in trial 1, best first, one "
                              f"row per cycle (the model of the cycle with {', '.join(rows)} labels chose them), "
                              "each with its label.", columns=min(counts))
        if figure is None:
            return h.note(f"No image grids: {reason}.")
        parts.append(f"<h4>{h.esc(strategy)}</h4>{figure}")
    if config["cycles"] < 2:
        return h.note("A single cycle picks nothing.")
    if missing:
        parts.append(h.note(f"No picks recorded for {', '.join(missing)} (runs made before winnow recorded the picks "
                            "of each cycle, or not finished)."))
    return "".join(parts)


def _compare_al(group: list[Run], context: Context) -> list[Block]:
    with_results = {r.name: r.json(runs.RESULTS_JSON) for r in group if r.has(runs.RESULTS_JSON)}
    rows = [row for name, results in with_results.items() for row in _al_area_table(results, name)]
    return [Block("Learning curves", context.figure(
                None, None, lambda p: plots.plot_learning_curve_comparison(with_results, p),
                "All runs in one plot: colour = strategy, line style = run; bands ± one std over trials.")),
            Block("Area under the learning curve", h.table(
                ["run", "strategy", "area (mean accuracy %)", "trials", "vs random (95 % CI)"], rows, align="llrrr"))]


# ---------------------------------------------------------------- clean



def _clean_headline(run: Run) -> str:
    quality = run.json(runs.FLAG_QUALITY)
    results = run.json(runs.RESULTS_JSON)
    flagged = results["flags"]["flagged"]
    text = f"{flagged['mean']:.0f} flagged"
    if quality:
        text += f"; precision {summary_text(quality['precision'])} %, recall {summary_text(quality['recall'])} %"
    return text


def _clean_details(config: dict) -> str:
    """How the run applied its method: cleanlab's filter, and whether the probabilities were
    calibrated first ("" for runs from before these options)."""
    details = [config["filter_by"]] if cleaning.takes_filter(config["method"]) and config.get("filter_by") else []
    if "calibrate" in config:
        details.append("calibrated probabilities" if config["calibrate"] else "raw probabilities")
    return ", ".join(details)


def _clean_method(config: dict) -> str:
    details = _clean_details(config)
    return config["method"] + (f" ({details})" if details else "")


@register_kind("clean", "cleaning run", headline=_clean_headline,
               compare=lambda group, context: _compare_clean(group, context))
def clean_sections(run: Run, context: Context) -> list[Block]:
    results = run.json(runs.RESULTS_JSON)
    if results is None:
        return [Block("Status", h.note("No results yet: results.json is written when the command finishes. Run "
                                       "the same command again to resume.", "warn"))]
    config, flags = results["config"], results["flags"]
    noise = config.get("noise")
    quality = run.json(runs.FLAG_QUALITY)
    items = [(f"{flags['flagged']['mean']:.0f}", "flagged (mean over seeds)"),
             (config["method"], ", ".join(filter(None, ["method", _clean_details(config),
                                                         f"{config['folds']} folds"])))]
    if quality:
        items += [(f"{summary_text(quality[k])} %", f"{name} of the flags") for k, name in
                  (("precision", "precision"), ("recall", "recall"), ("f1", "F1"))]
    blocks = [Block("Flags", h.cards(items) + h.paragraph(
        f"{100 * noise['rate']:g} % {noise['kind']} label noise was injected (seed {noise['seed']}); the flags are "
        "compared with the labels that were corrupted." if noise else
        "The labels were used as given: the flags are candidates to check, not known errors."))]
    if quality:
        blocks.append(Block("Flag quality against the injected noise", stored_table(results, 0)))
    if run.has(runs.FLAGGED_PNG):
        blocks.append(Block("Flagged images", h.figure(
            run.file(runs.FLAGGED_PNG).read_bytes(), "The top flagged images, most likely wrong first, each with "
                                                     "its given label -> the suggested one.", pixelated=True)))
    if run.has(runs.FLAGS_CSV):
        blocks.append(Block("Top flags", _csv_table(run.file(runs.FLAGS_CSV), "flags.csv (rank 0 = most likely "
                                                                             "wrong)")))
    if results["rows"]:
        blocks.append(Block("Accuracy after removing the flags", stored_table(results, 1) + h.note(
            "Green: the whole interval is above 0; red: below." + (" The cleaned set was trained for as many steps "
                                                                   "as the others." if config.get("scale_epochs")
                                                                   else ""))))
    return blocks


def _compare_clean(group: list[Run], context: Context) -> list[Block]:
    rows = []
    for run in group:
        results = run.json(runs.RESULTS_JSON)
        if results is None:
            continue
        quality = run.json(runs.FLAG_QUALITY) or {}
        by_labels = {r["labels"]: r for r in results["rows"]}
        rows.append([run.name, _clean_method(results["config"]), summary_text(results["flags"]["flagged"], 1.0),
                     *[summary_text(quality.get(k)) for k in ("precision", "recall", "f1")],
                     *[summary_text(by_labels[k]["test_accuracy"]) if k in by_labels else "–"
                       for k in ("noisy", "cleaned", "true")]])
    return [Block("Cleaning runs side by side", h.table(
        ["run", "method", "flagged", "precision %", "recall %", "F1 %", "noisy acc. %", "cleaned acc. %",
         "true acc. %"], rows, align="llrrrrrrr"))]


# ---------------------------------------------------------------- calibration (in any trained run)


@register_attachment(runs.CALIBRATION)
def calibration_blocks(run: Run, context: Context) -> list[Block]:
    record = run.json(runs.CALIBRATION)
    splits = [(split, when) for split in ("test", "hold_out") for when in ("before", "after") if split in record]
    header = ["", *[f"{'test' if s == 'test' else 'hold-out'} {w} scaling" for s, w in splits]]
    metrics = [("accuracy", "accuracy", True), ("ece", "expected calibration error (ECE)", True),
               ("mce", "maximum calibration error (MCE)", True), ("nll", "negative log-likelihood", False),
               ("brier", "Brier score", False)]
    rows = [[label, *[percent(record[s][w][key]) if is_share else f"{record[s][w][key]:.4f}" for s, w in splits]]
            for key, label, is_share in metrics]
    rows.append(["images", *[str(record[s][w]["count"]) for s, w in splits]])
    test = record["test"]
    items = [(f"{record['temperature']:.3f}", f"temperature (fitted on {record.get('hold_out_count', '?')} hold-out "
                                              "images)"),
             (f"{percent(test['before']['ece'])} → {percent(test['after']['ece'])}", "test ECE before → after")]
    blocks = [Block("Calibration", h.cards(items) + h.table(header, rows) + h.note(
        f"Temperature scaling: the logits divided by the temperature that minimises the negative log-likelihood on "
        f"the hold-out; {record.get('bins', 15)} equal-width confidence bins."))]
    if run.has(runs.RELIABILITY_PNG):
        png = run.file(runs.RELIABILITY_PNG).read_bytes()
        figure = h.figure(png, "Reliability diagrams of the test split: accuracy per confidence bin (bars) against "
                               "the bin's mean confidence (outlines); the diagonal is perfect calibration.", scale=0.8)
    else:
        figure = context.figure(run, runs.RELIABILITY_PNG, lambda p: _reliability_png(test, p),
                                "Reliability diagrams of the test split before and after scaling.")
    blocks.append(Block("Reliability diagram", figure))
    return blocks


def _reliability_png(test: dict, path: Path | None) -> bytes:
    import tempfile

    if path is not None:
        return plots.plot_reliability(test["before"], test["after"], path).read_bytes()
    with tempfile.TemporaryDirectory() as folder:
        return plots.plot_reliability(test["before"], test["after"], Path(folder) / "reliability.png").read_bytes()


# ---------------------------------------------------------------- labelling folders (`winnow al init/next/import`)


def _labelling_cycles(run: Run) -> list[dict]:
    folder = run.file("cycles")
    records = [runs.read_json(p) for p in folder.glob("cycle_*.json")] if folder.is_dir() else []
    return sorted(records, key=lambda r: r["cycle"])


@register_kind("al-labelling", "labelling folder",
               headline=lambda run: f"{len(_labelling_cycles(run))} cycles",
               wall_seconds=lambda run: sum(r.get("seconds") or 0.0 for r in _labelling_cycles(run)) or None)
def labelling_sections(run: Run, context: Context) -> list[Block]:
    config = run.config
    labels: dict[str, int] = {name: 0 for name in config["class_names"]}
    count = 0
    if run.has("labels.csv"):
        with open(run.file("labels.csv"), newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                labels[row["label"]] = labels.get(row["label"], 0) + 1
                count += 1
    cycles = _labelling_cycles(run)
    items = [(f"{count} of {config.get('image_count', '?')}", "images labelled"), (str(len(cycles)), "query cycles"),
             (config.get("strategy", "–"), "strategy")]
    blocks = [Block("Labels", h.cards(items) + context.figure(
        None, None, lambda p: plots.plot_class_counts({"labelled": labels}, p, title="Labelled images per class"),
        "Labelled images per class, from labels.csv."))]
    for record in reversed(cycles):
        sheet = run.file(record["contact_sheet"])
        facts = h.facts([("strategy", record["strategy"]), ("asked", str(record["queried_count"])),
                         ("labelled then", str(record["labelled_count"])), ("pool", str(record["pool_count"])),
                         ("queries", record["queries_csv"])])
        figure = (h.figure(sheet.read_bytes(), f"Cycle {record['cycle']}: the images to label, rank: predicted class",
                           pixelated=True) if sheet.is_file() else h.note(f"{sheet} is missing."))
        blocks.append(Block(f"Cycle {record['cycle']} queries", facts + figure))
    return blocks
