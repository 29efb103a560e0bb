"""Tests of the classical baselines: winnow.features (tiny images, bag of SIFT words, kNN, linear
SVM, and the frozen pretrained network's features), `winnow baseline`, its report, and extractor
features feeding `winnow select`.

The data is built so the answer is known: tiny images of horizontal against vertical ramps (a
16x16 thumbnail keeps the direction of the ramp), and textures of horizontal against vertical
stripes (SIFT's gradient orientations separate them, whatever the stripes' phase and noise).
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from winnow import features as classic
from winnow.cli import main
from winnow.data import from_arrays
from winnow.experiments.baseline import baseline_run


def ramps(per_class: int = 12, size: int = 32, seed: int = 0):
    """Class 0: brightness grows left to right; class 1: top to bottom; plus noise. Every 3rd is test."""
    rng = np.random.default_rng(seed)
    ramp = np.linspace(0, 200, size)
    labels = np.repeat([0, 1], per_class)
    images = []
    for label in labels:
        base = np.tile(ramp, (size, 1)) if label == 0 else np.tile(ramp[:, None], (1, size))
        images.append(base + rng.integers(0, 40, (size, size)))
    images = np.stack(images)[:, None].astype(np.uint8)  # (N, 1, S, S)
    return from_arrays(images, labels, ["horizontal", "vertical"], test_indices=np.arange(0, len(labels), 3))


def stripes(per_class: int = 10, size: int = 64, seed: int = 0, channels: int = 3):
    """Class 0: horizontal stripes (period 8, random phase); class 1: vertical; noise. Every 4th is test."""
    rng = np.random.default_rng(seed)
    labels = np.repeat([0, 1], per_class)
    coordinate = np.arange(size)
    images = []
    for label in labels:
        wave = 100 + 80 * np.sin(2 * np.pi * (coordinate + rng.integers(0, 8)) / 8)
        base = np.tile(wave[:, None], (1, size)) if label == 0 else np.tile(wave, (size, 1))
        images.append(base + rng.integers(0, 30, (size, size)))
    images = np.repeat(np.stack(images)[:, None], channels, 1).clip(0, 255).astype(np.uint8)
    return from_arrays(images, labels, ["horizontal", "vertical"], test_indices=np.arange(0, len(labels), 4))


SMALL_BOVW = {"vocabulary": 8, "step": 8, "patch": 16, "pyramid": 1, "workers": 1}


# ---------------------------------------------------------------- features


def test_tiny_images_are_area_averages_with_zero_mean_and_unit_norm():
    image = np.kron(np.arange(16 * 16).reshape(16, 16), np.ones((2, 2)))[None, None].astype(np.uint8)  # (1, 1, 32, 32)
    rows = classic.create_features("tiny").transform(image)
    expected = np.arange(256, dtype=np.float64) - 127.5
    expected /= np.linalg.norm(expected)
    assert rows.shape == (1, 256)
    np.testing.assert_allclose(rows[0], expected, atol=1e-6)
    colour = classic.create_features("tiny", size=4).transform(np.zeros((2, 3, 8, 8), np.uint8) + 7)
    assert colour.shape == (2, 48) and np.allclose(colour, 0)  # a flat image has no direction


def test_bovw_histograms_sum_to_one_over_the_pyramid():
    dataset = stripes(per_class=4)
    extractor = classic.create_features("bovw", **SMALL_BOVW).fit(dataset.images, seed=0)
    rows = extractor.transform(dataset.images)
    assert extractor.cells == 5 and rows.shape == (8, 8 * 5)
    np.testing.assert_allclose(rows.sum(1), 1.0, rtol=1e-5)
    whole, cells = rows[:, :8], rows[:, 8:].reshape(8, 4, 8)
    np.testing.assert_allclose(whole, cells.sum(1), rtol=1e-5)  # level weights 1/2 and 1/2: the same counts
    np.testing.assert_array_equal(extractor.transform(dataset.images, chunk=3), rows)  # chunks change nothing


def test_spatial_pyramid_counts_by_hand():
    extractor = classic.create_features("bovw", vocabulary=2, pyramid=1)
    words = np.array([0, 1, 1])
    positions = np.array([[0.1, 0.1], [0.9, 0.1], [0.9, 0.9]])  # (x, y): top-left, top-right, bottom-right
    histogram = extractor._histogram(words, positions)
    level0 = 0.5 * np.array([1, 2])
    level1 = 0.5 * np.array([1, 0, 0, 1, 0, 0, 0, 1])  # cells top-left, top-right, bottom-left, bottom-right
    np.testing.assert_allclose(histogram, np.concatenate([level0, level1]) / 3)


def test_dense_grid_covers_the_image_and_keypoints_mode_runs():
    dataset = stripes(per_class=3)
    dense = classic.create_features("bovw", **SMALL_BOVW)
    (found, positions), *_ = dense.descriptors(dataset.images[:1])
    assert found.shape == (7 * 7, 128) and positions.min() >= 0 and positions.max() < 1
    np.testing.assert_allclose(np.linalg.norm(found, axis=1), 1.0, rtol=1e-4)  # RootSIFT rows have unit norm
    detected = classic.create_features("bovw", **{**SMALL_BOVW, "detector": "sift", "vocabulary": 2})
    rows = detected.fit(dataset.images, seed=0).transform(dataset.images)
    assert rows.shape == (6, 2 * 5)


def test_a_vocabulary_larger_than_the_descriptors_is_a_one_line_error():
    dataset = stripes(per_class=1, size=32)
    extractor = classic.create_features("bovw", **{**SMALL_BOVW, "vocabulary": 1000})
    with pytest.raises(ValueError, match=r"vocabulary of 1000 words needs at least as many descriptors; the 2 "
                                         r"training images gave 18") as error:
        extractor.fit(dataset.images)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("make, message", [
    (lambda: classic.create_features("hog"), "unknown features 'hog'; known: tiny, bovw"),
    (lambda: classic.create_classifier("forest"), "unknown classifier 'forest'; known: knn, svm"),
    (lambda: classic.create_features("bovw", words=3), "features 'bovw' has no option 'words'"),
    (lambda: classic.create_features("bovw", detector="orb"), "detector must be 'dense' or 'sift'"),
    (lambda: classic.create_classifier("knn", k=0), "k must be an int >= 1"),
    (lambda: classic.create_classifier("svm", kernel="rbf"), "kernel must be one of auto, linear, hellinger, chi2"),
])
def test_bad_names_and_options_are_errors(make, message):
    with pytest.raises(ValueError, match=message):
        make()


# ---------------------------------------------------------------- classifiers


def test_hellinger_map_by_hand():
    np.testing.assert_allclose(classic.hellinger(np.array([[1.0, 3.0], [0.0, 2.0]])),
                               [[0.5, np.sqrt(0.75)], [0.0, 1.0]])


@pytest.mark.parametrize("kernel", ["linear", "hellinger", "chi2"])
def test_nearest_neighbour_votes_by_hand(kernel):
    train = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]])
    labels = np.array([0, 0, 1])
    knn = classic.create_classifier("knn", k=1, kernel=kernel).fit(train, labels, histogram=True)
    assert knn.scores(np.array([[0.2, 0.8], [0.8, 0.2]])).argmax(1).tolist() == [1, 0]
    three = classic.create_classifier("knn", k=3, kernel=kernel).fit(train, labels, histogram=True)
    votes = three.scores(np.array([[0.1, 0.9]]))
    assert votes.argmax(1).tolist() == [0] and np.floor(votes).tolist() == [[2.0, 1.0]]  # two votes beat the nearest


def test_a_tie_goes_to_the_nearest_voter():
    knn = classic.create_classifier("knn", k=2, kernel="linear").fit(np.array([[0.0], [1.0]]), np.array([1, 0]))
    assert knn.scores(np.array([[0.1], [0.9]])).argmax(1).tolist() == [1, 0]


def test_chi2_needs_histograms():
    knn = classic.create_classifier("knn", kernel="chi2")
    with pytest.raises(ValueError, match="the chi2 kernel needs non-negative features"):
        knn.fit(np.array([[-1.0, 2.0], [1.0, 1.0]]), np.array([0, 1]))


@pytest.mark.parametrize("kernel", ["linear", "hellinger", "chi2"])
def test_svm_separates_histograms(kernel):
    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1, 2], 10)
    histograms = rng.random((30, 6)) * 0.2
    histograms[np.arange(30), 2 * labels] += 1.0  # each class has its own dominant bin
    svm = classic.create_classifier("svm", kernel=kernel).fit(histograms, labels, histogram=True)
    assert (svm.scores(histograms).argmax(1) == labels).all()
    assert svm.scores(histograms[:2], num_classes=4).shape == (2, 4)


# ---------------------------------------------------------------- baseline_run and the command


def test_tiny_and_knn_get_the_ramps_right(tmp_path):
    final = baseline_run(ramps(), tmp_path / "run", features="tiny", classifier="knn")
    assert final["test_accuracy"] == 1.0 and final["kernel"] == "linear" and final["feature_dimensions"] == 256
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["command"] == "baseline" and config["model"] == "tiny + knn"
    assert config["feature_options"] == {"size": 16} and config["classifier_options"]["k"] == 1
    written = json.loads((tmp_path / "run" / "final.json").read_text())
    assert written["confusion_matrix"] == [[4, 0], [0, 4]]
    assert written["per_class_accuracy"] == {"horizontal": 1.0, "vertical": 1.0}
    for key in ("feature_seconds", "fit_seconds", "test_seconds", "wall_seconds", "train_seconds"):
        assert written[key] >= 0


@pytest.mark.parametrize("classifier", ["knn", "svm"])
def test_bag_of_sift_words_gets_the_stripes_right(tmp_path, classifier):
    final = baseline_run(stripes(), tmp_path / classifier, features="bovw", classifier=classifier,
                         feature_options=SMALL_BOVW)
    assert final["test_accuracy"] == 1.0 and final["kernel"] == "hellinger"
    assert final["feature_dimensions"] == 8 * 5 and final["vocabulary_seconds"] > 0


def test_the_command_writes_a_run_folder_and_a_report(tmp_path, capsys, monkeypatch):
    import winnow.experiments.baseline as module

    dataset = ramps()
    monkeypatch.setattr(module, "load_data", lambda source, options: (dataset, 0.0))
    out = tmp_path / "cli"
    assert main(["baseline", "--features", "tiny", "--classifier", "knn", "--set", "classifier.k=3",
                 "--set", "features.size=8", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "test accuracy 100.00 %" in printed and "tiny + knn (linear kernel, 64 dimensions)" in printed
    config = json.loads((out / "config.json").read_text())
    assert config["classifier_options"]["k"] == 3 and config["feature_options"] == {"size": 8}
    page = (out / "report.html").read_text()
    assert "Confusion matrix" in page and "fitting the classifier" in page


@pytest.mark.parametrize("argv, message", [
    (["--features", "hog"], "unknown features 'hog'; known: tiny, bovw"),
    (["--classifier", "forest"], "unknown classifier 'forest'; known: knn, svm"),
    (["--set", "features.words=3"], "features 'bovw' has no option 'words'"),
    (["--classifier", "knn", "--set", "classifier.k=two"], "classifier 'knn' option k: 'two' is not a valid int"),
    (["--set", "classifier.k=3"], "classifier 'svm' has no option 'k'; its options: C, kernel, max_iter"),
    (["--set", "k=3"], "--set k: this command takes no recipe KEY; it takes features.KEY=VALUE, classifier.KEY=VALUE"),
    (["--set", "k"], "--set expects KEY=VALUE with KEY as in features.KEY=VALUE, classifier.KEY=VALUE"),
    (["--set", "classifier.C=1", "--set", "classifier.C=2"], "--set classifier.C is given twice"),
    (["--set", "classifier.svm.C=1"], "--set classifier.svm.C: expected classifier.KEY, e.g. classifier.k=5"),
    (["--features", "tiny", "--classifier", "knn", "--set", "classifier.k=99"], "k=99 is more than the 16 training"),
    (["--set", "features.vocabulary=100000", "--set", "features.step=32"],
     "a vocabulary of 100000 words needs at least as many descriptors; the 16 training images gave 16"),
])
def test_bad_input_is_a_one_line_error(argv, message, tmp_path, capsys, monkeypatch):
    import winnow.experiments.baseline as module

    dataset = ramps()
    monkeypatch.setattr(module, "load_data", lambda source, options: (dataset, 0.0))
    assert main(["baseline", *argv, "--out", str(tmp_path / "bad")]) == 2
    error = capsys.readouterr().err
    assert error.startswith("winnow baseline: error: ") and message in error and error.count("\n") == 1
    assert not (tmp_path / "bad").exists()  # refused before the run folder is made


def test_report_compares_baselines_with_training_runs(tmp_path):
    from winnow.experiments.train import train_run
    from winnow.report import render_report

    dataset = ramps()
    baseline_run(dataset, tmp_path / "tiny-knn", features="tiny", classifier="knn")
    baseline_run(dataset, tmp_path / "tiny-svm", features="tiny", classifier="svm")
    train_run(dataset, tmp_path / "cnn", model="mlp", preset="small", recipe_overrides={"epochs": 1, "device": "cpu"})
    page = render_report([tmp_path / "tiny-knn", tmp_path / "tiny-svm", tmp_path / "cnn"], images=False,
                         save_figures=False)
    assert "Comparison of 3 runs: tiny-knn, tiny-svm, cnn" in page
    assert "tiny + knn" in page and "tiny + svm" in page and "Final metrics side by side" in page
    assert "recipe: null" not in page


# ---------------------------------------------------------------- features for selection


def test_classical_features_let_coreset_choose_with_nothing_labelled(tmp_path):
    from winnow.experiments.select import select_run

    dataset = ramps(per_class=12)
    final = select_run(dataset, tmp_path / "pick", strategy="coreset", budget=2, features="tiny")
    picked = np.load(tmp_path / "pick" / "selected.npy")
    assert not final["proxy_trained"] and sorted(dataset.labels.numpy()[picked].tolist()) == [0, 1]
    config = json.loads((tmp_path / "pick" / "config.json").read_text())
    assert config["features"] == "tiny" and config["model"] is None


def test_classical_features_refuse_strategies_that_need_a_network(tmp_path):
    from winnow.experiments.select import select_run

    with pytest.raises(ValueError, match=r"features of an extractor \(tiny\) give a strategy features only, not probs"):
        select_run(ramps(), tmp_path / "pick", strategy="margin", budget=2, features="tiny")
    assert not (tmp_path / "pick").exists()


def test_select_features_from_the_command_line(tmp_path, capsys, monkeypatch):
    import winnow.experiments.select as module

    dataset = ramps(per_class=12)
    monkeypatch.setattr(module, "load_data", lambda source, options=None, **_: (dataset, 0.0))
    out = tmp_path / "first"
    assert main(["select", "--features", "tiny", "--strategy", "typiclust", "--budget", "4", "--out", str(out)]) == 0
    assert len(np.load(out / "selected.npy")) == 4 and "proxy training" not in capsys.readouterr().out
    assert main(["select", "--features", "hog", "--strategy", "coreset", "--budget", "4",
                 "--out", str(tmp_path / "bad")]) == 2
    assert capsys.readouterr().err == "winnow select: error: unknown features 'hog'; known: tiny, bovw, pretrained\n"


def test_an_svm_needs_two_classes():
    with pytest.raises(ValueError, match="a linear SVM needs at least two classes in the training labels, got 1"):
        classic.create_classifier("svm").fit(np.ones((3, 2)), np.zeros(3, np.int64))


# ---------------------------------------------------------------- a frozen pretrained network


@pytest.fixture(scope="module")
def resnet18_file(tmp_path_factory):
    """A randomly initialised ImageNet ResNet-18 (1 000 classes) in torchvision's layout, and the model."""
    import torch

    from winnow.models import create_model

    torch.manual_seed(0)
    model = create_model("resnet18_imagenet", 1000, 3).eval()
    path = tmp_path_factory.mktemp("weights") / "resnet18-random.pth"
    torch.save(model.state_dict(), path)
    return path, model


def test_pretrained_features_are_the_models_own_penultimate_features_at_224(resnet18_file):
    import torch

    path, model = resnet18_file
    images = np.random.default_rng(0).integers(0, 256, (4, 3, 20, 28)).astype(np.uint8)
    threads = torch.get_num_threads()
    extractor = classic.create_features("pretrained", weights=str(path), batch_size=3)  # batches of 3 and 1
    rows = extractor.fit_transform(images)
    with torch.no_grad():  # what the model itself gives for the images resized to 224 and normalised by it
        resized = torch.nn.functional.interpolate(torch.from_numpy(images).float() / 255, size=224, mode="bilinear",
                                                  antialias=True, align_corners=False)
        expected = model.forward_features(resized).numpy()  # (4, 512)
    assert rows.shape == (4, 512) and rows.dtype == np.float32
    np.testing.assert_allclose(rows, expected, rtol=1e-4, atol=1e-5)
    assert not extractor.network.training and not any(p.requires_grad for p in extractor.network.parameters())
    assert torch.get_num_threads() == threads and extractor.histogram is False
    assert dataclasses.asdict(extractor) == {"weights": str(path), "model": "auto", "input_size": 224,
                                             "batch_size": 3, "device": "auto"}


def test_pretrained_features_of_grey_images_repeat_them_to_three_channels(resnet18_file):
    path, _ = resnet18_file
    grey = np.random.default_rng(1).integers(0, 256, (2, 1, 16, 16)).astype(np.uint8)
    extractor = classic.create_features("pretrained", weights=str(path), input_size=64)
    np.testing.assert_allclose(extractor.transform(grey), extractor.transform(np.repeat(grey, 3, 1)), atol=1e-6)
    assert extractor.transform(grey[:0]).shape == (0, 512)


def test_pretrained_model_auto_is_resnet50_for_bottleneck_weights(tmp_path):
    import torch

    from winnow.models import create_model

    path = tmp_path / "resnet50-random.pth"
    torch.save(create_model("resnet50_imagenet", 1000, 3).state_dict(), path)
    extractor = classic.create_features("pretrained", weights=str(path), input_size=64)
    extractor.check((2, 3, 16, 16))
    assert extractor.network.num_features == 2048


@pytest.mark.parametrize("options, message", [
    ({"weights": "/nowhere/r18.pth"}, "weights /nowhere/r18.pth: no such file"),
    ({"weights": "torchvision:resnet99"}, "weights 'torchvision:resnet99': unknown name"),
    ({"model": "nope"}, "pretrained model 'nope' is not a model"),
    ({"input_size": -1}, "input_size must be an int >= 0"),
    ({"batch_size": 0}, "batch_size must be an int >= 1"),
    ({"device": "cuda:99"}, "device 'cuda:99' is not available"),
])
def test_bad_pretrained_options_are_one_line_errors(options, message, resnet18_file):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        classic.create_features("pretrained", **{"weights": str(resnet18_file[0]), **options})


def test_pretrained_weights_that_do_not_fit_name_the_option_model(resnet18_file):
    extractor = classic.create_features("pretrained", weights=str(resnet18_file[0]), model="resnet50_imagenet")
    with pytest.raises(ValueError, match=r"do not fit model ImageNetResNet .* name their architecture with the "
                                         r"option model\)$"):
        extractor.check((2, 3, 16, 16))


def two_clusters(per_cluster: int = 10, size: int = 24, test_every: int = 5):
    """Two clusters of very different images, a class each: left-to-right ramps and checkerboards,
    with a little noise; every `test_every`-th image is test. (Also the cold-start data of
    test_active and test_prune.)"""
    rng = np.random.default_rng(0)
    ramp = np.tile(np.linspace(0, 220, size), (size, 1))
    board = 220.0 * ((np.arange(size)[:, None] // 4 + np.arange(size)[None, :] // 4) % 2)
    labels = np.repeat([0, 1], per_cluster)
    images = np.stack([(ramp if label == 0 else board) + rng.integers(0, 30, (size, size)) for label in labels])
    return from_arrays(images[:, None].clip(0, 255).astype(np.uint8), labels, ["ramp", "board"],
                       test_indices=np.arange(0, len(labels), test_every))


def test_typiclust_on_tiny_features_takes_one_image_of_each_cluster(tmp_path):
    from winnow.experiments.select import select_run

    dataset = two_clusters()
    for seed in (0, 1, 2):
        final = select_run(dataset, tmp_path / f"s{seed}", strategy="typiclust", budget=2, features="tiny", seed=seed)
        picked = np.load(tmp_path / f"s{seed}" / "selected.npy")
        assert not final["proxy_trained"] and sorted(dataset.labels.numpy()[picked].tolist()) == [0, 1]


def test_select_pretrained_features_from_the_command_line(tmp_path, resnet18_file, monkeypatch, capsys):
    import winnow.experiments.select as module

    dataset = two_clusters()
    monkeypatch.setattr(module, "load_data", lambda source, options=None, **_: (dataset, 0.0))
    out = tmp_path / "pick"
    assert main(["select", "--features", "pretrained", "--set", f"features.weights={resnet18_file[0]}",
                 "--set", "features.input_size=64", "--strategy", "coreset", "--budget", "3", "--out", str(out)]) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["features"] == "pretrained" and config["model"] is None
    assert config["feature_options"] == {"weights": str(resnet18_file[0]), "input_size": 64}
    assert len(np.load(out / "selected.npy")) == 3 and "proxy training" not in capsys.readouterr().out
    assert main(["select", "--features", "tiny", "--set", "features.input_size=64", "--strategy", "coreset",
                 "--budget", "3", "--out", str(tmp_path / "bad")]) == 2
    assert capsys.readouterr().err == ("winnow select: error: --set features.input_size: features 'tiny' has no option "
                                       "'input_size'; its options: size\n")
