"""Tests of knowledge distillation: each loss of `winnow.distill` against values computed by hand
on tiny tensors, the loss spec and its errors, the trainer's objective hook (no objective = the
same numbers; the teacher sees the student's batch, frozen), and `winnow distill` on the digits."""

from __future__ import annotations

import hashlib
import math

import numpy as np
import pytest
import torch
from torch import nn

from winnow import distill, runs
from winnow.cli import main
from winnow.data import from_arrays, load
from winnow.distill import (DistillOptions, Distillation, Term, attention_transfer, dkd_loss, feature_mmd, feature_mse,
                            kd_loss, parse_loss_spec, patch_kd)
from winnow.experiments.engine import TrainingSpec
from winnow.train import fit

LN3 = math.log(3)


def close(value, expected, tol=1e-5):
    return abs(float(torch.as_tensor(value).detach()) - expected) < tol


# ---------------------------------------------------------------- losses, by hand


def test_kd_loss_is_the_kl_of_softened_distributions_times_t_squared():
    student, teacher = torch.tensor([[0.0, 0.0]]), torch.tensor([[LN3, 0.0]])
    # T = 1: p_t = (3/4, 1/4), p_s = (1/2, 1/2): KL = 3/4 ln(3/2) + 1/4 ln(1/2)
    assert close(kd_loss(student, teacher, 1.0), 0.75 * math.log(1.5) + 0.25 * math.log(0.5))
    # T = 2: p_t = (sqrt3, 1) / (sqrt3 + 1); times 4
    a = math.sqrt(3) / (math.sqrt(3) + 1)
    assert close(kd_loss(student, teacher, 2.0), 4 * (a * math.log(2 * a) + (1 - a) * math.log(2 * (1 - a))))
    assert close(kd_loss(teacher, teacher, 3.0), 0.0)


def test_dkd_target_and_non_target_parts():
    labels = torch.tensor([0, 0])
    student = torch.zeros(2, 3)
    teacher = torch.log(torch.tensor([[2.0, 1.0, 1.0], [2.0, 1.0, 3.0]]))
    # sample 1: binary teacher (1/2, 1/2) vs student (1/3, 2/3); non-target parts both uniform
    tckd_1 = 0.5 * math.log(0.5 / (1 / 3)) + 0.5 * math.log(0.5 / (2 / 3))
    # sample 2: binary parts equal (1/3, 2/3); non-target teacher (1/4, 3/4) vs (1/2, 1/2)
    nckd_2 = 0.25 * math.log(0.5) + 0.75 * math.log(1.5)
    assert close(dkd_loss(student, teacher, labels, 1.0, alpha=1.0, beta=8.0), tckd_1 / 2 + 8 * nckd_2 / 2)
    assert close(dkd_loss(student, teacher, labels, 1.0, alpha=1.0, beta=0.0), tckd_1 / 2)
    # T = 2 multiplies both parts by 4 after softening the logits
    half = teacher / 2
    assert close(dkd_loss(student, teacher, labels, 2.0), 4 * float(dkd_loss(student, half, labels, 1.0)))


def test_kd_decomposes_into_tckd_and_weighted_nckd():
    """Zhao et al.'s identity: KD = TCKD + (1 - p_t(target)) NCKD, per sample."""
    torch.manual_seed(0)
    student, teacher, labels = torch.randn(1, 5), torch.randn(1, 5), torch.tensor([2])
    p_target = teacher.softmax(1)[0, 2].item()
    tckd = float(dkd_loss(student, teacher, labels, 1.0, alpha=1.0, beta=0.0))
    nckd = float(dkd_loss(student, teacher, labels, 1.0, alpha=0.0, beta=1.0))
    assert close(kd_loss(student, teacher, 1.0), tckd + (1 - p_target) * nckd)


def test_feature_mse_through_an_adapter_and_pooled_sizes():
    student = torch.tensor([1.0, 2.0]).view(1, 2, 1, 1)
    adapter = nn.Conv2d(2, 1, 1, bias=False)
    adapter.weight.data.fill_(1.0)  # 1 + 2 = 3
    assert close(feature_mse(student, torch.full((1, 1, 1, 1), 5.0), adapter), 4.0)
    big = torch.arange(4.0).view(1, 1, 2, 2)  # pooled to its mean 1.5
    assert close(feature_mse(big, torch.full((1, 1, 1, 1), 0.5)), 1.0)
    with pytest.raises(ValueError, match="give an adapter"):
        feature_mse(torch.zeros(1, 2, 1, 1), torch.zeros(1, 3, 1, 1))


def _mmd_maps():
    student = torch.tensor([[3.0, 4.0], [1.0, 0.0]]).view(1, 2, 1, 2)  # channels -> (0.6, 0.8), (1, 0)
    teacher = torch.tensor([[0.0, 2.0]]).view(1, 1, 1, 2)  # -> (0, 1)
    return student, teacher


def test_feature_mmd_polynomial_kernel_by_hand():
    student, teacher = _mmd_maps()
    # k(x, y) = (x . y)^2: ss (1 + 0.36 + 0.36 + 1) / 4 = 0.68, tt 1, st (0.64 + 0) / 2 = 0.32
    assert close(feature_mmd(student, teacher, "poly"), 0.68 + 1 - 2 * 0.32)


def test_feature_mmd_rbf_kernel_by_hand():
    student, teacher = _mmd_maps()
    # |s1 - s2|^2 = 0.8, |s1 - t|^2 = 0.4, |s2 - t|^2 = 2; sigma 1: exp(-d / 2)
    ss = (2 + 2 * math.exp(-0.4)) / 4
    st = (math.exp(-0.2) + math.exp(-1.0)) / 2
    assert close(feature_mmd(student, teacher, "rbf", sigma=1.0), ss + 1 - 2 * st)
    assert close(feature_mmd(teacher, teacher), 0.0)
    vectors = torch.tensor([[1.0, 0.0], [0.0, 2.0]])  # vectors: the batch's rows are the samples
    assert close(feature_mmd(vectors, vectors.flip(0), "poly"), 0.0)


def test_attention_transfer_by_hand():
    student = torch.ones(1, 1, 1, 2)  # attention (1, 1) -> (0.7071, 0.7071)
    teacher = torch.tensor([[[[2.0, 0.0]], [[0.0, 0.0]]]])  # mean of squares over channels (2, 0) -> (1, 0)
    expected = ((1 - 1 / math.sqrt(2)) ** 2 + 0.5) / 2
    assert close(attention_transfer(student, teacher), expected)
    assert close(attention_transfer(-student, student), 0.0)  # |A|^p: the sign does not matter


def test_patch_kd_by_hand_with_mean_and_max_pooling():
    student = torch.tensor([LN3, 0.0]).view(1, 1, 1, 2)  # two patches
    head = nn.Conv2d(1, 2, 1)
    head.weight.data = torch.tensor([1.0, 0.0]).view(2, 1, 1, 1)
    head.bias.data.zero_()  # patch logits (ln3, 0) and (0, 0)
    teacher = torch.zeros(1, 2)  # uniform
    patch_1 = 0.5 * math.log(0.5 / 0.75) + 0.5 * math.log(0.5 / 0.25)
    assert close(patch_kd(student, teacher, head, 1.0, "kd", "mean"), patch_1 / 2)
    assert close(patch_kd(student, teacher, head, 1.0, "kd", "max"), patch_1)
    # BCE per class against 1/2: softplus(x) - x / 2, averaged over the classes, then the patches
    bce_1 = (math.log(4) - LN3 / 2 + math.log(2)) / 2
    assert close(patch_kd(student, teacher, head, 1.0, "bce", "mean"), (bce_1 + math.log(2)) / 2)


# ---------------------------------------------------------------- the loss spec


def test_parse_loss_spec_terms_weights_and_layers():
    terms = parse_loss_spec("kd:1.0, at:0.5@groups.1+groups.2=groups.1 ,mmd:0.1,patch@conv,fitnet:2@a=b")
    assert terms[0] == Term("kd", 1.0, ())
    assert terms[1] == Term("at", 0.5, (("groups.1", "groups.1"), ("groups.2", "groups.1")))
    assert terms[2] == Term("mmd", 0.1, ((None, None),))
    assert terms[3] == Term("patch", 1.0, (("conv", "conv"),))
    assert distill.format_loss_spec(terms) == "kd:1,at:0.5@groups.1+groups.2=groups.1,mmd:0.1,patch:1@conv,fitnet:2@a=b"
    assert parse_loss_spec(distill.format_loss_spec(terms)) == terms


@pytest.mark.parametrize("text, message", [
    ("kd,hint:1", "unknown loss 'hint'; known: kd, dkd, fitnet, mmd, at, patch"),
    ("kd:-1", "the weight of kd must be >= 0, got -1"),
    ("kd:x", "the weight of kd must be a number, got 'x'"),
    ("kd:nan", "the weight of kd must be >= 0"),
    ("kd@groups.1", "kd reads the logits and takes no layers"),
    ("kd,kd:2", "kd is given twice"),
    ("fitnet@a+b", "fitnet takes one layer pair, got 2"),
    ("at@a=", "bad layer 'a=' in at"),
    ("", "--loss is empty"),
])
def test_bad_loss_specs_are_one_line_errors(text, message):
    with pytest.raises(ValueError, match=None) as error:
        parse_loss_spec(text)
    assert message in str(error.value) and "\n" not in str(error.value)


@pytest.mark.parametrize("options, message", [
    (dict(temperature=0), "temperature=0 is not valid: it must be a number > 0"),
    (dict(temperature=-2.0), "temperature=-2.0"),
    (dict(temperature=float("inf")), "temperature=inf"),
    (dict(alpha=1.5), "alpha=1.5 is not valid: it must be in [0, 1]"),
    (dict(mmd_kernel="linear"), "mmd_kernel='linear' is not valid: it must be rbf or poly"),
])
def test_bad_distillation_options(options, message):
    with pytest.raises(ValueError) as error:
        DistillOptions(**options)
    assert message in str(error.value)


# ---------------------------------------------------------------- the trainer's hook


@pytest.fixture(scope="module")
def digits():
    return load("digits")


def _weights_hash(model) -> str:
    return hashlib.sha256(b"".join(v.cpu().numpy().tobytes() for v in model.state_dict().values())).hexdigest()


def test_an_objective_returning_the_label_loss_trains_exactly_as_without(digits):
    spec = TrainingSpec.resolve(digits, "mlp", "small", {"epochs": 2.0})
    plain = spec.train(digits, digits.train_indices, 3)

    class LabelLoss:
        feature_layers = ("body",)

        def setup(self, model, sample, device, memory_format):
            torch.randn(100)  # draws from the global generator: must not change the model's dropout
            return [nn.Parameter(torch.zeros(3))]  # an extra, unused parameter

        def __call__(self, batch):
            assert batch.features["body"].shape == (len(batch.labels), 128)
            return batch.label_loss

    hooked = spec.train(digits, digits.train_indices, 3, objective=LabelLoss())
    assert _weights_hash(plain.model) == _weights_hash(hooked.model)
    assert [r["train_loss"] for r in plain.history] == [r["train_loss"] for r in hooked.history]
    assert not plain.model._forward_hooks and not hooked.model.body._forward_hooks  # hooks removed


def test_the_teacher_sees_the_students_augmented_batch_and_stays_frozen(digits):
    teacher_spec = TrainingSpec.resolve(digits, "mlp", "small", {"epochs": 1.0})
    teacher = teacher_spec.train(digits, digits.train_indices, 0).model
    before = {k: v.clone() for k, v in teacher.state_dict().items()}
    seen = {"student": [], "teacher": []}
    spec = TrainingSpec.resolve(digits, "lenet5", "small", {"epochs": 1.0, "flip": True, "translate": 1,
                                                              "batch_size": 256})
    objective = Distillation(teacher, parse_loss_spec("kd,at@conv=conv,fitnet@fc,mmd@fc=body,patch@conv"),
                             DistillOptions(temperature=2.0))
    with pytest.raises(ValueError, match="the teacher has no layer 'conv'; its layers are: pool, body, body.0"):
        spec.train(digits, digits.train_indices, 0, objective=objective)
    objective = Distillation(teacher, parse_loss_spec("kd,fitnet@fc=body,patch:0.5@conv"))

    def record(role):
        def hook(module, inputs):
            if module.training or role == "teacher":
                seen[role].append(inputs[0].detach().clone())
        return hook

    model = spec.fresh_model(digits, 0)
    handles = [teacher.register_forward_pre_hook(record("teacher")), model.register_forward_pre_hook(record("student"))]
    result = fit(model, digits, digits.train_indices, spec.seeded(0), objective=objective)
    objective.close()
    for handle in handles:
        handle.remove()
    teacher_batches = seen["teacher"][1:]  # the first is setup's look at the sample
    assert len(teacher_batches) == len(seen["student"]) == len(digits.train_indices) // 256
    assert all(torch.equal(a, b) for a, b in zip(teacher_batches, seen["student"]))
    assert not teacher.training and not any(p.requires_grad for p in teacher.parameters())
    assert all(torch.equal(before[k], v) for k, v in teacher.state_dict().items())
    assert len(objective.trainable) == 2  # fitnet's adapter (84 -> 128) and patch's head
    assert objective.trainable[0].weight.shape == (128, 84)
    assert np.isfinite(result.history[-1]["train_loss"])


def test_the_objective_sees_every_step_and_the_warm_up_rises_to_one(digits):
    spec = TrainingSpec.resolve(digits, "mlp", "small", {"epochs": 2.0})
    steps = []

    def objective(batch):
        steps.append((batch.step, batch.total_steps))
        return batch.label_loss

    spec.train(digits, digits.train_indices, 0, objective=objective)
    total = 2 * (len(digits.train_indices) // 128)
    assert steps == [(step, total) for step in range(total)]
    teacher = spec.fresh_model(digits, 0)
    warm = Distillation(teacher, parse_loss_spec("kd"), DistillOptions(warmup_fraction=0.5))
    batch = lambda step: distill.Batch(None, None, None, {}, None, step, 100)  # noqa: E731
    assert [warm.warmup(batch(s)) for s in (0, 24, 49, 50, 99)] == [1 / 50, 0.5, 1.0, 1.0, 1.0]
    assert Distillation(teacher, parse_loss_spec("kd")).warmup(batch(0)) == 1.0


def test_feature_losses_refuse_vectors_where_they_need_maps(digits):
    teacher = TrainingSpec.resolve(digits, "lenet5", "small").fresh_model(digits, 0)
    spec = TrainingSpec.resolve(digits, "mlp", "small", {"epochs": 1.0})
    with pytest.raises(ValueError, match=r"at@body=conv: at needs a feature map \(B, C, H, W\); the student's 'body' "
                                         r"gives \(64, 128\)"):
        spec.train(digits, digits.train_indices, 0, objective=Distillation(teacher, parse_loss_spec("at")))
    with pytest.raises(ValueError, match="the teacher predicts 3 classes, the student 10"):
        spec.train(digits, digits.train_indices, 0, objective=Distillation(
            TrainingSpec.resolve(digits, "mlp", "small").fresh_model(_tiny(["a", "b", "c"]), 0), parse_loss_spec("kd")))
    with pytest.raises(ValueError, match="mmd@body=fc.2: mmd of feature vectors needs equal widths, got 128 and 120"):
        spec.train(digits, digits.train_indices, 0, objective=Distillation(teacher, parse_loss_spec("mmd@body=fc.2")))


# ---------------------------------------------------------------- `winnow distill`

from winnow.experiments.distill import cell_name, distill_run, summarize  # noqa: E402
from winnow.experiments.train import train_run  # noqa: E402
from winnow.stats import paired_difference  # noqa: E402

FAST = {"epochs": 2.0}


@pytest.fixture(scope="module")
def distilled(tmp_path_factory):
    """mlp teacher (3 epochs) -> mlp student (2 epochs) with kd, seeds 0 and 1: (results, folder, cells)."""
    out = tmp_path_factory.mktemp("distill") / "run"
    finished = []
    results = distill_run("digits", out, teacher="mlp", student="mlp", seeds=[0, 1], losses=["kd:1"],
                          recipe_overrides=FAST, teacher_overrides={"epochs": 3.0}, on_cell=finished.append)
    return results, out, finished


def test_distill_trains_the_teacher_once_then_each_student_alone_and_taught(distilled):
    results, out, finished = distilled
    assert [(c.get("role"), c["loss"], c["seed"]) for c in finished] == [
        ("teacher", None, 0), ("student", None, 0), ("student", None, 1),  # the students alone need no teacher
        ("student", "kd:1", 0), ("student", "kd:1", 1)]
    assert (out / "cells" / "teacher.pt").is_file() and (out / "cells" / "teacher.json").is_file()
    assert (out / "cells" / f"{cell_name('kd:1', 1)}.json").is_file()
    assert len(finished[0]["epochs"]) == 3 and len(finished[1]["epochs"]) == 2
    for name in ("results.md", "results.csv", "results.json", "config.json", "final.json", "timing.json"):
        assert (out / name).is_file()
    rows = {row["role"] + str(row["loss"]): row for row in results["rows"]}
    by = {(c["loss"], c["seed"]): c["test_accuracy"] for c in finished[1:]}
    assert rows["teacherNone"]["test_accuracy"]["mean"] == finished[0]["test_accuracy"]
    assert rows["studentNone"]["test_accuracy"]["n"] == 2
    expected = paired_difference([by[("kd:1", 0)], by[("kd:1", 1)]], [by[(None, 0)], by[(None, 1)]])
    assert rows["student + teacherkd:1"]["vs_student"] == pytest.approx(expected.to_dict(), nan_ok=True)
    assert 0.5 < rows["student + teacherkd:1"]["test_accuracy"]["mean"] <= 1
    markdown = (out / "results.md").read_text()
    assert "| teacher | mlp |" in markdown and "| student + teacher | mlp | kd:1 |" in markdown


def test_distill_resumes_and_adds_only_the_cells_of_a_new_loss(distilled):
    results, out, _ = distilled
    again = distill_run("digits", out, teacher="mlp", student="mlp", seeds=[0, 1], losses=["kd:1"],
                        recipe_overrides=FAST, teacher_overrides={"epochs": 3.0})
    assert again["cells_run"] == 0 and again["rows"] == results["rows"]
    added = []
    more = distill_run("digits", out, teacher="mlp", student="mlp", seeds=[0], losses=["kd:1", "mmd:0.5@body"],
                       recipe_overrides=FAST, teacher_overrides={"epochs": 3.0}, on_cell=added.append)
    assert [(c["loss"], c["seed"]) for c in added] == [("mmd:0.5@body", 0)]
    assert [row["loss"] for row in more["rows"]] == [None, None, "kd:1", "mmd:0.5@body"]
    assert summarize(out)["rows"] == more["rows"]


def test_a_teacher_from_a_train_run_folder(tmp_path, digits):
    teacher_run = tmp_path / "teacher"
    final = train_run("digits", teacher_run, model="mlp", recipe_overrides={"epochs": 2.0})
    results = distill_run(digits, tmp_path / "d", teacher=str(teacher_run), student="mlp", seeds=[0],
                          recipe_overrides={"epochs": 1.0})
    teacher = results["rows"][0]
    assert teacher["source"] == "run" and teacher["train_seconds"] == 0.0
    assert teacher["test_accuracy"]["mean"] == pytest.approx(final["test_accuracy"])
    with pytest.raises(ValueError, match="is already trained"):
        distill_run(digits, tmp_path / "e", teacher=str(teacher_run), student="mlp", seeds=[0],
                    teacher_overrides={"epochs": 3.0})


def _tiny(classes, channels=1, n=40):
    rng = np.random.default_rng(0)
    labels = np.arange(n) % len(classes)
    images = rng.integers(0, 255, size=(n, channels, 8, 8), dtype=np.uint8)
    return from_arrays(images, labels, classes, test_indices=np.arange(n - 10, n))


def test_a_teacher_of_other_classes_or_channels_is_refused_before_training(tmp_path):
    teacher_run = tmp_path / "teacher"
    train_run(_tiny(["a", "b"]), teacher_run, model="mlp", recipe_overrides={"epochs": 1.0})
    with pytest.raises(ValueError) as error:
        distill_run(_tiny(["a", "b", "c"]), tmp_path / "x", teacher=str(teacher_run), student="mlp", seeds=[0])
    assert "was trained on the classes ['a', 'b'], the data has ['a', 'b', 'c']" in str(error.value)
    with pytest.raises(ValueError, match="takes 1-channel images, the data has 3"):
        distill_run(_tiny(["a", "b"], channels=3), tmp_path / "y", teacher=str(teacher_run), student="mlp", seeds=[0])
    with pytest.raises(FileNotFoundError, match="not a run folder"):
        distill_run(_tiny(["a", "b"]), tmp_path / "z", teacher=str(tmp_path / "nowhere/"), student="mlp", seeds=[0])
    assert not any((tmp_path / name).exists() for name in "xyz")


def test_layer_and_spec_errors_come_before_any_training(tmp_path):
    with pytest.raises(ValueError, match="the student has no layer 'nope'; its layers are: pool, body, body.0"):
        distill_run(_tiny(["a", "b"]), tmp_path / "x", teacher="mlp", student="mlp", seeds=[0], losses=["at@nope"])
    with pytest.raises(ValueError, match="neither a run folder nor a model"):
        distill_run(_tiny(["a", "b"]), tmp_path / "x", teacher="giant", student="mlp", seeds=[0])
    with pytest.raises(ValueError, match="--loss kd:1 is given twice"):
        distill_run(_tiny(["a", "b"]), tmp_path / "x", teacher="mlp", student="mlp", seeds=[0], losses=["kd", "kd:1.0"])
    assert not (tmp_path / "x").exists()


def test_distill_command_line(tmp_path, capsys):
    out = tmp_path / "cli"
    code = main(["distill", "--data", "digits", "--teacher", "mlp", "--set", "teacher.epochs=2", "--student", "mlp",
                 "--epochs", "1", "--loss", "kd", "--temperature", "2", "--seeds", "1", "--out", str(out)])
    printed = capsys.readouterr().out
    assert code == 0
    assert "seed 0 || student + kd:1 (mlp)" in printed and "Distillation: test accuracy" in printed
    config = runs.read_json(out / "config.json")
    assert config["teacher"]["recipe"]["epochs"] == 2 and config["recipe"]["epochs"] == 1
    assert config["distill_options"]["temperature"] == 2
    assert (out / "report.html").is_file()
    assert main(["distill", "--teacher", "mlp", "--student", "mlp", "--set", "teacher.epoch=2", "--out",
                 str(tmp_path / "bad")]) == 2
    assert "--set teacher.epoch: unknown key" in capsys.readouterr().err
    assert main(["distill", "--teacher", "mlp", "--student", "mlp", "--temperature", "-1", "--out",
                 str(tmp_path / "bad")]) == 2
    err = capsys.readouterr().err
    assert "temperature=-1.0 is not valid" in err and err.count("\n") == 1


def test_the_report_of_a_distill_run(distilled, tmp_path):
    from winnow.report import write_report

    _, out, _ = distilled
    page = write_report([out], tmp_path / "report.html").read_text()
    for text in ("distillation run", "Teacher, student and student + teacher", "Training curves",
                 "Distillation: test accuracy", "student alone"):
        assert text in page
    assert (out / "distill_results.png").is_file() and (out / "distill_curves.png").is_file()


# ---------------------------------------------------------------- pruning with a teacher


def test_prune_with_a_teacher_trains_each_kept_subset_again_taught_by_the_full_data_model(tmp_path):
    from winnow.experiments.prune import cell_name as prune_cell, prune_run

    out = tmp_path / "prune"
    finished = []
    results = prune_run("digits", out, fractions=[0.5], strategies=["random"], seeds=[0, 1], recipe_overrides=FAST,
                        distill="kd", on_cell=finished.append)
    assert [(c["strategy"], c.get("distill"), c["seed"]) for c in finished] == [
        ("full", None, 0), ("random", None, 0), ("random", "kd:1", 0),
        ("full", None, 1), ("random", None, 1), ("random", "kd:1", 1)]
    cells = runs.Cells(out)
    assert cells.has_weights("full-s0") and not cells.done("teacher-s0")  # the full run is the teacher
    for seed in (0, 1):
        plain, taught = finished[3 * seed + 1], finished[3 * seed + 2]
        assert cells.done(prune_cell("random", 0.5, seed, "kd:1")) and cells.has_array(prune_cell("random", 0.5, seed))
        assert taught["kept_class_counts"] == plain["kept_class_counts"]  # the plain cell's kept indices
        assert taught["selection_seconds"] == plain["selection_seconds"]
    rows = {row["strategy"]: row for row in results["rows"]}
    assert list(rows) == ["full", "random", "random + teacher"]
    taught = rows["random + teacher"]
    expected = paired_difference([finished[2]["test_accuracy"], finished[5]["test_accuracy"]],
                                 [finished[1]["test_accuracy"], finished[4]["test_accuracy"]])
    assert taught["vs_random"] == pytest.approx(expected.to_dict(), nan_ok=True)
    assert taught["vs_full"] is not None and "| random + teacher |" in (out / "results.md").read_text()


def test_prune_with_a_teacher_added_to_a_plain_folder_trains_only_the_taught_cells(tmp_path):
    from winnow.experiments.prune import prune_run

    out = tmp_path / "prune"
    plain = prune_run("digits", out, fractions=[0.5], strategies=["random"], seeds=[0], recipe_overrides=FAST)
    added = []
    taught = prune_run("digits", out, fractions=[0.5], strategies=["random"], seeds=[0], recipe_overrides=FAST,
                       distill="kd,fitnet@body", on_cell=added.append)
    assert [(c["strategy"], c.get("distill")) for c in added] == [("random", "kd:1,fitnet:1@body")]
    assert runs.Cells(out).has_weights("teacher-s0")  # the plain run kept no weights: trained once as teacher
    assert taught["rows"][:2] == plain["rows"]
    assert prune_run("digits", out, fractions=[0.5], strategies=["random"], seeds=[0],
                     recipe_overrides=FAST)["rows"] == plain["rows"]
