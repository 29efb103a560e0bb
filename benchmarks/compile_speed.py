"""Does `torch.compile` pay for a training here? Step times of eager and compiled training, and
the compile time, at each image size of the `cpu` preset's schedule.

For the preset's model (fastnet_s) and batch (256), at 16, 24 and 32 px: the median time of a
training step (forward, backward, SGD step) in eager mode, then the first compiled step (which
compiles) and the median compiled step. From them, the break-even: how many steps a training
needs before compiling pays, against the steps the `cpu` preset takes at each size on CIFAR-10.
Random images (the step time does not depend on the pixels). Run it alone: the figures are times.

    python benchmarks/compile_speed.py                 # 20 timed steps per size and mode
    python benchmarks/compile_speed.py --model fastnet_xs --steps 10
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _record import write_result  # noqa: E402

from winnow.models import create_model  # noqa: E402
from winnow.train import get_preset  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="fastnet_s")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--sizes", default="16,24,32")
    parser.add_argument("--steps", type=int, default=20, help="timed steps per size and mode")
    args = parser.parse_args(argv)

    recipe = get_preset("cpu")
    steps_per_epoch = 50_000 // args.batch
    stages = dict(recipe.resize_stages())
    rows = []
    for size in (int(s) for s in args.sizes.split(",")):
        epochs = stages.get(size, recipe.epochs - sum(stages.values()))
        row = {"size": size, "preset_steps": round(epochs * steps_per_epoch)}
        for mode in ("eager", "compiled"):
            model = _model(args.model)
            forward = torch.compile(model, dynamic=False) if mode == "compiled" else model
            optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True)
            x = torch.rand(args.batch, 3, size, size).contiguous(memory_format=torch.channels_last)
            y = torch.randint(0, 10, (args.batch,))
            first = _step(forward, optimizer, x, y)
            times = [_step(forward, optimizer, x, y) for _ in range(args.steps)]
            row[f"{mode}_first_seconds"] = first
            row[f"{mode}_step_seconds"] = statistics.median(times)
            print(f"{size} px {mode}: first step {first:.2f} s, median step {row[f'{mode}_step_seconds']:.4f} s",
                  flush=True)
        saved = row["eager_step_seconds"] - row["compiled_step_seconds"]
        row["speedup"] = row["eager_step_seconds"] / row["compiled_step_seconds"]
        row["compile_seconds"] = row["compiled_first_seconds"] - row["compiled_step_seconds"]
        row["break_even_steps"] = row["compile_seconds"] / saved if saved > 0 else None
        rows.append(row)
        print(f"{size} px: {row['speedup']:.2f}x, compile {row['compile_seconds']:.0f} s, pays after "
              + (f"{row['break_even_steps']:.0f} steps" if row["break_even_steps"] else "never")
              + f" (the preset takes {row['preset_steps']} steps at this size on CIFAR-10)", flush=True)
    eager = sum(r["eager_step_seconds"] * r["preset_steps"] for r in rows)
    compiled = sum(r["compiled_step_seconds"] * r["preset_steps"] + r["compile_seconds"] for r in rows)
    print(f"the cpu preset's steps on CIFAR-10: eager {eager:.0f} s, compiled {compiled:.0f} s with compilation")
    path = write_result("compile-speed", {"arguments": vars(args), "threads": torch.get_num_threads(), "rows": rows,
                                          "preset_eager_seconds": eager, "preset_compiled_seconds": compiled})
    print(f"written {path}")
    return 0


def _model(name: str) -> torch.nn.Module:
    torch.manual_seed(0)
    model = create_model(name, 10, 3)
    model(torch.rand(2, 3, 32, 32))  # materialise lazy layers
    return model.to(memory_format=torch.channels_last).train()


def _step(forward, optimizer, x, y) -> float:
    start = time.perf_counter()
    loss = F.cross_entropy(forward(x), y, label_smoothing=0.2)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return time.perf_counter() - start


if __name__ == "__main__":
    sys.exit(main())
