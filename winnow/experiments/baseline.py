"""`winnow baseline`: a classical classifier (tiny images or bag of SIFT words, with kNN or a
linear SVM) fitted on a dataset's train split and tested like a trained network.

The run folder holds config.json (command "baseline", the features and the classifier with
every option) and final.json with the same test metrics as `winnow train` (`test_accuracy`,
`per_class_accuracy`, `confusion_matrix`, ...), so a report puts baselines beside CNN runs, and
the times: `feature_seconds` (descriptors, vocabulary and histograms of both splits),
`vocabulary_seconds` (the k-means part of it), `fit_seconds` (the classifier), `test_seconds`
(scoring the test split), `decode_seconds` and `wall_seconds`; `train_seconds` is what making
the classifier from the training images cost (their features, the vocabulary and the fit).

Strategies can use the same features before any network is trained: `feature_inputs` makes
`features` (and `labelled_features`) for a pool from an extractor fitted on the train split
(`winnow select --features bovw`).
"""

from __future__ import annotations

import dataclasses
import logging
import numbers
import time
from pathlib import Path

import numpy as np

from .. import __version__, data, features as classic, metrics, runs
from .engine import load_data, run_config

log = logging.getLogger("winnow.experiments.baseline")


def baseline_run(
    source: str | data.Dataset,
    out: str | Path,
    *,
    features: str = "bovw",
    classifier: str = "svm",
    feature_options: dict | None = None,
    classifier_options: dict | None = None,
    seed: int = 0,
    data_options: dict | None = None,
    force: bool = False,
    on_progress=None,
) -> dict:
    """Fit `features` (`winnow.features`) and `classifier` on `source`'s train split, test on its
    test split, and write the run folder `out`.

    source : a data spec, or a `Dataset` (e.g. from `winnow.data.from_arrays`)
    features, classifier : registered names (`features.list_features()`, `list_classifiers()`)
    feature_options, classifier_options : their options, e.g. {"vocabulary": 200}, {"k": 5}
    seed : the vocabulary's k-means and the descriptor sample (and LinearSVC's own seed)
    on_progress : accepted for symmetry with the other commands; nothing here reports progress

    A validation split, when the data has one, is not used. Returns the final record (also in
    `out/final.json`); unknown names and options are errors before the run folder is made.
    """
    started = time.perf_counter()
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise ValueError(f"seed must be an int, got {seed!r}")
    extractor = classic.create_features(features, **(feature_options or {}))
    model = classic.create_classifier(classifier, **(classifier_options or {}))
    dataset, decode_seconds = load_data(source, data_options)
    train_indices, test_indices = dataset.train_indices, dataset.test_indices
    if len(train_indices) == 0 or len(test_indices) == 0:
        raise ValueError(f"{dataset.source}: a baseline needs a train and a test split "
                         f"(train {len(train_indices)}, test {len(test_indices)} images)")
    labels = dataset.labels.numpy()
    if (labels[train_indices] < 0).any():
        raise ValueError(f"{dataset.source}: the train split has unlabelled images; a baseline needs every label")
    extractor.check((len(train_indices), *dataset.images.shape[1:]))  # refused before the run folder is made:
    model.check(labels[train_indices])  # a vocabulary larger than the descriptors, k > N, one class

    run_dir = runs.prepare_run_dir(out, force=force)
    runs.write_json(run_dir / runs.CONFIG, {
        **run_config("baseline", source, data_options, dataset),
        "model": f"{features} + {classifier}",  # what the report shows as the model
        "features": features,
        "feature_options": dataclasses.asdict(extractor),
        "classifier": classifier,
        "classifier_options": dataclasses.asdict(model),
        "seed": int(seed),
    })

    timed = {}
    train_features, test_features = _extract(extractor, dataset, train_indices, test_indices, seed, timed)
    fitting = time.perf_counter()
    model.fit(train_features, labels[train_indices], histogram=extractor.histogram, seed=int(seed))
    fit_seconds = time.perf_counter() - fitting
    testing = time.perf_counter()
    scores = model.scores(test_features, dataset.num_classes)  # (T, K)
    test_seconds = time.perf_counter() - testing

    summary = metrics.summary(labels[test_indices], scores, dataset.class_names)
    final = {
        "test_accuracy": summary.pop("accuracy"),
        **({"test_top5_accuracy": summary.pop("top5_accuracy")} if "top5_accuracy" in summary else {}),
        "test_count": int(len(test_indices)),
        **summary,
        "features": features,
        "classifier": classifier,
        "kernel": model.used_kernel,
        "feature_dimensions": int(train_features.shape[1]),
        "train_count": int(len(train_indices)),
        "feature_seconds": timed["train"] + timed["test"],
        "vocabulary_seconds": timed["vocabulary"],
        "fit_seconds": fit_seconds,
        "train_seconds": timed["train"] + fit_seconds,
        "test_seconds": test_seconds,
        "decode_seconds": decode_seconds,
        "device": "cpu",
        "winnow_version": __version__,
    }
    final["wall_seconds"] = time.perf_counter() - started
    runs.write_json(run_dir / runs.FINAL, final)
    log.info("%s + %s: test accuracy %.2f %% in %.1f s", features, classifier, 100 * final["test_accuracy"],
             final["wall_seconds"])
    return final


def _extract(extractor, dataset: data.Dataset, fit_indices: np.ndarray, other_indices: np.ndarray, seed: int,
             timed: dict) -> tuple[np.ndarray, np.ndarray]:
    """Features of `fit_indices` (the extractor fitted on them) and of `other_indices`; `timed`
    gets the seconds of "train" (fit and transform, the vocabulary included), "vocabulary" and "test"."""
    started = time.perf_counter()
    fitted = extractor.fit_transform(dataset.images[fit_indices], seed)
    timed["vocabulary"] = extractor.fit_seconds
    timed["train"] = time.perf_counter() - started
    started = time.perf_counter()
    other = extractor.transform(dataset.images[other_indices]) if len(other_indices) else fitted[:0]
    timed["test"] = time.perf_counter() - started
    return fitted, other


def plan_feature_inputs(strategy, mode: str, class_balanced: bool, features: str,
                        feature_options: dict | None = None, shape: tuple[int, ...] | None = None) -> set[str]:
    """The inputs `feature_inputs` makes for `strategy` (a `strategies.Strategy`) in labelled-set
    `mode` ("none", "file" or "all", as `proxy.plan_inputs`); a ValueError, before anything is
    made, for unknown features or options, for a strategy that needs what only a network gives
    (probabilities, MC passes, training records), or for class balancing without labels. With
    `shape`, the (N, C, H, W) of the images the extractor is fitted on, also what the extractor
    can check before any work (`check`: a bovw vocabulary too large, pretrained weights that do
    not fit their model)."""
    extractor = classic.create_features(features, **(feature_options or {}))
    given = {"features", *(["labelled_features"] if mode == "file" else []), *(["labels"] if mode == "all" else [])}
    missing = [name for name in strategy.needs if name not in given]
    if "inputs" in strategy.context and "probs" not in missing:  # e.g. hybrid: its uncertainty needs probs
        missing.append("probs")
    if missing:
        raise ValueError(f"features of an extractor ({features}) give a strategy features only, not "
                         f"{', '.join(missing)}, which strategy {strategy.name!r} needs: choose a strategy over "
                         "features (coreset, typiclust, kmeans_margin, mmd) or drop --features to train a proxy")
    if class_balanced and mode != "all":
        raise ValueError("class balancing with --features needs the pool's labels (--labelled all): "
                         "without a network there is no predicted class")
    if shape is not None:
        extractor.check(tuple(shape))
    return {name for name in (*strategy.needs, *strategy.optional) if name in given} | (given & {"labels"})


def feature_inputs(dataset: data.Dataset, labelled_indices: np.ndarray, pool_indices: np.ndarray, wanted: set[str],
                   features: str, feature_options: dict | None = None, seed: int = 0):
    """Strategy inputs from classical features instead of a trained network: `features` (and
    `labelled_features` when wanted and something is labelled) of the pool, from the extractor
    `features` fitted (without labels) on the train split. Returns a `proxy.MadeInputs` whose
    `scoring_seconds` is the extraction time; nothing is trained.

    Inputs that need a network (probabilities, MC passes, training records) cannot be made this
    way: asking for them is an error naming the input.
    """
    from .proxy import MadeInputs

    extractor = classic.create_features(features, **(feature_options or {}))
    timed: dict = {}
    fit_indices = np.asarray(dataset.train_indices)
    wants_labelled = "labelled_features" in wanted and len(labelled_indices) > 0
    needed = np.concatenate([pool_indices, labelled_indices]) if wants_labelled else np.asarray(pool_indices)
    outside = np.setdiff1d(needed, fit_indices)  # select's pools are in the train split; others are described too
    fitted, other = _extract(extractor, dataset, fit_indices, outside, seed, timed)
    rows = np.concatenate([fitted, other])
    position = {int(index): row for row, index in enumerate(np.concatenate([fit_indices, outside]))}
    made = MadeInputs()
    made.arrays["features"] = rows[[position[int(i)] for i in pool_indices]]  # (N, D), pool order
    if wants_labelled:
        made.arrays["labelled_features"] = rows[[position[int(i)] for i in labelled_indices]]  # (L, D)
    if "labels" in wanted:
        made.arrays["labels"] = dataset.labels.numpy()[pool_indices]
    made.scoring_seconds = timed["train"] + timed["test"]
    return made
