"""`winnow baseline`: a classical classifier on classical features, tested like a trained network."""

from __future__ import annotations

from . import command, console
from .options import add_data_options, add_run_options, data_options

SETTING_PARTS = ("features", "classifier")


def add_arguments(parser) -> None:
    from ..features import CLASSIFIERS, FEATURES, option_names

    add_data_options(parser)
    group = parser.add_argument_group("features and classifier")
    group.add_argument("--features", default="bovw", metavar="NAME",
                       help=f"one of: {', '.join(FEATURES)} (default bovw: bag of SIFT words, needs OpenCV)")
    group.add_argument("--classifier", default="svm", metavar="NAME",
                       help=f"one of: {', '.join(CLASSIFIERS)} (default svm: a linear SVM)")
    options = "; ".join(f"{name}: {', '.join(option_names(cls))}" for name, cls in {**FEATURES, **CLASSIFIERS}.items())
    group.add_argument("--set", dest="settings", action="append", default=[], metavar="KEY=VALUE",
                       help="an option (repeatable): features.KEY or classifier.KEY; options by name: "
                            f"{options}. e.g. --set features.vocabulary=200 --set classifier.k=5")
    group.add_argument("--seed", type=int, default=0, metavar="S",
                       help="seed of the vocabulary's k-means and its descriptor sample (default 0)")
    add_run_options(parser)


def parse_settings(texts: list[str], features: str, classifier: str) -> tuple[dict, dict]:
    """(feature options, classifier options) from --set features.KEY=VALUE / classifier.KEY=VALUE,
    typed like the option's default; a ValueError naming the key for anything else."""
    from ..features import CLASSIFIERS, FEATURES, parse_option

    parsed = {"features": {}, "classifier": {}}
    chosen = {"features": FEATURES.get(features), "classifier": CLASSIFIERS.get(classifier)}
    for text in texts:
        key, sep, value = text.partition("=")
        part, dot, option = key.partition(".")
        if not sep or not dot or part not in SETTING_PARTS or not option.isidentifier():
            raise ValueError(f"--set expects features.KEY=VALUE or classifier.KEY=VALUE (got {text!r})")
        if option in parsed[part]:
            raise ValueError(f"--set {key} is given twice")
        if chosen[part] is None:  # the unknown name itself is reported by baseline_run
            parsed[part][option] = value
            continue
        parsed[part][option] = parse_option(chosen[part], option, value)
    return parsed["features"], parsed["classifier"]


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

    feature_options, classifier_options = parse_settings(args.settings, args.features, args.classifier)
    final = baseline_run(args.data, args.out, features=args.features, classifier=args.classifier,
                         feature_options=feature_options, classifier_options=classifier_options, seed=args.seed,
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
