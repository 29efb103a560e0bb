"""Several aligned inputs per sample: Dataset modalities and their views, synthetic_pad, the
augmentations on stacked views, modality dropout, the fusion model, training on some modalities,
the missing-modality evaluation and cross-modal distillation."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from winnow import data, metrics
from winnow.augment import apply_library, drop_modalities, library_pipeline
from winnow.data import DataError, Dataset, synthetic_pad
from winnow.data.dataset import zero_modalities
from winnow.models import FusionNet, create_model
from winnow.train import fit, predict, Recipe

MODALITIES = {"rgb": 3, "depth": 1, "ir": 1}


def stacked(count: int = 4, size: int = 2) -> Dataset:
    """`count` samples of 5 channels (rgb, depth, ir) where every pixel of channel c of sample i is 10 c + i."""
    values = 10 * np.arange(5).reshape(1, 5, 1, 1) + np.arange(count).reshape(count, 1, 1, 1)
    images = np.broadcast_to(values, (count, 5, size, size)).astype(np.uint8)
    return Dataset(images=torch.from_numpy(images.copy()), labels=torch.arange(count) % 2, class_names=["a", "b"],
                   splits={"train": np.arange(count - 1), "test": np.array([count - 1])}, modalities=dict(MODALITIES))


def channel_values(images: torch.Tensor) -> list[list[int]]:
    """Each sample's value per channel (every pixel of a channel holds the same)."""
    return images[:, :, 0, 0].tolist()


# ---------------------------------------------------------------- Dataset modalities


def test_modality_views_and_subsets_of_stacked_channels():
    dataset = stacked()
    assert dataset.modality("depth").shape == (4, 1, 2, 2)
    assert channel_values(dataset.modality("depth")) == [[30], [31], [32], [33]]
    assert channel_values(dataset.modality("rgb"))[1] == [1, 11, 21]
    rgb_ir = dataset.with_modalities(["rgb", "ir"])
    assert rgb_ir.modalities == {"rgb": 3, "ir": 1}
    assert channel_values(rgb_ir.images)[2] == [2, 12, 22, 42]
    reordered = dataset.with_modalities(["ir", "depth"])
    assert list(reordered.modalities) == ["ir", "depth"] and channel_values(reordered.images)[0] == [40, 30]
    for subset in (rgb_ir, reordered):  # the same samples, labels and splits
        assert torch.equal(subset.labels, dataset.labels)
        assert {k: v.tolist() for k, v in subset.splits.items()} == {k: v.tolist() for k, v in dataset.splits.items()}
    contiguous = dataset.with_modalities(["depth", "ir"])
    assert contiguous.images.data_ptr() == dataset.images[:, 3:].data_ptr()  # a view, nothing copied
    assert "rgb 3 + depth 1 + ir 1" in dataset.describe()


def test_zeroing_missing_modalities_leaves_the_present_ones_and_the_input():
    dataset = stacked()
    zeroed = zero_modalities(dataset.images, dataset.modalities, ["depth"])
    assert channel_values(zeroed)[3] == [0, 0, 0, 33, 0]
    assert channel_values(dataset.images)[3] == [3, 13, 23, 33, 43]  # unchanged


@pytest.mark.parametrize("call, message", [
    (lambda d: d.modality("thermal"), "has no modality 'thermal'; its modalities are rgb, depth, ir"),
    (lambda d: d.with_modalities(["rgb", "rgb"]), "modality 'rgb' is given twice"),
    (lambda d: d.with_modalities([]), "at least one modality"),
    (lambda d: zero_modalities(d.images, d.modalities, ["uv"]), "no modality 'uv'"),
    (lambda d: Dataset(d.images, d.labels, d.class_names, modalities={"rgb": 3, "depth": 1}),
     r"\(rgb 3 \+ depth 1 = 4\) do not add up to the images' 5 channels"),
    (lambda d: Dataset(d.images, d.labels, d.class_names, modalities={"rgb": 3, "depth": 0, "ir": 2}),
     "modality 'depth' has 0 channels"),
])
def test_modality_errors_name_the_modality(call, message):
    with pytest.raises(DataError, match=message):
        call(stacked())


def test_ordinary_data_has_no_modalities():
    digits = data.load("digits")
    assert digits.modalities is None
    with pytest.raises(DataError, match="has one input"):
        digits.modality("rgb")
    with pytest.raises(DataError, match="modalities rgb given, but digits has one input"):
        data.load("digits", modalities=["rgb"])


# ---------------------------------------------------------------- synthetic_pad


@pytest.fixture(scope="module")
def pad16() -> Dataset:
    return synthetic_pad(0, size=16, samples=800)


def relief(dataset: Dataset) -> torch.Tensor:
    """(N,) mean depth of the central half minus the mean depth of the border pixels."""
    depth = dataset.modality("depth").float()[:, 0] / 255  # (N, S, S)
    s = depth.shape[-1]
    centre = depth[:, s // 4:3 * s // 4, s // 4:3 * s // 4].mean((1, 2))
    border = torch.cat([depth[:, 0], depth[:, -1], depth[:, 1:-1, 0], depth[:, 1:-1, -1]], 1).mean(1)
    return centre - border


def test_synthetic_pad_shapes_classes_and_splits(pad16):
    assert pad16.images.shape == (800, 5, 16, 16) and pad16.images.dtype == torch.uint8
    assert pad16.modalities == {"rgb": 3, "depth": 1, "ir": 1}
    assert pad16.class_names == ["bona_fide", "print", "replay", "mask"]
    assert np.bincount(pad16.labels.numpy()).tolist() == [200, 200, 200, 200]
    sizes = {name: len(indices) for name, indices in pad16.splits.items()}
    assert sizes == {"train": 480, "val": 160, "test": 160}
    assert sorted(np.concatenate(list(pad16.splits.values())).tolist()) == list(range(800))
    assert np.bincount(pad16.labels.numpy()[pad16.test_indices]).tolist() == [40, 40, 40, 40]  # stratified


def test_synthetic_pad_depth_has_relief_for_bona_fide_only_and_ir_tells_paper_from_screens(pad16):
    heights = relief(pad16)
    labels = pad16.labels
    assert heights[labels == 0].min() > 0.1  # a face-like relief
    assert heights[labels != 0].abs().max() < 0.07  # flat, or nearly (a bent print, a curved mask)
    assert heights[labels == 3].mean() > heights[labels == 2].abs().mean()  # a mask curves, a screen does not
    ir = pad16.modality("ir").float().mean((1, 2, 3)) / 255
    assert ir[labels == 1].mean() > 0.6 > ir[labels == 0].mean() > 0.4 > 0.25 > ir[labels == 2].mean()


def test_synthetic_pad_is_determined_by_its_seed():
    first, again, other = (synthetic_pad(seed, size=8, samples=40) for seed in (3, 3, 4))
    assert torch.equal(first.images, again.images) and torch.equal(first.labels, again.labels)
    assert all(np.array_equal(first.splits[k], again.splits[k]) for k in first.splits)
    assert not torch.equal(first.images, other.images)


def test_synthetic_pad_from_a_source_dataset_and_through_load():
    from_digits = synthetic_pad(1, size=8, images="digits", samples=40)
    assert from_digits.images.shape == (40, 5, 8, 8) and "digits" in from_digits.source
    loaded = data.load("synthetic-pad:1", image_size=8, pad_images="digits", samples=40, modalities="rgb,ir")
    assert loaded.modalities == {"rgb": 3, "ir": 1}
    assert torch.equal(loaded.images, from_digits.with_modalities(["rgb", "ir"]).images)


@pytest.mark.parametrize("call, message", [
    (lambda: data.load("synthetic-pad:x"), "the seed of synthetic-pad:SEED must be an int >= 0"),
    (lambda: data.load("digits", samples=10), "pad_images and samples apply only to synthetic-pad"),
    (lambda: synthetic_pad(0, size=4), "size must be an int >= 8"),
    (lambda: synthetic_pad(0, samples=3), "samples must be an int >= 8"),
    (lambda: synthetic_pad(0, size=8, images="digits", samples=5000), "samples=5000 but digits has 1797 images"),
])
def test_synthetic_pad_errors(call, message):
    with pytest.raises(DataError, match=message):
        call()


# ---------------------------------------------------------------- augmentation of stacked views


def test_colour_jitter_changes_the_rgb_view_only_and_geometry_moves_every_view_alike():
    generator = torch.Generator().manual_seed(0)
    images = torch.rand(6, 5, 16, 16)
    jittered = apply_library(images, library_pipeline({"brightness": 0.5, "contrast": 0.5}, (16, 16), 5, MODALITIES),
                             generator)
    assert torch.equal(jittered[:, 3:], images[:, 3:])  # depth and ir untouched
    assert not torch.allclose(jittered[:, :3], images[:, :3])
    same = torch.rand(6, 1, 16, 16).expand(-1, 5, -1, -1).contiguous()  # every view the same picture
    moved = apply_library(same, library_pipeline({"affine_degrees": 30.0, "crop_scale": 0.5}, (16, 16), 5,
                                                 MODALITIES), generator)
    assert not torch.allclose(moved, same)
    assert torch.equal(moved, moved[:, :1].expand_as(moved))  # still aligned


def test_colour_jitter_without_an_rgb_view_is_an_error():
    with pytest.raises(ValueError, match="modalities depth, ir have no rgb view"):
        library_pipeline({"brightness": 0.2}, (8, 8), 2, {"depth": 1, "ir": 1})


def test_modality_dropout_zeroes_whole_modalities_never_all_with_the_documented_probability():
    images = torch.rand(20000, 5, 2, 2) + 0.5  # no pixel is 0 before dropping
    dropped = drop_modalities(images, MODALITIES, 0.5, torch.Generator().manual_seed(0))
    gone = torch.stack([(dropped[:, s] == 0).all((1, 2, 3)) for s in (slice(0, 3), slice(3, 4), slice(4, 5))], 1)
    for m, s in enumerate((slice(0, 3), slice(3, 4), slice(4, 5))):  # a modality is zeroed whole or kept as it was
        assert torch.equal(dropped[~gone[:, m]][:, s], images[~gone[:, m]][:, s])
    assert not gone.all(1).any()  # never every modality of an image
    # each drawn with p, an image drawn empty keeps one at random: P(dropped) = p - p^M / M = 0.5 - 0.125 / 3
    np.testing.assert_allclose(gone.float().mean(0).numpy(), 0.5 - 0.125 / 3, atol=0.012)
    again = drop_modalities(images, MODALITIES, 0.5, torch.Generator().manual_seed(0))
    assert torch.equal(again, dropped)  # seeded


# ---------------------------------------------------------------- the fusion model


def test_fusion_model_has_a_stem_per_modality_and_maps_to_logits():
    torch.manual_seed(0)
    model = create_model("fusion_xs", num_classes=4, in_channels=5, modalities=MODALITIES).eval()
    assert isinstance(model, FusionNet) and list(model.stems) == ["rgb", "depth", "ir"]
    assert model.stems["depth"].whiten.in_channels == 1 and model.stems["rgb"].whiten.in_channels == 3
    images = torch.rand(3, 5, 16, 16)
    with torch.no_grad():
        assert model(images).shape == (3, 4) and model.forward_features(images).shape == (3, model.num_features)
        without_ir = images.clone()
        without_ir[:, 4] = 0
        assert not torch.allclose(model(without_ir), model(images))  # the ir stem is read
    with pytest.raises(ValueError, match="have 4 channels, not in_channels=5"):
        create_model("fusion_xs", num_classes=4, in_channels=5, modalities={"rgb": 3, "ir": 1})


# ---------------------------------------------------------------- training on some modalities


def quick_recipe(**changes) -> Recipe:
    return Recipe(epochs=12, batch_size=64, resize_schedule="", device="cpu", **changes)


def test_depth_beats_colour_alone_by_far(pad16):
    accuracies = {}
    for names in (["rgb"], ["rgb", "depth"]):
        view = pad16.with_modalities(names)
        torch.manual_seed(0)
        model = create_model("fastnet_xs", 4, view.in_channels)
        result = fit(model, pad16, pad16.train_indices, quick_recipe(), modalities=names)
        accuracies["+".join(names)] = predict(result.model, view, view.test_indices, quick_recipe()).accuracy
    assert accuracies["rgb"] < 0.7  # colour alone is hard
    assert accuracies["rgb+depth"] > accuracies["rgb"] + 0.12, accuracies


def test_training_on_some_modalities_equals_training_on_that_view(pad16):
    """fit(modalities=...) on the whole data trains exactly as fit on the dataset of those modalities."""
    recipe = Recipe(epochs=1, batch_size=64, resize_schedule="", device="cpu", brightness=0.3, affine_degrees=10.0)
    weights = []
    for dataset, names in ((pad16, ["depth", "rgb"]), (pad16.with_modalities(["depth", "rgb"]), None)):
        torch.manual_seed(0)
        model = create_model("fastnet_xs", 4, 4)
        weights.append(fit(model, dataset, pad16.train_indices[:128], recipe, modalities=names).model.state_dict())
    for key in weights[0]:
        torch.testing.assert_close(weights[0][key], weights[1][key])


def test_modality_dropout_needs_two_modalities(pad16):
    with pytest.raises(ValueError, match="modality_dropout=0.3 zeroes whole modalities: the model needs two or more, "
                                         "it sees rgb"):
        fit(create_model("mlp", 4, 3), pad16, pad16.train_indices, quick_recipe(modality_dropout=0.3),
            modalities=["rgb"])


# ---------------------------------------------------------------- the missing-modality evaluation


def test_a_train_run_tests_every_subset_of_its_modalities_with_the_threshold_of_the_val_split(tmp_path, pad16):
    from winnow.experiments.engine import TrainingSpec
    from winnow.experiments.train import train_run
    from winnow.runs import load_weights

    final = train_run(pad16, tmp_path / "run", model="fusion_xs", preset="cpu",
                      recipe_overrides={"epochs": 2, "min_steps": 0, "resize_schedule": "", "batch_size": 64,
                                        "modality_dropout": 0.2})
    missing = final["missing_modalities"]
    assert missing["modalities"] == ["rgb", "depth", "ir"]
    assert [row["present"] for row in missing["rows"]] == [
        ["rgb", "depth", "ir"], ["rgb", "depth"], ["rgb", "ir"], ["depth", "ir"], ["rgb"], ["depth"], ["ir"]]
    assert missing["rows"][0]["accuracy"] == pytest.approx(final["test_accuracy"])
    # the same numbers again by hand, from the saved model: the threshold from the val split, every modality
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    spec = TrainingSpec.resolve(pad16, "fusion_xs", "cpu", {k: v for k, v in config["recipe"].items() if k != "seed"})
    model = create_model("fusion_xs", 4, 5, modalities=MODALITIES)
    model.load_state_dict(load_weights(tmp_path / "run" / "model.pt"))
    val = predict(model, pad16, pad16.val_indices, spec.seeded(0))
    threshold = metrics.pad_threshold(val.labels == 0, val.probs[:, 0], "eer",
                                      np.asarray(pad16.class_names)[val.labels])
    assert missing["pad"]["threshold"] == pytest.approx(threshold)
    assert missing["pad"]["threshold_split"] == "val" and missing["pad"]["bona_fide_class"] == "bona_fide"
    only_depth = data.Dataset(zero_modalities(pad16.images, MODALITIES, ["depth"]), pad16.labels, pad16.class_names,
                              splits=pad16.splits, modalities=MODALITIES)
    tested = predict(model, only_depth, pad16.test_indices, spec.seeded(0))
    expected = metrics.pad_metrics(tested.labels == 0, tested.probs[:, 0], threshold,
                                   np.asarray(pad16.class_names)[tested.labels], score_range=(0, 1))
    row = missing["rows"][5]
    assert row["present"] == ["depth"] and row["accuracy"] == pytest.approx(tested.accuracy)
    for key in ("apcer", "bpcer", "acer", "eer"):
        assert row[key] == pytest.approx(expected[key]), key


def test_train_command_with_modalities_and_modality_dropout(tmp_path, capsys):
    from winnow.cli import main

    out = tmp_path / "run"
    code = main(["train", "--data", "synthetic-pad:2", "--image-size", "8", "--pad-samples", "120", "--model",
                 "fusion_xs", "--preset", "cpu", "--epochs", "1", "--modalities", "depth,ir", "--modality-dropout",
                 "0.25", "--out", str(out)])
    assert code == 0
    config = json.loads((out / "config.json").read_text())
    assert config["data_options"]["modalities"] == ["depth", "ir"] and config["recipe"]["modality_dropout"] == 0.25
    final = json.loads((out / "final.json").read_text())
    assert [row["present"] for row in final["missing_modalities"]["rows"]] == [["depth", "ir"], ["depth"], ["ir"]]
    assert "Missing modalities (zeroed)" in capsys.readouterr().out
