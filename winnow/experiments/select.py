"""`winnow select`: choose samples from a dataset's pool with a registered strategy, and record them.

The labelled set and the pool (`labelled`):

* a file (a CSV with an `index` column, or a `path` column for folder data, or a .npy of
  dataset indices): those train-split samples are labelled and the pool is the rest of the
  train split (active learning: which samples to label next);
* "all": the whole train split is labelled and the pool IS the train split (pruning: which
  labelled samples to keep); strategies then also get the pool's `labels`;
* None: nothing is labelled and the pool is the train split. Only strategies that need no
  model (`random`) can run, because the proxy model needs labels to be trained on.

What the command gives a strategy (`proxy.make_inputs`): `probs` and `features` of the pool
from a proxy model trained with the one trainer (`winnow.train.fit`) on the labelled set;
`mc_probs` (MC-dropout passes); `labelled_features` (the labelled set under that proxy) in
active learning; with "all", the pool's `labels`, the proxy's `correct_history` and the
`early_probs` of short runs; `val_logits` and `val_labels` of the proxy's hold-out when its
recipe holds one out (`val_fraction`), for the option temperature="fit". A proxy is trained
only when the strategy needs one of its outputs, or for class balancing without labels (the
predicted class is used then). A strategy that needs an input the mode cannot give is
refused before anything is trained.

The run folder holds config.json, metrics.jsonl and model.pt (the proxy's epochs and weights,
when one was trained), selected.csv and selected.npy (best first) and final.json (counts and
timings: `proxy_train_seconds`; `scoring_seconds` = proxy predictions + strategy;
`records_seconds` = the short runs of `early_probs`; `wall_seconds`: the whole call).
"""

from __future__ import annotations

import csv
import dataclasses
import io
import logging
import math
import time
from pathlib import Path

import numpy as np

from .. import __version__, data, runs
from ..strategies import check_options, get_strategy
from ..train import check_no_seed
from .engine import TrainingSpec, check_seed, load_data, run_config
from .baseline import feature_inputs, plan_feature_inputs
from .proxy import ProxyOptions, choose, make_inputs, needs_training, plan_inputs

log = logging.getLogger("winnow.experiments.select")

ALL = "all"


def select_run(
    source: str | data.Dataset,
    out: str | Path,
    *,
    strategy: str,
    budget: int | None = None,
    fraction: float | None = None,
    labelled: str | Path | None = None,
    class_balanced: bool = False,
    options: dict | None = None,
    seed: int = 0,
    model: str | None = None,
    preset: str = "auto",
    recipe_overrides: dict | None = None,
    weights: str | None = None,
    data_options: dict | None = None,
    proxy_options: ProxyOptions | None = None,
    force: bool = False,
    on_progress=None,
    features: str | None = None,
    feature_options: dict | None = None,
) -> dict:
    """Select `budget` pool samples (or `fraction` of the pool) of `source` with `strategy`
    and write the run folder `out`.

    source : a data spec, or a `Dataset` (e.g. from `winnow.data.from_arrays`)
    labelled : a .csv/.npy file of labelled train-split samples, "all", or None (module docstring)
    options : the strategy's own options; unknown names are an error
    seed : the strategy's seed and the proxy's; a seed among `recipe_overrides` is an error
    model, preset, recipe_overrides, weights : the proxy model, its recipe and its pretrained
        weights, as for `winnow train`
    proxy_options : MC-dropout passes and the short runs of early_probs (`proxy.ProxyOptions`)
    on_progress : called with the trainer's progress (`winnow.progress`)
    features, feature_options : an extractor's features (`winnow.features`, e.g. "bovw", or
        "pretrained" with {"weights": PATH}) instead of a proxy network: strategies over features
        (coreset, typiclust, ...) run with nothing labelled, and nothing is trained
        (`experiments.baseline.feature_inputs`)

    Returns the final record (also in `out/final.json`); the selection is in
    `out/selected.npy` (int64 dataset indices, best first) and `out/selected.csv`.
    """
    started = time.perf_counter()
    options = dict(options or {})
    proxy_options = proxy_options or ProxyOptions()
    chosen = get_strategy(strategy)
    check_options(strategy, options)
    if (budget is None) == (fraction is None):
        raise ValueError("give exactly one of budget and fraction")
    if fraction is not None and not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    check_no_seed(recipe_overrides, "--seed")
    seed = check_seed(seed)
    if feature_options and not features:
        raise ValueError("feature_options apply only with features (--features NAME)")

    dataset, _ = load_data(source, data_options, tested=False)
    mode = "none" if labelled is None else "all" if str(labelled) == ALL else "file"
    labelled_indices, pool_indices = _labelled_and_pool(dataset, mode, labelled)
    budget = _resolve_budget(budget, fraction, len(pool_indices), mode)
    wanted = plan_feature_inputs(chosen, mode, class_balanced, features, feature_options,
                                 shape=(len(dataset.train_indices), *dataset.images.shape[1:])) if features else \
        plan_inputs([chosen], mode, class_balanced)
    # resolved before the run folder is made, so a bad name leaves nothing behind; checked even when
    # nothing is trained, so a bad --model or --set is an error rather than ignored
    spec = TrainingSpec.resolve(dataset, model, preset, recipe_overrides, seed_option="--seed", weights=weights)
    proxy = {"model": None, "preset": None, "recipe": None}
    if needs_training(wanted) and not features:
        if not len(labelled_indices):
            raise data.DataError(f"labelled set {labelled} lists no samples: the proxy model of strategy "
                                 f"{strategy!r} needs labelled samples to train on")
        proxy = {**spec.to_config(), "recipe": spec.seeded(seed).to_dict()}  # the recipe as trained, seed included
        spec = spec.attach(on_progress=on_progress)
    else:
        spec = None

    run_dir = runs.prepare_run_dir(out, force=force)
    runs.write_json(run_dir / runs.CONFIG, {
        **run_config("select", source, data_options, dataset), "strategy": strategy, "options": options,
        "class_balanced": class_balanced, "budget": budget, "fraction": fraction,
        "labelled": None if labelled is None else str(labelled), "seed": seed, **proxy,
        "proxy_options": dataclasses.asdict(proxy_options),
        **({"features": features, "feature_options": feature_options or {}} if features else {}),
    })

    if features:
        made = feature_inputs(dataset, labelled_indices, pool_indices, wanted, features, feature_options, seed)
    else:
        made = make_inputs(dataset, labelled_indices, pool_indices, wanted, spec, seed, options=proxy_options,
                           on_epoch_end=lambda record: runs.append_jsonl(run_dir / runs.METRICS, record))
    if made.result is not None:
        runs.save_weights(run_dir / runs.WEIGHTS, made.result.model)
    choice = choose(strategy, made, pool_indices, budget, seed=seed, class_balanced=class_balanced, options=options)
    scoring_seconds = made.scoring_seconds + choice.seconds
    log.info("selected %d of %d with %s in %.2f s", budget, len(pool_indices), strategy, scoring_seconds)

    predicted = None if made.pool_outputs is None else made.pool_outputs.predictions[choice.positions]
    runs.save_array(run_dir / runs.SELECTED_NPY, choice.indices)
    runs.write_text(run_dir / runs.SELECTED_CSV, _selection_csv(dataset, choice.indices, choice.scores, predicted))
    final = {"strategy": strategy, "budget": budget, **_counts(dataset, labelled_indices, pool_indices, choice.indices,
                                                               predicted),
             "proxy_trained": made.result is not None, "proxy_train_seconds": made.train_seconds,
             "scoring_seconds": scoring_seconds, "records_seconds": made.records_seconds,
             "device": None if made.result is None else made.result.device, "winnow_version": __version__,
             "wall_seconds": time.perf_counter() - started}
    runs.write_json(run_dir / runs.FINAL, final)
    return final


def _counts(dataset: data.Dataset, labelled_indices, pool_indices, selected, predicted) -> dict:
    """The sizes of the train split, labelled set, pool and selection; selected per class (label,
    and the proxy's prediction when one was trained)."""
    return {
        "selected_count": len(selected),
        "train_count": len(dataset.train_indices),
        "labelled_count": len(labelled_indices),
        "pool_count": len(pool_indices),
        "selected_class_counts": _class_counts(dataset, dataset.labels.numpy()[selected]),
        "selected_predicted_counts": None if predicted is None else _class_counts(dataset, predicted),
    }


def _labelled_and_pool(dataset: data.Dataset, mode: str, labelled) -> tuple[np.ndarray, np.ndarray]:
    """(labelled indices, pool indices) for mode "none", "all" or "file"; the pool in train-split order."""
    train_indices = dataset.train_indices
    if mode == "none":
        return np.zeros(0, dtype=np.int64), train_indices
    if mode == "all":
        return train_indices, train_indices
    labelled_indices = read_labelled(labelled, dataset)
    pool_indices = train_indices[np.isin(train_indices, labelled_indices, invert=True)]
    if len(pool_indices) == 0:
        raise ValueError(f"the pool is empty: all {len(train_indices)} train-split samples are labelled")
    return labelled_indices, pool_indices


def _resolve_budget(budget, fraction, pool_size: int, mode: str) -> int:
    if fraction is not None:
        budget = max(1, round(fraction * pool_size))
    if isinstance(budget, bool) or not isinstance(budget, (int, np.integer)) or budget < 1:
        raise ValueError(f"budget must be an int >= 1, got {budget!r}")
    if budget > pool_size:
        pool = "the train split minus the labelled set" if mode == "file" else "the train split"
        raise ValueError(f"budget {budget} is larger than the pool of {pool_size} samples ({pool})")
    return int(budget)


def read_labelled(source: str | Path, dataset: data.Dataset) -> np.ndarray:
    """(L,) int64 dataset indices of the labelled set in `source`, checked to be distinct samples
    of the train split; a DataError names the first bad row (CSV line) or entry (.npy).

    .npy : a 1-D integer array of dataset indices
    .csv : a header row and a column `index` (dataset indices) or `path` (folder data: the
        paths in Dataset.paths, e.g. `train/cat/0001.jpg`)
    """
    path = Path(source).expanduser()
    if path.suffix.lower() not in (".csv", ".npy"):
        raise data.DataError(f"labelled set {source}: give a .csv or .npy file, or '{ALL}'")
    if not path.exists():
        raise FileNotFoundError(f"labelled set {path} does not exist")
    if not path.is_file():
        raise data.DataError(f"labelled set {path} is not a file")
    if path.suffix.lower() == ".npy":
        try:
            values = np.load(path, allow_pickle=False)
        except (ValueError, OSError, EOFError) as error:  # not a .npy file, or one of Python objects
            raise data.DataError(f"labelled set {path} is not a .npy array of dataset indices "
                                 f"({str(error).split('. ')[0]})") from None
        if values.ndim != 1 or not np.issubdtype(values.dtype, np.integer):
            raise data.DataError(f"{path}: expected a 1-D integer array of dataset indices, "
                                 f"got {values.dtype} of shape {values.shape}")
        indices, where = values.astype(np.int64), [f"entry {i}" for i in range(len(values))]
    else:
        try:
            indices, where = _read_labelled_csv(path, dataset)
        except UnicodeDecodeError as error:
            raise data.DataError(f"labelled set {path} is not UTF-8 text ({error.reason} at byte {error.start})") \
                from None
    in_train = np.isin(indices, dataset.train_indices)
    if not in_train.all():
        i = int(np.flatnonzero(~in_train)[0])
        raise data.DataError(f"{path} {where[i]}: index {indices[i]} is not in the train split "
                             f"({len(dataset.train_indices)} samples); the labelled set must be a subset of it")
    _, first = np.unique(indices, return_index=True)
    if len(first) != len(indices):
        i = int(np.setdiff1d(np.arange(len(indices)), first)[0])
        raise data.DataError(f"{path} {where[i]}: index {indices[i]} is listed twice")
    return indices


def _read_labelled_csv(path: Path, dataset: data.Dataset) -> tuple[np.ndarray, list[str]]:
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        columns = reader.fieldnames or []
        column = "index" if "index" in columns else "path" if "path" in columns else None
        if column is None:
            raise data.DataError(f"{path}: needs a column 'index' (dataset indices) or 'path' (folder data); "
                                 f"found {', '.join(columns) or 'no header'}")
        if column == "path" and dataset.paths is None:
            raise data.DataError(f"{path}: a 'path' column needs folder data; {dataset.source} has no paths")
        by_path = {p: i for i, p in enumerate(dataset.paths)} if column == "path" else {}
        indices, where = [], []
        for row in reader:
            line = f"line {reader.line_num}"
            text = (row.get(column) or "").strip()
            if column == "index":
                try:
                    indices.append(int(text))
                except ValueError:
                    raise data.DataError(f"{path} {line}: index {text!r} is not an integer") from None
            elif text in by_path:
                indices.append(by_path[text])
            else:
                raise data.DataError(f"{path} {line}: path {text!r} is not an image of {dataset.source}")
            where.append(line)
    return np.asarray(indices, dtype=np.int64), where


def _selection_csv(dataset: data.Dataset, selected: np.ndarray, scores: np.ndarray, predicted) -> str:
    """rank (0 = best), index, path (folder data), label (class name, empty when unknown),
    predicted (the proxy's class, when one was trained), score."""
    columns = ["rank", "index", *(["path"] if dataset.paths is not None else []), "label",
               *(["predicted"] if predicted is not None else []), "score"]
    labels = dataset.labels.numpy()[selected]
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(columns)
    for rank, (index, label, score) in enumerate(zip(selected, labels, scores)):
        row = [rank, int(index)]
        if dataset.paths is not None:
            row.append(dataset.paths[index])
        row.append(dataset.class_names[label] if label >= 0 else "")
        if predicted is not None:
            row.append(dataset.class_names[predicted[rank]])
        row.append(repr(float(score)) if math.isfinite(score) else "")
        writer.writerow(row)
    return text.getvalue()


def _class_counts(dataset: data.Dataset, classes: np.ndarray) -> dict[str, int]:
    """Class name -> count for every class, in class order; -1 counts as "unlabelled"."""
    counts = {dataset.class_names[c]: int((classes == c).sum()) for c in range(dataset.num_classes)}
    if (classes < 0).any():
        counts["unlabelled"] = int((classes < 0).sum())
    return counts
