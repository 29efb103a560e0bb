"""Cells on Ray (`--backend ray`): one local Ray instance with 2 CPUs for the whole file; small
prune and al runs on the embedded digits give the same numbers as in this process (one torch
thread on both sides: the driver's tests run with one, and a cell with 1 CPU gets one); a run
resumes across backends; a worker killed mid-cell is retried; a cell that always fails is named
and the others are kept."""

from __future__ import annotations

import functools
import json
import sys

import numpy as np
import pytest

from winnow import runs
from winnow.cli import main
from winnow.experiments.active import al_run
from winnow.experiments.clean import clean_run
from winnow.experiments.distill import distill_run
from winnow.data import load
from winnow.experiments.backend import (BackendError, CellsFailed, RayBackend, check_reachable, exit_once, fail_cell,
                                        make_backend, writable)
from winnow.experiments.prune import prune_run

ray = pytest.importorskip("ray", reason="pip install 'winnow[ray]' (make test installs it)")

PRUNE = dict(fractions=[0.5], strategies=["random", "margin"], recipe_overrides={"epochs": 2.0})
AL = dict(initial=20, budget=20, cycles=3, strategies=["random", "margin"], recipe_overrides={"epochs": 3.0})
CLEAN = dict(folds=2, seeds=[0, 1], inject_noise=0.2, remove="auto", recipe_overrides={"epochs": 2.0})
DISTILL = dict(teacher="mlp", student="mlp", seeds=[0, 1], losses=["kd:1"], recipe_overrides={"epochs": 1.0},
               teacher_overrides={"epochs": 2.0})


@pytest.fixture(scope="session")
def cluster():
    """One local Ray instance with 2 CPUs for every test here; shut down at the end."""
    if not ray.is_initialized():
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def local_prune(tmp_path_factory, one_thread):
    """Seeds 0 and 1 of PRUNE in this process: the reference numbers."""
    out = tmp_path_factory.mktemp("prune-local") / "run"
    return prune_run("digits", out, seeds=[0, 1], **PRUNE), out


@pytest.fixture(scope="module")
def local_al(tmp_path_factory, one_thread):
    out = tmp_path_factory.mktemp("al-local") / "run"
    return al_run("digits", out, trials=2, **AL), out


def accuracies(out) -> dict[str, float]:
    return {name: record["test_accuracy"] for name, record in runs.Cells(out).records().items()
            if record.get("test_accuracy") is not None}


def cell_files(out) -> list[str]:
    return sorted(path.name for path in (out / "cells").iterdir())


def assert_same_cells(out, reference) -> None:
    """The same cell files, accuracies and arrays as the reference folder."""
    assert cell_files(out) == cell_files(reference)
    assert accuracies(out) == accuracies(reference) and len(accuracies(out)) > 0
    for path in (reference / "cells").glob("*.npy"):
        np.testing.assert_array_equal(np.load(out / "cells" / path.name), np.load(path), err_msg=path.name)


def test_prune_on_ray_from_the_command_line_gives_the_local_numbers(cluster, local_prune, tmp_path, capsys):
    _, reference = local_prune
    out = tmp_path / "run"
    code = main(["prune", "--data", "digits", "--fractions", "0.5", "--strategies", "random,margin", "--seeds", "2",
                 "--epochs", "2", "--backend", "ray", "--cpus-per-cell", "1", "--out", str(out)])
    printed = capsys.readouterr().out
    assert code == 0
    assert "ray: 1 node, 2 CPUs, 0 GPUs" in printed and "each cell 1 CPU (1 thread): up to 2 at once" in printed
    lines = [line for line in printed.splitlines() if line.startswith("seed ")]
    assert len(lines) == 6 and all(" || on " in line and " pid " in line for line in lines)  # 2 full + 4 subsets
    assert_same_cells(out, reference)
    record = json.loads((out / "cells" / "margin-f0.5-s1.json").read_text())
    assert "ran_on" not in record  # where a cell ran is printed, not stored: the folder is the same either way
    config, local_config = runs.read_json(out / runs.CONFIG), runs.read_json(reference / runs.CONFIG)
    assert {k: v for k, v in config.items() if k != "command_line"} == \
        {k: v for k, v in local_config.items() if k != "command_line"}


def test_a_prune_run_started_here_is_finished_on_ray_with_the_same_numbers(cluster, local_prune, tmp_path,
                                                                          monkeypatch):
    _, reference = local_prune
    out = tmp_path / "run"
    prune_run("digits", out, seeds=[0], **PRUNE)
    finished, put = [], []
    monkeypatch.setattr(ray, "put", lambda value, put_=ray.put: put.append(type(value).__name__) or put_(value))
    results = prune_run("digits", out, seeds=[0, 1], on_cell=finished.append, backend="ray", **PRUNE)
    assert put == ["Dataset", "MadeInputs"]  # the data once for every task, and seed 1's proxy outputs once
    assert sorted((c["strategy"], c["seed"]) for c in finished) == [("full", 1), ("margin", 1), ("random", 1)]
    assert all("ran_on" in c for c in finished if c["strategy"] != "full")
    assert results["cells_run"] == 4  # seed 1's proxy, full (from the proxy), random, margin
    assert_same_cells(out, reference)


def test_al_on_ray_gives_the_local_numbers_and_resumes_here(cluster, local_al, tmp_path):
    _, reference = local_al
    out = tmp_path / "run"
    on_ray = []
    al_run("digits", out, trials=1, on_cycle=on_ray.append, backend="ray", **AL)
    assert [(r["strategy"], r["cycle"]) for r in on_ray if r["strategy"] == "margin"] == [("margin", c)
                                                                                         for c in (1, 2, 3)]
    assert all(" pid " in r["ran_on"] for r in on_ray) and len(on_ray) == 6
    here = []
    results = al_run("digits", out, trials=2, on_cycle=here.append, **AL)  # trial 1 in this process
    assert sorted({r["trial"] for r in here}) == [1] and all("ran_on" not in r for r in here)
    assert results["cells_run"] == 6
    assert_same_cells(out, reference)


def test_al_cold_start_on_ray_chooses_each_trials_initial_set_in_a_task_as_here(cluster, tmp_path):
    cold = dict(initial=20, budget=20, cycles=2, trials=2, strategies=["random"], initial_strategy="typiclust",
                features="tiny", recipe_overrides={"epochs": 1.0})
    here, there = tmp_path / "here", tmp_path / "there"
    al_run("digits", here, **cold)
    backend = RayBackend()
    al_run("digits", there, backend=backend, **cold)
    assert {task["cell"] for task in backend.tasks} >= {"trial0-initial", "trial1-initial", "trial1-random-cycle2"}
    assert_same_cells(there, here)  # the initial sets (and picks) too: every .npy


def test_clean_on_ray_gives_the_local_numbers_and_files(cluster, tmp_path):
    here, there = tmp_path / "here", tmp_path / "there"
    clean_run("digits", here, **CLEAN)
    finished = []
    clean_run("digits", there, on_cell=finished.append, backend="ray", **CLEAN)
    elsewhere = sorted((c["cell"], c["seed"]) for c in finished if "ran_on" in c)
    assert elsewhere == sorted((kind, seed) for seed in (0, 1) for kind in ("fold", "fold", "noisy", "true", "cleaned"))
    assert sorted((c["cell"], c["seed"]) for c in finished if "ran_on" not in c) == [("flags", 0), ("flags", 1)]
    assert_same_cells(there, here)
    np.testing.assert_array_equal(np.load(there / runs.FLAGS_NPY), np.load(here / runs.FLAGS_NPY))


def test_distill_on_ray_gives_the_local_numbers_and_resumes_here(cluster, tmp_path):
    here, there = tmp_path / "here", tmp_path / "there"
    distill_run("digits", here, **DISTILL)
    distill_run("digits", there, backend="ray", **{**DISTILL, "seeds": [0]})
    finished = []
    distill_run("digits", there, on_cell=finished.append, **DISTILL)  # seed 1 here, from the teacher's saved weights
    assert [(c["loss"], c["seed"]) for c in finished] == [(None, 1), ("kd:1", 1)]
    assert_same_cells(there, here)
    assert sorted(runs.load_weights(there / "cells" / "teacher.pt")) == sorted(
        runs.load_weights(here / "cells" / "teacher.pt"))


def test_a_worker_killed_mid_cell_is_retried_and_the_cell_is_kept(cluster, local_prune, tmp_path):
    _, reference = local_prune
    marker = tmp_path / "killed-once"
    backend = RayBackend(before_cell=functools.partial(exit_once, str(marker), "margin-f0.5-s1"))
    out = tmp_path / "run"
    prune_run("digits", out, seeds=[0, 1], backend=backend, **PRUNE)
    assert marker.exists()  # the first attempt's worker exited
    assert_same_cells(out, reference)  # the retry made the cell as it should be


def test_a_cell_that_always_fails_is_named_and_the_others_are_kept(cluster, local_prune, tmp_path, capsys):
    _, reference = local_prune
    out = tmp_path / "run"
    backend = RayBackend(before_cell=functools.partial(fail_cell, "random-f0.5-s0"))
    with pytest.raises(CellsFailed, match=r"1 cell failed: random-f0\.5-s0 \(RuntimeError: cell random-f0\.5-s0 "
                                          r"fails on purpose\)") as failure:
        prune_run("digits", out, seeds=[0, 1], backend=backend, **PRUNE)
    assert list(failure.value.failed) == ["random-f0.5-s0"]
    done = set(runs.Cells(out).records())
    assert done == {"proxy-s0", "full-s0", "margin-f0.5-s0", "proxy-s1", "full-s1", "random-f0.5-s1",
                    "margin-f0.5-s1"}
    finished = []
    prune_run("digits", out, seeds=[0, 1], on_cell=finished.append, **PRUNE)  # here: only the failed cell
    assert [(c["strategy"], c["seed"]) for c in finished] == [("random", 0)]
    assert_same_cells(out, reference)


def test_the_command_line_names_the_failed_cells_in_one_line(cluster, tmp_path, capsys, monkeypatch):
    import winnow.cli.options as options

    made = options.backend_options

    def failing(args):
        backend = made(args)["backend"]
        backend.before_cell = functools.partial(fail_cell, "trial0-random-cycle2")
        return {"backend": backend}

    monkeypatch.setattr("winnow.cli.al.backend_options", failing)
    code = main(["al", "--data", "digits", "--initial", "20", "--budget", "20", "--cycles", "3", "--trials", "1",
                 "--strategy", "random,margin", "--epochs", "1", "--backend", "ray", "--out", str(tmp_path / "run")])
    error = capsys.readouterr().err.strip()
    assert code == 1 and len(error.splitlines()) == 1
    assert error.startswith("winnow al: error: 1 cell failed: trial0-random-cycle2 (RuntimeError:")
    assert "the 4 finished cells are kept" in error  # random's cycle 1 and margin's three cycles
    assert runs.Cells(tmp_path / "run").done("trial0-margin-cycle3")
    assert not runs.Cells(tmp_path / "run").done("trial0-random-cycle3")  # it needs cycle 2


def test_without_ray_the_backend_says_how_to_install_it(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray fails
    with pytest.raises(BackendError, match=r"pip install 'winnow\[ray\]'"):
        make_backend("ray")
    code = main(["prune", "--data", "digits", "--fractions", "0.5", "--backend", "ray", "--out", str(tmp_path / "r")])
    error = capsys.readouterr().err.strip()
    assert code == 2 and error == ("winnow prune: error: --backend ray needs Ray, an optional dependency: "
                                   "pip install 'winnow[ray]'")
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("arguments, message", [
    (["--address", "auto"], "--address applies to --backend ray"),
    (["--cpus-per-cell", "2", "--gpus-per-cell", "0.5"], "--cpus-per-cell, --gpus-per-cell apply to --backend ray"),
    (["--backend", "ray", "--cpus-per-cell", "0"], "--cpus-per-cell must be > 0, got 0.0"),
    (["--backend", "ray", "--gpus-per-cell", "1.5"], "--gpus-per-cell must be a fraction in [0, 1] or a whole"),
])
def test_backend_options_are_checked_in_one_line(arguments, message, tmp_path, capsys):
    code = main(["al", "--data", "digits", "--initial", "20", "--budget", "20", "--cycles", "2", "--strategy",
                 "random", *arguments, "--out", str(tmp_path / "run")])
    assert code == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_an_address_where_nothing_answers_is_one_line_at_once():
    """Ray retries a dead address for minutes; `check_reachable` asks the port first."""
    import socket

    listening = socket.socket()
    listening.bind(("127.0.0.1", 0))
    listening.listen()
    port = listening.getsockname()[1]
    check_reachable(f"127.0.0.1:{port}")  # something answers: Ray's to talk to
    check_reachable(f"ray://127.0.0.1:{port}")
    listening.close()
    with pytest.raises(BackendError, match=rf"cannot reach the Ray cluster at --address 127.0.0.1:{port}: nothing "
                                           rf"answers at 127.0.0.1:{port} \(.*\); is `ray start --head` running"):
        check_reachable(f"127.0.0.1:{port}")
    check_reachable("auto")  # Ray resolves it


def test_clean_duplicates_trains_nothing_so_takes_no_backend(tmp_path, capsys):
    code = main(["clean", "--data", "digits", "--duplicates", "--backend", "ray", "--out", str(tmp_path / "run")])
    assert code == 2 and "--backend is an option of the label-issue search" in capsys.readouterr().err


def test_a_task_gets_writable_arrays_where_ray_hands_them_read_only():
    dataset = load("digits")
    for split in dataset.splits.values():
        split.flags.writeable = False  # as a worker reads them from the object store
    frozen = np.arange(4)
    frozen.flags.writeable = False
    copy = writable(dataset)
    assert all(split.flags.writeable for split in copy.splits.values())
    assert all(np.array_equal(copy.splits[name], dataset.splits[name]) for name in dataset.splits)
    assert copy.images is dataset.images  # tensors are not copied
    arrays = writable({"": frozen, "picks": np.arange(2)})
    assert arrays[""].flags.writeable and arrays[""].tolist() == [0, 1, 2, 3]
    ready = np.arange(3)
    assert writable(ready) is ready and writable(copy) is copy  # nothing copied that need not be
