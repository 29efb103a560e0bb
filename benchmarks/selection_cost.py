"""Cost of scoring plus selection, per registered strategy, against one full training run.

Target (issue): for 50 000 samples, scoring plus selection takes <= 10 % of one full training run
for every strategy that needs no training records, and `coreset` never holds an N x N matrix.
Two cases on synthetic clustered float32 features (10 Gaussian blobs) and probabilities:

    pruning         pool --pool (50 000), no labelled set, keep --budget (half the pool)
    active learning pool --pool minus --labelled (45 000), labelled set --labelled (5 000),
                    budget --al-budget (2 500)

Every input in `registry.INPUTS` gets synthetic values of its declared shape (mc_probs T=10,
early_probs R=3, correct_history E=7, val_logits 5000 rows), so strategies added later are
timed too; labelled_features only in the active-learning case.

    python benchmarks/selection_cost.py                           # every strategy, both cases
    python benchmarks/selection_cost.py --strategies coreset,mmd --repeat 3

Prints a table and writes benchmarks/results/selection_cost-<machine>.json. Each call runs in a
forked child, stopped after --timeout seconds; its peak memory is the rise of the child's peak
resident set during the call (Linux: /proc/self/clear_refs resets the peak first; elsewhere the
rise of ru_maxrss).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import signal
import statistics
import sys
import time
from select import select as select_fds
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from winnow import __version__  # noqa: E402
from winnow.strategies import StrategyInputs, get_strategy, list_strategies, registry, select  # noqa: E402

# sizes of the symbols in the INPUTS shape strings that are not the pool, classes or dimensions
EXTRA_AXES = {"T": 10, "R": 3, "E": 7, "V": 5000}
TRAINING_RECORDS = ("early_probs", "correct_history")  # inputs that need (short) training runs


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(-1, keepdims=True)
    e = np.exp(z)
    return (e / e.sum(-1, keepdims=True)).astype(np.float32)


def declared_shape(name: str, sizes: dict[str, int]) -> tuple[int, ...] | None:
    """The shape of input `name` from its description "(T, N, K) ..."; None for an unknown symbol."""
    match = re.match(r"\(([^)]*)\)", registry.INPUTS[name][1])
    if not match:
        return None
    symbols = [s.strip() for s in match.group(1).split(",") if s.strip()]
    return tuple(sizes[s] for s in symbols) if all(s in sizes for s in symbols) else None


def make_inputs(pool: int, dim: int, classes: int, labelled: int, seed: int = 0) -> tuple[StrategyInputs, list[str]]:
    """Synthetic inputs for every name in registry.INPUTS, and the names that had to be left out.

    Features: 10 Gaussian blobs (centres at distance about 1.4 sqrt(D), spread sqrt(D) / 2 within
    a blob) plus 2 % of samples scattered uniformly; probabilities lean towards the blob's class."""
    r = np.random.default_rng(seed)
    total = pool + labelled
    blob = r.integers(0, 10, total)
    centres = r.normal(size=(10, dim)).astype(np.float32)
    features = centres[blob] + 0.5 * r.normal(size=(total, dim)).astype(np.float32)
    scattered = r.random(total) < 0.02
    features[scattered] = r.uniform(-3, 3, size=(int(scattered.sum()), dim)).astype(np.float32)
    logits = r.normal(size=(total, classes)).astype(np.float32)
    logits[np.arange(total), blob % classes] += 3
    labels = np.where(r.random(pool) < 0.9, blob[:pool] % classes, r.integers(0, classes, pool))
    sizes = {"N": pool, "K": classes, "D": dim, "L": labelled, **EXTRA_AXES}
    values, left_out = {}, []
    for name in registry.INPUTS:
        shape = declared_shape(name, sizes)
        if name == "labelled_features":
            values[name] = features[pool:] if labelled else None
        elif name == "features":
            values[name] = features[:pool]
        elif name == "probs":
            values[name] = softmax(logits[:pool])
        elif name == "labels":
            values[name] = labels.astype(np.int64)
        elif shape is None:
            left_out.append(name)
        elif name.endswith("labels"):
            values[name] = r.integers(0, classes, shape).astype(np.int64)
        elif name.endswith("probs"):  # (..., N, K): noisy copies of the pool's probabilities
            values[name] = softmax(logits[:pool] + r.normal(size=shape).astype(np.float32))
        elif name.endswith("logits"):
            values[name] = (r.normal(size=shape) + 3 * np.eye(classes)[r.integers(0, classes, shape[0])]
                            ).astype(np.float32)
        elif "history" in name:  # 0/1 records
            values[name] = (r.random(shape) < 0.8).astype(np.float32)
        else:
            values[name] = r.normal(size=shape).astype(np.float32)
    if values.get("val_logits") is not None and values.get("val_labels") is not None:
        values["val_labels"] = values["val_logits"].argmax(1)  # labels that mostly agree with the logits
    return StrategyInputs(**values), left_out


def peak_reset() -> bool:
    """Reset the peak resident set of this process (Linux); False when that is not possible."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def resident_kib(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def time_select(name: str, inputs: StrategyInputs, budget: int) -> tuple[float, float | None]:
    """Seconds of select(name, inputs, budget, seed=0) and the rise of peak memory in MiB (None
    when it cannot be measured)."""
    reset = peak_reset()
    before = resident_kib("VmRSS") if reset else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    chosen = select(name, inputs, budget, seed=0)
    seconds = time.perf_counter() - start
    if len(chosen) != budget:
        raise RuntimeError(f"{name} returned {len(chosen)} positions, expected {budget}")
    after = resident_kib("VmHWM") if reset else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return seconds, (after - before) / 1024 if before is not None and after is not None else None


def time_select_apart(name: str, inputs: StrategyInputs, budget: int,
                      timeout: float | None) -> tuple[float | None, float | None]:
    """`time_select` in a forked child, so that memory freed by earlier calls and kept by the
    allocator does not hide this call's peak; (None, None) when it ran past `timeout` seconds
    (the child is then killed). In this process, without a limit, where fork is not available."""
    if not hasattr(os, "fork"):
        return time_select(name, inputs, budget)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: measure, report, exit without running the parent's clean-up
        try:
            result = json.dumps(time_select(name, inputs, budget))
        except BaseException as error:  # noqa: BLE001  (reported to the parent)
            result = json.dumps({"error": f"{type(error).__name__}: {error}"})
        os.write(write, result.encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        if not select_fds([pipe], [], [], timeout)[0]:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return None, None
        result = json.loads(pipe.read() or '{"error": "the child died"}')
    os.waitpid(pid, 0)
    if isinstance(result, dict):
        raise RuntimeError(f"{name}: {result['error']}")
    return result[0], result[1]


def measure(name: str, case: str, sizes: dict, inputs: StrategyInputs, args, timeout: float, limit: float) -> dict:
    """The results row of strategy `name` in one case; prints a line."""
    strategy = get_strategy(name)
    row = {"case": case, **sizes, "dim": args.dim, "strategy": name, "kind": strategy.kind,
           "needs_training_records": any(need in TRAINING_RECORDS for need in strategy.needs)}
    missing = [need for need in strategy.needs if getattr(inputs, need) is None]
    if missing:
        print(f"  {name:20s} skipped: no input {', '.join(missing)}", flush=True)
        return {**row, "skipped": f"no input {', '.join(missing)}"}
    timings = []
    try:
        for _ in range(args.repeat):
            timings.append(time_select_apart(name, inputs, sizes["budget"], timeout))
            if timings[-1][0] is None:
                print(f"  {name:20s} stopped after {timeout:.0f} s", flush=True)
                return {**row, "seconds": None, "timed_out_after": timeout, "meets_target": False}
    except RuntimeError as error:  # the strategy failed: say so and go on with the others
        print(f"  {name:20s} failed: {error}", flush=True)
        return {**row, "error": str(error)}
    seconds = [t for t, _ in timings]
    memory = [m for _, m in timings if m is not None]
    row.update(seconds=seconds, seconds_mean=statistics.fmean(seconds), seconds_min=min(seconds),
               peak_extra_mib=max(memory) if memory else None,
               fraction_of_training=statistics.fmean(seconds) / args.train_seconds)
    row["meets_target"] = row["seconds_mean"] <= limit
    print(f"  {name:20s} {row['seconds_mean']:8.2f} s  peak +{row['peak_extra_mib'] or 0:7.0f} MiB  "
          f"{100 * row['fraction_of_training']:5.1f} % of training", flush=True)
    return row


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pool", type=int, default=50_000, help="pool size of the pruning case")
    parser.add_argument("--dim", type=int, default=512, help="feature dimensions")
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--budget", type=int, help="picks in the pruning case (default half the pool)")
    parser.add_argument("--labelled", type=int, help="labelled set of the active-learning case "
                        "(default a tenth of --pool; its pool is the rest)")
    parser.add_argument("--al-budget", type=int, help="picks in the active-learning case (default a 20th of --pool)")
    parser.add_argument("--cases", default="pruning,active_learning")
    parser.add_argument("--strategies", help="comma list (default every registered strategy)")
    parser.add_argument("--repeat", type=int, default=1, help="timed calls per strategy and case")
    parser.add_argument("--timeout", type=float,
                        help="seconds after which a call is stopped and reported as such (default 4 x the target)")
    parser.add_argument("--train-seconds", type=float, default=330.0,
                        help="one full training run on this machine (BENCHMARKS.md: about 330 s on idle cores)")
    parser.add_argument("--target-fraction", type=float, default=0.10)
    parser.add_argument("--tag", help="machine tag in the results file name (default from the machine)")
    parser.add_argument("--out", type=Path, help="results file (default benchmarks/results/...)")
    args = parser.parse_args(argv)

    names = args.strategies.split(",") if args.strategies else list_strategies()
    for name in names:
        get_strategy(name)  # an unknown name is an error before anything is timed
    labelled = args.labelled if args.labelled is not None else args.pool // 10
    cases = {
        "pruning": dict(pool=args.pool, labelled=0, budget=args.budget or args.pool // 2),
        "active_learning": dict(pool=args.pool - labelled, labelled=labelled,
                                budget=args.al_budget or max(1, args.pool // 20)),
    }
    unknown = sorted(set(args.cases.split(",")) - set(cases))
    if unknown:
        parser.error(f"unknown case(s) {', '.join(unknown)}; known: {', '.join(cases)}")
    cases = {name: cases[name] for name in args.cases.split(",")}
    limit = args.target_fraction * args.train_seconds
    timeout = args.timeout if args.timeout is not None else 4 * limit
    machine = f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"
    print(f"{machine}; numpy {np.__version__}; target <= {limit:.1f} s "
          f"({100 * args.target_fraction:.0f} % of a {args.train_seconds:.0f} s training run)", flush=True)

    tag = args.tag or f"{platform.machine()}-{torch.get_num_threads()}threads"
    out = args.out or ROOT / "benchmarks" / "results" / f"selection_cost-{tag}.json"
    out.parent.mkdir(parents=True, exist_ok=True)

    def write(rows):  # after every strategy, so that an interrupted run keeps what it measured
        results = {
            "benchmark": "selection_cost",
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "machine": machine,
            "winnow_version": __version__,
            "numpy_version": np.__version__,
            "torch_version": torch.__version__,
            "train_seconds_reference": args.train_seconds,
            "target_fraction": args.target_fraction,
            "target_seconds": limit,
            "timeout_seconds": timeout,
            "cases": cases,
            "dim": args.dim,
            "classes": args.classes,
            "extra_axes": EXTRA_AXES,
            "repeat": args.repeat,
            "peak_memory_method": "VmHWM after clear_refs, in a forked child" if peak_reset() else "ru_maxrss rise",
            "results": rows,
        }
        out.write_text(json.dumps(results, indent=2) + "\n")

    rows = []
    for case, sizes in cases.items():
        start = time.perf_counter()
        inputs, left_out = make_inputs(sizes["pool"], args.dim, args.classes, sizes["labelled"])
        print(f"\n{case}: pool {sizes['pool']}, labelled {sizes['labelled']}, budget {sizes['budget']}, "
              f"dim {args.dim}; inputs made in {time.perf_counter() - start:.1f} s"
              + (f"; no synthetic value for {', '.join(left_out)}" if left_out else ""), flush=True)
        for name in names:
            rows.append(measure(name, case, sizes, inputs, args, timeout, limit))
            write(rows)

    print("\n| case | strategy | seconds | peak extra memory | share of a training run | target |")
    print("| --- | --- | ---: | ---: | ---: | --- |")
    for row in rows:
        if "skipped" in row or "error" in row:
            why = f"skipped: {row['skipped']}" if "skipped" in row else f"FAILED: {row['error']}"
            print(f"| {row['case']} | {row['strategy']} | | | | {why} |")
            continue
        if row["seconds"] is None:
            print(f"| {row['case']} | {row['strategy']} | > {row['timed_out_after']:g} | | | MISSED (stopped) |")
            continue
        target = "met" if row["meets_target"] else "MISSED"
        if row["needs_training_records"]:
            target += " (needs training records: not bound by the target)"
        memory = f"{row['peak_extra_mib']:.0f} MiB" if row["peak_extra_mib"] is not None else "?"
        print(f"| {row['case']} | {row['strategy']} | {row['seconds_mean']:.2f} | {memory} "
              f"| {100 * row['fraction_of_training']:.1f} % | {target} |")

    write(rows)
    print(f"results written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
