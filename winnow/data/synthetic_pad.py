"""Synthetic presentation-attack data with three aligned views per sample: `synthetic_pad`.

For demos, tests and benchmarks of several-input models, fusion, missing modalities and
cross-modal distillation, since the real face anti-spoofing sets are licence-only. It is a
simulation of the physics that makes those tasks what they are, not a face data set: results on
it are not results on real faces.

How a sample is made (every draw from one seeded generator, so a seed gives the same data):

- A source image (a CIFAR-10 or any image folder's picture, or a procedural texture when none is
  given) is the scene. Every sample gets a camera of its own: gamma, contrast, brightness and
  sensor noise on each view.
- Four classes, balanced: `bona_fide` (the scene itself, in front of the camera, on the face's
  relief: faintly shaded by a directional light, by 20-50 % of the Lambertian shading, since a
  live face is lit in three dimensions and a picture of it is flat) and three presentation
  attacks of it, each with a random severity in [0.25, 1] (`SEVERITY`) that scales its colour
  artefacts. The artefacts are the honest, physical ones, but weak: a few hundredths
  to a tenth of the pixel range, beside sensor noise of 0.03 and a camera that varies, so a small
  CNN on rgb learns them only in part (fastnet_xs, 400 steps on 2 400 CIFAR-10 scenes at 32 px:
  ACER 22-26 % over three seeds; BENCHMARKS.md), while depth and infrared make the task easy:
  - `print`: the scene printed on paper and held up: gamut loss (saturation drops by 30-70 % of
    the severity, contrast by 10-30 %, the paper's white lifts the blacks by 4-12 %) and the
    halftone dot screen of the press (amplitude 0.04-0.1, pitch 2.2-3.5 pixels, any angle);
  - `replay`: the scene on a screen: the screen's sub-pixel grid, aliased by the camera's pixels
    into coloured moire fringes (two gratings of 0.25-0.45 cycles per pixel beating, the red,
    green and blue stripes a third of a period apart, amplitude 0.04-0.1), the display's bluish
    white point (blue up and red down by 0.02-0.06), a display gamma and a glare spot (0.1-0.35);
  - `mask`: a flat mask (paper or resin) of the scene: no skin's fine texture (the picture mixed
    with its 5 x 5 tent blur by 50-100 % of the severity) and a duller, flatter colour
    (saturation down 10-40 %, contrast down 5-20 %).
- Three views, stacked as channels (`Dataset.modalities` = {"rgb": 3, "depth": 1, "ir": 1}):
  - `rgb`: the colour image above;
  - `depth` (nearness, 0 far .. 1 near): a bona fide presentation has a face-like relief (an
    ellipsoid of random size, position and height 0.22-0.4, and a nose bump) on a tilted
    plane; a print and a replay are a tilted plane (a print may bend a little); a mask is a
    plane curved a little (height 0.03-0.08);
  - `ir` (near-infrared intensity): skin reflects it with the shading of the relief; paper
    reflects it strongly and evenly (the ink a little less); a screen emits almost none (dark,
    but for its glare); a mask reflects it evenly at a middle level.
  Each view has noise, and the ranges overlap, so no single pixel decides.

So colour alone is hard (the artefacts are faint and the camera varies), depth separates bona
fide from attack, and infrared tells the attack types apart: a teacher that sees depth or
infrared has something to teach a student that sees rgb. Splits: a stratified 60 / 20 / 20 % train,
val and test draw of each class (`val_fraction`, `test_fraction`).
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from winnow.data.dataset import DataError, Dataset

PAD_CLASSES = ("bona_fide", "print", "replay", "mask")
BONA_FIDE = "bona_fide"
PAD_MODALITIES = {"rgb": 3, "depth": 1, "ir": 1}
DEFAULT_SAMPLES = 2400  # with procedural textures; a source gives one sample per image unless `samples` says
DEFAULT_SIZE = 32
LUMA = np.array([0.299, 0.587, 0.114], np.float32)  # luminance weights of R, G, B (Rec. 601)
SEVERITY = (0.25, 1.0)  # the range of an attack's severity, which scales its colour artefacts (never none)
RENDER_CHUNK = 2048  # samples rendered at once (part of the definition: the draws come chunk by chunk)


def synthetic_pad(seed: int = 0, *, size: int = DEFAULT_SIZE, images=None, samples: int | None = None,
                  val_fraction: float = 0.2, test_fraction: float = 0.2) -> Dataset:
    """A synthetic presentation-attack set (see the module docstring): (N, 5, size, size) uint8
    images with modalities rgb (3), depth (1) and ir (1), classes `PAD_CLASSES` (bona_fide first),
    train / val / test splits.

    seed : every random draw (which image becomes which class, the attacks, the noise, the splits)
    size : image side in pixels (>= 8); source images are resized to it (short side, centre crop)
    images : the scenes: None for procedural textures; a `Dataset` (its images, every split, grey
        repeated to three channels); or a data spec for `winnow.data.load`, e.g.
        "folder:../shared/data/cifar10-jpeg.zip"
    samples : how many samples (the first `samples` of the shuffled source images); default all
        of a source's images, or 2 400 textures
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise DataError(f"synthetic-pad seed must be an int >= 0, got {seed!r}")
    if isinstance(size, bool) or not isinstance(size, int) or size < 8:
        raise DataError(f"synthetic-pad size must be an int >= 8 pixels, got {size!r}")
    if samples is not None and (isinstance(samples, bool) or not isinstance(samples, int) or samples < 8):
        raise DataError(f"synthetic-pad samples must be an int >= 8 (two of each class), got {samples!r}")
    if not (0 <= val_fraction < 1 and 0 < test_fraction < 1 and val_fraction + test_fraction < 1):
        raise DataError(f"synthetic-pad val_fraction {val_fraction!r} and test_fraction {test_fraction!r} must be "
                        "fractions leaving images to train on")
    rng = np.random.default_rng(int(seed))
    scenes, source = _scenes(images, size, samples, rng)  # (N, 3, S, S) float32 in [0, 1]
    n = len(scenes)
    labels = rng.permutation(np.arange(n) % len(PAD_CLASSES))
    uint8 = np.empty((n, 5, size, size), dtype=np.uint8)
    for start in range(0, n, RENDER_CHUNK):  # in chunks: a few float copies of 60 000 images would not fit
        views = _render(scenes[start:start + RENDER_CHUNK], labels[start:start + RENDER_CHUNK], rng)
        uint8[start:start + RENDER_CHUNK] = np.rint(views * 255).astype(np.uint8)
    return Dataset(
        images=torch.from_numpy(uint8),
        labels=torch.from_numpy(labels.astype(np.int64)),
        class_names=list(PAD_CLASSES),
        splits=_splits(labels, val_fraction, test_fraction, rng),
        source=f"synthetic-pad:{seed}" + (f" ({source})" if source else ""),
        modalities=dict(PAD_MODALITIES),
    )


# ---------------------------------------------------------------- scenes


def _scenes(images, size: int, samples: int | None, rng: np.random.Generator) -> tuple[np.ndarray, str]:
    """(N, 3, size, size) float32 scenes and a word on where they came from."""
    if images is None:
        return procedural_textures(samples or DEFAULT_SAMPLES, size, rng), ""
    if isinstance(images, str):
        from winnow.data import load  # the loader of every spec; imported here, since it imports this module

        images = load(images)
    if not isinstance(images, Dataset):
        raise DataError(f"synthetic-pad images must be None, a Dataset or a data spec, got {type(images).__name__}")
    pixels = images.images if not images.modalities else images.modality(next(iter(images.modalities)))
    if pixels.shape[1] not in (1, 3):
        raise DataError(f"synthetic-pad needs colour or grey source images, {images.source or 'the source'} has "
                        f"{pixels.shape[1]} channels")
    order = rng.permutation(len(pixels))[:samples] if samples else rng.permutation(len(pixels))
    if samples and samples > len(pixels):
        raise DataError(f"synthetic-pad samples={samples} but {images.source or 'the source'} has {len(pixels)} images")
    chosen = torch.from_numpy(np.sort(order))
    scenes = []
    for start in range(0, len(chosen), 4096):
        batch = pixels[chosen[start:start + 4096]].float().div(255)  # (B, C, H, W)
        if batch.shape[1] == 1:
            batch = batch.expand(-1, 3, -1, -1)
        scenes.append(_square(batch, size))
    return torch.cat(scenes).numpy()[rng.permutation(len(chosen))], images.source


def _square(batch: torch.Tensor, size: int) -> torch.Tensor:
    """The batch with its short side resized to `size` and the centre cropped to a square."""
    h, w = batch.shape[-2:]
    if (h, w) != (size, size):
        scale = size / min(h, w)
        new_h, new_w = max(size, round(h * scale)), max(size, round(w * scale))
        batch = F.interpolate(batch, size=(new_h, new_w), mode="bilinear", antialias=True, align_corners=False)
        top, left = (new_h - size) // 2, (new_w - size) // 2
        batch = batch[..., top:top + size, left:left + size]
    return batch.clamp(0, 1).contiguous()


def procedural_textures(count: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """(count, 3, size, size) float32 in [0, 1]: smooth random colour fields with a few soft
    blobs and fine grain, a stand-in for photographs when no image source is given."""
    coarse = torch.from_numpy(rng.random((count, 3, 4, 4), dtype=np.float32))
    field = F.interpolate(coarse, size=(size, size), mode="bicubic", align_corners=False)  # (N, 3, S, S)
    y, x = _grid(size)
    for _ in range(3):
        cy, cx = (rng.uniform(-0.8, 0.8, (count, 1, 1, 1)).astype(np.float32) for _ in range(2))
        radius = rng.uniform(0.15, 0.5, (count, 1, 1, 1)).astype(np.float32)
        colour = rng.random((count, 3, 1, 1), dtype=np.float32)
        weight = np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * radius**2))  # (N, 1, S, S)
        field = field * (1 - torch.from_numpy(weight)) + torch.from_numpy(weight * colour)
    grain = torch.from_numpy(rng.normal(0, 0.04, (count, 1, size, size)).astype(np.float32))
    return (field + grain).clamp(0, 1).numpy()


# ---------------------------------------------------------------- the views


def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    """(1, 1, S, 1) y and (1, 1, 1, S) x coordinates in [-1, 1]."""
    line = np.linspace(-1, 1, size, dtype=np.float32)
    return line.reshape(1, 1, size, 1), line.reshape(1, 1, 1, size)


def _uniform(rng: np.random.Generator, low: float, high: float, n: int) -> np.ndarray:
    """(n, 1, 1, 1) float32 draws in [low, high)."""
    return rng.uniform(low, high, (n, 1, 1, 1)).astype(np.float32)


def _render(scenes: np.ndarray, labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(N, 5, S, S) float32: rgb, depth and ir of each scene as its class presents it."""
    n = len(scenes)
    kind = {name: (labels == index).reshape(-1, 1, 1, 1) for index, name in enumerate(PAD_CLASSES)}
    luminance = (scenes * LUMA.reshape(1, 3, 1, 1)).sum(1, keepdims=True)  # (N, 1, S, S)
    depth, relief = _depth(kind, n, scenes.shape[-1], rng)
    rgb, glare = _colour(scenes, labels, relief, rng)
    ir = _infrared(kind, relief, luminance, glare, rng)
    return np.clip(np.concatenate([rgb, depth, ir], axis=1), 0, 1).astype(np.float32)


def _colour(scenes: np.ndarray, labels: np.ndarray, relief: np.ndarray,
            rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(the rgb view (N, 3, S, S), the glare each replay's screen adds (N, 1, S, S), 0 elsewhere):
    each attack's artefacts at its severity, then every sample's camera and sensor noise.
    Every draw is made for all N samples, so one class's draws do not shift another's."""
    n, _, size, _ = scenes.shape
    y, x = _grid(size)
    pixels = (size - 1) / 2  # grid units -> pixels
    severity = _uniform(rng, *SEVERITY, n)
    rgb = scenes.copy()
    # bona fide: the scene on the face's relief (N, 1, S, S), faintly shaded by a directional light (relative to a
    # flat surface facing the camera, which is all an attack shows)
    light_x, light_y, shade = _uniform(rng, -0.6, 0.6, n), _uniform(rng, -0.6, 0.6, n), _uniform(rng, 0.2, 0.5, n)
    chosen = labels == PAD_CLASSES.index("bona_fide")
    if chosen.any():
        dy, dx = np.gradient(relief[chosen] * pixels / 4, axis=(2, 3))  # slopes per pixel
        lit = (1 - dx * light_x[chosen] - dy * light_y[chosen]) / np.sqrt(1 + dx**2 + dy**2)
        rgb[chosen] = rgb[chosen] * (1 + shade[chosen] * (np.clip(lit, 0, 1.5) - 1))
    # print: gamut loss (contrast and saturation drop, the paper's white lifts the blacks) and a halftone dot screen
    contrast, saturation = 1 - severity * _uniform(rng, 0.1, 0.3, n), 1 - severity * _uniform(rng, 0.3, 0.7, n)
    paper_white = severity * _uniform(rng, 0.04, 0.12, n)
    pitch, angle = _uniform(rng, 2.2, 3.5, n), _uniform(rng, 0, math.pi, n)  # pixels, radians
    halftone = severity * _uniform(rng, 0.04, 0.1, n)
    chosen = labels == PAD_CLASSES.index("print")
    if chosen.any():
        scene = rgb[chosen]
        mean, grey = scene.mean((1, 2, 3), keepdims=True), (scene * LUMA.reshape(1, 3, 1, 1)).sum(1, keepdims=True)
        printed = grey + (scene - grey) * saturation[chosen]
        printed = mean + (printed - mean) * contrast[chosen]
        printed = printed * (1 - paper_white[chosen]) + paper_white[chosen]
        u = (x * np.cos(angle[chosen]) + y * np.sin(angle[chosen])) * pixels
        v = (-x * np.sin(angle[chosen]) + y * np.cos(angle[chosen])) * pixels
        dots = np.cos(2 * math.pi * u / pitch[chosen]) * np.cos(2 * math.pi * v / pitch[chosen])  # (P, 1, S, S)
        rgb[chosen] = printed - halftone[chosen] * dots
    # replay: the screen's sub-pixel grid aliased by the camera into coloured moire fringes (two gratings
    # beating, each colour's stripes a third of a period apart), its white point (bluish), gamma and a glare spot
    frequency, beat = _uniform(rng, 0.25, 0.45, n), _uniform(rng, 0.03, 0.1, n)  # cycles per pixel
    direction = _uniform(rng, 0, math.pi, n)
    moire_strength = severity * _uniform(rng, 0.04, 0.1, n)
    white_point = severity * _uniform(rng, 0.02, 0.06, n)
    gamma = np.exp(severity * _uniform(rng, -0.35, 0.35, n))
    gy, gx, spread = _uniform(rng, -0.7, 0.7, n), _uniform(rng, -0.7, 0.7, n), _uniform(rng, 0.15, 0.4, n)
    glare_strength = severity * _uniform(rng, 0.1, 0.35, n)
    chosen = labels == PAD_CLASSES.index("replay")
    glare = np.zeros((n, 1, size, size), dtype=np.float32)
    if chosen.any():
        w = (x * np.cos(direction[chosen]) + y * np.sin(direction[chosen])) * pixels  # (R, 1, S, S)
        phase = 2 * math.pi * np.arange(3, dtype=np.float32).reshape(1, 3, 1, 1) / 3  # R, G, B stripes
        moire = (np.sin(2 * math.pi * frequency[chosen] * w + phase)
                 * np.sin(2 * math.pi * (frequency + beat)[chosen] * w + phase))  # (R, 3, S, S)
        tint = white_point[chosen] * np.array([-1, 0, 1], np.float32).reshape(1, 3, 1, 1)
        glare[chosen] = glare_strength[chosen] * np.exp(-((x - gx[chosen]) ** 2 + (y - gy[chosen]) ** 2)
                                                        / (2 * spread[chosen] ** 2))
        screen = np.clip(rgb[chosen], 0, 1) ** gamma[chosen]
        rgb[chosen] = screen + moire_strength[chosen] * moire + tint + glare[chosen]
    # mask: paper or resin has no skin's fine texture (the picture smoothed) and a duller, flatter colour
    smooth = severity * _uniform(rng, 0.5, 1.0, n)
    flatten, dull = 1 - severity * _uniform(rng, 0.05, 0.2, n), 1 - severity * _uniform(rng, 0.1, 0.4, n)
    chosen = labels == PAD_CLASSES.index("mask")
    if chosen.any():
        scene = torch.from_numpy(rgb[chosen])
        blurred = F.avg_pool2d(F.avg_pool2d(scene, 3, 1, 1, count_include_pad=False), 3, 1, 1,
                               count_include_pad=False).numpy()  # two 3 x 3 box passes: a tent of 5 x 5
        masked = rgb[chosen] * (1 - smooth[chosen]) + blurred * smooth[chosen]
        grey = (masked * LUMA.reshape(1, 3, 1, 1)).sum(1, keepdims=True)
        masked = grey + (masked - grey) * dull[chosen]
        mean = masked.mean((1, 2, 3), keepdims=True)
        rgb[chosen] = mean + (masked - mean) * flatten[chosen]
    # every camera: its own gamma, contrast and brightness, then sensor noise
    rgb = np.clip(rgb, 0, 1) ** np.exp(_uniform(rng, -0.2, 0.2, n))
    rgb = (rgb - 0.5) * _uniform(rng, 0.85, 1.15, n) + 0.5 + _uniform(rng, -0.06, 0.06, n)
    return rgb + rng.normal(0, 0.03, rgb.shape).astype(np.float32), glare

def _depth(kind: dict, n: int, size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(the depth view (N, 1, S, S) as nearness, the face-like relief (N, 1, S, S) that bona fide
    presentations have): a tilted plane; the relief for bona fide, a bend for a print, a curve for a mask."""
    y, x = _grid(size)
    plane = _uniform(rng, 0.2, 0.4, n) + _uniform(rng, -0.08, 0.08, n) * x + _uniform(rng, -0.08, 0.08, n) * y
    cy, cx = _uniform(rng, -0.15, 0.15, n), _uniform(rng, -0.15, 0.15, n)
    rx = _uniform(rng, 0.5, 0.75, n)
    ry = rx * _uniform(rng, 1.1, 1.35, n)
    height = _uniform(rng, 0.22, 0.4, n)
    radius2 = ((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2
    relief = height * np.sqrt(np.maximum(1 - radius2, 0))
    relief = relief + 0.3 * height * np.exp(-((x - cx) ** 2 + (y - cy - 0.05) ** 2) / (2 * 0.08**2))  # a nose
    bend = _uniform(rng, -0.04, 0.04, n) * (x**2 - 1 / 3)
    curve = _uniform(rng, 0.03, 0.08, n) * (1 - x**2)
    depth = plane + np.where(kind["bona_fide"], relief, 0) + np.where(kind["print"], bend, 0)
    depth = depth + np.where(kind["mask"], curve, 0)
    return depth + rng.normal(0, 0.02, depth.shape).astype(np.float32), relief


def _infrared(kind: dict, relief: np.ndarray, luminance: np.ndarray, glare: np.ndarray,
              rng: np.random.Generator) -> np.ndarray:
    """(N, 1, S, S) near-infrared intensity: skin with the relief's shading; paper bright and
    even (the ink a little less); a screen dark but for its glare; a mask in between."""
    n, _, size, _ = luminance.shape
    dy, dx = np.gradient(np.broadcast_to(relief, (n, 1, size, size)) * (size - 1) / 8, axis=(2, 3))
    shading = 1 / np.sqrt(1 + 6 * (dx**2 + dy**2))
    skin = _uniform(rng, 0.45, 0.65, n) * shading * (0.8 + 0.4 * luminance)
    paper = _uniform(rng, 0.7, 0.85, n) - _uniform(rng, 0.05, 0.2, n) * (1 - luminance)
    screen = _uniform(rng, 0.05, 0.2, n) + 0.05 * luminance + 0.5 * glare
    mask = _uniform(rng, 0.5, 0.7, n) + 0.05 * luminance
    ir = np.select([kind["bona_fide"], kind["print"], kind["replay"]], [skin, paper, screen], mask)
    return ir + rng.normal(0, 0.03, ir.shape).astype(np.float32)


def _splits(labels: np.ndarray, val_fraction: float, test_fraction: float,
            rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Stratified train / val / test indices: each class gives round(n x fraction) to val and to test."""
    split_of = np.zeros(len(labels), dtype=np.int8)  # 0 train, 1 val, 2 test
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        test_count, val_count = round(len(members) * test_fraction), round(len(members) * val_fraction)
        split_of[members[:test_count]] = 2
        split_of[members[test_count:test_count + val_count]] = 1
    splits = {"train": np.flatnonzero(split_of == 0), "val": np.flatnonzero(split_of == 1),
              "test": np.flatnonzero(split_of == 2)}
    return splits if len(splits["val"]) else {k: v for k, v in splits.items() if k != "val"}
