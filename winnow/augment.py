"""Augmentation on whole batches, on the device where the batch lives.

Every function takes a float batch (B, C, H, W) and a `torch.Generator` on the same device, so
the same seed gives the same augmentation.
"""

from __future__ import annotations

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
