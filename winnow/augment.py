"""Augmentation on whole batches, on the device where the batch lives.

Every function takes a float batch (B, C, H, W) and a `torch.Generator` on the same device, so
the same seed gives the same augmentation.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F


def random_flip(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Mirror each image left-right with probability 1/2."""
    flip = torch.rand(images.size(0), device=images.device, generator=generator) < 0.5
    return torch.where(flip.view(-1, 1, 1, 1), images.flip(-1), images)


def random_translate(images: torch.Tensor, pad: int, generator: torch.Generator) -> torch.Tensor:
    """Shift each image by up to `pad` pixels in x and y, filling by reflection.

    Pads the batch once, then crops every group of images that share a shift with one slice.
    """
    if pad <= 0:
        return images
    b, _, h, w = images.shape
    padded = F.pad(images, (pad, pad, pad, pad), mode="reflect")  # (B, C, H + 2p, W + 2p)
    shifts = torch.randint(0, 2 * pad + 1, (2, b), device=images.device, generator=generator)
    out = torch.empty_like(images)
    for dy in range(2 * pad + 1):
        for dx in range(2 * pad + 1):
            chosen = (shifts[0] == dy) & (shifts[1] == dx)
            out[chosen] = padded[chosen, :, dy : dy + h, dx : dx + w]
    return out


def cutout(images: torch.Tensor, size: int, generator: torch.Generator) -> torch.Tensor:
    """Zero one `size` x `size` square per image, centred anywhere (clipped at the borders)."""
    if size <= 0:
        return images
    b, _, h, w = images.shape
    cy = torch.randint(0, h, (b, 1, 1), device=images.device, generator=generator)
    cx = torch.randint(0, w, (b, 1, 1), device=images.device, generator=generator)
    ys = torch.arange(h, device=images.device).view(1, h, 1)
    xs = torch.arange(w, device=images.device).view(1, 1, w)
    top, left = cy - size // 2, cx - size // 2
    inside = (ys >= top) & (ys < top + size) & (xs >= left) & (xs < left + size)  # (B, H, W)
    return images * (~inside).unsqueeze(1).to(images.dtype)


# ---------------------------------------------------------------- kornia and mixing
#
# The options are `winnow.train.Recipe` fields, each 0 = off; the keys below are their names.

LIBRARY_OPTIONS = ("crop_scale", "affine_degrees", "affine_scale", "affine_shear", "affine_translate", "perspective",
                   "brightness", "contrast", "saturation", "hue", "sharpness", "blur_sigma")
MIX_OPTIONS = ("mixup", "cutmix")


def _derived_seed(generator: torch.Generator) -> int:
    """A seed drawn from `generator`: libraries that use the global RNG are seeded with it."""
    return int(torch.randint(0, 2**31 - 1, (), device=generator.device, generator=generator))


COLOUR_MODALITY = "rgb"  # the one modality colour jitter changes, in data with several (`Dataset.modalities`)


def library_pipeline(options: dict, image_size: tuple[int, int], channels: int,
                     modalities: dict[str, int] | None = None) -> torch.nn.Module | None:
    """The kornia ops of `options` (LIBRARY_OPTIONS -> strength) as one module, in the order
    crop, affine, perspective, colour jitter, sharpness, blur; None when all are off. Every op
    is applied to every image with a magnitude drawn up to its strength.

    With `modalities` (data with several aligned views stacked as channels, `Dataset.modalities`),
    the geometric ops (crop, affine, perspective), sharpness and blur move or filter every view of
    an image alike, so the views stay aligned; colour jitter (brightness, contrast, saturation,
    hue) changes the `rgb` view only, since a depth or infrared value is not a colour; colour
    jitter on data without an rgb view is an error.

    crop_scale s: random resized crop of area [s, 1] of the image (aspect 3/4..4/3), back to its size
    affine_degrees d, affine_scale s, affine_shear d, affine_translate f: rotation in [-d, d]
        degrees, scale in [1 - s, 1 + s], shear in [-d, d] degrees, shift up to f of the size
        (reflection at the borders)
    perspective s: corners moved by up to s of the half size (kornia's distortion_scale)
    brightness, contrast, saturation, hue: colour jitter factors (hue in turns, <= 0.5);
        saturation and hue need RGB images
    sharpness s: sharpness factor drawn in [0, s]
    blur_sigma s: Gaussian blur with sigma in [0.1, s] (kernel 2 ceil(2 s) + 1, at most the image)
    """
    import kornia.augmentation as K

    get = lambda key: float(options.get(key, 0.0))  # noqa: E731
    colour = None  # the channels colour jitter changes; None: all of them
    if modalities:
        start = 0
        for name, count in modalities.items():
            if name == COLOUR_MODALITY:
                colour = slice(start, start + count)
            start += count
        if colour is None and any(get(k) for k in ("brightness", "contrast", "saturation", "hue")):
            raise ValueError(f"recipe options brightness, contrast, saturation and hue change colours: the data's "
                             f"modalities {', '.join(modalities)} have no {COLOUR_MODALITY} view")
        channels = colour.stop - colour.start if colour is not None else channels
    if channels != 3 and (get("saturation") or get("hue")):
        raise ValueError(f"recipe options saturation and hue change colours: they need RGB images, these have "
                         f"{channels} channel(s)")
    ops = []
    if get("crop_scale"):
        ops.append(K.RandomResizedCrop(tuple(image_size), scale=(get("crop_scale"), 1.0), p=1.0))
    if any(get(k) for k in ("affine_degrees", "affine_scale", "affine_shear", "affine_translate")):
        scale, shift = get("affine_scale"), get("affine_translate")
        ops.append(K.RandomAffine(get("affine_degrees"), translate=(shift, shift) if shift else None,
                                  scale=(1 - scale, 1 + scale) if scale else None,
                                  shear=get("affine_shear") or None, padding_mode="reflection", p=1.0))
    if get("perspective"):
        ops.append(K.RandomPerspective(get("perspective"), p=1.0))
    if any(get(k) for k in ("brightness", "contrast", "saturation", "hue")):
        jitter = K.ColorJitter(get("brightness"), get("contrast"), get("saturation"), get("hue"), p=1.0)
        ops.append(jitter if colour is None else _OnChannels(jitter, colour))
    if get("sharpness"):
        ops.append(K.RandomSharpness((0.0, get("sharpness")), p=1.0))
    if get("blur_sigma"):
        kernel = min(2 * math.ceil(2 * get("blur_sigma")) + 1, (min(image_size) - 1) // 2 * 2 + 1)
        ops.append(K.RandomGaussianBlur(kernel, (0.1, max(0.1, get("blur_sigma"))), p=1.0))
    return torch.nn.Sequential(*ops) if ops else None


class _OnChannels(torch.nn.Module):
    """An op applied to some channels of the batch (the rgb view of several stacked), the rest kept."""

    def __init__(self, op: torch.nn.Module, channels: slice):
        super().__init__()
        self.op, self.channels = op, channels

    def forward(self, images: torch.Tensor) -> torch.Tensor:  # (B, C, H, W)
        out = images.clone()
        out[:, self.channels] = self.op(images[:, self.channels].contiguous())
        return out


def drop_modalities(images: torch.Tensor, modalities: dict[str, int], probability: float,
                    generator: torch.Generator) -> torch.Tensor:
    """Modality dropout: zero whole modalities of each image at random, never all of one image's.

    images : (B, C, H, W), the modalities stacked as channels in the order of `modalities`
    (name -> channel count). Each modality of each image is drawn for dropping with
    `probability`, independently; an image whose every modality was drawn keeps one, chosen
    uniformly. So with M modalities each is dropped with probability p - p^M / M, and an image
    always keeps at least one. Zero is the value a missing modality has at evaluation
    (`data.dataset.zero_modalities`). A new tensor; the draws come from `generator`.
    """
    counts = torch.tensor(list(modalities.values()), device=images.device)
    b, m = images.size(0), len(counts)
    dropped = torch.rand(b, m, device=images.device, generator=generator) < probability  # (B, M)
    kept = torch.randint(0, m, (b,), device=images.device, generator=generator)  # drawn always: same RNG use
    every = dropped.all(1)
    dropped[every, kept[every]] = False
    channel_dropped = dropped.repeat_interleave(counts, dim=1)  # (B, C)
    return images * (~channel_dropped).to(images.dtype).view(b, -1, 1, 1)


def apply_library(images: torch.Tensor, pipeline: torch.nn.Module | None, generator: torch.Generator) -> torch.Tensor:
    """`pipeline` (from `library_pipeline`) on the batch (B, C, H, W) in [0, 1], its random draws
    seeded from `generator` (the global RNG is left as it was); the batch as it is for None."""
    if pipeline is None:
        return images
    seed = _derived_seed(generator)
    devices = [images.device] if images.device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        return pipeline(images).clamp_(0, 1).to(memory_format=_memory_format(images))


def _memory_format(x: torch.Tensor) -> torch.memory_format:
    return torch.channels_last if x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous() \
        else torch.contiguous_format


def mix(images: torch.Tensor, labels: torch.Tensor, num_classes: int, mixup: float, cutmix: float,
        generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Mixup (alpha `mixup`) or CutMix (alpha `cutmix`); with both on, one of them per batch at
    random. One lambda ~ Beta(alpha, alpha) per batch; each image is mixed with another of the
    batch (a random permutation): mixup blends them, lam x a + (1 - lam) x b; CutMix pastes a
    box of b with area (1 - lam) of the image (clipped at the borders; lam is then the share of
    a that is left). Returns (images (B, C, H, W), soft targets (B, K) = lam one_hot(a) + (1 - lam)
    one_hot(b), each row summing to 1). Both 0: the batch and the one-hot labels."""
    targets = F.one_hot(labels, num_classes).float()  # (B, K)
    if not (mixup or cutmix):
        return images, targets
    draws = np.random.default_rng(_derived_seed(generator))
    use_cutmix = bool(cutmix) and (not mixup or draws.random() < 0.5)
    alpha = cutmix if use_cutmix else mixup
    lam = float(draws.beta(alpha, alpha))
    perm = torch.randperm(images.size(0), device=images.device, generator=generator)
    if use_cutmix:
        h, w = images.shape[-2:]
        cut_h, cut_w = round(h * math.sqrt(1 - lam)), round(w * math.sqrt(1 - lam))
        cy, cx = int(draws.integers(h)), int(draws.integers(w))
        top, bottom = max(cy - cut_h // 2, 0), min(cy - cut_h // 2 + cut_h, h)
        left, right = max(cx - cut_w // 2, 0), min(cx - cut_w // 2 + cut_w, w)
        images = images.clone()
        images[:, :, top:bottom, left:right] = images[perm, :, top:bottom, left:right]
        lam = 1 - (bottom - top) * (right - left) / (h * w)
    else:
        images = lam * images + (1 - lam) * images[perm]
    return images, lam * targets + (1 - lam) * targets[perm]
