"""Tests of winnow.augment: every output image is checked against what the augmentation may produce."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from winnow.augment import cutout, random_flip, random_translate


def seeded(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def random_images(count: int, channels: int, height: int, width: int, seed: int = 0) -> torch.Tensor:
    """(count, channels, height, width) float images with distinct pixel values (no symmetry)."""
    return torch.rand(count, channels, height, width, generator=seeded(seed))


# ---------------------------------------------------------------- random_flip


def test_flip_gives_each_image_or_its_mirror_and_both_occur():
    images = random_images(200, 3, 5, 6)
    original = images.clone()
    flipped = random_flip(images, seeded(1))
    assert flipped.shape == images.shape
    kept = [torch.equal(flipped[i], images[i]) for i in range(200)]
    mirrored = [torch.equal(flipped[i], images[i].flip(-1)) for i in range(200)]
    assert all(k or m for k, m in zip(kept, mirrored))
    assert 60 <= sum(mirrored) <= 140, "each image should be mirrored with probability 1/2"
    assert sum(kept) == 200 - sum(mirrored)
    assert torch.equal(images, original), "the input batch must not change"


def test_flip_is_reproducible_with_the_seed():
    images = random_images(64, 1, 4, 4)
    assert torch.equal(random_flip(images, seeded(7)), random_flip(images, seeded(7)))
    assert not torch.equal(random_flip(images, seeded(7)), random_flip(images, seeded(8)))


# ---------------------------------------------------------------- random_translate


def reflect_crops(image: np.ndarray, pad: int) -> dict[tuple[int, int], np.ndarray]:
    """Every crop of the reflect-padded image (C, H, W), keyed by offset (dy, dx) in [0, 2 pad]^2."""
    _, height, width = image.shape
    padded = np.pad(image, ((0, 0), (pad, pad), (pad, pad)), mode="reflect")  # edge pixel not repeated
    return {(dy, dx): padded[:, dy:dy + height, dx:dx + width]
            for dy in range(2 * pad + 1) for dx in range(2 * pad + 1)}


@pytest.mark.parametrize("channels_last", [False, True], ids=["contiguous", "channels_last"])
@pytest.mark.parametrize("pad", [1, 2])
def test_translate_output_is_a_crop_of_the_reflect_padded_input(pad, channels_last):
    images = random_images(300, 2, 5, 6)
    if channels_last:
        images = images.contiguous(memory_format=torch.channels_last)
    shifted = random_translate(images, pad, seeded(3))
    assert shifted.shape == images.shape
    offsets = set()
    for i in range(len(images)):
        crops = reflect_crops(images[i].numpy(), pad)
        matches = [offset for offset, crop in crops.items() if np.array_equal(crop, shifted[i].numpy())]
        assert len(matches) == 1, f"image {i} is not a crop of its padded self"
        offsets.add(matches[0])
    assert offsets == set(reflect_crops(images[0].numpy(), pad)), "every offset in [0, 2 pad]^2 should occur"


def test_translate_by_zero_is_the_identity():
    images = random_images(8, 3, 4, 4)
    assert torch.equal(random_translate(images, 0, seeded()), images)


def test_translate_is_reproducible_with_the_seed():
    images = random_images(32, 1, 6, 6)
    assert torch.equal(random_translate(images, 2, seeded(5)), random_translate(images, 2, seeded(5)))


# ---------------------------------------------------------------- cutout


def possible_spans(length: int, size: int) -> set[tuple[int, int]]:
    """[start, stop) of a size-long span centred at each pixel (start = centre - size // 2), clipped."""
    return {(max(c - size // 2, 0), min(c - size // 2 + size, length)) for c in range(length)}


@pytest.mark.parametrize("size", [3, 4])
def test_cutout_zeroes_exactly_one_clipped_square(size):
    height, width = 9, 11
    images = torch.ones(200, 2, height, width)
    out = cutout(images, size, seeded(2))
    assert out.shape == images.shape
    assert set(out.unique().tolist()) <= {0.0, 1.0}, "pixels outside the square must not change"
    interior = 0
    for i in range(len(out)):
        zero = out[i] == 0  # (C, H, W)
        assert torch.equal(zero[0], zero[1]), "the square covers every channel"
        rows = torch.nonzero(zero[0].any(1)).flatten().tolist()
        cols = torch.nonzero(zero[0].any(0)).flatten().tolist()
        span_rows, span_cols = (rows[0], rows[-1] + 1), (cols[0], cols[-1] + 1)
        assert span_rows in possible_spans(height, size)
        assert span_cols in possible_spans(width, size)
        count = (span_rows[1] - span_rows[0]) * (span_cols[1] - span_cols[0])
        assert int(zero[0].sum()) == count, "the zeros form a full rectangle"
        if 0 < span_rows[0] and span_rows[1] < height and 0 < span_cols[0] and span_cols[1] < width:
            interior += 1
            assert count == size * size
    assert interior > 0


def test_cutout_of_size_zero_is_the_identity_and_input_is_untouched():
    images = torch.ones(4, 1, 5, 5)
    assert torch.equal(cutout(images, 0, seeded()), images)
    cutout(images, 3, seeded())
    assert torch.equal(images, torch.ones(4, 1, 5, 5))
