"""Image grids for the report: the images a run chose, drawn as a contact sheet.

The images come from the run's data spec (config.json), loaded once per report through the data
layer (`Context.dataset`): cheap for the embedded digits and for folders already decoded into
the cache, a few seconds for the CIFAR batches. When the data cannot be loaded (moved, another
machine) the sections fall back to tables, and say why.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import plots
from .registry import Context, Run


def thumb_size(image_size: tuple[int, int], columns: int = 10) -> int:
    """Small images are enlarged by a whole factor to about 64 px (44 px in grids wider than 10
    columns, so that 20 fit the page); larger ones are shown at 96 px (64 px)."""
    wide = columns > 10
    return (44 if wide else 64) if max(image_size) <= 32 else (64 if wide else 96)


def grid(context: Context, run: Run, indices: np.ndarray, captions: list[str] | None, name: str | None,
         caption: str, columns: int = 10):
    """(figure HTML, None) of the dataset images `indices` with `captions` (default: the class
    name of each image's label), saved as `name` in the run folder; (None, why not) when the
    images cannot be loaded."""
    dataset, reason = context.dataset(run.config)
    if dataset is None:
        return None, reason
    indices = np.asarray(indices, dtype=np.int64)
    if len(indices) == 0:
        return None, "no images to show"
    if indices.min() < 0 or indices.max() >= len(dataset):
        return None, f"the run's indices do not fit {run.config.get('data')} ({len(dataset)} images) any more"
    images = dataset.images[indices].numpy()  # (N, C, H, W) uint8
    if captions is None:
        captions = class_names(run, dataset.labels.numpy()[indices])
    size = thumb_size(dataset.image_size, columns)

    def draw(path: Path | None) -> bytes:
        if path is None:
            import io
            import tempfile

            with tempfile.TemporaryDirectory() as folder:
                sheet = plots.contact_sheet(images, captions, Path(folder) / "sheet.png", columns, thumb_size=size)
            buffer = io.BytesIO()
            sheet.save(buffer, format="PNG")
            return buffer.getvalue()
        plots.contact_sheet(images, captions, path, columns, thumb_size=size)
        return path.read_bytes()

    return context.figure(run, name, draw, caption, pixelated=True), None


def class_names(run: Run, labels) -> list[str]:
    """The class name of each label ("?" for -1, an image without a label)."""
    names = run.config.get("class_names") or []
    return [names[int(c)] if 0 <= int(c) < len(names) else "?" for c in labels]
