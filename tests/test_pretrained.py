"""Pretrained weights and fine-tuning: the ImageNet-layout ResNets hold torchvision's state dict key
for key; `--weights` loads a file (torch or safetensors) or a named source downloaded (here from
a server on 127.0.0.1) with its checksum; a head of another size is replaced; weights that do not
fit are one line naming the keys; `freeze=backbone` trains the head only; `backbone_lr_scale`
gives the backbone its own rate; `input_size` resizes every batch. All weights here are random
initialisations saved in torchvision's layout: nothing is downloaded from the internet."""

from __future__ import annotations

import functools
import hashlib
import http.server
import json
import logging
import threading

import numpy as np
import pytest
import torch

from winnow import weights as pretrained
from winnow.cli import main
from winnow.data import DataError, from_arrays
from winnow.experiments.engine import TrainingSpec
from winnow.models import create_model
from winnow.train import Recipe, _make_optimizer, fit, predict
from winnow.weights import NamedWeights, load_weights, read_weights

BN = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")


def torchvision_keys(blocks: tuple[int, ...], bottleneck: bool) -> list[str]:
    """torchvision's resnet state-dict names, in its order, written out from its layout: conv1,
    bn1, layerS.B.convI/bnI per block (2 convs in a basic block, 3 in a bottleneck), a
    downsample.0 (conv) and downsample.1 (BatchNorm) in each stage's first block where the shape
    changes (every stage of a bottleneck net, stages 2-4 of a basic one), then fc."""
    keys = ["conv1.weight", *[f"bn1.{k}" for k in BN]]
    for stage, count in enumerate(blocks, 1):
        for block in range(count):
            prefix = f"layer{stage}.{block}"
            for i in range(1, (3 if bottleneck else 2) + 1):
                keys += [f"{prefix}.conv{i}.weight", *[f"{prefix}.bn{i}.{k}" for k in BN]]
            if block == 0 and (bottleneck or stage > 1):
                keys += [f"{prefix}.downsample.0.weight", *[f"{prefix}.downsample.1.{k}" for k in BN]]
    return keys + ["fc.weight", "fc.bias"]


def tiny_dataset(channels: int = 3, size: int = 16, count: int = 24, classes: int = 3):
    rng = np.random.default_rng(0)
    labels = np.arange(count) % classes
    images = rng.integers(0, 256, (count, channels, size, size)).astype(np.uint8)
    return from_arrays(images, labels, [f"c{c}" for c in range(classes)], test_indices=np.arange(0, count, 4))


@pytest.fixture(scope="module")
def resnet18_file(tmp_path_factory):
    """A randomly initialised ImageNet ResNet-18 (1 000 classes) saved as torchvision saves one."""
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("weights") / "resnet18-random.pth"
    torch.save(create_model("resnet18_imagenet", 1000, 3).state_dict(), path)
    return path


# ---------------------------------------------------------------- torchvision's layout


def test_resnet18_state_dict_is_torchvisions_key_for_key(resnet18_file):
    state = torch.load(resnet18_file, weights_only=True)
    assert list(state) == torchvision_keys((2, 2, 2, 2), bottleneck=False)
    assert len(state) == 122  # torchvision's resnet18, num_batches_tracked included
    for name in ("conv1.weight", "layer1.0.conv1.weight", "layer4.1.bn2.running_var", "layer2.0.downsample.0.weight",
                 "layer3.0.downsample.1.num_batches_tracked", "fc.weight", "fc.bias"):
        assert name in state
    shapes = {"conv1.weight": (64, 3, 7, 7), "layer1.0.conv2.weight": (64, 64, 3, 3),
              "layer2.0.conv1.weight": (128, 64, 3, 3), "layer3.0.downsample.0.weight": (256, 128, 1, 1),
              "layer4.1.conv2.weight": (512, 512, 3, 3), "layer4.1.bn2.running_var": (512,),
              "fc.weight": (1000, 512), "fc.bias": (1000,)}
    assert {name: tuple(state[name].shape) for name in shapes} == shapes
    assert sum(t.numel() for name, t in state.items() if "running" not in name and "num_batches" not in name) \
        == 11_689_512  # torchvision's parameter count


def test_resnet50_state_dict_is_torchvisions_and_runs_on_small_images():
    torch.manual_seed(0)
    model = create_model("resnet50_imagenet", 1000, 3).eval()
    state = model.state_dict()
    assert list(state) == torchvision_keys((3, 4, 6, 3), bottleneck=True)
    assert len(state) == 320
    shapes = {"layer1.0.conv1.weight": (64, 64, 1, 1), "layer1.0.downsample.0.weight": (256, 64, 1, 1),
              "layer2.0.conv2.weight": (128, 128, 3, 3),  # the stride is in the 3x3 conv (torchvision's V1.5)
              "layer4.2.conv3.weight": (2048, 512, 1, 1), "fc.weight": (1000, 2048)}
    assert {name: tuple(state[name].shape) for name in shapes} == shapes
    assert sum(p.numel() for p in model.parameters()) == 25_557_032
    with torch.no_grad():
        logits = model(torch.rand(2, 3, 32, 32))
        features = model.forward_features(torch.rand(1, 3, 32, 32))
    assert logits.shape == (2, 1000) and torch.isfinite(logits).all()
    assert features.shape == (1, 2048) and model.head is model.fc


def test_grey_images_are_repeated_into_the_three_channel_stem(resnet18_file):
    grey = create_model("resnet18_imagenet", 1000, in_channels=1).eval()
    colour = create_model("resnet18_imagenet", 1000, in_channels=3).eval()
    state = read_weights(str(resnet18_file))
    load_weights(grey, state)
    load_weights(colour, state)
    images = torch.rand(2, 1, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(grey(images), colour(images.expand(-1, 3, -1, -1)))


def test_inputs_are_normalised_with_imagenet_statistics_whatever_the_data():
    model = create_model("resnet18_imagenet", 3, 3)
    model.set_input_stats(torch.zeros(3), torch.ones(3))  # what the trainer does from the data: ignored
    torch.testing.assert_close(model.input_mean.flatten(), torch.tensor([0.485, 0.456, 0.406]))
    torch.testing.assert_close(model.input_std.flatten(), torch.tensor([0.229, 0.224, 0.225]))
    assert "input_mean" not in model.state_dict()


# ---------------------------------------------------------------- loading


def test_weights_load_into_a_model_for_other_classes_with_a_new_head(resnet18_file, caplog):
    state = read_weights(str(resnet18_file))
    model = create_model("resnet18_imagenet", 15, 3)
    head_before = model.fc.weight.detach().clone()
    with caplog.at_level(logging.INFO, logger="winnow.weights"):
        assert load_weights(model, state, "r18") is True
    loaded = model.state_dict()
    assert all(torch.equal(loaded[name], state[name]) for name in state if not name.startswith("fc."))
    assert loaded["fc.weight"].shape == (15, 512) and torch.equal(loaded["fc.weight"], head_before)
    assert "their head (1000 classes) is replaced" in caplog.text and "its 15 classes" in caplog.text

    same = create_model("resnet18_imagenet", 1000, 3)
    assert load_weights(same, state) is False  # the head fits: it is loaded too
    assert torch.equal(same.fc.weight, state["fc.weight"])


def test_safetensors_and_wrapped_checkpoints_load(resnet18_file, tmp_path):
    from safetensors.torch import save_file

    state = torch.load(resnet18_file, weights_only=True)
    save_file({name: t.contiguous() for name, t in state.items()}, tmp_path / "r18.safetensors")
    torch.save({"state_dict": {f"module.{name}": t for name, t in state.items()}, "epoch": 3},
               tmp_path / "wrapped.pt")  # a training script's checkpoint of a DataParallel model
    for file in ("r18.safetensors", "wrapped.pt"):
        model = create_model("resnet18_imagenet", 1000, 3)
        load_weights(model, read_weights(str(tmp_path / file)), file)
        assert all(torch.equal(model.state_dict()[name], state[name]) for name in state)


def test_weights_without_a_head_or_num_batches_tracked_load(resnet18_file):
    state = {name: t for name, t in torch.load(resnet18_file, weights_only=True).items()
             if not name.startswith("fc.") and not name.endswith("num_batches_tracked")}  # a backbone, an old file
    model = create_model("resnet18_imagenet", 4, 3)
    assert load_weights(model, state) is True
    assert torch.equal(model.layer4[1].bn2.running_var, state["layer4.1.bn2.running_var"])


def test_weights_that_do_not_fit_are_one_line_listing_missing_and_unexpected_keys(resnet18_file):
    state = dict(read_weights(str(resnet18_file)))
    renamed = {name.replace("layer1.", "stage1."): t for name, t in state.items()}  # 30 names moved
    with pytest.raises(ValueError) as error:
        load_weights(create_model("resnet18_imagenet", 10, 3), renamed, "renamed.pth")
    message = str(error.value)
    assert "\n" not in message
    assert message.startswith("weights renamed.pth do not fit model ImageNetResNet")
    assert "missing keys layer1.0.conv1.weight, layer1.0.bn1.weight" in message and "(20 in all)" in message
    assert "unexpected keys stage1.0.conv1.weight" in message and "(24 in all)" in message  # with num_batches_tracked

    with pytest.raises(ValueError, match=r"shapes differ \(weights vs model\) conv1.weight \(64, 3, 7, 7\) vs "
                                         r"\(64, 2, 7, 7\)$"):
        load_weights(create_model("resnet18_imagenet", 10, in_channels=2), state, "r18")
    with pytest.raises(ValueError, match=r"\(122 entries, the model has 320\): missing keys layer1.0.conv3.weight, .*"
                                         r"\(165 in all\); shapes differ .*\(23 in all\)$"):
        load_weights(create_model("resnet50_imagenet", 10, 3), state, "r18")


def test_files_that_are_not_state_dicts_are_one_line_errors(tmp_path):
    (tmp_path / "notes.txt").write_text("hello\n")
    (tmp_path / "broken.safetensors").write_bytes(b"garbage")
    torch.save([1, 2, 3], tmp_path / "list.pt")
    for name, fragment in (("notes.txt", "not a state dict torch.load(weights_only=True) can read"),
                           ("broken.safetensors", "not a readable safetensors file"),
                           ("list.pt", "holds no state dict"), ("missing.pt", "no such file")):
        with pytest.raises(ValueError) as error:
            read_weights(str(tmp_path / name))
        assert f"weights {tmp_path / name}: {fragment}" in str(error.value) and "\n" not in str(error.value)
    with pytest.raises(ValueError, match="weights 'torchvision:resnet99': unknown name; the named weights are "
                                         "torchvision:resnet18"):
        read_weights("torchvision:resnet99")


# ---------------------------------------------------------------- fine-tuning in the trainer


def test_freeze_backbone_trains_the_head_only(resnet18_file):
    dataset = tiny_dataset()
    model = create_model("resnet18_imagenet", 3, 3)
    load_weights(model, read_weights(str(resnet18_file)))
    before = {name: t.clone() for name, t in model.state_dict().items()}
    recipe = Recipe(epochs=2, batch_size=6, lr=2.0, freeze="backbone", device="cpu", bias_lr_scale=1.0)
    result = fit(model, dataset, dataset.train_indices, recipe, prepare=False)
    after = result.model.state_dict()
    assert result.steps == 6
    for name, tensor in after.items():  # weights and BatchNorm statistics alike
        if name.startswith("fc."):
            assert not torch.equal(tensor, before[name]), name
        else:
            assert torch.equal(tensor, before[name]), name
    assert not any(p.requires_grad for name, p in result.model.named_parameters() if not name.startswith("fc."))


def test_backbone_lr_scale_gives_the_backbone_groups_of_their_own():
    model = create_model("resnet18_imagenet", 3, 3)
    backbone = {id(p) for name, p in model.named_parameters() if not name.startswith("fc.")}
    recipe = Recipe(lr=0.5, batch_size=512, bias_lr_scale=2.0, backbone_lr_scale=0.1)
    groups = _make_optimizer(model, recipe).param_groups
    assert [g["lr"] for g in groups] == pytest.approx([0.5, 1.0, 0.05, 0.1])  # head w, head b, backbone w, b
    assert [len(g["params"]) for g in groups[:2]] == [1, 1]  # fc.weight, fc.bias
    assert {id(p) for g in groups[2:] for p in g["params"]} == backbone
    assert all(g["base_lr"] == g["lr"] for g in groups)

    plain = _make_optimizer(model, recipe.replace(backbone_lr_scale=1.0)).param_groups
    assert [g["lr"] for g in plain] == pytest.approx([0.5, 1.0])  # as before: weights, biases
    assert sum(len(g["params"]) for g in plain) == len(list(model.parameters()))


def test_input_size_resizes_every_batch_in_training_and_prediction():
    dataset = tiny_dataset(size=16)
    model = create_model("resnet18_imagenet", 3, 3)
    seen = {True: set(), False: set()}  # training mode -> sizes (H, W) the model was given
    normalize = model.normalize

    def recording(images):
        seen[model.training].add(tuple(images.shape[-2:]))
        return normalize(images)

    model.normalize = recording
    recipe = Recipe(epochs=1, batch_size=6, input_size=24, device="cpu", resize_schedule="")
    result = fit(model, dataset, dataset.train_indices, recipe)
    assert seen[True] == {(24, 24)}
    seen[False].clear()
    outputs = predict(result.model, dataset, dataset.test_indices, recipe)
    assert seen[False] == {(24, 24)} and np.isfinite(outputs.probs).all()


# ---------------------------------------------------------------- the training spec and the command line


def test_training_spec_starts_every_fresh_model_from_the_weights(resnet18_file):
    dataset = tiny_dataset()
    spec = TrainingSpec.resolve(dataset, "resnet18_imagenet", "cpu", {"epochs": 1}, weights=str(resnet18_file))
    assert (spec.recipe.input_size, spec.recipe.backbone_lr_scale, spec.recipe.batch_size) == (224, 0.1, 128)
    assert spec.recipe.resize_schedule == "" and spec.to_config()["weights"] == str(resnet18_file)
    state = read_weights(str(resnet18_file))
    first, second = spec.fresh_model(dataset, 0), spec.fresh_model(dataset, 1)
    for model in (first, second):
        assert torch.equal(model.layer3[0].downsample[0].weight, state["layer3.0.downsample.0.weight"])
    assert not torch.equal(first.fc.weight, second.fc.weight)  # a new head per seed
    assert "weights" not in TrainingSpec.resolve(dataset, "resnet18_imagenet", "cpu").to_config()

    explicit = TrainingSpec.resolve(dataset, "resnet18_imagenet", "cpu", {"input_size": 32, "backbone_lr_scale": 1},
                                    weights=str(resnet18_file))
    assert (explicit.recipe.input_size, explicit.recipe.backbone_lr_scale) == (32, 1.0)  # the user's word wins
    with pytest.raises(ValueError, match="do not fit model FastNet .*name the weights' architecture with --model"):
        TrainingSpec.resolve(dataset, None, "cpu", weights=str(resnet18_file))


def test_train_command_fine_tunes_from_a_weights_file(resnet18_file, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "run"
    assert main(["train", "--data", "digits", "--model", "resnet18_imagenet", "--weights", str(resnet18_file),
                 "--freeze", "backbone", "--set", "input_size=16", "--epochs", "0.1", "--out", str(out)]) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["weights"] == str(resnet18_file) and config["model"] == "resnet18_imagenet"
    assert (config["recipe"]["freeze"], config["recipe"]["input_size"], config["recipe"]["backbone_lr_scale"]) \
        == ("backbone", 16, 0.1)
    saved = torch.load(out / "model.pt", weights_only=True)
    state = read_weights(str(resnet18_file))
    assert list(saved) == torchvision_keys((2, 2, 2, 2), bottleneck=False)  # loadable by torchvision again
    assert all(torch.equal(saved[name], state[name]) for name in state if not name.startswith("fc."))
    assert saved["fc.weight"].shape == (10, 512)
    assert 0 <= json.loads((out / "final.json").read_text())["test_accuracy"] <= 1


# ---------------------------------------------------------------- named weights, downloaded


@pytest.fixture
def server(tmp_path):
    """An HTTP server on 127.0.0.1 serving the folder it returns, and its base URL; counts requests."""
    folder = tmp_path / "served"
    folder.mkdir()
    requests = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            requests.append(self.path)

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(folder)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield folder, f"http://127.0.0.1:{httpd.server_address[1]}", requests
    httpd.shutdown()
    httpd.server_close()


def test_named_weights_are_downloaded_once_with_their_checksum(server, tmp_path, monkeypatch):
    folder, url, requests = server
    torch.save({"w": torch.arange(4.0)}, folder / "tiny-0123abcd.pth")
    digest = hashlib.sha256((folder / "tiny-0123abcd.pth").read_bytes()).hexdigest()
    monkeypatch.setenv("WINNOW_CACHE", str(tmp_path / "cache"))
    cached = tmp_path / "cache" / "weights" / "tiny-0123abcd.pth"

    monkeypatch.setitem(pretrained.NAMED_WEIGHTS, "test:tiny", NamedWeights(f"{url}/tiny-0123abcd.pth", "deadbeef",
                                                                           "resnet18_imagenet"))
    with pytest.raises(DataError) as error:
        read_weights("test:tiny")
    assert str(error.value) == (f"checksum mismatch for {url}/tiny-0123abcd.pth: expected sha256 deadbeef (the start "
                                f"of the digest), got {digest}; the downloaded file was removed")
    assert list((tmp_path / "cache" / "weights").iterdir()) == []

    monkeypatch.setitem(pretrained.NAMED_WEIGHTS, "test:tiny", NamedWeights(f"{url}/tiny-0123abcd.pth", digest[:8],
                                                                           "resnet18_imagenet"))
    assert torch.equal(read_weights("test:tiny")["w"], torch.arange(4.0))
    assert cached.is_file() and len(requests) == 2
    (folder / "tiny-0123abcd.pth").unlink()
    assert pretrained.weights_file("test:tiny") == cached and len(requests) == 2  # from the cache

    monkeypatch.setitem(pretrained.NAMED_WEIGHTS, "test:gone", NamedWeights(f"{url}/gone-0123abcd.pth", digest,
                                                                           "resnet18_imagenet"))
    with pytest.raises(DataError, match=rf"could not download {url}/gone-0123abcd.pth: HTTP 404 "):
        read_weights("test:gone")


def test_named_weights_choose_the_model(server, resnet18_file, tmp_path, monkeypatch):
    folder, url, _ = server
    (folder / "resnet18-random.pth").write_bytes(resnet18_file.read_bytes())
    digest = hashlib.sha256(resnet18_file.read_bytes()).hexdigest()
    monkeypatch.setenv("WINNOW_CACHE", str(tmp_path / "cache"))
    monkeypatch.setitem(pretrained.NAMED_WEIGHTS, "torchvision:resnet18",
                        NamedWeights(f"{url}/resnet18-random.pth", digest, "resnet18_imagenet"))
    spec = TrainingSpec.resolve(tiny_dataset(), None, "cpu", weights="torchvision:resnet18")
    assert spec.model == "resnet18_imagenet" and spec.to_config()["weights"] == "torchvision:resnet18"
    assert (tmp_path / "cache" / "weights" / "resnet18-random.pth").is_file()


def test_the_official_table_names_torchvisions_files():
    for name, named in pretrained.NAMED_WEIGHTS.items():
        assert named.url.startswith("https://download.pytorch.org/models/resnet")
        assert named.url.endswith(f"-{named.sha256}.pth")  # torchvision's files carry their SHA-256's start
        assert named.model in ("resnet18_imagenet", "resnet50_imagenet") and name.startswith("torchvision:")
