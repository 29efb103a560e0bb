"""Test-time augmentation on trained runs: what each set of views buys, paired over the runs.

Reloads each run folder of `winnow train` (its weights and data) and predicts its test images
with no augmentation, with the mirror image (`tta`, the default), and with the mirror plus the
views shifted diagonally by 1 and by 2 pixels (`tta_translate`). Training is untouched, so every
difference is paired within a run; the prediction time of each is reported too.

    python benchmarks/tta_cifar.py runs/train6m-s0 runs/train6m-s1 runs/train6m-s2

Prints a table and writes benchmarks/results/tta-<first run's folder name>-<device>.json.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _record import write_result  # noqa: E402

from winnow import stats  # noqa: E402
from winnow.experiments.evaluate import load_trained_run  # noqa: E402
from winnow.train import predict  # noqa: E402

VIEWS = {  # name -> the recipe changes at prediction
    "none": {"tta": False},
    "flip": {"tta": True},
    "flip + translate 1": {"tta": True, "tta_translate": 1},
    "flip + translate 2": {"tta": True, "tta_translate": 2},
}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", type=Path, help="run folders of `winnow train` (with weights)")
    args = parser.parse_args(argv)

    rows = []
    for run_dir in args.runs:
        try:
            trained = load_trained_run(run_dir, what="to predict with")
        except (OSError, ValueError) as error:
            parser.error(str(error))
        for name, changes in VIEWS.items():
            start = time.perf_counter()
            outputs = predict(trained.model, trained.dataset, trained.dataset.test_indices,
                              trained.recipe.replace(flip=True, **changes))
            seconds = time.perf_counter() - start
            accuracy = outputs.accuracy
            rows.append({"run": str(run_dir), "seed": trained.recipe.seed, "views": name,
                         "test_accuracy": accuracy, "predict_seconds": seconds})
            print(f"  {run_dir} {name}: {100 * accuracy:.2f} % in {seconds:.1f} s", flush=True)

    print("\n| views | test accuracy | vs flip (paired, 95 % CI) | predict seconds |")
    print("| --- | ---: | ---: | ---: |")
    flip = [r["test_accuracy"] for r in rows if r["views"] == "flip"]
    summary = {}
    for name in VIEWS:
        chosen = [r for r in rows if r["views"] == name]
        accuracy = stats.summarize([r["test_accuracy"] for r in chosen])
        difference = stats.paired_difference([r["test_accuracy"] for r in chosen], flip)
        seconds = statistics.fmean(r["predict_seconds"] for r in chosen)
        summary[name] = {"test_accuracy": accuracy.to_dict(), "vs_flip": difference.to_dict(),
                         "predict_seconds_mean": seconds}
        vs = difference.format() if name != "flip" else ""
        print(f"| {name} | {accuracy.format()} % | {vs} | {seconds:.1f} |")

    path = write_result(f"tta-{args.runs[0].name}", {"runs": [str(r) for r in args.runs], "rows": rows,
                                                     "summary": summary})
    print(f"results written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
