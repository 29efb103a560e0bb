"""Classical baselines on 15-Scene: tiny images + kNN, bag of SIFT words + kNN, bag of SIFT words + SVM.

Runs `winnow baseline` (the same code as the command, `baseline_run`) on ../shared/data/scene15.zip
(1 500 training and 2 985 test images, 15 classes), one run folder per configuration (default
runs/bench-baseline/<name>), and writes benchmarks/results/baseline-scene15-<device>.json with
each configuration's options, test accuracy, per-class accuracy and times. The targets of issue
17 (CPU): tiny + kNN >= 23.1 %, bag of SIFT + kNN >= 62.8 %, bag of SIFT + SVM >= 70 %.

    python benchmarks/baseline_scene15.py                   # the three configurations
    python benchmarks/baseline_scene15.py --only bovw-svm --image-size 256
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _record import write_result  # noqa: E402

from winnow.experiments.baseline import baseline_run  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "scene15.zip"
# name -> (features, classifier, feature options, classifier options, target accuracy)
CONFIGURATIONS = {
    "tiny-knn": ("tiny", "knn", {}, {"k": 3}, 0.231),
    "bovw-knn": ("bovw", "knn", {}, {"k": 10}, 0.628),
    "bovw-svm": ("bovw", "svm", {}, {}, 0.70),
}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=str(DEFAULT_DATA), help="the scene15 zip (default ../shared/data)")
    parser.add_argument("--image-size", type=int, default=256,
                        help="short side resized to this, centre-cropped square (default 256)")
    parser.add_argument("--only", action="append", choices=list(CONFIGURATIONS), help="run only these (repeatable)")
    parser.add_argument("--out", default=str(ROOT / "runs" / "bench-baseline"), help="parent of the run folders")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    results = {}
    for name in args.only or CONFIGURATIONS:
        features, classifier, feature_options, classifier_options, target = CONFIGURATIONS[name]
        started = time.perf_counter()
        final = baseline_run(f"folder:{args.data}", Path(args.out) / name, features=features, classifier=classifier,
                             feature_options=feature_options, classifier_options=classifier_options,
                             seed=args.seed, data_options={"image_size": args.image_size}, force=True)
        config = json.loads((Path(args.out) / name / "config.json").read_text())
        results[name] = {
            "features": features, "classifier": classifier, "kernel": final["kernel"],
            "feature_options": config["feature_options"], "classifier_options": config["classifier_options"],
            "test_accuracy": final["test_accuracy"], "target": target, "met": final["test_accuracy"] >= target,
            "per_class_accuracy": final["per_class_accuracy"],
            **{key: final[key] for key in ("feature_seconds", "vocabulary_seconds", "fit_seconds", "test_seconds",
                                           "decode_seconds", "wall_seconds")},
            "seconds_here": time.perf_counter() - started,
        }
        print(f"{name}: {100 * final['test_accuracy']:.2f} % (target {100 * target:.1f} %), features "
              f"{final['feature_seconds']:.0f} s, fit {final['fit_seconds']:.1f} s, wall {final['wall_seconds']:.0f} s",
              flush=True)
    path = write_result("baseline-scene15", {"data": args.data, "image_size": args.image_size, "seed": args.seed,
                                             "results": results})
    print(f"results in {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
