"""Scale-out on Ray: one CIFAR-10 prune grid run in this process and on a local Ray instance with
the machine's two cores split two ways.

The grid: fractions 0.25 and 0.5 x strategies random and self_confidence x seeds 0 and 1 = 8
subset cells, plus each seed's proxy (which is its full-data cell), on a stratified subset of the
CIFAR-10 zip in ../shared/data (default 5 000 training and 2 000 test images), fastnet_xs for a
fixed number of epochs (a time budget would make every mode take the same time). Three modes,
each into a fresh run folder:

    local        in this process, torch with --cpus threads (today's `--backend local`)
    ray 1 x N    Ray with --cpus CPUs, one cell at a time with N threads (--cpus-per-cell N)
    ray N x 1    Ray with --cpus CPUs, N cells at a time with one thread each (--cpus-per-cell 1)

For each: the wall time of `prune_run` (Ray's start-up is measured apart), the cells' own seconds
as the workers measured them, and the test accuracy per cell. Ray's overhead per cell is
(wall of ray 1 x N - wall of local) / cells: the same work with the same threads, one cell at a
time, through Ray or not; and (wall - the cells' own seconds) / cells within each Ray mode. With
--gpu (a CUDA machine): ray with 1, 2 and 4 cells per GPU (--gpus-per-cell 1, 0.5, 0.25) instead.

    python benchmarks/scale_out.py                 # a few minutes on 2 idle cores: run it alone
    python benchmarks/scale_out.py --smoke         # digits, one epoch: checks that it runs (~1 min)
    python benchmarks/scale_out.py --gpu --preset gpu --model fastnet --train-size 50000

Prints a table and writes benchmarks/results/scale-out-cifar10-<device>.json (scale-out-smoke-...
with --smoke).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _data import missing, stratified_subset  # noqa: E402
from _record import write_result  # noqa: E402

from winnow import data, runs  # noqa: E402
from winnow.experiments.backend import LocalBackend, RayBackend  # noqa: E402
from winnow.experiments.prune import prune_run  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "cifar10-jpeg.zip"
GRID = dict(fractions=[0.25, 0.5], strategies=["random", "self_confidence"], seeds=[0, 1])
CIFAR_RECIPE = {"epochs": 4.0, "min_steps": 0, "resize_schedule": "16:2"}  # 2 epochs at 16 px, 2 at 32 px


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=str(DEFAULT_DATA), help="the CIFAR-10 image-folder zip")
    parser.add_argument("--train-size", type=int, default=5000, help="a stratified subset of the training split")
    parser.add_argument("--test-size", type=int, default=2000, help="a stratified subset of the test split")
    parser.add_argument("--cpus", type=int, default=2, help="cores for Ray and threads for local (default 2)")
    parser.add_argument("--model", default="fastnet_xs")
    parser.add_argument("--preset", default="cpu")
    parser.add_argument("--recipe", type=json.loads, default=CIFAR_RECIPE, help="recipe overrides as JSON")
    parser.add_argument("--gpu", action="store_true", help="1, 2 and 4 cells per GPU instead of the CPU modes")
    parser.add_argument("--smoke", action="store_true", help="the embedded digits, one epoch of the MLP")
    args = parser.parse_args(argv)

    if args.smoke:
        dataset, model, preset, recipe = data.load("digits"), "mlp", "small", {"epochs": 1.0}
    else:
        if missing(args.data):
            return 2
        dataset = stratified_subset(data.load(f"folder:{args.data}"), args.train_size, args.test_size)
        model, preset, recipe = args.model, args.preset, args.recipe
    cells = len(GRID["fractions"]) * len(GRID["strategies"]) * len(GRID["seeds"])
    print(f"{dataset.describe()}; grid of {cells} subset cells + {len(GRID['seeds'])} proxies (the full-data "
          f"cells); {model}, recipe {recipe}", flush=True)

    if args.gpu:
        modes = [(f"ray {round(1 / share)} per GPU", dict(cpus=args.cpus, cpus_per_cell=1, gpus_per_cell=share))
                 for share in (1.0, 0.5, 0.25)]
    else:
        modes = [("local", dict(cpus=args.cpus)),
                 (f"ray 1 x {args.cpus}", dict(cpus=args.cpus, cpus_per_cell=args.cpus)),
                 (f"ray {args.cpus} x 1", dict(cpus=args.cpus, cpus_per_cell=1))]
    folder = Path(tempfile.mkdtemp(prefix="winnow-scale-out-"))
    measured = {}
    try:
        for name, mode in modes:
            measured[name] = _measure(name, mode, dataset, folder / name.replace(" ", "-"), model, preset, recipe)
    finally:
        shutil.rmtree(folder, ignore_errors=True)

    summary = _summary(measured, cells + len(GRID["seeds"]), args.gpu)
    for line in summary["lines"]:
        print(line)
    path = write_result("scale-out-smoke" if args.smoke else "scale-out-cifar10", {
        "arguments": vars(args), "grid": GRID, "dataset": dataset.describe(), "model": model, "preset": preset,
        "recipe": recipe, "modes": measured, **{k: v for k, v in summary.items() if k != "lines"}})
    print(f"written {path}")
    return 0


def _measure(name: str, mode: dict, dataset, out: Path, model, preset, recipe) -> dict:
    """One mode's wall time, start-up, the cells' own seconds and accuracies."""
    started = time.perf_counter()
    threads = torch.get_num_threads()
    if "cpus_per_cell" in mode:
        import ray

        ray.init(num_cpus=mode["cpus"], include_dashboard=False, log_to_driver=False)
        backend = RayBackend(cpus_per_cell=mode["cpus_per_cell"], gpus_per_cell=mode.get("gpus_per_cell", 0.0),
                             report=print)
        backend.start()
    else:
        torch.set_num_threads(mode["cpus"])
        backend = LocalBackend()
    startup = time.perf_counter() - started
    print(f"{name}: started in {startup:.1f} s", flush=True)
    try:
        started = time.perf_counter()
        prune_run(dataset, out, model=model, preset=preset, recipe_overrides=recipe, backend=backend, force=True,
                  on_cell=lambda c: print(f"  {name}: seed {c['seed']} {c['strategy']} {c['fraction']:g}: "
                                          f"{100 * c['test_accuracy']:.2f} % {c.get('ran_on', '')}", flush=True),
                  **GRID)
        wall = time.perf_counter() - started
    finally:
        if "cpus_per_cell" in mode:
            import ray

            ray.shutdown()
        torch.set_num_threads(threads)
    records = runs.Cells(out).records()
    own = [task["seconds"] for task in getattr(backend, "tasks", [])]
    result = {"mode": mode, "startup_seconds": startup, "wall_seconds": wall,
              "accuracies": {cell: r["test_accuracy"] for cell, r in records.items()
                             if r.get("test_accuracy") is not None},
              "train_seconds": {cell: r["train_seconds"] for cell, r in records.items() if "train_seconds" in r}}
    if own:
        result.update(cells_own_seconds=float(np.sum(own)), tasks=backend.tasks)
    print(f"{name}: {wall:.1f} s", flush=True)
    return result


def _summary(measured: dict, trainings: int, gpu: bool) -> dict:
    """Wall times, speed-ups over the first mode, Ray's overhead per cell (in a Ray mode that runs
    one cell at a time: its wall time less the cells' own seconds), whether the accuracies match."""
    names = list(measured)
    first = measured[names[0]]["wall_seconds"]
    lines = [f"{'mode':<18}{'wall s':>9}{'start s':>9}{'speed-up':>10}{'overhead s/cell':>17}"]
    overheads = {}
    for name in names:
        m = measured[name]
        one_at_a_time = m["mode"].get("cpus_per_cell") == m["mode"]["cpus"] and not m["mode"].get("gpus_per_cell")
        overheads[name] = (m["wall_seconds"] - m["cells_own_seconds"]) / trainings if one_at_a_time else None
        speedup = first / m["wall_seconds"]
        lines.append(f"{name:<18}{m['wall_seconds']:>9.1f}{m['startup_seconds']:>9.1f}{speedup:>10.2f}"
                     + (f"{overheads[name]:>17.2f}" if overheads[name] is not None else ""))
    summary = {"wall_seconds": {n: measured[n]["wall_seconds"] for n in names},
               "speedup_vs_first": {n: first / measured[n]["wall_seconds"] for n in names},
               "overhead_seconds_per_cell_one_at_a_time": overheads,
               "same_accuracies_as_first": {n: measured[n]["accuracies"] == measured[names[0]]["accuracies"]
                                            for n in names}}
    if not gpu:
        local, one, many = (measured[n]["wall_seconds"] for n in names)
        summary.update(ratio_one_worker_to_many=one / many, ray_overhead_seconds_per_cell=(one - local) / trainings)
        lines.append(f"{names[1]} / {names[2]} wall: {one / many:.2f}; Ray adds {(one - local) / trainings:.2f} s per "
                     f"cell ({names[1]} against local, {trainings} trainings)")
    lines.append("same accuracies as the first mode: " + ", ".join(
        f"{n} {v}" for n, v in summary["same_accuracies_as_first"].items()))
    summary["lines"] = lines
    return summary


if __name__ == "__main__":
    sys.exit(main())
