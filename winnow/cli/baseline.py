"""`winnow baseline`: a classical classifier on classical features, tested like a trained network."""

from __future__ import annotations

from . import command, console
from .options import SettingParts, add_data_options, add_run_options, data_options

SETTINGS = SettingParts(recipe=False, features=True, classifier=True,
                        example="--set features.vocabulary=200 --set classifier.k=5")


def add_arguments(parser) -> None:
    from ..features import CLASSIFIERS, FEATURES

    add_data_options(parser)
    group = parser.add_argument_group("features and classifier")
    group.add_argument("--features", default="bovw", metavar="NAME",
                       help=f"one of: {', '.join(FEATURES)} (default bovw: bag of SIFT words, needs OpenCV)")
    group.add_argument("--classifier", default="svm", metavar="NAME",
                       help=f"one of: {', '.join(CLASSIFIERS)} (default svm: a linear SVM)")
    SETTINGS.add_to(group)
    group.add_argument("--seed", type=int, default=0, metavar="S",
                       help="seed of the vocabulary's k-means and its descriptor sample (default 0)")
    add_run_options(parser)


@command("baseline", add_arguments, report_kind="baseline",
         help="a classical baseline: tiny images or bag of SIFT words, with kNN or a linear SVM",
         description="Fit classical features (tiny images, or a bag of SIFT words with a k-means vocabulary and a "
                     "spatial pyramid) and a classifier (k nearest neighbours or a linear SVM) on the train split "
                     "of SPEC, test on the test split, and write config.json and final.json (test accuracy, "
                     "per-class accuracy, confusion matrix, feature and fit seconds) to the run folder.",
         epilog="example: winnow baseline --data folder:scene15.zip --image-size 256 --features bovw "
                "--classifier svm --out runs/scene15-bovw-svm")
def baseline(args) -> int:
    from ..experiments.baseline import baseline_run

    settings = SETTINGS.parse(args.settings, features=args.features, classifier=args.classifier)
    final = baseline_run(args.data, args.out, features=args.features, classifier=args.classifier,
                         feature_options=settings.features, classifier_options=settings.classifier, seed=args.seed,
                         data_options=data_options(args), force=args.force, on_progress=args.on_progress)
    print_baseline(final, args.out)
    return 0


def print_baseline(final: dict, out) -> None:
    from .train import print_final

    print_final({**final, "device": "cpu"}, out)
    console().print(f"{final['features']} + {final['classifier']} ({final['kernel']} kernel, "
                    f"{final['feature_dimensions']} dimensions): features {final['feature_seconds']:.1f} s "
                    f"(vocabulary {final['vocabulary_seconds']:.1f} s), fit {final['fit_seconds']:.1f} s, "
                    f"test {final['test_seconds']:.1f} s, wall {final['wall_seconds']:.1f} s")
