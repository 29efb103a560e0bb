"""Active learning on CIFAR-10: the best strategy against random, labels revealed from the data.

Runs `winnow al` (the same code as the command) on the CIFAR-10 zip in ../shared/data: initial
1 000 labels, +1 000 per cycle up to 5 000 (five trainings), three trials, the cpu preset's model
and recipe with more epochs for these small labelled sets. Copies the results, with the machine
and the wall time, to benchmarks/results/al-cifar10-<device>.json. The run folder (default
runs/bench-al) keeps every finished cycle: started again, it resumes.

    python benchmarks/al_cifar.py
    python benchmarks/al_cifar.py --strategies random,badge --pool-subset 10000
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _data import missing  # noqa: E402
from _record import write_result  # noqa: E402

from winnow.experiments.active import al_run  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "cifar10-jpeg.zip"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=str(DEFAULT_DATA), help="the CIFAR-10 image-folder zip")
    parser.add_argument("--initial", type=int, default=1000)
    parser.add_argument("--budget", type=int, default=1000)
    parser.add_argument("--cycles", type=int, default=5)
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--strategies", default="random,margin")
    parser.add_argument("--preset", default="cpu")
    parser.add_argument("--epochs", type=float, default=20.0, help="epochs of every cycle's training")
    parser.add_argument("--pool-subset", type=int, default=None)
    parser.add_argument("--out", default=str(ROOT / "runs" / "bench-al"))
    args = parser.parse_args(argv)

    if missing(args.data):
        return 2
    started = time.perf_counter()
    results = al_run(f"folder:{args.data}", args.out, initial=args.initial, budget=args.budget, cycles=args.cycles,
                     trials=args.trials, strategies=args.strategies.split(","), preset=args.preset,
                     recipe_overrides={"epochs": args.epochs}, pool_subset=args.pool_subset,
                     on_cycle=lambda r: print(f"Trial {r['trial'] + 1}/{r['trials']} || Cycle {r['cycle']}/{r['cycles']}"
                                              f" || Labels {r['labels']} || {r['strategy']} || test acc "
                                              f"{100 * r['test_accuracy']:.2f} % || {r['train_seconds']:.0f} s",
                                              flush=True))
    wall = time.perf_counter() - started
    print((Path(args.out) / "results.md").read_text())
    path = write_result("al-cifar10", {
        "arguments": vars(args),
        "wall_seconds_this_invocation": wall,
        "results": {k: results[k] for k in ("config", "label_counts", "rows", "areas")},
        "cycles": results["cycles"],
    })
    print(f"written {path} ({wall:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
