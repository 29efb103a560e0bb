"""Tests of winnow.models: contract tests generated from the registry (every model under every
preset at every image size), look-ups, the fixed input grids of LeNet-5 and the MLP, and the
whitening stem."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from winnow.data import from_arrays
from winnow.models import FastNet, create_model, list_models, register_model
from winnow.train import PRESETS, fit, get_preset, predict

NUM_CLASSES = 5
INPUT_SHAPES = [(2, 16, 16), (1, 8, 8), (3, 32, 32)]  # (C, H, W)


@pytest.mark.parametrize("channels, height, width", INPUT_SHAPES, ids=lambda v: str(v))
@pytest.mark.parametrize("name", list_models())
def test_every_model_maps_images_to_features_and_logits(name, channels, height, width):
    torch.manual_seed(0)
    model = create_model(name, num_classes=NUM_CLASSES, in_channels=channels).eval()
    images = torch.rand(3, channels, height, width)  # (B, C, H, W) in [0, 1]
    with torch.no_grad():
        logits = model(images)
        features = model.forward_features(images)
        assert logits.shape == (3, NUM_CLASSES)
        assert torch.isfinite(logits).all()
        assert features.shape == (3, model.num_features)
        assert torch.isfinite(features).all()
        # predict() splits the forward pass this way, so it must give the same logits
        torch.testing.assert_close(model.head(features) * model.head_scale, logits, rtol=1e-5, atol=1e-6)
        # in eval mode a sample's logits do not depend on the rest of its batch
        torch.testing.assert_close(model(images[1:2]), logits[1:2], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", list_models())
def test_every_model_trains_the_head_by_backpropagation(name):
    torch.manual_seed(0)
    model = create_model(name, num_classes=3, in_channels=1).train()
    logits = model(torch.rand(4, 1, 8, 8))
    F.cross_entropy(logits, torch.tensor([0, 1, 2, 0])).backward()
    grad = model.head.weight.grad
    assert grad is not None and torch.isfinite(grad).all() and grad.abs().sum() > 0


# ---------------------------------------------------------------- every model, preset and image size

TRAIN_IMAGE_SHAPES = [(1, 8), (3, 8), (3, 16), (3, 32), (3, 64)]  # (C, size): digits-like up to 64 px


def random_image_dataset(channels: int, size: int, count: int = 10, classes: int = 3):
    """`count` random (channels, size, size) images in `classes` classes; every fifth is a test image."""
    rng = np.random.default_rng(size)
    images = rng.integers(0, 256, size=(count, channels, size, size)).astype(np.uint8)
    labels = np.arange(count) % classes
    return from_arrays(images, labels, [f"class{c}" for c in range(classes)], test_indices=np.arange(0, count, 5))


@pytest.mark.parametrize("channels, size", TRAIN_IMAGE_SHAPES, ids=lambda v: str(v))
@pytest.mark.parametrize("preset", list(PRESETS))
@pytest.mark.parametrize("name", list_models())
def test_every_model_trains_under_every_preset_and_predicts_at_the_data_size(name, preset, channels, size):
    """Training follows the preset's progressive resizing (16 and 24 px for `cpu`, whatever the
    data's size), then predict runs at the data's own size: no model may depend on one input size."""
    dataset = random_image_dataset(channels, size)
    # 8 training images in batches of 2, 4 steps an epoch. With a resize schedule, 0.9 epochs and
    # the schedule shortened alike (cpu: steps at 16, 16 and 24 px, then one at the full size);
    # without one, a single step. Few and small, as resnet18 and fastnet at 64 px are not.
    epochs = 0.9 if get_preset(preset).resize_stages() else 0.25
    recipe = get_preset(preset, epochs=epochs, batch_size=2, device="cpu")
    torch.manual_seed(0)
    model = create_model(name, num_classes=dataset.num_classes, in_channels=channels)
    seen = {True: set(), False: set()}  # training mode -> input sizes (H, W) the model was given
    normalize = model.normalize  # both forward() and forward_features() (predict's path) call it

    def recording_normalize(images):
        seen[model.training].add(tuple(images.shape[-2:]))
        return normalize(images)

    model.normalize = recording_normalize

    result = fit(model, dataset, dataset.train_indices, recipe)
    trained_sizes = {(s, s) for s, _ in recipe.resize_stages()} | {(size, size)}
    assert seen[True] == trained_sizes, "every stage of the resize schedule, then the full size"

    seen[False].clear()
    outputs = predict(result.model, dataset, dataset.test_indices, recipe)
    assert seen[False] == {(size, size)}
    count = len(dataset.test_indices)
    assert outputs.logits.shape == outputs.probs.shape == (count, dataset.num_classes)
    assert outputs.features.shape == (count, result.model.num_features)
    for values in (outputs.logits, outputs.probs, outputs.features):
        assert np.isfinite(values).all()
    np.testing.assert_allclose(outputs.probs.sum(1), 1.0, rtol=1e-5)


# ---------------------------------------------------------------- sizes fixed by the data

PARAMETERS_AT_32PX = {  # 10 classes, 3 channels, after a first batch of 32 px. A change here changes results.
    "fastnet": 1972792,
    "fastnet_m": 1113336,
    "fastnet_s": 498104,
    "fastnet_xs": 282072,
    # one modality ("image"): stem whiten 24x3x4 + 24, conv group 24 -> w0; SE w0 -> max(4, w0 / 4) -> w0;
    # 1x1 mix w0 -> w0; groups w0 -> w1 -> w2; head w2 x 10 (fusion: 51 256 + 2 128 + 4 096 + 738 304
    # + 1 180 672 + 2 560)
    "fusion": 1979016,
    "fusion_s": 499680,
    "fusion_xs": 282966,
    "lenet5": 136886,
    "mlp": 820874,
    "resnet18": 11173962,
    "resnet18_imagenet": 11181642,  # torchvision's resnet18 (11 689 512 with 1 000 classes) with a 10-class fc
    "resnet50_imagenet": 23528522,  # torchvision's resnet50 (25 557 032 with 1 000 classes) with a 10-class fc
}


@pytest.mark.parametrize("name", list_models())
def test_every_model_has_its_parameters_once_it_has_seen_its_data(name):
    model = create_model(name, num_classes=10, in_channels=3).eval()
    with torch.no_grad():
        model(torch.rand(2, 3, 32, 32))  # the trainer's first call: the data at its own size
    assert name in PARAMETERS_AT_32PX, f"add the parameter count of {name!r} to PARAMETERS_AT_32PX"
    assert sum(p.numel() for p in model.parameters()) == PARAMETERS_AT_32PX[name]


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("name", ["lenet5", "mlp"])
def test_lenet5_and_mlp_give_their_first_linear_layer_the_same_width_at_every_size(name, channels):
    torch.manual_seed(0)
    model = create_model(name, num_classes=NUM_CLASSES, in_channels=channels).eval()
    first_linear = next(m for m in model.modules() if isinstance(m, nn.Linear))
    widths = []
    first_linear.register_forward_pre_hook(lambda module, args: widths.append(args[0].shape[1]))
    sizes = [(5, 5), (8, 8), (13, 13), (16, 16), (24, 24), (32, 32), (64, 64), (20, 36)]  # (H, W)
    with torch.no_grad():
        for height, width in sizes:
            features = model.forward_features(torch.rand(2, channels, height, width))
            assert features.shape == (2, model.num_features)
    assert widths == [first_linear.in_features] * len(sizes)


def test_mlp_keeps_the_grid_of_the_first_images_it_saw():
    torch.manual_seed(0)
    model = create_model("mlp", num_classes=NUM_CLASSES, in_channels=3).eval()
    images = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        model.forward_features(F.avg_pool2d(images, 4))  # the first images are 8 px: the grid is 8 x 8
        torch.testing.assert_close(model.forward_features(images), model.forward_features(F.avg_pool2d(images, 4)))
    assert create_model("mlp", num_classes=2, in_channels=3, grid=8).pool.grid == (8, 8)


def test_models_other_than_fastnet_train_their_biases_at_the_plain_rate():
    """The cpu and gpu presets scale bias learning rates by 64 for fastnet's fixed-scale BatchNorm;
    LeNet, the MLP and the ResNet learn nothing with it, so their own recipe sets 1."""
    from winnow.models import model_recipe

    assert model_recipe("fastnet_s") == {}
    for name in ("mlp", "resnet18"):
        assert model_recipe(name) == {"bias_lr_scale": 1.0}
    # LeNet-5 stays at chance with the SGD presets' rates: it trains with the small preset's AdamW everywhere
    assert model_recipe("lenet5") == {"bias_lr_scale": 1.0, "optimizer": "adamw", "lr": 3e-3, "weight_decay": 1e-2}


@pytest.mark.parametrize("name", ["lenet5", "mlp"])
def test_lenet5_and_mlp_refuse_an_empty_grid(name):
    with pytest.raises(ValueError, match="grid must be positive"):
        create_model(name, num_classes=2, in_channels=1, grid=0)


def test_unknown_model_is_a_value_error_listing_every_name():
    with pytest.raises(ValueError, match="unknown model 'resnet1000'") as error:
        create_model("resnet1000", num_classes=10)
    for name in list_models():
        assert name in str(error.value)


@pytest.mark.parametrize("num_classes, in_channels", [(0, 3), (10, 0)])
def test_non_positive_sizes_are_refused(num_classes, in_channels):
    with pytest.raises(ValueError, match="must be positive"):
        create_model("mlp", num_classes=num_classes, in_channels=in_channels)


def test_list_models_filters_by_shell_pattern_and_sorts():
    assert list_models("fastnet*") == ["fastnet", "fastnet_m", "fastnet_s", "fastnet_xs"]
    assert list_models("fastnet_?s") == ["fastnet_xs"]
    assert list_models("no_such_model*") == []
    everything = list_models()
    assert everything == sorted(everything)
    assert {"fastnet", "fastnet_xs", "resnet18", "lenet5", "mlp"} <= set(everything)


def test_a_name_cannot_be_registered_twice():
    with pytest.raises(ValueError, match="'mlp' is already registered"):
        register_model("mlp")(lambda num_classes, in_channels: None)
    assert list_models("mlp") == ["mlp"]


def test_create_model_passes_options_to_the_factory():
    model = create_model("fastnet_xs", num_classes=4, in_channels=1, widths=(8, 16, 12))
    assert model.num_features == 12
    assert model.head.out_features == 4
    assert model.forward_features(torch.rand(2, 1, 16, 16)).shape == (2, 12)


def test_input_stats_normalise_inputs():
    model = create_model("mlp", num_classes=2, in_channels=2)
    model.set_input_stats(torch.tensor([0.2, 0.6]), torch.tensor([0.5, 0.0]))  # std 0 is clamped
    x = torch.tensor([0.7, 0.6]).view(1, 2, 1, 1)
    assert model.normalize(x).flatten().tolist() == pytest.approx([1.0, 0.0])
    assert model.input_std.flatten().tolist() == pytest.approx([0.5, 1e-3])
    assert {"input_mean", "input_std"} <= set(model.state_dict()), "saved weights carry the input statistics"


# ---------------------------------------------------------------- FastNet's whitening stem


def correlated_images(count: int, channels: int, size: int) -> torch.Tensor:
    """Normalised images (count, channels, size, size) whose neighbouring pixels and channels correlate."""
    generator = torch.Generator().manual_seed(0)
    noise = torch.randn(count, channels, size + 1, size + 1, generator=generator)
    smooth = noise[..., :-1, :-1] + noise[..., 1:, 1:] + 0.5 * noise[..., :-1, 1:]
    mixing = torch.eye(channels) + 0.5 * torch.rand(channels, channels, generator=generator)
    images = torch.einsum("dc,nchw->ndhw", mixing, smooth)
    mean, std = images.mean(dim=(0, 2, 3), keepdim=True), images.std(dim=(0, 2, 3), keepdim=True)
    return (images - mean) / std


@pytest.mark.parametrize("channels", [1, 3])
def test_init_from_data_makes_the_stem_whiten_2x2_patches(channels):
    eps = 5e-4
    model = FastNet(num_classes=2, in_channels=channels, widths=(8, 8, 8))
    images = correlated_images(64, channels, 10)
    model.init_from_data(images, eps=eps)
    with torch.no_grad():
        out = model.whiten(images)  # (B, 2 * C * 4, 9, 9)
    d = channels * 4
    assert out.shape == (64, 2 * d, 9, 9)
    torch.testing.assert_close(out[:, d:], -out[:, :d], rtol=0, atol=0)  # the second half are the negations

    # The same covariance, computed independently: F.unfold lists each 2x2 patch as (C, dy, dx).
    patches = F.unfold(images.double(), kernel_size=2).transpose(1, 2).reshape(-1, d)  # (P, C * 4)
    eigenvalues = torch.linalg.eigvalsh(torch.cov(patches.T)).flip(0)  # largest first
    assert eigenvalues[-1] > 20 * eps, "test data should have no near-null direction"

    outputs = out[:, :d].permute(0, 2, 3, 1).reshape(-1, d).double()  # (P, C * 4)
    covariance = torch.cov(outputs.T)
    variances = covariance.diagonal()
    torch.testing.assert_close(variances, eigenvalues / (eigenvalues + eps), rtol=2e-3, atol=2e-3)
    assert variances[0] > 0.999, "the dominant direction is scaled to unit variance"
    off_diagonal = covariance - torch.diag(variances)
    assert off_diagonal.abs().max() < 2e-3, "whitened channels are uncorrelated"
    assert torch.count_nonzero(model.whiten.bias) == 0
    assert not model.whiten.weight.requires_grad, "the stem stays frozen during training"
