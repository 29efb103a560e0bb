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


# ---------------------------------------------------------------- kornia ops (library_pipeline)

from winnow.augment import LIBRARY_OPTIONS, apply_library, library_pipeline, mix  # noqa: E402
from winnow.train import Recipe, _train_step  # noqa: E402

# Each option at a strength with a visible effect; the mean absolute change must exceed the threshold.
STRENGTHS = {"crop_scale": 0.3, "affine_degrees": 30.0, "affine_scale": 0.3, "affine_shear": 20.0,
             "affine_translate": 0.2, "perspective": 0.5, "brightness": 0.5, "contrast": 0.5, "saturation": 0.8,
             "hue": 0.3, "sharpness": 5.0, "blur_sigma": 1.5}
VISIBLE = 0.01


def smooth_images(count: int = 8, size: int = 16) -> torch.Tensor:
    """(count, 3, size, size) images with structure (blobs and gradients), so every op changes them."""
    ys, xs = torch.meshgrid(torch.linspace(0, 1, size), torch.linspace(0, 1, size), indexing="ij")
    phase = torch.rand(count, 3, 1, 1, generator=seeded(5)) * 6
    images = 0.5 + 0.4 * torch.sin(6 * xs + 4 * ys + phase) * torch.cos(5 * ys - phase)
    return images + 0.05 * random_images(count, 3, size, size)  # (count, 3, size, size) in [0, 1]


def test_library_options_are_recipe_fields_off_by_default():
    defaults = Recipe().to_dict()
    assert set(STRENGTHS) == set(LIBRARY_OPTIONS)
    assert all(defaults[key] == 0.0 for key in (*LIBRARY_OPTIONS, "mixup", "cutmix"))
    assert library_pipeline(defaults, (16, 16), 3) is None


@pytest.mark.parametrize("option", sorted(STRENGTHS))
def test_library_op_shape_seed_and_visible_effect(option):
    images = smooth_images()
    pipeline = library_pipeline({option: STRENGTHS[option]}, (16, 16), 3)
    original = images.clone()
    out = apply_library(images, pipeline, seeded(1))
    assert out.shape == images.shape and out.dtype == images.dtype
    assert torch.equal(images, original), "the input batch must not change"
    assert 0 <= out.min() and out.max() <= 1
    assert torch.equal(out, apply_library(images, pipeline, seeded(1))), "same seed, same output"
    assert not torch.equal(out, apply_library(images, pipeline, seeded(2))), "another seed, another output"
    assert (out - images).abs().mean() > VISIBLE, f"{option} at {STRENGTHS[option]} should change the images"


def test_library_off_is_the_identity_and_leaves_the_global_rng():
    images = smooth_images()
    generator = seeded(1)
    assert apply_library(images, library_pipeline({}, (16, 16), 3), generator) is images
    assert torch.equal(generator.get_state(), seeded(1).get_state()), "off draws nothing"
    state = torch.get_rng_state()
    apply_library(images, library_pipeline({"affine_degrees": 10.0}, (16, 16), 3), seeded(1))
    assert torch.equal(torch.get_rng_state(), state), "the global RNG is untouched"


def test_colour_options_need_rgb():
    with pytest.raises(ValueError, match="saturation and hue"):
        library_pipeline({"hue": 0.1}, (16, 16), 1)
    assert library_pipeline({"brightness": 0.1}, (16, 16), 1) is not None


@pytest.mark.parametrize("key, value", [("crop_scale", 1.5), ("hue", 0.6), ("blur_sigma", -1.0), ("mixup", -0.1),
                                        ("affine_scale", 1.0), ("perspective", 2.0)])
def test_recipe_refuses_bad_strengths(key, value):
    with pytest.raises(ValueError, match=f"recipe option {key}="):
        Recipe(**{key: value})


# ---------------------------------------------------------------- mixup and CutMix


@pytest.mark.parametrize("mixup, cutmix", [(0.4, 0.0), (0.0, 1.0), (0.4, 1.0)])
def test_mix_shape_seed_soft_targets_and_effect(mixup, cutmix):
    images, labels = smooth_images(16), torch.arange(16) % 5
    out, targets = mix(images, labels, 5, mixup, cutmix, seeded(1))
    assert out.shape == images.shape and targets.shape == (16, 5)
    assert torch.allclose(targets.sum(1), torch.ones(16)) and targets.min() >= 0
    again, again_targets = mix(images, labels, 5, mixup, cutmix, seeded(1))
    assert torch.equal(out, again) and torch.equal(targets, again_targets)
    assert not torch.equal(out, mix(images, labels, 5, mixup, cutmix, seeded(2))[0])
    change = np.mean([(mix(images, labels, 5, mixup, cutmix, seeded(s))[0] - images).abs().mean() for s in range(8)])
    assert change > VISIBLE, "a lambda near 1 changes little; over 8 seeds the change is visible"
    assert (targets.max(1).values < 1).any(), "some images are mixed with one of another class"



def test_mix_off_gives_the_batch_and_one_hot_labels():
    images, labels = smooth_images(4), torch.tensor([0, 2, 1, 2])
    out, targets = mix(images, labels, 3, 0.0, 0.0, seeded(1))
    assert out is images and torch.equal(targets, torch.nn.functional.one_hot(labels, 3).float())


def test_mixup_blends_pairs_with_the_targets_weights():
    images, labels = smooth_images(6), torch.arange(6)  # one class per image: the targets name the pair
    out, targets = mix(images, labels, 6, 0.5, 0.0, seeded(3))
    for i in range(6):
        weights = targets[i]
        assert torch.allclose(out[i], (weights.view(6, 1, 1, 1) * images).sum(0), atol=1e-6)


def test_cutmix_pastes_a_box_whose_area_is_the_targets_weight():
    images, labels = smooth_images(6), torch.arange(6)
    out, targets = mix(images, labels, 6, 0.0, 1.0, seeded(4))
    for i in range(6):
        own = targets[i, i].item()
        if own < 1:
            kept = (out[i] == images[i]).all(0).float().mean().item()  # share of pixels still the image's own
            assert kept == pytest.approx(own, abs=1e-6)


@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_soft_target_loss_is_the_mixture_of_the_two_losses(smoothing):
    """The trainer's loss on mixup targets lam a + (1 - lam) b equals lam CE(a) + (1 - lam) CE(b)
    (with label smoothing in both), computed by hand on a tiny example."""
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 3)
    x, lam = torch.randn(2, 4), 0.3
    a, b = torch.tensor([0, 1]), torch.tensor([2, 1])
    targets = lam * torch.nn.functional.one_hot(a, 3).float() + (1 - lam) * torch.nn.functional.one_hot(b, 3).float()
    recipe = Recipe(label_smoothing=smoothing, device="cpu", mixed_precision=False)
    with torch.no_grad():
        logp = torch.log_softmax(model(x), 1)
    def smoothed_ce(labels):  # by hand: (1 - s) (-log p_y) + s mean_k(-log p_k)
        return ((1 - smoothing) * -logp[torch.arange(2), labels] + smoothing * -logp.mean(1)).mean()
    expected = lam * smoothed_ce(a) + (1 - lam) * smoothed_ce(b)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)
    optimizer.param_groups[0]["decay"] = 0.0
    _, loss = _train_step(model, optimizer, x, a, recipe, torch.device("cpu"), targets=targets)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)


def test_augmented_examples_show_what_a_training_step_sees():
    from winnow.data import from_arrays
    from winnow.train import augmented_examples

    images = (smooth_images(12) * 255).round().to(torch.uint8)
    dataset = from_arrays(images, torch.arange(12) % 3, ["a", "b", "c"])
    plain = Recipe(flip=False, translate=0, seed=0)
    assert torch.equal(augmented_examples(dataset, [3, 5], plain), images[[3, 5]])  # nothing on: the images
    flipped = augmented_examples(dataset, np.arange(12), plain.replace(flip=True))
    mirrored = [torch.equal(flipped[i], images[i].flip(-1)) for i in range(12)]
    assert all(m or torch.equal(flipped[i], images[i]) for i, m in enumerate(mirrored))
    assert 0 < sum(mirrored) < 12
    assert torch.equal(flipped, augmented_examples(dataset, np.arange(12), plain.replace(flip=True)))  # the seed
    blended = augmented_examples(dataset, np.arange(12), plain.replace(mixup=1.0)).float()
    low, high = images.float().min(0).values - 1, images.float().max(0).values + 1
    assert not torch.equal(blended, images.float()) and bool(((blended >= low) & (blended <= high)).all())
