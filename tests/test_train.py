"""Tests of winnow.train: recipes and presets, the learning-rate schedule, `fit` and `predict`.

Training runs on tiny synthetic data whose answer is known: in `quadrant_dataset` the class decides
which quadrant of a 16x16 image is bright, so a model that learns anything gets it right.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from winnow import metrics
from winnow.data import from_arrays
from winnow.models import create_model, list_models
from winnow.train import (PRESETS, Progress, Recipe, _lr_factor, _train_size, check_no_seed, fit, get_preset, predict,
                          preset_model, tta_views)


# Quick, CPU-only training on 16x16 images. flip=False: mirroring would move the bright quadrant.
QUICK = Recipe(epochs=3, batch_size=16, optimizer="adamw", lr=3e-3, weight_decay=0.0, warmup_fraction=1 / 6,
               flip=False, translate=1, device="cpu")


def quadrant_dataset(per_class: int = 40, classes: int = 4, channels: int = 3, seed: int = 0):
    """(N, C, 16, 16) noise in 0..79 plus 150 in quadrant `label` (0 top-left, 1 top-right, ...).

    Every 4th image is in the test split.
    """
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(classes), per_class)
    images = rng.integers(0, 80, size=(len(labels), channels, 16, 16)).astype(np.uint8)
    for i, label in enumerate(labels):
        row, col = divmod(int(label), 2)
        images[i, :, 8 * row:8 * row + 8, 8 * col:8 * col + 8] += 150
    test_indices = np.flatnonzero(np.arange(len(labels)) % 4 == 0)
    return from_arrays(images, labels, [f"quadrant{c}" for c in range(classes)], test_indices=test_indices)


def fresh_model(name: str, dataset, seed: int = 0):
    torch.manual_seed(seed)
    return create_model(name, num_classes=dataset.num_classes, in_channels=dataset.in_channels)


def without_timing(history: list[dict]) -> list[dict]:
    return [{k: v for k, v in record.items() if k != "seconds"} for record in history]


@pytest.fixture(scope="module")
def dataset():
    return quadrant_dataset()


@pytest.fixture(scope="module")
def trained_mlp(dataset):
    """An mlp trained one epoch on the quadrant data (predict never changes its weights)."""
    model = fresh_model("mlp", dataset)
    return fit(model, dataset, dataset.train_indices, QUICK.replace(epochs=1)).model


# ---------------------------------------------------------------- recipes and presets


def test_unknown_recipe_key_is_named():
    with pytest.raises(ValueError, match=r"unknown recipe option\(s\) learning_rate, nosuch; known: .*batch_size"):
        Recipe.from_dict({"lr": 0.1, "nosuch": 1, "learning_rate": 0.1})


@pytest.mark.parametrize(
    "values, option",
    [
        ({"optimizer": "foo"}, "optimizer"),
        ({"lr": -1}, "lr"),
        ({"lr": 0}, "lr"),
        ({"epochs": 0}, "epochs"),
        ({"batch_size": 0}, "batch_size"),
        ({"warmup_fraction": 1.5}, "warmup_fraction"),
        ({"warmup_fraction": -1.0}, "warmup_fraction"),
        ({"schedule": "step"}, "schedule"),
        ({"label_smoothing": 1.0}, "label_smoothing"),
        ({"val_fraction": 1.0}, "val_fraction"),
        ({"translate": -1}, "translate"),
        ({"cutout": -2}, "cutout"),
        ({"early_stopping_patience": -1, "val_fraction": 0.2}, "early_stopping_patience"),
    ],
)
def test_invalid_recipe_values_are_named(values, option):
    with pytest.raises(ValueError, match=rf"recipe option {option}\b"):
        Recipe.from_dict(values)


def test_recipe_round_trips_through_a_dict_and_replace_checks_values():
    recipe = Recipe(epochs=3, lr=0.05, cutout=4, schedule="cosine")
    assert Recipe.from_dict(recipe.to_dict()) == recipe
    changed = recipe.replace(lr=0.1)
    assert changed.lr == 0.1 and changed.cutout == 4 and recipe.lr == 0.05
    with pytest.raises(ValueError, match="recipe option lr"):
        recipe.replace(lr=-0.1)


def test_get_preset_applies_overrides_to_the_preset():
    preset = PRESETS["cpu"]["recipe"]
    recipe = get_preset("cpu", epochs=preset["epochs"] / 2, cutout=8)
    assert recipe.epochs == preset["epochs"] / 2 and recipe.cutout == 8
    for key, value in preset.items():
        if key == "resize_schedule":  # keeps its share of the training
            halved = Recipe(resize_schedule=value, epochs=100).resize_stages()
            assert recipe.resize_stages() == [(size, pytest.approx(e / 2)) for size, e in halved]
        elif key == "min_steps":  # the epochs asked for are the length
            assert recipe.min_steps == 0
        elif key != "epochs":
            assert getattr(recipe, key) == value
    explicit = get_preset("cpu", epochs=preset["epochs"] / 2, resize_schedule="16:1")
    assert explicit.resize_stages() == [(16, 1.0)]
    with pytest.raises(ValueError, match="nosuch"):
        get_preset("cpu", nosuch=1)


def test_override_stretches_the_resize_schedule_and_replace_does_not():
    cpu = get_preset("cpu")  # epochs 6.3, resize_schedule "16:2,24:3"
    shortened = cpu.override(epochs=3)
    assert shortened.epochs == 3
    # each stage scaled by 3 / 6.3, written with 6 significant digits
    assert shortened.resize_stages() == [(16, pytest.approx(2 * 3 / 6.3, rel=1e-5)),
                                         (24, pytest.approx(3 * 3 / 6.3, rel=1e-5))]
    assert shortened == get_preset("cpu", epochs=3)  # get_preset applies its overrides the same way
    assert cpu.override(epochs=3, resize_schedule="16:1") == cpu.replace(epochs=3, resize_schedule="16:1", min_steps=0)
    assert cpu.override(lr=0.5) == cpu.replace(lr=0.5)
    with pytest.raises(ValueError, match="resize_schedule.*longer than epochs=3"):
        cpu.replace(epochs=3)  # replace sets fields as given: 5 epochs of resizing in 3
    with pytest.raises(ValueError, match="nosuch"):
        cpu.override(epochs=3, nosuch=1)


def test_check_no_seed_names_the_option_that_sets_the_seed():
    check_no_seed({"lr": 0.1}, "--seeds")
    check_no_seed(None, "--seeds")
    with pytest.raises(ValueError, match=r"^the seed is set by --seeds, not by --set seed=\.\.\.$"):
        check_no_seed({"seed": 3}, "--seeds")


def test_resize_schedule_parses_and_gives_the_size_of_each_epoch():
    recipe = Recipe(epochs=6, resize_schedule="16:2, 24:1.5")
    assert recipe.resize_stages() == [(16, 2.0), (24, 1.5)]
    sizes = [_train_size(epoch, recipe.resize_stages()) for epoch in (0, 1.99, 2, 3.49, 3.5, 5.9)]
    assert sizes == [16, 16, 24, 24, None, None]
    assert Recipe().resize_stages() == [] and _train_size(0, []) is None
    for bad in ("16", "16:x", "0:2", "16:-1", "a:1"):
        with pytest.raises(ValueError, match="resize_schedule"):
            Recipe(epochs=6, resize_schedule=bad)
    with pytest.raises(ValueError, match="resize_schedule.*longer than epochs=3"):
        Recipe(epochs=3, resize_schedule="16:2,24:2")


@pytest.mark.parametrize("function", [get_preset, preset_model])
def test_unknown_preset_is_named_with_the_choices(function):
    with pytest.raises(ValueError, match="unknown preset 'nope'") as error:
        function("nope")
    for name in PRESETS:
        assert name in str(error.value)


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_is_a_valid_recipe_for_a_registered_model(name):
    assert isinstance(get_preset(name), Recipe)
    assert preset_model(name) in list_models()


@pytest.mark.parametrize(
    "values, option",
    [
        ({"eval_batch_size": 0}, "eval_batch_size"),  # predict: ZeroDivisionError
        ({"bias_lr_scale": 0}, "bias_lr_scale"),  # fit: ZeroDivisionError in _param_groups
        ({"final_lr_fraction": 1.5}, "final_lr_fraction"),  # lr rises after warm-up
        ({"final_lr_fraction": -0.5}, "final_lr_fraction"),  # negative learning rate at the end
        ({"weight_decay": -1.0}, "weight_decay"),
        ({"batch_size": 2.5}, "batch_size"),  # fit: TypeError slicing with a float
        ({"flip": "false"}, "flip"),  # a non-empty string is true: flips silently
    ],
)
def test_recipe_checks_every_option(values, option):
    with pytest.raises(ValueError, match=rf"\b{option}\b"):
        Recipe.from_dict(values)


# ---------------------------------------------------------------- learning-rate schedule


# total 10 steps, 2 of warm-up, decay to 0.1. Warm-up: (step + 1) / 2. After it,
# progress = (step - 2) / 8; linear: 0.1 + 0.9 (1 - progress); cosine: 0.1 + 0.9 * (1 + cos(pi progress)) / 2.
@pytest.mark.parametrize(
    "step, linear, cosine",
    [
        (0, 0.5, 0.5),  # warm-up start
        (1, 1.0, 1.0),  # warm-up end
        (2, 1.0, 1.0),  # decay starts at the peak
        (4, 0.1 + 0.9 * 0.75, 0.1 + 0.45 * (1 + math.sqrt(0.5))),  # a quarter of the decay
        (6, 0.55, 0.55),  # half-way
        (9, 0.1 + 0.9 / 8, 0.1 + 0.45 * (1 + math.cos(math.pi * 7 / 8))),  # last step taken
        (10, 0.1, 0.1),  # end
    ],
)
def test_lr_factor_by_hand(step, linear, cosine):
    for schedule, expected in (("linear", linear), ("cosine", cosine)):
        recipe = Recipe(epochs=10, warmup_fraction=0.2, schedule=schedule, final_lr_fraction=0.1)
        assert _lr_factor(step, 10, 2, recipe) == pytest.approx(expected, abs=1e-12)


def test_lr_factor_without_warm_up_starts_at_the_peak():
    recipe = Recipe(warmup_fraction=0.0)
    assert _lr_factor(0, 4, 0, recipe) == 1.0
    assert _lr_factor(2, 4, 0, recipe) == 0.5


# 64 training images, batch 16: 4 steps an epoch, 8 in all, 4 of warm-up. The SGD rate for
# batch 16 is 0.512 * 16 / 512 = 0.016. Epoch 1 ends at step 3 (factor 4/4 = 1); epoch 2 ends at
# step 7: progress 3/4, factor 1/4 (linear) or (1 + cos(3 pi / 4)) / 2 (cosine).
@pytest.mark.parametrize("schedule, last_factor", [("linear", 0.25), ("cosine", (1 - math.sqrt(0.5)) / 2)])
def test_fit_follows_the_schedule_and_scales_the_sgd_rate_with_the_batch(schedule, last_factor):
    data = quadrant_dataset(per_class=16)
    train = np.arange(64)
    recipe = Recipe(epochs=2, batch_size=16, lr=0.512, warmup_fraction=0.5, schedule=schedule, flip=False,
                    device="cpu")
    result = fit(fresh_model("mlp", data), data, train, recipe)
    assert [record["lr"] for record in result.history] == pytest.approx([0.016, 0.016 * last_factor])

    adamw = fit(fresh_model("mlp", data), data, train, recipe.replace(optimizer="adamw", lr=0.01))
    assert adamw.history[0]["lr"] == pytest.approx(0.01), "AdamW uses lr as given"


def test_fractional_epochs_end_part_way_through_the_last_epoch():
    data = quadrant_dataset(per_class=16)
    recipe = Recipe(epochs=1.5, batch_size=16, lr=0.512, warmup_fraction=0.0, flip=False, device="cpu")
    result = fit(fresh_model("mlp", data), data, np.arange(64), recipe)  # 6 of 8 steps
    assert [record["epoch"] for record in result.history] == [1, 2]
    assert result.history[-1]["lr"] == pytest.approx(0.016 * (1 - 5 / 6))  # step 5 of 6


# ---------------------------------------------------------------- fit


@pytest.mark.parametrize("name", ["mlp", "fastnet_xs"])
def test_fit_learns_an_easy_task(dataset, name):
    images_before = dataset.images.clone()
    result = fit(fresh_model(name, dataset), dataset, dataset.train_indices, QUICK)
    assert len(result.history) == 3
    assert not result.model.training
    assert result.device == "cpu" and result.train_seconds > 0
    outputs = predict(result.model, dataset, dataset.test_indices, QUICK)
    assert outputs.accuracy >= 0.95
    assert torch.equal(dataset.images, images_before), "fit must not change the dataset"


def test_same_seed_gives_the_same_run_and_another_seed_a_different_one(dataset):
    recipe = QUICK.replace(epochs=2, flip=True, translate=2, cutout=4)  # every random augmentation

    def run(seed):
        result = fit(fresh_model("mlp", dataset, seed), dataset, dataset.train_indices, recipe.replace(seed=seed))
        return result.history, predict(result.model, dataset, dataset.test_indices, recipe).logits

    history, logits = run(1)
    history_again, logits_again = run(1)
    history_other, logits_other = run(2)
    assert without_timing(history) == without_timing(history_again)
    assert np.array_equal(logits, logits_again)
    assert history[0]["train_loss"] != history_other[0]["train_loss"]
    assert not np.allclose(logits, logits_other)


def index_coded_dataset(count: int = 120, classes: int = 4, val_indices=None):
    """Images whose pixel (0, 0, 0) holds their own index; label = index % classes."""
    images = np.random.default_rng(0).integers(0, 256, size=(count, 1, 4, 4)).astype(np.uint8)
    images[:, 0, 0, 0] = np.arange(count)
    return from_arrays(images, np.arange(count) % classes, [str(c) for c in range(classes)], val_indices=val_indices)


def record_training_inputs(model) -> list[int]:
    """Indices (decoded from pixel (0, 0, 0)) of every image the model sees in training mode."""
    seen: list[int] = []

    def hook(module, args):
        if module.training:
            seen.extend(torch.round(args[0][:, 0, 0, 0] * 255).long().tolist())

    model.register_forward_pre_hook(hook)
    return seen


def test_val_fraction_holds_out_a_stratified_part_of_the_training_indices():
    data = index_coded_dataset()
    train = np.arange(100)  # 25 per class; images 100..119 are never used
    model = fresh_model("mlp", data)
    seen = record_training_inputs(model)
    recipe = Recipe(epochs=1, batch_size=16, optimizer="adamw", lr=1e-3, val_fraction=0.2, flip=False,
                    translate=0, device="cpu")
    result = fit(model, data, train, recipe)

    val = result.val_indices
    assert len(val) == 20 and len(set(val.tolist())) == 20  # round(25 * 0.2) = 5 of each class
    assert np.bincount(data.labels[val].numpy()).tolist() == [5, 5, 5, 5]
    assert set(val.tolist()) <= set(train.tolist())
    # 80 training images in batches of 16: one epoch shows each exactly once, and no validation image
    assert sorted(seen) == sorted(set(train.tolist()) - set(val.tolist()))
    assert len(result.history) == 1
    val_accuracy = result.history[0]["val_accuracy"]
    validated = predict(result.model, data, val, recipe)
    assert val_accuracy == validated.accuracy
    # the validation loss: the mean negative log-probability of the true class, by hand
    by_hand = -np.mean(np.log(validated.probs[np.arange(len(val)), validated.labels]))
    assert result.history[0]["val_loss"] == pytest.approx(by_hand, rel=1e-4)


def test_ema_returns_the_moving_average_of_the_weights_by_hand(dataset, monkeypatch):
    """With ema=0.9 the returned weights (and BatchNorm statistics) are the average of the
    weights after each step t, a <- d a + (1 - d) w_t with d = min(0.9, (1 + t) / (10 + t)),
    starting from the weights before training; the training itself is the one without ema."""
    import winnow.train

    after_steps = []
    real_step = winnow.train._train_step

    def recording_step(model, *args, **kwargs):
        out = real_step(model, *args, **kwargs)
        after_steps.append({k: v.detach().clone() for k, v in model.state_dict().items()})
        return out

    recipe = QUICK.replace(epochs=2, ema=0.9)
    model = fresh_model("fastnet_xs", dataset)
    monkeypatch.setattr(winnow.train, "_train_step", recording_step)
    start, real_prepare = {}, winnow.train._prepare_model

    def prepared(model, *args, **kwargs):  # the weights training starts from
        real_prepare(model, *args, **kwargs)
        start.update({k: v.detach().clone() for k, v in model.state_dict().items()})

    monkeypatch.setattr(winnow.train, "_prepare_model", prepared)
    result = fit(model, dataset, dataset.train_indices, recipe)
    assert len(after_steps) == result.steps > 10
    average = {k: v.clone() for k, v in start.items()}
    for t, weights in enumerate(after_steps):
        d = min(0.9, (1 + t) / (10 + t))
        for name, value in average.items():
            if value.is_floating_point():
                value.mul_(d).add_(weights[name], alpha=1 - d)
            else:
                value.copy_(weights[name])
    for name, value in result.model.state_dict().items():
        torch.testing.assert_close(value, average[name], rtol=1e-5, atol=1e-6)
    assert not torch.equal(result.model.state_dict()["head.weight"], after_steps[-1]["head.weight"])
    plain = fit(fresh_model("fastnet_xs", dataset), dataset, dataset.train_indices, recipe.replace(ema=0.0))
    assert [r["train_loss"] for r in plain.history] == pytest.approx([r["train_loss"] for r in result.history])


def test_early_stopping_stops_and_restores_the_best_epochs_weights(dataset):
    # 120 training images, 3 of each class for validation: 12, so the validation accuracy takes
    # 13 values and can rise at most 13 times. With patience 2 training must stop within 28 epochs.
    model = fresh_model("mlp", dataset)
    snapshots = []
    recipe = QUICK.replace(epochs=30, val_fraction=0.1, early_stopping_patience=2)
    result = fit(model, dataset, dataset.train_indices, recipe,
                 on_epoch_end=lambda record: snapshots.append(
                     {k: v.clone() for k, v in model.state_dict().items()}))
    accuracies = [record["val_accuracy"] for record in result.history]
    best = result.best_epoch
    assert len(result.history) < 30
    assert len(result.history) == best + 2, "stops once 2 epochs pass without a better validation accuracy"
    assert accuracies[best - 1] == max(accuracies)
    assert accuracies.index(max(accuracies)) == best - 1, "the first epoch reaching the best counts"

    restored = result.model.state_dict()
    assert all(torch.equal(restored[k], snapshots[best - 1][k]) for k in restored)
    assert not all(torch.equal(restored[k], snapshots[-1][k]) for k in restored)
    assert predict(result.model, dataset, result.val_indices, recipe).accuracy == accuracies[best - 1]


def test_on_epoch_end_sees_every_record_of_the_history(dataset):
    records = []
    result = fit(fresh_model("mlp", dataset), dataset, dataset.train_indices, QUICK.replace(epochs=2),
                 on_epoch_end=records.append)
    assert records == result.history
    assert [record["epoch"] for record in records] == [1, 2]
    for record in records:
        assert {"epoch", "train_loss", "train_accuracy", "lr", "seconds"} <= set(record)
        assert 0 <= record["train_accuracy"] <= 1 and record["train_loss"] > 0
    assert records[0]["seconds"] <= records[1]["seconds"]


def test_on_progress_sees_every_training_step(dataset):
    records = []
    recipe = QUICK.replace(epochs=1.5, batch_size=25)  # 120 training images: 4 steps an epoch, 6 in all
    fit(fresh_model("mlp", dataset), dataset, dataset.train_indices, recipe, on_progress=records.append)
    assert all(isinstance(record, Progress) and record.stage == "training" for record in records)
    assert [record.step for record in records] == [1, 2, 3, 4, 5, 6]
    assert {record.total_steps for record in records} == {6} and {record.num_epochs for record in records} == {2}
    assert [record.epoch for record in records] == [1, 1, 1, 1, 2, 2]
    assert [record.done for record in records] == [False] * 5 + [True]
    seconds = [record.elapsed_seconds for record in records]
    assert seconds == sorted(seconds) and seconds[0] >= 0


def test_on_progress_sees_every_prediction_batch(dataset, trained_mlp):
    batches = []
    predict(trained_mlp, dataset, np.arange(23), QUICK.replace(eval_batch_size=10), on_progress=batches.append)
    assert [(r.stage, r.step, r.total_steps, r.epoch, r.num_epochs, r.done) for r in batches] == [
        ("predicting", 1, 3, 0, 0, False), ("predicting", 2, 3, 0, 0, False), ("predicting", 3, 3, 0, 0, True)]


def test_early_stopping_ends_the_progress_with_a_done_record(dataset):
    records = []
    result = fit(fresh_model("mlp", dataset), dataset, dataset.train_indices,
                 QUICK.replace(epochs=30, val_fraction=0.1, early_stopping_patience=1), on_progress=records.append)
    assert len(result.history) < 30, "stopped early"
    steps = [record.step for record in records]
    assert steps[:-1] == list(range(1, len(steps))) and steps[-1] == steps[-2] < records[-1].total_steps
    assert [record.done for record in records] == [False] * (len(records) - 1) + [True]




def test_fit_and_predict_leave_numpys_global_generator_alone(dataset):
    state = np.random.get_state()
    expected = np.random.random(3)  # the next draws, had nothing touched the generator
    np.random.set_state(state)
    result = fit(fresh_model("mlp", dataset), dataset, dataset.train_indices, QUICK.replace(epochs=1, val_fraction=0.2))
    predict(result.model, dataset, dataset.test_indices, QUICK, mc_passes=2)
    assert np.array_equal(np.random.random(3), expected)


def test_the_datasets_val_split_is_the_hold_out_when_the_recipe_asks_for_validation():
    val = np.arange(100, 120)
    data = index_coded_dataset(val_indices=val)  # 120 images, label = index % 4; a val split as a folder's val/
    model = fresh_model("mlp", data)
    seen = record_training_inputs(model)
    recipe = Recipe(epochs=1, batch_size=20, optimizer="adamw", lr=1e-3, val_fraction=0.2, flip=False,
                    translate=0, device="cpu")
    result = fit(model, data, np.arange(100), recipe)
    assert result.val_indices.tolist() == val.tolist(), "the val split, not a part of the training indices"
    assert result.train_indices.tolist() == list(range(100)) and sorted(seen) == list(range(100))
    assert result.history[0]["val_accuracy"] == predict(result.model, data, val, recipe).accuracy

    # early stopping needs no val_fraction then; val images passed as training indices are not trained on
    model = fresh_model("mlp", data)
    seen = record_training_inputs(model)
    result = fit(model, data, np.arange(120), recipe.replace(val_fraction=0.0, early_stopping_patience=3))
    assert result.val_indices.tolist() == val.tolist() and result.train_indices.tolist() == list(range(100))
    assert sorted(seen) == list(range(100))

    # without validation in the recipe the split is not used; explicit val_indices win over it
    assert fit(fresh_model("mlp", data), data, np.arange(100), recipe.replace(val_fraction=0.0)).val_indices is None
    explicit = fit(fresh_model("mlp", data), data, np.arange(100), recipe, val_indices=[0, 1, 2, 3])
    assert explicit.val_indices.tolist() == [0, 1, 2, 3]


def test_early_stopping_without_any_validation_images_is_named(dataset):
    recipe = QUICK.replace(early_stopping_patience=2)  # a valid recipe: the data may bring a val split
    assert recipe.val_fraction == 0
    with pytest.raises(ValueError, match=r"early_stopping_patience=2 needs validation images: set val_fraction > 0"):
        fit(fresh_model("mlp", dataset), dataset, dataset.train_indices, recipe)
    empty = index_coded_dataset(val_indices=[])
    assert len(empty.val_indices) == 0
    with pytest.raises(ValueError, match="needs validation images"):
        fit(fresh_model("mlp", empty), empty, empty.train_indices, recipe)


def test_unlabelled_training_image_is_named(dataset):
    labels = dataset.labels.clone()
    labels[7] = -1
    unlabelled = from_arrays(dataset.images, labels, dataset.class_names)
    with pytest.raises(ValueError, match=r"image 7 in train_indices has no label"):
        fit(fresh_model("mlp", unlabelled), unlabelled, [3, 5, 7, 9], QUICK)


@pytest.mark.parametrize(
    "indices, message",
    [
        ([0, 1, 160], r"train_indices\[2\] = 160 is outside the dataset of 160 images"),
        ([0, -1], r"train_indices\[1\] = -1 is outside"),
        ([], r"train_indices must be a non-empty 1-D index array"),
        ([[0, 1]], r"train_indices must be a non-empty 1-D index array"),
    ],
)
def test_bad_training_indices_are_named(dataset, indices, message):
    with pytest.raises(ValueError, match=message):
        fit(fresh_model("mlp", dataset), dataset, indices, QUICK)


# ---------------------------------------------------------------- predict


def test_predict_returns_aligned_arrays(dataset, trained_mlp):
    indices = np.array([5, 0, 17, 3])
    outputs = predict(trained_mlp, dataset, indices, QUICK)
    assert outputs.indices.tolist() == [5, 0, 17, 3]
    assert outputs.logits.shape == (4, 4) and outputs.logits.dtype == np.float32
    assert outputs.probs.shape == (4, 4) and outputs.probs.dtype == np.float32
    assert outputs.features.shape == (4, trained_mlp.num_features)
    assert outputs.labels.tolist() == dataset.labels[indices].tolist()
    assert np.allclose(outputs.probs.sum(1), 1, atol=1e-6)
    assert np.allclose(outputs.probs, torch.softmax(torch.from_numpy(outputs.logits), 1).numpy(), atol=1e-6)
    assert outputs.predictions.tolist() == outputs.logits.argmax(1).tolist()
    assert outputs.accuracy == metrics.accuracy(outputs.labels, outputs.probs)


def test_predict_follows_the_order_of_the_indices(dataset, trained_mlp):
    indices = np.arange(40)
    shuffled = np.random.default_rng(1).permutation(indices)
    whole = predict(trained_mlp, dataset, indices, QUICK)
    reordered = predict(trained_mlp, dataset, shuffled, QUICK)
    assert np.allclose(reordered.logits, whole.logits[shuffled], atol=1e-5)
    assert np.allclose(reordered.features, whole.features[shuffled], atol=1e-5)
    assert reordered.labels.tolist() == whole.labels[shuffled].tolist()


@pytest.mark.parametrize("tta", [False, True])
def test_predict_in_chunks_equals_predict_at_once(dataset, trained_mlp, tta):
    indices = np.arange(0, 160, 7)  # 23 images: 7 chunks of 3 and one of 2
    chunked = predict(trained_mlp, dataset, indices, QUICK.replace(eval_batch_size=3, flip=True, tta=tta))
    whole = predict(trained_mlp, dataset, indices, QUICK.replace(eval_batch_size=1000, flip=True, tta=tta))
    for name in ("logits", "probs", "features"):
        assert np.allclose(getattr(chunked, name), getattr(whole, name), atol=1e-5), name


def test_tta_on_mirror_symmetric_images_changes_nothing(trained_mlp):
    half = np.random.default_rng(2).integers(0, 256, size=(12, 3, 16, 8)).astype(np.uint8)
    symmetric = from_arrays(np.concatenate([half, half[..., ::-1]], axis=-1), np.arange(12) % 4,
                            ["a", "b", "c", "d"])
    indices = np.arange(12)
    with_tta = predict(trained_mlp, symmetric, indices, QUICK.replace(flip=True, tta=True))
    without = predict(trained_mlp, symmetric, indices, QUICK.replace(flip=True, tta=False))
    assert np.allclose(with_tta.logits, without.logits, atol=1e-5)
    assert np.allclose(with_tta.features, without.features, atol=1e-5)


def test_tta_averages_an_image_and_its_mirror(dataset, trained_mlp):
    indices = np.arange(12)
    images = dataset.images[:12]
    mirrored = from_arrays(images.flip(-1), dataset.labels[:12], dataset.class_names)
    plain = QUICK.replace(flip=True, tta=False)
    expected_logits = (predict(trained_mlp, dataset, indices, plain).logits
                       + predict(trained_mlp, mirrored, indices, plain).logits) / 2
    with_tta = predict(trained_mlp, dataset, indices, QUICK.replace(flip=True, tta=True))
    assert np.allclose(with_tta.logits, expected_logits, atol=1e-5)
    assert not np.allclose(with_tta.logits, predict(trained_mlp, dataset, indices, plain).logits, atol=1e-3)
    # TTA applies only with flip: a recipe that never flips in training never mirrors at test time
    no_flip = predict(trained_mlp, dataset, indices, QUICK.replace(flip=False, tta=True))
    assert np.allclose(no_flip.logits, predict(trained_mlp, dataset, indices, plain).logits, atol=1e-5)


def test_tta_views_shift_each_view_both_ways_by_reflection():
    image = torch.arange(1.0, 10.0).view(1, 1, 3, 3)  # rows 1 2 3 / 4 5 6 / 7 8 9
    views, weights = tta_views(image, Recipe(flip=False, tta=True, tta_translate=1))
    down_right = [[5, 4, 5], [2, 1, 2], [5, 4, 5]]  # pixel (i, j) shows (i - 1, j - 1), row -1 reflects row 1
    up_left = [[5, 6, 5], [8, 9, 8], [5, 6, 5]]
    assert views[:, 0].tolist() == [image[0, 0].tolist(), down_right, up_left]
    assert weights.tolist() == [0.5, 0.25, 0.25]
    views, weights = tta_views(image, Recipe(flip=True, tta=True, tta_translate=1))
    assert torch.equal(views[3], image[0].flip(-1)) and weights.tolist() == [0.25, 0.125, 0.125] * 2
    assert len(tta_views(image, Recipe(flip=True, tta=False, tta_translate=1))[0]) == 1
    with pytest.raises(ValueError, match=r"tta_translate=3 must be smaller than the images \(3x3 px\)"):
        tta_views(image, Recipe(tta=True, tta_translate=3))


def test_translate_tta_averages_the_shifted_views_of_image_and_mirror(dataset, trained_mlp):
    indices = np.arange(12)
    plain = QUICK.replace(flip=True, tta=False)
    padded = np.pad(dataset.images[:12].numpy(), ((0, 0), (0, 0), (2, 2), (2, 2)), mode="reflect")
    expected = 0
    for source in (padded, padded[..., ::-1]):  # the image, its mirror (each then shifted)
        for weight, (y, x) in ((0.5, (2, 2)), (0.25, (0, 0)), (0.25, (4, 4))):
            view = torch.from_numpy(np.ascontiguousarray(source[:, :, y:y + 16, x:x + 16]))
            logits = predict(trained_mlp, from_arrays(view, dataset.labels[:12], dataset.class_names), indices, plain)
            expected = expected + weight / 2 * logits.logits
    with_tta = predict(trained_mlp, dataset, indices, QUICK.replace(flip=True, tta=True, tta_translate=2))
    assert np.allclose(with_tta.logits, expected, atol=1e-5)
    flip_only = predict(trained_mlp, dataset, indices, QUICK.replace(flip=True, tta=True)).logits
    assert not np.allclose(with_tta.logits, flip_only, atol=1e-3)


def test_predict_restores_the_training_mode(dataset, trained_mlp):
    trained_mlp.train()
    try:
        predict(trained_mlp, dataset, [0, 1], QUICK)
        assert trained_mlp.training
    finally:
        trained_mlp.eval()


def test_predict_names_bad_indices(dataset, trained_mlp):
    with pytest.raises(ValueError, match=r"indices\[0\] = 999 is outside"):
        predict(trained_mlp, dataset, [999], QUICK)


def test_input_statistics_come_from_a_sample_of_all_classes_not_the_first_images():
    # 6 000 class-sorted 4x4 images: class 0 all black (0), class 1 all white (255). The first
    # 5 000 hold 3 000 black and 2 000 white (mean 0.4); a random sample has mean near 0.5.
    labels = np.repeat([0, 1], 3000)
    images = np.where(labels[:, None, None, None] == 1, 255, 0).astype(np.uint8) * np.ones((1, 1, 4, 4), np.uint8)
    data = from_arrays(images, labels, ["black", "white"])
    recipe = Recipe(epochs=1, batch_size=3000, optimizer="adamw", lr=1e-3, flip=False, translate=0, device="cpu")
    model = fit(fresh_model("mlp", data), data, np.arange(6000), recipe).model
    assert float(model.input_mean) == pytest.approx(0.5, abs=0.02)
    assert float(model.input_std) == pytest.approx(0.5, abs=0.02)


def test_correct_history_records_every_presented_sample_per_epoch(dataset):
    recipe = QUICK.replace(epochs=2.5, batch_size=25)  # 120 training images: 4 batches of 25, 20 left out
    result = fit(fresh_model("mlp", dataset), dataset, dataset.train_indices, recipe)
    history = result.correct_history
    assert history.shape == (3, len(dataset.train_indices)) and history.dtype == np.int8
    assert np.array_equal(result.train_indices, dataset.train_indices)
    assert set(np.unique(history)) <= {-1, 0, 1}
    presented = (history >= 0).sum(1)
    assert presented.tolist() == [100, 100, 50]  # 4 full batches per epoch, half of the third epoch
    # the per-sample records add up to the epoch's training accuracy
    for epoch, record in zip(history, result.history):
        assert (epoch == 1).sum() / (epoch >= 0).sum() == pytest.approx(record["train_accuracy"])
    # the easy task is learnt: the last full epoch gets nearly everything right
    assert (history[1][history[1] >= 0] == 1).mean() > 0.8


def test_correct_history_covers_the_training_part_after_a_validation_hold_out(dataset):
    result = fit(fresh_model("mlp", dataset), dataset, dataset.train_indices, QUICK.replace(epochs=1, val_fraction=0.2))
    assert len(result.train_indices) + len(result.val_indices) == len(dataset.train_indices)
    assert result.correct_history.shape == (1, len(result.train_indices))


def test_mc_dropout_passes_vary_around_the_deterministic_prediction(dataset, trained_mlp):
    recipe = QUICK.replace(seed=5)
    plain = predict(trained_mlp, dataset, dataset.test_indices, recipe)
    assert plain.mc_probs is None
    outputs = predict(trained_mlp, dataset, dataset.test_indices, recipe, mc_passes=8, mc_dropout=0.3)
    n, k = len(dataset.test_indices), dataset.num_classes
    assert outputs.mc_probs.shape == (8, n, k)
    np.testing.assert_allclose(outputs.mc_probs.sum(-1), 1, atol=1e-5)
    np.testing.assert_array_equal(outputs.probs, plain.probs)  # the plain outputs are untouched
    assert (outputs.mc_probs.std(0) > 0).any()  # the passes differ from each other
    # seeded: the same passes again; without dropout every pass is the plain prediction
    again = predict(trained_mlp, dataset, dataset.test_indices, recipe, mc_passes=8, mc_dropout=0.3)
    np.testing.assert_array_equal(outputs.mc_probs, again.mc_probs)
    exact = predict(trained_mlp, dataset, dataset.test_indices, recipe, mc_passes=2, mc_dropout=0.0)
    np.testing.assert_allclose(exact.mc_probs[1], plain.probs, atol=1e-6)


@pytest.mark.parametrize("passes, rate, message", [(-1, 0.5, "mc_passes"), (2, 1.0, "mc_dropout")])
def test_bad_mc_dropout_options_are_named(dataset, trained_mlp, passes, rate, message):
    with pytest.raises(ValueError, match=message):
        predict(trained_mlp, dataset, dataset.test_indices, mc_passes=passes, mc_dropout=rate)


def test_with_epochs_keeps_the_share_of_the_resize_schedule():
    recipe = Recipe(epochs=6, resize_schedule="16:2,24:3")
    assert recipe.with_epochs(12).resize_stages() == [(16, 4.0), (24, 6.0)]
    assert recipe.with_epochs(3).epochs == 3 and recipe.with_epochs(3).resize_stages() == [(16, 1.0), (24, 1.5)]
    assert Recipe(epochs=4).with_epochs(2).resize_schedule == ""
    with pytest.raises(ValueError, match="epochs"):
        recipe.with_epochs(-1)


# ---------------------------------------------------------------- train_run (`winnow train` from Python)


def test_train_run_takes_a_dataset_and_records_its_times(tmp_path):
    from winnow import runs
    from winnow.experiments.train import train_run

    data = quadrant_dataset(per_class=12)
    final = train_run(data, tmp_path / "run", seed=1, preset="small", recipe_overrides={"epochs": 2, "device": "cpu"})
    assert final == runs.read_json(tmp_path / "run" / runs.FINAL)
    assert final["test_count"] == len(data.test_indices) and final["epochs_run"] == 2
    assert final["wall_seconds"] >= final["train_seconds"] + final["test_seconds"] + final["decode_seconds"]
    assert final["test_seconds"] > 0
    config = runs.read_json(tmp_path / "run" / runs.CONFIG)
    assert config["data"] == "arrays" and config["seed"] == 1 and config["recipe"]["seed"] == 1
    again = train_run(data, tmp_path / "again", seed=1, preset="small", recipe_overrides={"epochs": 2, "device": "cpu"})
    assert again["test_nll"] == final["test_nll"]  # the same seed, the same numbers


def test_train_run_refuses_a_seed_among_the_recipe_overrides(tmp_path):
    from winnow.experiments.train import train_run

    with pytest.raises(ValueError, match=r"the seed is set by --seed, not by --set seed=\.\.\."):
        train_run(quadrant_dataset(per_class=4), tmp_path / "run", recipe_overrides={"seed": 1})
    assert not (tmp_path / "run").exists()


def test_min_steps_stretches_a_short_schedule_on_a_small_set(dataset):
    """120 training images at batch 25 are 4 steps an epoch: 1.5 epochs would be 6 steps, and
    min_steps 10 stretches them to 2.5 epochs, the resize schedule with them."""
    records = []
    recipe = QUICK.replace(epochs=1.5, batch_size=25, min_steps=10, resize_schedule="4:0.75")
    result = fit(fresh_model("mlp", dataset), dataset, dataset.train_indices, recipe, on_progress=records.append)
    assert [record.step for record in records] == list(range(1, 11)) and records[-1].total_steps == 10
    assert result.recipe.epochs == 2.5 and result.recipe.resize_stages() == [(4, 1.25)]
    assert len(result.history) == 3  # epochs 1, 2 and half of 3
    many = fit(fresh_model("mlp", dataset), dataset, dataset.train_indices, QUICK.replace(epochs=3, batch_size=25,
                                                                                           min_steps=10))
    assert many.recipe.epochs == 3  # 12 steps already: nothing stretched


def test_epochs_asked_for_are_not_stretched_by_the_presets_min_steps():
    cpu = get_preset("cpu")
    assert cpu.min_steps == 400
    assert get_preset("cpu", epochs=3).min_steps == 0 and cpu.override(epochs=3).min_steps == 0
    assert cpu.override(epochs=3, min_steps=50).min_steps == 50
    assert cpu.with_epochs(12.6).min_steps == 400  # --scale-epochs keeps the rule: as many steps as the full run
    with pytest.raises(ValueError, match="min_steps"):
        Recipe(min_steps=-1)
