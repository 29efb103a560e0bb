"""Pictures for people, drawn with Pillow from arrays: the library computes, this module draws.

    contact_sheet(dataset.images[chosen], ["1: cat", "2: dog", ...], "queries/cycle_1.png")

A contact sheet is a grid of cells, `columns` wide, one image per cell in the given order, left to
right and top to bottom. Each cell is `thumb_size` pixels square plus `PADDING` on every side and a
caption line of `CAPTION_HEIGHT` pixels under the image; `sheet_size` gives the size in pixels.
An image is scaled to fit the square, keeping its aspect ratio: enlarged by a whole factor with
nearest-neighbour sampling (small images stay crisp, pixels visible), reduced with Lanczos.
"""

from __future__ import annotations

import io
import math
import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from . import runs

THUMB_SIZE = 96  # default side of the square each image is fitted into, in pixels
PADDING = 4
CAPTION_HEIGHT = 14
FONT_SIZE = 11
BACKGROUND, TEXT_COLOUR = (255, 255, 255), (0, 0, 0)


def sheet_size(count: int, columns: int = 10, thumb_size: int = THUMB_SIZE) -> tuple[int, int]:
    """(width, height) in pixels of the contact sheet of `count` images."""
    used_columns, rows = min(columns, count), math.ceil(count / columns)
    return used_columns * (thumb_size + 2 * PADDING), rows * (thumb_size + CAPTION_HEIGHT + 2 * PADDING)


def contact_sheet(images_uint8_nchw, captions: list[str], path: str | os.PathLike, columns: int = 10, *,
                  thumb_size: int = THUMB_SIZE) -> Image.Image:
    """Draw `images` in a grid with a caption under each, write it to `path` as a PNG (atomically),
    and return it.

    images_uint8_nchw : (N, C, H, W) uint8, N >= 1, C = 1 (grey), 3 (RGB) or 4 (RGBA: alpha dropped);
        a NumPy array or a torch tensor
    captions : N strings; one shown line each, cut short with "..." when wider than the image
    """
    images = np.asarray(images_uint8_nchw)
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[1] not in (1, 3, 4) or len(images) == 0:
        raise ValueError(f"images must be (N, C, H, W) uint8 with N >= 1 and C in 1, 3, 4; "
                         f"got {images.dtype} of shape {images.shape}")
    if len(captions) != len(images):
        raise ValueError(f"{len(images)} images but {len(captions)} captions")
    for name, value in (("columns", columns), ("thumb_size", thumb_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be an int >= 1, got {value!r}")

    sheet = Image.new("RGB", sheet_size(len(images), columns, thumb_size), BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    font = _font()
    cell_width, cell_height = thumb_size + 2 * PADDING, thumb_size + CAPTION_HEIGHT + 2 * PADDING
    for position, (image, caption) in enumerate(zip(images, captions)):
        row, column = divmod(position, columns)
        left, top = column * cell_width + PADDING, row * cell_height + PADDING
        thumbnail = _thumbnail(image, thumb_size)
        sheet.paste(thumbnail, (left + (thumb_size - thumbnail.width) // 2, top + (thumb_size - thumbnail.height) // 2))
        text = _fitted(draw, str(caption), font, thumb_size)
        text_left = left + (thumb_size - draw.textlength(text, font=font)) / 2
        draw.text((text_left, top + thumb_size + 1), text, fill=TEXT_COLOUR, font=font)

    encoded = io.BytesIO()
    sheet.save(encoded, format="PNG")
    runs.write_bytes(path, encoded.getvalue())
    return sheet


def _font():
    try:
        return ImageFont.load_default(size=FONT_SIZE)  # Pillow >= 10.1 with FreeType
    except (TypeError, ImportError, OSError):
        return ImageFont.load_default()


def _thumbnail(image: np.ndarray, size: int) -> Image.Image:
    """(C, H, W) uint8 as an RGB image fitted into a size x size square."""
    channels = image.shape[0]
    pixels = np.repeat(image, 3, axis=0) if channels == 1 else image[:3]
    picture = Image.fromarray(np.ascontiguousarray(pixels.transpose(1, 2, 0)), "RGB")
    scale = size / max(picture.size)
    if scale >= 1:
        factor = int(scale)
        return picture.resize((picture.width * factor, picture.height * factor), Image.Resampling.NEAREST)
    new_size = (max(1, round(picture.width * scale)), max(1, round(picture.height * scale)))
    return picture.resize(new_size, Image.Resampling.LANCZOS)


def _fitted(draw: ImageDraw.ImageDraw, text: str, font, width: int) -> str:
    """`text` on one line, cut short with "..." to fit `width` pixels."""
    text = " ".join(text.split())
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "...", font=font) > width:
        text = text[:-1]
    return text + "..."


def plot_reliability(before: dict, after: dict, path: str | Path, title: str | None = None) -> Path:
    """Reliability diagrams before and after temperature scaling, side by side, written as PNG.

    before, after : summaries from `calibration.calibration_summary` (keys "ece", "reliability"
    with per-bin "edges", "counts", "confidence", "accuracy"). Bars are each bin's accuracy; the
    outlined bars its mean confidence; the diagonal is perfect calibration. Empty bins are blank.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, panels = plt.subplots(1, 2, figsize=(9, 4.5), dpi=120, sharey=True)
    for axes, (name, summary) in zip(panels, (("before scaling", before), ("after scaling", after))):
        diagram = summary["reliability"]
        edges = np.asarray(diagram["edges"])
        filled = np.array([count > 0 for count in diagram["counts"]])
        left, width = edges[:-1][filled], np.diff(edges)[filled]
        accuracy = np.array([v for v in diagram["accuracy"] if v is not None], dtype=float)
        confidence = np.array([v for v in diagram["confidence"] if v is not None], dtype=float)
        axes.bar(left, accuracy, width=width, align="edge", color="tab:blue", edgecolor="white", label="accuracy")
        axes.bar(left, confidence, width=width, align="edge", fill=False, edgecolor="tab:red", linewidth=1.2,
                 label="mean confidence")
        axes.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1)
        axes.set_xlim(0, 1)
        axes.set_ylim(0, 1)
        axes.set_xlabel("top-1 confidence")
        axes.set_title(f"{name}: ECE {100 * summary['ece']:.2f} %")
        axes.grid(alpha=0.3)
    panels[0].set_ylabel("accuracy")
    panels[0].legend(loc="upper left")
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    path = Path(path)
    _save_png(figure, path)
    plt.close(figure)
    return path


def _save_png(figure, path: Path) -> None:
    """Save atomically: a PNG is complete or absent."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    runs.write_bytes(path, buffer.getvalue())


# ---------------------------------------------------------------- report figures
# Each draws from run-folder data (no model, no dataset), returns the PNG bytes, and writes them
# atomically to `path` when one is given: the report embeds the bytes, the run folder keeps the
# file for papers and slides. They use matplotlib's Figure directly, so no pyplot backend or
# global state is touched.

REPORT_STYLE = {
    "font.size": 10, "axes.titlesize": 11, "axes.titleweight": "bold", "axes.labelsize": 10,
    "axes.spines.top": False, "axes.spines.right": False, "axes.edgecolor": "#9aa1ad",
    "axes.grid": True, "grid.color": "#e3e6ec", "grid.linewidth": 0.8, "axes.axisbelow": True,
    "legend.frameon": False, "legend.fontsize": 9, "xtick.color": "#454c59", "ytick.color": "#454c59",
    "figure.dpi": 100, "savefig.dpi": 150, "savefig.bbox": "tight", "savefig.pad_inches": 0.08,
}
PALETTE = ("#2f6fde", "#e8710a", "#1e9e5a", "#c5221f", "#8e44ad", "#0f9ba8", "#b58a00", "#d63384", "#5f6b7a")
NEUTRAL = "#8a919c"  # random (and the full-data reference) in every comparison
LINE_STYLES = ("-", "--", ":", "-.")


def strategy_colours(names) -> dict[str, str]:
    """A colour per strategy, stable within a figure: random grey, the others in palette order."""
    others = [n for n in dict.fromkeys(names) if n != "random"]
    colours = {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(others)}
    return {**colours, "random": NEUTRAL}


def _report_figure(width: float, height: float, panels: int = 1):
    import matplotlib
    from matplotlib.figure import Figure

    with matplotlib.rc_context(REPORT_STYLE):
        figure = Figure(figsize=(width, height), layout="constrained")
        axes = figure.subplots(1, panels, squeeze=False)[0]
    return figure, list(axes)


def _finish(figure, path) -> bytes:
    import matplotlib

    buffer = io.BytesIO()
    with matplotlib.rc_context(REPORT_STYLE):
        figure.savefig(buffer, format="png")
    content = buffer.getvalue()
    if path is not None:
        runs.write_bytes(path, content)
    return content


def plot_training_curves(histories: dict[str, list[dict]], path: str | Path | None = None,
                         test_accuracy: dict[str, float] | None = None) -> bytes:
    """Loss (left) and accuracy in % (right) per epoch, one colour per run.

    histories : run name -> its metrics.jsonl records (keys epoch, train_loss, train_accuracy,
        and val_accuracy, val_loss when the recipe held data out); training is drawn solid,
        validation dashed, and `test_accuracy` (run name -> final fraction) dotted across.
    """
    import matplotlib

    with matplotlib.rc_context(REPORT_STYLE):
        figure, (loss_axes, accuracy_axes) = _report_figure(8.0, 3.2, 2)
        for i, (name, records) in enumerate(histories.items()):
            colour = PALETTE[i % len(PALETTE)]
            label = name if len(histories) > 1 else None
            epochs = [r["epoch"] for r in records]
            loss_axes.plot(epochs, [r["train_loss"] for r in records], color=colour, marker="o", markersize=3,
                           label=f"{name}: train" if label else "train")
            validation_loss = [(r["epoch"], r["val_loss"]) for r in records if r.get("val_loss") is not None]
            if validation_loss:
                loss_axes.plot(*zip(*validation_loss), color=colour, linestyle="--", marker="s", markersize=3,
                               label=f"{name}: validation" if label else "validation")
            accuracy_axes.plot(epochs, [100 * r["train_accuracy"] for r in records], color=colour, marker="o",
                               markersize=3, label=f"{name}: train" if label else "train")
            validation = [(r["epoch"], 100 * r["val_accuracy"]) for r in records if r.get("val_accuracy") is not None]
            if validation:
                accuracy_axes.plot(*zip(*validation), color=colour, linestyle="--", marker="s", markersize=3,
                                   label=f"{name}: validation" if label else "validation")
            if test_accuracy and test_accuracy.get(name) is not None:
                accuracy_axes.axhline(100 * test_accuracy[name], color=colour, linestyle=":", linewidth=1.2,
                                      label=f"{name}: test (final)" if label else "test (final)")
        loss_axes.set(title="Loss", xlabel="epoch", ylabel="cross-entropy")
        accuracy_axes.set(title="Accuracy", xlabel="epoch", ylabel="accuracy (%)")
        if len(histories) > 1 or any(r.get("val_loss") is not None for h in histories.values() for r in h):
            loss_axes.legend()
        accuracy_axes.legend(loc="lower right")
        from matplotlib.ticker import MaxNLocator

        for axes in (loss_axes, accuracy_axes):
            axes.xaxis.set_major_locator(MaxNLocator(nbins="auto", integer=True, min_n_ticks=1))
        return _finish(figure, path)


def plot_confusion_matrix(matrix, class_names: list[str], path: str | Path | None = None,
                          title: str | None = None) -> bytes:
    """A heatmap of the (K, K) counts (row = true class, column = predicted), coloured by the
    share of each true class (so rows of rare classes are as visible as common ones), with the
    counts written in the cells when K <= 20 and class names on the axes when K <= 50."""
    import matplotlib

    counts = np.asarray(matrix, dtype=np.int64)
    k = len(class_names)
    if counts.shape != (k, k):
        raise ValueError(f"confusion matrix has shape {counts.shape}, expected ({k}, {k}) for {k} class names")
    totals = counts.sum(1, keepdims=True)
    shares = np.divide(counts, totals, out=np.zeros(counts.shape, dtype=np.float64), where=totals > 0)
    side = float(np.clip(0.34 * k + 1.4, 3.4, 11.0))
    slanted = k > 6 and max(len(str(n)) for n in class_names) > 3  # long names along x are turned
    with matplotlib.rc_context(REPORT_STYLE):
        figure, (axes,) = _report_figure(side + 0.9, side)
        axes.grid(False)
        image = axes.imshow(shares, cmap="Blues", vmin=0, vmax=1, interpolation="nearest")
        figure.colorbar(image, ax=axes, fraction=0.046, pad=0.03, label="share of the true class")
        if k <= 20:
            size = 8 if k <= 12 else 6
            for row in range(k):
                for column in range(k):
                    if counts[row, column]:
                        axes.text(column, row, str(counts[row, column]), ha="center", va="center", fontsize=size,
                                  color="white" if shares[row, column] > 0.55 else "#1d2330")
        if k <= 50:
            axes.set_xticks(range(k), [_short(n) for n in class_names], rotation=45 if slanted else 0,
                            ha="right" if slanted else "center", fontsize=8 if k <= 20 else 6)
            axes.set_yticks(range(k), [_short(n) for n in class_names], fontsize=8 if k <= 20 else 6)
        axes.set(xlabel="predicted class", ylabel="true class")
        if title:
            axes.set_title(title)
        return _finish(figure, path)


def plot_per_class_accuracy(per_class: dict[str, dict[str, float | None]], path: str | Path | None = None,
                            title: str | None = None) -> bytes:
    """Horizontal bars of the accuracy (%) of each class, in class order, labelled with their value;
    for several runs, vertical bars grouped by class, one colour per run.

    per_class : run name -> {class name: accuracy fraction, or None for a class without test samples}
    """
    import matplotlib

    runs_shown = list(per_class)
    classes = list(dict.fromkeys(name for values in per_class.values() for name in values))
    k, r = len(classes), len(runs_shown)
    if r > 1:
        return plot_class_counts({name: {c: (None if v is None else 100 * v) for c, v in values.items()}
                                  for name, values in per_class.items()}, path, title, ylabel="test accuracy (%)")
    height = float(np.clip(0.26 * k + 0.9, 2.2, 18.0))
    with matplotlib.rc_context(REPORT_STYLE):
        figure, (axes,) = _report_figure(4.6, height)
        bar = 0.8 / r
        for i, name in enumerate(runs_shown):
            values = [per_class[name].get(c) for c in classes]
            positions = np.arange(k) - 0.4 + bar * (i + 0.5)
            accuracy = np.array([np.nan if v is None else 100 * v for v in values])
            axes.barh(positions, np.nan_to_num(accuracy), height=bar * 0.92, color=PALETTE[i % len(PALETTE)],
                      label=name if r > 1 else None)
            if r == 1 and k <= 40:
                for y, value in zip(positions, accuracy):
                    if np.isfinite(value):
                        axes.text(min(value, 100) + 1, y, f"{value:.1f}", va="center", fontsize=7, color="#454c59")
        axes.set_yticks(range(k), [_short(c) for c in classes], fontsize=8 if k <= 30 else 6)
        axes.invert_yaxis()
        axes.set_xlim(0, 108)
        axes.set(xlabel="test accuracy (%)")
        if title:
            axes.set_title(title)
        axes.grid(axis="y", visible=False)
        if r > 1:
            axes.legend(loc="lower right")
        return _finish(figure, path)


def plot_class_counts(counts: dict[str, dict[str, float | None]], path: str | Path | None = None,
                      title: str | None = None, ylabel: str = "images") -> bytes:
    """Grouped bars of a value per class (counts by default), one colour per series (e.g.
    {"label": ..., "predicted": ...}); a missing or None value is no bar."""
    import matplotlib

    series = list(counts)
    classes = list(dict.fromkeys(name for values in counts.values() for name in values))
    k = len(classes)
    with matplotlib.rc_context(REPORT_STYLE):
        figure, (axes,) = _report_figure(float(np.clip(0.3 * k * len(series) + 2.0, 4.0, 10.0)), 2.6)
        bar = 0.8 / len(series)
        for i, name in enumerate(series):
            positions = np.arange(k) - 0.4 + bar * (i + 0.5)
            values = [counts[name].get(c) for c in classes]
            axes.bar(positions, [0 if v is None else v for v in values], width=bar * 0.92,
                     color=PALETTE[i % len(PALETTE)], label=name)
        slanted = k > 8 and max(len(str(c)) for c in classes) > 3
        axes.set_xticks(range(k), [_short(c) for c in classes], rotation=45 if slanted else 0,
                        ha="right" if slanted else "center", fontsize=9 if k <= 30 else 6)
        axes.set(ylabel=ylabel)
        if title:
            axes.set_title(title)
        axes.grid(axis="x", visible=False)
        if len(series) > 1:  # above the bars, never over them
            axes.legend(loc="lower left", bbox_to_anchor=(0, 1.0), ncols=min(4, len(series)), borderaxespad=0.2)
        return _finish(figure, path)


def plot_prune_results(results: dict, path: str | Path | None = None) -> bytes:
    """`winnow prune` results: test accuracy (%) per kept fraction as bars with ± one std error
    bars, one colour per strategy, the full-data run as a line with its ± std band (left); the
    paired difference to random in points with its 95 % interval (right, when random ran).

    results : results.json of a prune run (`experiments.prune.summarize`)
    """
    import matplotlib

    strategies = results["config"]["strategies"]
    fractions = results["config"]["fractions"]
    rows = {(r["strategy"], r["fraction"]): r for r in results["rows"]}
    full = next((r for r in results["rows"] if r["strategy"] == "full"), None)
    colours = strategy_colours(strategies)
    differences = [r for r in results["rows"] if r.get("vs_random") and r["vs_random"]["n"] > 0]
    with matplotlib.rc_context(REPORT_STYLE):
        figure, panels = _report_figure(9.0 if differences else 6.0, 3.6, 2 if differences else 1)
        axes = panels[0]
        bar = 0.8 / max(len(strategies), 1)
        tops, bottoms = [], []
        for i, strategy in enumerate(strategies):
            means, stds, xs = [], [], []
            for j, fraction in enumerate(fractions):
                row = rows.get((strategy, fraction))
                if row is None or row["test_accuracy"]["n"] == 0:
                    continue
                xs.append(j - 0.4 + bar * (i + 0.5))
                means.append(100 * row["test_accuracy"]["mean"])
                stds.append(100 * row["test_accuracy"]["std"])
            if not xs:
                continue
            axes.bar(xs, means, width=bar * 0.9, yerr=stds, capsize=3, color=colours[strategy], label=strategy,
                     error_kw={"elinewidth": 1, "ecolor": "#2b303a"})
            for x, mean, std in zip(xs, means, stds):
                axes.text(x, mean + std + 0.15, f"{mean:.1f}", ha="center", va="bottom", fontsize=7, color="#454c59")
            tops += [m + s for m, s in zip(means, stds)]
            bottoms += [m - s for m, s in zip(means, stds)]
        if full is not None and full["test_accuracy"]["n"] > 0:
            mean, std = 100 * full["test_accuracy"]["mean"], 100 * full["test_accuracy"]["std"]
            axes.axhline(mean, color="#1d2330", linestyle="--", linewidth=1.2, label=f"full data {mean:.1f}")
            if std > 0:
                axes.axhspan(mean - std, mean + std, color="#1d2330", alpha=0.08, linewidth=0)
            tops.append(mean + std)
            bottoms.append(mean - std)
        if bottoms:
            low, high = min(bottoms), max(tops)
            margin = max(1.0, 0.35 * (high - low))
            axes.set_ylim(max(0.0, low - margin), min(100.0, high + margin))
        axes.set_xticks(range(len(fractions)), [f"{100 * f:g} % kept" for f in fractions])
        axes.set(title="Test accuracy (mean ± std over seeds)", ylabel="test accuracy (%)")
        axes.grid(axis="x", visible=False)
        axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.13), ncols=min(4, len(strategies) + 1))
        if differences:
            axes = panels[1]
            labels = []
            for y, row in enumerate(differences):
                d = row["vs_random"]
                mean = 100 * d["mean"]
                colour = colours.get(row["strategy"], PALETTE[0])
                if d["n"] >= 2 and math.isfinite(d["low"]):
                    axes.plot([100 * d["low"], 100 * d["high"]], [y, y], color=colour, linewidth=2.2,
                              solid_capstyle="round")
                axes.plot([mean], [y], marker="o", color=colour, markersize=6)
                kept = f" ({row['keep']})" if row.get("keep") else ""  # what a pruning score kept; older runs: none
                labels.append(f"{row['strategy']}{kept} @ {100 * row['fraction']:g} %")
            axes.axvline(0, color="#1d2330", linewidth=1)
            axes.set_yticks(range(len(labels)), labels)
            axes.invert_yaxis()
            axes.set(title="Difference to random (points, 95 % CI)", xlabel="accuracy − random (points)")
            axes.grid(axis="y", visible=False)
        return _finish(figure, path)


def plot_learning_curve_comparison(results_by_run: dict[str, dict], path: str | Path | None = None) -> bytes:
    """Learning curves of several `winnow al` runs in one plot: test accuracy (%) against
    labels with ± one std bands; colour = strategy, line style = run.

    results_by_run : run name -> results.json of an al run (`experiments.active.summarize`)
    """
    import matplotlib

    strategies = list(dict.fromkeys(s for r in results_by_run.values() for s in r["config"]["strategies"]))
    colours = strategy_colours(strategies)
    with matplotlib.rc_context(REPORT_STYLE):
        figure, (axes,) = _report_figure(7.5, 4.2)
        for i, (name, results) in enumerate(results_by_run.items()):
            for strategy in results["config"]["strategies"]:
                rows = [r for r in results["rows"] if r["strategy"] == strategy and r["test_accuracy"]["n"] > 0]
                if not rows:
                    continue
                labels = np.array([r["labels"] for r in rows])
                mean = np.array([r["test_accuracy"]["mean"] for r in rows]) * 100
                std = np.array([r["test_accuracy"]["std"] for r in rows]) * 100
                label = f"{name}: {strategy}" if len(results_by_run) > 1 else strategy
                axes.plot(labels, mean, color=colours[strategy], linestyle=LINE_STYLES[i % len(LINE_STYLES)],
                          marker="o", markersize=3, label=label)
                axes.fill_between(labels, mean - std, mean + std, color=colours[strategy], alpha=0.12, linewidth=0)
        axes.set(title="Test accuracy (mean ± std over trials)", xlabel="labelled samples", ylabel="test accuracy (%)")
        axes.legend(loc="lower right", ncols=2 if sum(len(r["config"]["strategies"])
                                                     for r in results_by_run.values()) > 6 else 1)
        return _finish(figure, path)


def _short(name: str, width: int = 16) -> str:
    name = str(name)
    return name if len(name) <= width else name[: width - 1] + "…"


def plot_seed_bars(bars: list[dict], title: str, path: str | Path | None = None, bar_width: float = 1.0) -> bytes:
    """Test accuracy (%) per setting: a bar of the mean with a ± one std error bar, the mean
    written above it, and each seed's accuracy as a dot.

    bars : dicts with label, mean and std (in %), dots (each seed's %, may be empty) and colour
    """
    import matplotlib

    with matplotlib.rc_context(REPORT_STYLE):
        figure, (axes,) = _report_figure(max(4.0, bar_width * len(bars) + 1.5), 3.4)
        tops, bottoms = [], []
        for x, bar in enumerate(bars):
            mean, std, dots = bar["mean"], bar["std"], bar["dots"]
            axes.bar([x], [mean], width=0.7, yerr=[std], capsize=3, color=bar["colour"],
                     error_kw={"elinewidth": 1, "ecolor": "#2b303a"})
            axes.text(x, mean + std + 0.1, f"{mean:.2f}", ha="center", va="bottom", fontsize=7, color="#454c59")
            axes.plot([x] * len(dots), dots, linestyle="none", marker="o", markersize=3, color="#1d2330")
            tops.append(max([mean + std, *dots]))
            bottoms.append(min([mean - std, *dots]))
        if bars:
            low, high = min(bottoms), max(tops)
            margin = max(0.5, 0.35 * (high - low))
            axes.set_ylim(max(0.0, low - margin), min(100.0, high + margin))
        axes.set_xticks(range(len(bars)), [bar["label"] for bar in bars], rotation=15, ha="right")
        axes.set(title=title, ylabel="test accuracy (%)")
        axes.grid(axis="x", visible=False)
        return _finish(figure, path)


DET_LIMITS = (0.001, 0.6)  # the DET axes: 0.1 % to 60 %, a rate outside is drawn at the edge
DET_TICKS = (0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.4, 0.6)


def det_axis() -> tuple[np.ndarray, list[str]]:
    """(positions, labels) of the DET plot's ticks: the normal deviates (scipy.stats.norm.ppf) of
    the rates DET_TICKS, labelled in % ("0.1" ... "60")."""
    from scipy.stats import norm

    return norm.ppf(DET_TICKS), [f"{100 * t:g}" for t in DET_TICKS]


def plot_pad_curves(curve: dict, path: str | Path | None = None, operating_point: dict | None = None) -> bytes:
    """The ROC (left) and DET (right) curves of a presentation-attack detector, one colour per
    attack type (and all attacks pooled, dashed grey, when there are several).

    curve : `metrics.pad_curve`'s record: bpcer (T,), apcer_per_type {type: (T,)}, apcer_pooled (T,)
    operating_point : `metrics.pad_metrics`'s record at the decision threshold (apcer_per_type,
        bpcer, threshold), marked on each type's curve
    ROC: APCER against 1 - BPCER (bona fide accepted), in %. DET: APCER against BPCER on normal
    deviate axes (scipy.stats.norm.ppf), ticks labelled in %; a rate below 0.1 % (or above 60 %)
    is drawn at the edge.
    """
    import matplotlib
    from scipy.stats import norm

    def deviate(rates):
        return norm.ppf(np.clip(np.asarray(rates, dtype=np.float64), *DET_LIMITS))

    bpcer = np.asarray(curve["bpcer"], dtype=np.float64)
    lines = [(name, np.asarray(apcer), PALETTE[i % len(PALETTE)], "-")
             for i, (name, apcer) in enumerate(curve["apcer_per_type"].items())]
    if len(lines) > 1:
        lines.append(("all attacks", np.asarray(curve["apcer_pooled"]), NEUTRAL, "--"))
    with matplotlib.rc_context(REPORT_STYLE):
        figure, (roc, det) = _report_figure(8.4, 3.8, 2)
        for name, apcer, colour, style in lines:
            roc.plot(100 * apcer, 100 * (1 - bpcer), color=colour, linestyle=style, label=name)
            det.plot(deviate(apcer), deviate(bpcer), color=colour, linestyle=style, label=name)
            if operating_point and name in operating_point["apcer_per_type"]:
                point = operating_point["apcer_per_type"][name], operating_point["bpcer"]
                roc.plot(100 * point[0], 100 * (1 - point[1]), marker="o", color=colour, markersize=6)
                det.plot(deviate(point[0]), deviate(point[1]), marker="o", color=colour, markersize=6)
        roc.plot([0, 100], [0, 100], color="#c9ced6", linewidth=0.8, linestyle=":")
        roc.set(title="ROC", xlabel="APCER: attacks accepted (%)", ylabel="1 - BPCER: bona fide accepted (%)",
                xlim=(-2, 102), ylim=(-2, 102))
        ticks, labels = det_axis()
        det.set_xticks(ticks, labels)
        det.set_yticks(ticks, labels)
        det.set(title="DET (normal deviate scale)", xlabel="APCER (%)", ylabel="BPCER (%)",
                xlim=(ticks[0], ticks[-1]), ylim=(ticks[0], ticks[-1]))
        det.plot(ticks[[0, -1]], ticks[[0, -1]], color="#c9ced6", linewidth=0.8, linestyle=":")  # APCER = BPCER
        title = "the operating point at threshold " + f"{operating_point['threshold']:.4g}" if operating_point else ""
        handles, names = det.get_legend_handles_labels()
        if title:
            from matplotlib.lines import Line2D

            handles.append(Line2D([], [], marker="o", color="#454c59", linestyle="none"))
            names.append(title)
        roc.legend(handles, names, loc="lower right")
        return _finish(figure, path)
