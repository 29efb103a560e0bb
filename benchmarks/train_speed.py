"""Training speed and accuracy on CIFAR-10: a Winnow preset against the common tutorial recipe.

Trains on all 50 000 training images of the CIFAR-10 zip in ../shared/data and tests on its
10 000 test images, over several seeds. In the same run, the tutorial recipe (ResNet-18 from the
registry, SGD lr 0.01, batch 128, crop and flip, cosine) gets the same wall time: its number of
epochs is set from its measured speed so that its cosine schedule ends within that time.

    python benchmarks/train_speed.py                      # cpu preset, 3 seeds, baseline
    python benchmarks/train_speed.py --preset gpu --seeds 5 --no-baseline

Prints a table and writes the figures to benchmarks/results/train_speed-<preset>-<device>.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from winnow import __version__, data  # noqa: E402
from winnow.models import create_model  # noqa: E402
from winnow.train import fit, get_preset, predict, preset_model, resolve_device  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "cifar10-jpeg.zip"


def load_cifar(path: Path) -> tuple[data.Dataset, float, float]:
    """The dataset, and the seconds of the first and of a second (cached) load."""
    start = time.perf_counter()
    dataset = data.load(f"folder:{path}")
    first = time.perf_counter() - start
    start = time.perf_counter()
    dataset = data.load(f"folder:{path}")
    second = time.perf_counter() - start
    return dataset, first, second


def train_once(dataset, model_name: str, recipe) -> dict:
    torch.manual_seed(recipe.seed)
    model = create_model(model_name, dataset.num_classes, dataset.in_channels)
    result = fit(model, dataset, dataset.train_indices, recipe)
    start = time.perf_counter()
    accuracy = predict(result.model, dataset, dataset.test_indices, recipe).accuracy
    return {"seed": recipe.seed, "test_accuracy": accuracy, "train_seconds": result.train_seconds,
            "predict_seconds": time.perf_counter() - start, "epochs": recipe.epochs}


def measure_images_per_second(dataset, model_name: str, recipe, steps: int = 6) -> float:
    """Training throughput of `model_name` under `recipe`, from a few steps after one warm-up step."""
    torch.manual_seed(0)
    model = create_model(model_name, dataset.num_classes, dataset.in_channels)
    subset = dataset.train_indices[: recipe.batch_size * (steps + 1)]
    result = fit(model, dataset, subset, recipe.replace(epochs=1, warmup_fraction=0.0))
    per_epoch = result.history[0]["seconds"]
    return len(subset) / per_epoch


def mean_std(values: list[float]) -> tuple[float, float]:
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the CIFAR-10 image-folder zip")
    parser.add_argument("--preset", default="cpu")
    parser.add_argument("--model", help="override the preset's model")
    parser.add_argument("--epochs", type=float, help="override the preset's epochs")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--no-baseline", action="store_true", help="skip the tutorial ResNet-18 comparison")
    parser.add_argument("--baseline-seconds", type=float,
                        help="wall time for the baseline (default: the preset's mean training time)")
    parser.add_argument("--out", type=Path, help="results file (default benchmarks/results/...)")
    args = parser.parse_args(argv)

    if not args.data.exists():
        parser.error(f"{args.data} not found: pass --data PATH to the CIFAR-10 zip")
    dataset, first_load, cached_load = load_cifar(args.data)
    device = resolve_device(args.device)
    print(f"{dataset.describe()}; first load {first_load:.1f} s, cached load {cached_load:.2f} s; device {device}")

    overrides = {"device": args.device} | ({"epochs": args.epochs} if args.epochs else {})
    model_name = args.model or preset_model(args.preset)
    runs = []
    for seed in range(args.seeds):
        run = train_once(dataset, model_name, get_preset(args.preset, seed=seed, **overrides))
        runs.append(run)
        print(f"  {args.preset} seed {seed}: {100 * run['test_accuracy']:.2f} % in {run['train_seconds']:.1f} s",
              flush=True)
    accuracy = mean_std([r["test_accuracy"] for r in runs])
    seconds = mean_std([r["train_seconds"] for r in runs])

    baseline = None
    if not args.no_baseline:
        budget = args.baseline_seconds or seconds[0]
        tutorial = get_preset("tutorial", device=args.device)
        speed = measure_images_per_second(dataset, "resnet18", tutorial)
        epochs = max(0.05, budget * speed / len(dataset.train_indices) * 0.97)  # 3 % margin for set-up
        run = train_once(dataset, "resnet18", tutorial.replace(epochs=epochs))
        baseline = {**run, "budget_seconds": budget, "images_per_second": speed}
        print(f"  tutorial resnet18, {epochs:.2f} epochs: {100 * run['test_accuracy']:.2f} % "
              f"in {run['train_seconds']:.1f} s", flush=True)

    results = {
        "benchmark": "train_speed",
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads",
        "device": str(device),
        "cuda_device": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
        "winnow_version": __version__,
        "torch_version": torch.__version__,
        "data": str(args.data),
        "first_load_seconds": first_load,
        "cached_load_seconds": cached_load,
        "preset": args.preset,
        "model": model_name,
        "recipe": get_preset(args.preset, **overrides).to_dict(),
        "runs": runs,
        "test_accuracy_mean": accuracy[0],
        "test_accuracy_std": accuracy[1],
        "train_seconds_mean": seconds[0],
        "train_seconds_std": seconds[1],
        "baseline": baseline,
        "accuracy_ratio_to_baseline": accuracy[0] / baseline["test_accuracy"] if baseline else None,
    }
    print()
    print("| recipe | model | test accuracy | training time |")
    print("| --- | --- | --- | --- |")
    print(f"| {args.preset} ({args.seeds} seeds) | {model_name} | {100 * accuracy[0]:.2f} ± {100 * accuracy[1]:.2f} % "
          f"| {seconds[0]:.1f} ± {seconds[1]:.1f} s |")
    if baseline:
        print(f"| tutorial, same wall time (1 seed) | resnet18 | {100 * baseline['test_accuracy']:.2f} % "
              f"| {baseline['train_seconds']:.1f} s |")
        print(f"\naccuracy ratio {args.preset} / tutorial: {results['accuracy_ratio_to_baseline']:.2f}")
    out = args.out or ROOT / "benchmarks" / "results" / f"train_speed-{args.preset}-{device.type}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"results written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
