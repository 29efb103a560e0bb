"""Tests of winnow.runs: run folders, atomic writes, JSON lines and saved weights."""

from __future__ import annotations

import math

import pytest
import torch

from winnow import runs
from winnow.models import create_model
from winnow.runs import RunExistsError, prepare_run_dir


def write_run(folder, files=runs.RUN_FILES):
    folder.mkdir(parents=True, exist_ok=True)
    for name in files:
        (folder / name).write_text(f"old {name}")


def leftovers(folder) -> list[str]:
    """Temporary files an atomic write might leave behind."""
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


# ---------------------------------------------------------------- prepare_run_dir


def test_new_run_folder_is_created_with_its_parents(tmp_path):
    path = prepare_run_dir(tmp_path / "runs" / "first")
    assert path == tmp_path / "runs" / "first" and path.is_dir()
    assert list(path.iterdir()) == []


def test_an_empty_existing_folder_is_used(tmp_path):
    assert prepare_run_dir(tmp_path) == tmp_path


def test_existing_run_is_refused_without_force_and_left_alone(tmp_path):
    write_run(tmp_path / "run")
    with pytest.raises(RunExistsError, match="already exists; pass --force"):
        prepare_run_dir(tmp_path / "run")
    assert (tmp_path / "run" / runs.CONFIG).read_text() == f"old {runs.CONFIG}"


def test_force_removes_only_the_run_files(tmp_path):
    write_run(tmp_path / "run", files=(runs.CONFIG, runs.METRICS))
    path = prepare_run_dir(tmp_path / "run", force=True)
    assert path.is_dir() and list(path.iterdir()) == []


def test_folder_with_a_foreign_file_is_refused_even_with_force(tmp_path):
    write_run(tmp_path / "run")
    (tmp_path / "run" / "thesis.tex").write_text("years of work")
    for force in (False, True):
        with pytest.raises(RunExistsError):
            prepare_run_dir(tmp_path / "run", force=force)
    with pytest.raises(RunExistsError, match=r"thesis\.tex.*choose another --out folder"):
        prepare_run_dir(tmp_path / "run", force=True)
    assert (tmp_path / "run" / "thesis.tex").read_text() == "years of work"
    for name in runs.RUN_FILES:  # nothing is removed when the folder is refused
        assert (tmp_path / "run" / name).read_text() == f"old {name}"


def test_foreign_folder_without_run_files_is_refused_even_with_force(tmp_path):
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "cat.jpg").write_bytes(b"\xff\xd8")
    with pytest.raises(RunExistsError, match="cat.jpg"):
        prepare_run_dir(tmp_path / "photos", force=True)
    assert (tmp_path / "photos" / "cat.jpg").read_bytes() == b"\xff\xd8"


def test_a_file_in_the_way_is_refused(tmp_path):
    (tmp_path / "run").write_text("a file")
    with pytest.raises(RunExistsError, match="is not a folder"):
        prepare_run_dir(tmp_path / "run", force=True)
    assert (tmp_path / "run").read_text() == "a file"


def test_force_replaces_a_run_that_was_killed_during_a_write(tmp_path):
    write_run(tmp_path / "run")
    (tmp_path / "run" / ".final.json.k2j4x9.tmp").write_text('{"test_acc')  # what SIGKILL mid-write leaves
    path = prepare_run_dir(tmp_path / "run", force=True)
    assert list(path.iterdir()) == []


# ---------------------------------------------------------------- atomic JSON writes


def test_json_round_trip(tmp_path):
    data = {"accuracy": 0.75, "per_class": {"cat": None, "chat": 1.0}, "matrix": [[1, 2], [3, 4]], "name": "é"}
    runs.write_json(tmp_path / "deep" / "final.json", data)
    assert runs.read_json(tmp_path / "deep" / "final.json") == data
    assert leftovers(tmp_path / "deep") == []


def test_json_keeps_nan(tmp_path):
    runs.write_json(tmp_path / "x.json", {"loss": float("nan")})
    assert math.isnan(runs.read_json(tmp_path / "x.json")["loss"])


def test_failed_json_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    runs.write_json(tmp_path / "final.json", {"version": 1})
    with pytest.raises(TypeError):
        runs.write_json(tmp_path / "final.json", {"version": 2, "model": object()})  # not serialisable
    assert runs.read_json(tmp_path / "final.json") == {"version": 1}
    assert leftovers(tmp_path) == []


def test_write_interrupted_half_way_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    runs.write_json(tmp_path / "final.json", {"version": 1})

    def interrupted(f):
        f.write(b'{"vers')
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        runs._atomic_write(tmp_path / "final.json", interrupted)
    assert runs.read_json(tmp_path / "final.json") == {"version": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["final.json"]


def test_failed_rename_keeps_the_old_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    runs.write_json(tmp_path / "final.json", {"version": 1})

    def failing_replace(source, destination):
        raise OSError("disk full")

    monkeypatch.setattr(runs.os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        runs.write_json(tmp_path / "final.json", {"version": 2})
    monkeypatch.undo()
    assert runs.read_json(tmp_path / "final.json") == {"version": 1}
    assert leftovers(tmp_path) == []


def test_written_files_follow_the_umask_like_plain_files(tmp_path):
    plain = tmp_path / "plain.json"
    plain.write_text("{}")
    runs.write_json(tmp_path / "atomic.json", {})
    assert oct((tmp_path / "atomic.json").stat().st_mode & 0o777) == oct(plain.stat().st_mode & 0o777)


# ---------------------------------------------------------------- JSON lines


def test_appended_records_read_back_in_order(tmp_path):
    path = tmp_path / runs.METRICS
    for epoch in (1, 2, 3):
        runs.append_jsonl(path, {"epoch": epoch, "train_loss": 1 / epoch})
    assert runs.read_jsonl(path) == [{"epoch": e, "train_loss": 1 / e} for e in (1, 2, 3)]
    assert path.read_text().count("\n") == 3


def test_missing_jsonl_file_has_no_records(tmp_path):
    assert runs.read_jsonl(tmp_path / "missing.jsonl") == []


def test_truncated_last_line_is_ignored(tmp_path):
    path = tmp_path / runs.METRICS
    path.write_text('{"epoch": 1}\n\n{"epoch": 2}\n{"epoch": 3, "train_lo')
    assert runs.read_jsonl(path) == [{"epoch": 1}, {"epoch": 2}]


def test_bad_middle_line_is_named(tmp_path):
    path = tmp_path / runs.METRICS
    path.write_text('{"epoch": 1}\n{"epoch": 2\n{"epoch": 3}\n')
    with pytest.raises(ValueError, match=r"metrics\.jsonl: line 2 is not valid JSON"):
        runs.read_jsonl(path)


# ---------------------------------------------------------------- weights and whole runs


def test_weights_round_trip_and_load_without_pickled_code(tmp_path):
    torch.manual_seed(0)
    model = create_model("lenet5", num_classes=3, in_channels=1).eval()
    images = torch.rand(2, 1, 8, 8)
    expected = model(images)  # materialises the lazy layer
    runs.save_weights(tmp_path / runs.WEIGHTS, model)

    state = torch.load(tmp_path / runs.WEIGHTS, weights_only=True)
    assert state.keys() == model.state_dict().keys()
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())
    assert runs.load_weights(tmp_path / runs.WEIGHTS).keys() == state.keys()

    torch.manual_seed(1)
    fresh = create_model("lenet5", num_classes=3, in_channels=1).eval()
    fresh.load_state_dict(runs.load_weights(tmp_path / runs.WEIGHTS))
    assert torch.equal(fresh(images), expected)
    assert leftovers(tmp_path) == []


def test_read_run_collects_config_metrics_and_final(tmp_path):
    runs.write_json(tmp_path / runs.CONFIG, {"model": "mlp"})
    runs.append_jsonl(tmp_path / runs.METRICS, {"epoch": 1})
    run = runs.read_run(tmp_path)
    assert run == {"path": str(tmp_path), "config": {"model": "mlp"}, "metrics": [{"epoch": 1}], "final": None}
    runs.write_json(tmp_path / runs.FINAL, {"test_accuracy": 0.5})
    assert runs.read_run(tmp_path)["final"] == {"test_accuracy": 0.5}


def test_read_run_of_a_folder_without_config_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="is not a run folder"):
        runs.read_run(tmp_path)


def test_a_run_written_before_a_recipe_field_existed_resumes_and_a_real_difference_does_not(tmp_path):
    """A config stored without `time_budget` (written before the field existed) resumes under a
    config that has it at its default; at another value, or another lr, it is refused."""
    from winnow.train import Recipe

    recipe = Recipe().to_dict()
    config = {"command": "prune", "recipe": recipe, "proxy_recipe": recipe, "seeds": [0]}
    old = {**config, "recipe": {k: v for k, v in recipe.items() if k not in ("time_budget", "compile")},
           "proxy_recipe": {k: v for k, v in recipe.items() if k != "time_budget"}}
    (tmp_path / "run").mkdir()
    runs.write_json(tmp_path / "run" / runs.CONFIG, old)
    assert runs.open_resumable_run(tmp_path / "run", config) == (tmp_path / "run", True)
    runs.write_json(tmp_path / "run" / runs.CONFIG, old)
    for changed in ({"time_budget": 60.0}, {"lr": 0.5}):
        with pytest.raises(RunExistsError, match="differs in recipe"):
            runs.open_resumable_run(tmp_path / "run", {**config, "recipe": {**recipe, **changed}})
