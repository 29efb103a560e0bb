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
    """Colour carries faint traces of the attacks; depth shows which presentations are flat."""
    accuracies, bona_fide_errors = {}, {}
    for names in (["rgb"], ["rgb", "depth"]):
        view = pad16.with_modalities(names)
        torch.manual_seed(0)
        model = create_model("fastnet_xs", 4, view.in_channels)
        result = fit(model, pad16, pad16.train_indices, quick_recipe(), modalities=names)
        outputs = predict(result.model, view, view.test_indices, quick_recipe())
        accuracies["+".join(names)] = outputs.accuracy
        bona_fide_errors["+".join(names)] = float(((outputs.probs.argmax(1) == 0) != (outputs.labels == 0)).mean())
    assert 0.3 < accuracies["rgb"] < 0.8  # colour alone is learnable, and hard
    assert bona_fide_errors["rgb+depth"] < 0.03 < 0.1 < bona_fide_errors["rgb"], bona_fide_errors


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
    from winnow.experiments.modalities import missing_modality_evaluation

    held_out = pad16.train_indices[:60]  # a hold-out of the train split (a recipe's val_fraction) is no val split
    dev = missing_modality_evaluation(spec, model, pad16, 0, val_indices=held_out)
    on_dev = predict(model, pad16, held_out, spec.seeded(0))
    assert dev["pad"]["threshold_split"] == "dev" and dev["pad"]["threshold_split_count"] == 60
    assert dev["pad"]["threshold"] == pytest.approx(metrics.pad_threshold(
        on_dev.labels == 0, on_dev.probs[:, 0], "eer", np.asarray(pad16.class_names)[on_dev.labels]))
    only_depth = data.Dataset(zero_modalities(pad16.images, MODALITIES, ["depth"]), pad16.labels, pad16.class_names,
                              splits=pad16.splits, modalities=MODALITIES)
    tested = predict(model, only_depth, pad16.test_indices, spec.seeded(0))
    expected = metrics.pad_metrics(tested.labels == 0, tested.probs[:, 0], threshold,
                                   np.asarray(pad16.class_names)[tested.labels], score_range=(0, 1))
    row = missing["rows"][5]
    assert row["present"] == ["depth"] and row["accuracy"] == pytest.approx(tested.accuracy)
    for key in ("apcer", "bpcer", "acer", "eer"):
        assert row[key] == pytest.approx(expected[key]), key


@pytest.mark.parametrize("rule", ["eer", "apcer:0.1", "0.35"])
def test_the_missing_modality_table_uses_the_pad_threshold_of_the_run(tmp_path, rule):
    """One threshold mechanism (`experiments.pad`): --pad-threshold's rule fixes the threshold of
    final.json["pad"] and of the missing-modality table alike, on the same development split."""
    from winnow.experiments.train import train_run

    dataset = synthetic_pad(1, size=8, samples=240)
    final = train_run(dataset, tmp_path / "run", model="fusion_xs", preset="cpu", pad_bona_fide="bona_fide",
                      pad_threshold=rule, recipe_overrides={"epochs": 2, "min_steps": 0, "resize_schedule": "",
                                                            "batch_size": 64})
    missing = final["missing_modalities"]["pad"]
    assert missing["threshold"] == pytest.approx(final["pad"]["threshold"]) and missing["threshold_rule"] == rule
    assert missing["threshold_split"] == final["pad"]["threshold_split"]
    assert missing["threshold_split"] == (None if rule == "0.35" else "val")
    every = final["missing_modalities"]["rows"][0]  # every modality present: the run's own test metrics
    for key in ("apcer", "bpcer", "acer", "eer"):
        assert every[key] == pytest.approx(final["pad"][key]), key


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
    report = (out / "report.html").read_text()
    assert "Missing modalities (zeroed) on the test split" in report and "depth+ir" in report


# ---------------------------------------------------------------- cross-modal distillation


def test_the_teacher_reads_its_modalities_of_the_students_augmented_batch():
    from winnow.distill import Distillation, parse_loss_spec

    dataset = synthetic_pad(0, size=8, samples=64)
    torch.manual_seed(0)
    teacher = create_model("mlp", 4, 2)  # reads depth and ir
    student = create_model("mlp", 4, 3)  # reads rgb
    teacher(torch.rand(2, 2, 8, 8))  # materialise its lazy layers
    seen = {"teacher": [], "student": []}
    teacher.register_forward_pre_hook(lambda module, args: seen["teacher"].append(args[0].detach().clone()))
    student.register_forward_pre_hook(lambda module, args: seen["student"].append(args[0].detach().clone()))
    objective = Distillation(teacher, parse_loss_spec("kd"), teacher_channels=dataset.channel_indices(["depth", "ir"]),
                             student_channels=dataset.channel_indices(["rgb"]))
    recipe = Recipe(epochs=2, batch_size=16, resize_schedule="", device="cpu", flip=True, translate=0,
                    channels_last=False)
    fit(student, dataset, dataset.train_indices, recipe, objective=objective, modalities=["rgb"])
    pixels = dataset.images[torch.from_numpy(dataset.train_indices)].float() / 255  # (N, 5, 8, 8)
    taught = seen["teacher"][1:]  # the first is setup's look at the sample
    trained = [x for x in seen["student"] if x.shape[0] == 16][-len(taught):]  # the training steps'
    assert len(taught) == 2 * (len(pixels) // 16) and all(x.shape == (16, 2, 8, 8) for x in taught)
    for teacher_batch, student_batch in zip(taught, trained):
        assert student_batch.shape == (16, 3, 8, 8)
        for t, s in zip(teacher_batch, student_batch):  # the same sample, flipped or not, in both views
            same = [(torch.allclose(t, p[3:]) and torch.allclose(s, p[:3]))
                    or (torch.allclose(t, p[3:].flip(-1)) and torch.allclose(s, p[:3].flip(-1))) for p in pixels]
            assert any(same)


def test_cross_modal_distillation_from_a_train_run_end_to_end(tmp_path, capsys):
    from winnow.cli import main

    data_args = ["--data", "synthetic-pad:0", "--image-size", "8", "--pad-samples", "160"]
    teacher_dir = tmp_path / "teacher"
    assert main(["train", *data_args, "--model", "fusion_xs", "--preset", "cpu", "--epochs", "2",
                 "--out", str(teacher_dir)]) == 0
    out = tmp_path / "distill"
    code = main(["distill", *data_args, "--teacher", str(teacher_dir), "--student", "fastnet_xs",
                 "--student-modalities", "rgb", "--loss", "kd:1,at:1@groups.2=groups.1,mmd:0.5@groups.2=groups.1",
                 "--seeds", "2", "--epochs", "1", "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    results = json.loads((out / "results.json").read_text())
    config = json.loads((out / "config.json").read_text())
    assert config["teacher"]["modalities"] == ["rgb", "depth", "ir"] and config["modalities"] == ["rgb"]
    teacher_row, alone, taught = results["rows"]
    assert teacher_row["role"] == "teacher" and alone["seeds"] == taught["seeds"] == [0, 1]
    # the teacher's row is its run's test: the same accuracy as that run's final.json
    assert teacher_row["test_accuracy"]["mean"] == pytest.approx(
        json.loads((teacher_dir / "final.json").read_text())["test_accuracy"])
    for cell in results["cells"]:  # every model's PAD metrics at the val split's EER threshold
        assert cell["pad"]["threshold_split"] == "val" and 0 <= cell["pad"]["acer"] <= 1
    assert alone["acer"]["n"] == 2 and taught["acer_vs_student"]["n"] == 2
    assert "ACER vs student alone" in (out / "results.md").read_text()


@pytest.mark.parametrize("extra, message", [
    (["--student-modalities", "thermal"], "--student-modalities thermal: synthetic-pad:0 .*has no modality 'thermal'"),
    (["--teacher-modalities", "rgb,rgb"], "--teacher-modalities rgb,rgb: modality 'rgb' is given twice"),
])
def test_distill_modality_errors_name_the_option(tmp_path, capsys, extra, message):
    from winnow.cli import main

    code = main(["distill", "--data", "synthetic-pad:0", "--image-size", "8", "--pad-samples", "40", "--teacher",
                 "fusion_xs", "--student", "fastnet_xs", *extra, "--out", str(tmp_path / "d")])
    assert code == 2
    error = capsys.readouterr().err
    assert len(error.strip().splitlines()) == 1
    import re
    assert re.search(message, error), error
    assert not (tmp_path / "d").exists()


# ---------------------------------------------------------------- file formats: multi:PATH and surf:LIST_FILE


def write_png(path, value, size=4, mode="L"):
    """A size x size PNG: grey `value`, or an RGB colour (value, value + 1, value + 2) for mode RGB."""
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    colour = value if mode == "L" else (value, value + 1, value + 2)
    Image.new(mode, (size, size), colour).save(path)


def multi_folder(root, skip=None, odd_size=None):
    """root/{rgb,depth,ir}/{train,test}/{real,print}/sN.png; sample N's rgb is (10N, 10N+1, 10N+2),
    its depth 10N + 100 and its ir 10N + 150. `skip`: (modality, relative path) left out;
    `odd_size`: (modality, relative path) written at 6 px."""
    samples = [("train/real/s0", 0), ("train/real/s1", 1), ("train/print/s2", 2), ("test/real/s3", 3),
               ("test/print/s4", 4)]
    for name, offset, mode in (("rgb", 0, "RGB"), ("depth", 100, "L"), ("ir", 150, "L")):
        for relative, n in samples:
            if (name, relative) != skip:
                size = 6 if (name, relative) == odd_size else 4
                write_png(root / name / f"{relative}.png", 10 * n + offset, size, mode)
    return root


def test_a_folder_per_modality_is_matched_by_relative_name(tmp_path):
    dataset = data.load(f"multi:{multi_folder(tmp_path / 'm')}", cache_dir=tmp_path / "cache")
    assert dataset.modalities == {"rgb": 3, "depth": 1, "ir": 1} and dataset.images.shape == (5, 5, 4, 4)
    assert dataset.class_names == ["print", "real"]
    by_path = dict(zip(dataset.paths, channel_values(dataset.images)))
    assert by_path["rgb/train/print/s2.png"] == [20, 21, 22, 120, 170]
    assert by_path["rgb/test/real/s3.png"] == [30, 31, 32, 130, 180]
    test = [dataset.paths[i] for i in dataset.test_indices]
    assert sorted(test) == ["rgb/test/print/s4.png", "rgb/test/real/s3.png"]
    assert [dataset.class_names[dataset.labels[dataset.paths.index(p)]] for p in sorted(test)] == ["print", "real"]


@pytest.mark.parametrize("wrapper", ["", "pad-data/"])
def test_a_zip_of_modality_folders_loads_as_the_directory_does(tmp_path, wrapper):
    """multi:DATA.zip, with rgb/ depth/ ir/ at its top or inside one folder (a zipped folder)."""
    import zipfile

    folder = multi_folder(tmp_path / "m")
    archive = tmp_path / "m.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for path in sorted(folder.rglob("*.png")):
            zipped.write(path, wrapper + path.relative_to(folder).as_posix())
    from_folder = data.load(f"multi:{folder}", cache_dir=tmp_path / "cache")
    from_zip = data.load(f"multi:{archive}", cache_dir=tmp_path / "cache")
    assert from_zip.modalities == from_folder.modalities and from_zip.class_names == from_folder.class_names
    assert from_zip.paths == from_folder.paths and torch.equal(from_zip.images, from_folder.images)
    assert torch.equal(from_zip.labels, from_folder.labels)
    assert all(np.array_equal(from_zip.splits[k], from_folder.splits[k]) for k in from_folder.splits)
    again = data.load(f"multi:{archive}", cache_dir=tmp_path / "cache")  # from the cache: one entry per modality
    assert torch.equal(again.images, from_zip.images)


def test_a_multi_path_that_is_neither_a_directory_nor_a_zip_is_one_line(tmp_path):
    (tmp_path / "list.txt").write_text("not images")
    with pytest.raises(DataError, match="multi:.*list.txt: expected a directory or .zip with one folder per modality"):
        data.load(f"multi:{tmp_path / 'list.txt'}")


@pytest.mark.parametrize("change, message", [
    (dict(skip=("ir", "train/real/s1")), r"m/ir has no image train/real/s1\.\* for .*m/rgb/train/real/s1\.png"),
    (dict(skip=("rgb", "test/print/s4")), r"m/depth has test/print/s4\.\*, which .*m/rgb lacks"),
    (dict(odd_size=("depth", "train/real/s0")), r"depth/train/real/s0\.png is 6x6 pixels"),
])
def test_multi_folder_errors_name_the_sample(tmp_path, change, message):
    with pytest.raises(DataError, match=message):
        data.load(f"multi:{multi_folder(tmp_path / 'm', **change)}", cache_dir=tmp_path / "cache")


def surf_root(root):
    """root/{color,depth,ir}/N.png for N in 0..5: color (10N, 10N+1, 10N+2), depth 10N + 100, ir 10N + 150."""
    for n in range(6):
        write_png(root / "color" / f"{n}.png", 10 * n, mode="RGB")
        write_png(root / "depth" / f"{n}.png", 10 * n + 100)
        write_png(root / "ir" / f"{n}.png", 10 * n + 150)
    return root


def test_surf_list_files_with_a_root_and_splits(tmp_path):
    root = surf_root(tmp_path / "images")
    train, test = tmp_path / "train.txt", tmp_path / "test.txt"
    train.write_text("".join(f"color/{n}.png depth/{n}.png ir/{n}.png {n % 2}\n" for n in range(4)))
    test.write_text("color/4.png depth/4.png ir/4.png 0\n\ncolor/5.png depth/5.png ir/5.png 1\n")
    dataset = data.load(f"surf:{train},{test}", root=root)
    assert dataset.modalities == {"rgb": 3, "depth": 1, "ir": 1} and dataset.class_names == ["attack", "bona_fide"]
    assert channel_values(dataset.images)[5] == [50, 51, 52, 150, 200]
    assert dataset.labels.tolist() == [0, 1, 0, 1, 0, 1]
    assert dataset.train_indices.tolist() == [0, 1, 2, 3] and dataset.test_indices.tolist() == [4, 5]


def test_surf_header_names_a_subset_of_the_columns_in_any_order(tmp_path):
    root = surf_root(tmp_path / "images")
    listing = tmp_path / "list.txt"
    listing.write_text("# ir color label\n" + "".join(f"ir/{n}.png color/{n}.png {n % 2}\n" for n in range(6)))
    dataset = data.load(f"surf:{listing}", root=root, test_fraction=0.34)
    assert dataset.modalities == {"rgb": 3, "ir": 1}  # rgb first, whatever the column order
    assert channel_values(dataset.images)[2] == [20, 21, 22, 170]
    assert len(dataset.test_indices) == 2


@pytest.mark.parametrize("lines, message", [
    (["color/0.png depth/0.png ir/0.png 1", "color/1.png depth/9.png ir/1.png 0"],
     r"list.txt line 2: the depth image .*depth/9.png does not exist"),
    (["color/0.png depth/0.png ir/0.png 2"], r"list.txt line 1: label '2' is not 0 \(attack\) or 1 \(bona fide\)"),
    (["color/0.png ir/0.png 1"], r"list.txt line 1: 3 columns; without a header"),
    (["color/0.png depth/0.png ir/0.png 1", "color/1.png depth/1.png 1"], r"list.txt line 2: 3 columns, expected 4"),
    (["# color thermal label"], r"list.txt line 1: the header 'color thermal label' must name each column once"),
    (["color/0.png depth/big.png ir/0.png 1"], r"list.txt line 1: .*depth/big.png is 6x6 pixels but .*color/0.png "
                                                r"is 4x4"),
])
def test_surf_errors_name_the_line(tmp_path, lines, message):
    root = surf_root(tmp_path / "images")
    write_png(root / "depth" / "big.png", 7, size=6)
    listing = tmp_path / "list.txt"
    listing.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=message):
        data.load(f"surf:{listing}", root=root)


def test_from_arrays_stacks_named_modalities_and_refuses_other_sizes():
    rgb = np.full((6, 3, 4, 4), 7, dtype=np.uint8)
    depth = np.full((6, 4, 4), 0.5, dtype=np.float32)  # grey, float in [0, 1]
    dataset = data.from_arrays({"rgb": rgb, "depth": depth}, np.arange(6) % 2, ["a", "b"], test_indices=[5])
    assert dataset.modalities == {"rgb": 3, "depth": 1}
    assert channel_values(dataset.images)[0] == [7, 7, 7, 128]
    with pytest.raises(DataError, match=r"modality 'depth' has 6 images of 8x8 pixels but 'rgb' has 6 of 4x4"):
        data.from_arrays({"rgb": rgb, "depth": np.zeros((6, 8, 8), np.uint8)}, np.arange(6) % 2, ["a", "b"])
    with pytest.raises(DataError, match=r"modality 'ir' has 5 images"):
        data.from_arrays({"rgb": rgb, "ir": np.zeros((5, 4, 4), np.uint8)}, np.arange(6) % 2, ["a", "b"])
