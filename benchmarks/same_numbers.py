"""Same seeds, same numbers: run the digits al/prune/clean/train set (and optionally one CIFAR-10
`cpu` seed) with two source trees of Winnow and compare every number but the timings.

    python benchmarks/same_numbers.py OLD_TREE NEW_TREE [--cifar] [--work /tmp/same]

OLD_TREE is a checkout of an earlier commit (`git worktree add /tmp/before COMMIT`); each tree
runs with PYTHONPATH set to it and this project's Python. Prints one line per run folder and
exits 1 when any differs. A refactoring that must not change results is checked with it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

RUNS = {
    "al": "al --data digits --initial 30 --budget 30 --cycles 6 --trials 3 --strategy random,margin,hybrid",
    "prune": "prune --data digits --fractions 0.3,0.5 --strategies random,margin,el2n --seeds 2",
    "clean": "clean --data digits --inject-noise 0.2 --remove auto --seeds 2",
    "train": "train --data digits --seed 0",
}
CIFAR = "train --data folder:{data}/cifar10-jpeg.zip --preset cpu --seed 0"
VOLATILE = ("seconds", "wall", "timing", "version", "git_commit", "command_line", "device", "tables", "csv_table",
            "cells_run", "resumed", "sessions", "cell")  # keys (or parts of keys) that may differ


def comparable(value):
    """`value` without timings, versions and the bookkeeping a later version may add (a key that
    is None counts as absent: a new option's default)."""
    if isinstance(value, dict):
        return {k: comparable(v) for k, v in value.items()
                if v is not None and not any(word in k for word in VOLATILE)}
    if isinstance(value, list):
        return [comparable(v) for v in value]
    return value


def run(tree: Path, out: Path, command: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    subprocess.run([sys.executable, "-m", "winnow", *command.split(), "--out", str(out), "--force"], env=env,
                   check=True, stdout=subprocess.DEVNULL, cwd=out.parent)


def record(out: Path) -> dict:
    name = "results.json" if (out / "results.json").is_file() else "final.json"
    return comparable(json.loads((out / name).read_text()))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old", type=Path)
    parser.add_argument("new", type=Path)
    parser.add_argument("--cifar", action="store_true", help="also one CIFAR-10 cpu-preset seed (minutes)")
    parser.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    parser.add_argument("--work", type=Path, default=Path("/tmp/winnow-same-numbers"))
    args = parser.parse_args()
    commands = {**RUNS, **({"cifar10": CIFAR.format(data=args.data)} if args.cifar else {})}
    differ = 0
    for name, command in commands.items():
        outs = []
        for side, tree in (("old", args.old), ("new", args.new)):
            out = args.work / side / name
            out.parent.mkdir(parents=True, exist_ok=True)
            run(tree.resolve(), out, command)
            outs.append(record(out))
        same = outs[0] == outs[1]
        differ += not same
        keys = sorted(k for k in set(outs[0]) | set(outs[1]) if outs[0].get(k) != outs[1].get(k))
        print(f"{name:8s} {'same' if same else 'DIFFERENT in ' + ', '.join(keys)}  (winnow {command})", flush=True)
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
