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


def plot_learning_curves(results: dict, path: str | Path, title: str | None = None) -> Path:
    """Test accuracy against labels, one line per strategy with a band of ± one std over
    trials, from the results of `winnow al` (`experiments.active.summarize`). Written as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 4.5), dpi=120)
    for strategy in results["config"]["strategies"]:
        rows = [r for r in results["rows"] if r["strategy"] == strategy and r["test_accuracy"]["n"] > 0]
        if not rows:
            continue
        labels = np.array([r["labels"] for r in rows])
        mean = np.array([r["test_accuracy"]["mean"] for r in rows]) * 100
        std = np.array([r["test_accuracy"]["std"] for r in rows]) * 100
        (line,) = axes.plot(labels, mean, marker="o", label=strategy)
        axes.fill_between(labels, mean - std, mean + std, color=line.get_color(), alpha=0.2)
    axes.set_xlabel("labelled samples")
    axes.set_ylabel("test accuracy (%)")
    trials = results["config"].get("trials")
    axes.set_title(title or f"Active learning on {results['config']['data']}"
                   + (f" (mean ± std over {trials} trials)" if trials else ""))
    axes.grid(alpha=0.3)
    axes.legend()
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
