"""Active learning with people labelling: a folder of unlabelled images, the few labels that
exist, and cycles of "train on what is labelled, ask for the most useful labels, import them".

    from winnow.experiments import labelling
    labelling.init("folder:photos", "labels.csv", "runs/photos")   # CSV: path,label (a class name)
    labelling.next_cycle("runs/photos", budget=100)    # writes queries/cycle_1.csv and cycle_1.png
    labelling.import_labels("runs/photos", "answers.csv")   # or Label Studio's JSON export
    labelling.status("runs/photos")                    # labelled per class, pending queries

The labelling folder (every file written atomically):

    DIR/
      config.json          data spec (absolute path) and options, class names, strategy and options,
                           proxy preset, model, recipe overrides and proxy options
      labels.csv           path,label,source: every label so far. source: "initial" (init's CSV),
                           "cycle_K" (an answer to the query of cycle K), or the answers file's name
                           (a label for an image no query asked about)
      imports.jsonl        one record per import: the file and its counts
      queries/cycle_K.csv  rank,path,predicted,score,label: the images to label, rank 1 = the
                           strategy's first pick; `predicted` is the proxy's class (empty without
                           a proxy); `label` is left empty for the labeller to fill in and import
      queries/cycle_K.png  a contact sheet of those images, "rank: predicted class" under each
      cycles/cycle_K.json  the cycle's record: counts, the proxy's recipe and epochs, timings
      report.html          written by the command line after init, next and import (`winnow.report`)

A cycle (`next_cycle`): the proxy model is trained with the one trainer on every labelled image
(`proxy.make_inputs`, labelled set vs pool as in `winnow select --labelled FILE`), and the strategy
picks `budget` images from the pool: the images without a label that no earlier query still waits
for (a queried image stays out of later pools until its answer is imported). Cycles are numbered
1, 2, ...; queries/cycle_K.csv is written last, so a cycle exists exactly when it does: a call
interrupted before it left nothing that counts, and the next call makes cycle K again (replacing
its partial files); a finished cycle whose answers are not imported yet is kept, and the next call
makes cycle K+1 without its images.

Label files (`init`'s CSV and `import_labels`' answers): a CSV with columns `path` (the image's
path inside the folder, as in `Dataset.paths` and the queries) and `label` (a class name; empty =
not answered yet, skipped); other columns are ignored, so a filled-in queries/cycle_K.csv can be
imported as it is. Or Label Studio's JSON export (`.json`): a list of tasks, each with the image
in `data.image` and the class in the last annotation that was not cancelled (a `choices` result);
its image URL is matched to a folder path (`data.label_files.PathMatcher`). Every problem (a path that is not an
image of the folder, an unknown class, the same image twice in the file, an image already
labelled otherwise without `force`) is reported with its CSV line or JSON task index, all of
them at once, and nothing is imported then. The answers file and the images are only read.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import logging
import math
import re
import time
from collections import Counter
from pathlib import Path

import numpy as np
import torch

from .. import __version__, data, plots, runs
from ..data import label_files
from ..strategies import check_options, get_strategy
from ..train import check_no_seed
from ..weights import absolute_source
from .engine import TrainingSpec, check_seed, run_config
from .proxy import ProxyOptions, choose, make_inputs, needs_training, plan_inputs

log = logging.getLogger("winnow.experiments.labelling")

COMMAND = "al-labelling"
LABELS_CSV, IMPORTS = "labels.csv", "imports.jsonl"
QUERIES, CYCLES = "queries", "cycles"
INITIAL = "initial"
SEED_OPTION = "--seed of `al next`"  # the proxy's seed is set per cycle
DATA_OPTIONS = ("image_size", "skip_bad_images", "cache_dir", "workers")  # what load_unlabelled takes
QUERY_COLUMNS = ("rank", "path", "predicted", "score", "label")
_CYCLE_FILE = re.compile(r"cycle_([0-9]+)\.(csv|png|json)")
runs.register_run_files(COMMAND, re.escape(LABELS_CSV), re.escape(IMPORTS), rf"{QUERIES}/cycle_[0-9]+\.(csv|png)",
                        rf"{CYCLES}/cycle_[0-9]+\.json")


# ---------------------------------------------------------------- the public functions


def init(
    data_spec: str,
    labels_csv: str | Path | None,
    out: str | Path,
    *,
    classes: list[str] | None = None,
    data_options: dict | None = None,
    strategy: str = "margin",
    options: dict | None = None,
    class_balanced: bool = False,
    preset: str = "auto",
    model: str | None = None,
    recipe_overrides: dict | None = None,
    proxy_options: ProxyOptions | None = None,
    force: bool = False,
    weights: str | None = None,
) -> dict:
    """Start a labelling folder `out` for the images of `data_spec` (`folder:PATH`, any layout:
    `winnow.data.load_unlabelled`) and the labels of `labels_csv` (path,label; None = none yet).

    classes : the class names, in order; default the sorted distinct labels of the CSV. Give
        them to name classes that have no example yet. At least two.
    data_options : image_size, skip_bad_images, cache_dir, workers (as for `winnow.data.load`)
    strategy, options, class_balanced : how `next_cycle` picks, unless it is told otherwise
    preset, model, recipe_overrides, weights : the proxy model, its recipe and its pretrained
        weights, as for `winnow train`; the seed is `next_cycle`'s, so a seed among the overrides
        is an error
    proxy_options : MC-dropout passes and the short runs some strategies need (`proxy.ProxyOptions`)
    force : replace the files of an existing run folder (never anything else in it: `runs.prepare_run_dir`)

    Everything is checked before the folder is written. Returns `status(out)`.
    """
    options = dict(options or {})
    overrides = dict(recipe_overrides or {})
    proxy_options = proxy_options or ProxyOptions()
    data_options = dict(data_options or {})
    _check_strategy(strategy, options, class_balanced)
    check_no_seed(overrides, SEED_OPTION)
    unknown = sorted(set(data_options) - set(DATA_OPTIONS))
    if unknown:
        raise data.DataError(f"data option(s) {', '.join(unknown)} do not apply to unlabelled folders; "
                             f"known: {', '.join(DATA_OPTIONS)}")
    data_spec = _absolute_spec(data_spec)
    weights = None if weights is None else absolute_source(weights)  # `al next` may run elsewhere
    dataset = data.load_unlabelled(data_spec, **data_options)
    log.info("%s", dataset.describe())

    answers = [] if labels_csv is None else label_files.read_csv(Path(labels_csv))
    class_names = label_files.class_names_of(classes, answers, labels_csv)
    problems = label_files.match_exact(answers, set(dataset.paths), data_spec)
    problems += label_files.answer_problems(answers, class_names, {}, force=False)
    if problems:
        raise data.DataError(label_files.problem_report(labels_csv, problems, "nothing was written"))
    given = [answer for answer in answers if answer.label]
    labelled = dataset.with_labels(dataset.labels, class_names)
    if needs_training(plan_inputs([get_strategy(strategy)], "file", class_balanced)):
        TrainingSpec.resolve(labelled, model, preset, overrides, seed_option=SEED_OPTION,  # a bad name fails here
                             weights=weights)

    folder = runs.prepare_run_dir(out, force)
    runs.write_json(folder / runs.CONFIG, {
        **run_config(COMMAND, data_spec, data_options, labelled),
        "image_count": len(dataset),
        "labels_csv": None if labels_csv is None else str(Path(labels_csv).expanduser().resolve()),
        "strategy": strategy,
        "options": options,
        "class_balanced": class_balanced,
        "preset": preset,
        "model": model,
        "recipe_overrides": overrides,
        **({"weights": weights} if weights is not None else {}),
        "proxy_options": dataclasses.asdict(proxy_options),
    })
    _write_labels(folder, {answer.path: (answer.label, INITIAL) for answer in given})
    log.info("labelling folder %s: %d images, %d labelled, classes %s", folder, len(dataset), len(given),
             ", ".join(class_names))
    return status(folder)


def next_cycle(
    run_dir: str | Path,
    *,
    budget: int,
    strategy: str | None = None,
    options: dict | None = None,
    class_balanced: bool | None = None,
    seed: int = 0,
    on_progress=None,
) -> dict:
    """Train the proxy on every labelled image, pick `budget` images of the pool to label, and
    write cycle K: queries/cycle_K.csv, queries/cycle_K.png and cycles/cycle_K.json.

    strategy, options, class_balanced : default those of the folder's config; a strategy other
        than the config's starts from its own default options unless `options` are given
    seed : the strategy's seed and the proxy's
    on_progress : called with the trainer's progress (`winnow.progress`)

    Returns the cycle's record (also in cycles/cycle_K.json).
    """
    started = time.perf_counter()
    folder = Path(run_dir)
    config = _read_config(folder)
    strategy = config["strategy"] if strategy is None else strategy
    if options is None:
        options = config["options"] if strategy == config["strategy"] else {}
    options = dict(options)
    class_balanced = config["class_balanced"] if class_balanced is None else class_balanced
    seed = check_seed(seed)
    _check_strategy(strategy, options, class_balanced)

    dataset, missing = _labelled_dataset(folder, config)
    load_seconds = time.perf_counter() - started
    cycle, labelled_indices, pool_indices, pending = _pool(folder, dataset)
    _check_budget(budget, len(pool_indices), len(pending))
    made, choice, spec = _pick(dataset, config, labelled_indices, pool_indices, strategy, options, class_balanced,
                               int(budget), seed, on_progress)
    predicted = (["" for _ in choice.indices] if made.pool_outputs is None
                 else [dataset.class_names[c] for c in made.pool_outputs.predictions[choice.positions]])
    labels = dataset.labels.numpy()
    record = {
        "cycle": cycle, "strategy": strategy, "options": options, "class_balanced": class_balanced,
        "budget": int(budget), "seed": seed, "image_count": len(dataset), "labelled_count": len(labelled_indices),
        "labelled_class_counts": _class_counts(dataset.class_names, labels[labelled_indices]),
        "labels_without_image": missing, "pending_count": len(pending), "pool_count": len(pool_indices),
        "queried_count": len(choice.indices),
        "queried_predicted_counts": dict(Counter(predicted)) if made.pool_outputs is not None else None,
        "proxy": None if made.result is None else _proxy_record(made.result, spec),
        "load_seconds": load_seconds, "proxy_train_seconds": made.train_seconds,
        "scoring_seconds": made.scoring_seconds + choice.seconds,
        "queries_csv": f"{QUERIES}/cycle_{cycle}.csv", "contact_sheet": f"{QUERIES}/cycle_{cycle}.png",
        "winnow_version": __version__,
    }
    _write_cycle(folder, dataset, record, choice, predicted, started)
    log.info("cycle %d: %d of %d pool images queried with %s (%d labelled, %d pending)", cycle, len(choice.indices),
             len(pool_indices), strategy, len(labelled_indices), len(pending))
    return record


def _pool(folder: Path, dataset: data.Dataset) -> tuple[int, np.ndarray, np.ndarray, set[str]]:
    """(the next cycle's number, labelled indices, pool indices, the paths still waiting for an
    answer): the pool is the unlabelled images that no earlier query still waits for."""
    queried = _finished_cycles(folder)
    labels = dataset.labels.numpy()
    labelled_indices = np.flatnonzero(labels >= 0)
    pending = {path for paths in queried.values() for path in paths} - {dataset.paths[i] for i in labelled_indices}
    is_pending = np.array([path in pending for path in dataset.paths], dtype=bool)
    return max(queried, default=0) + 1, labelled_indices, np.flatnonzero((labels < 0) & ~is_pending), pending


def _pick(dataset, config, labelled_indices, pool_indices, strategy, options, class_balanced, budget, seed,
          on_progress):
    """(inputs made, the choice, the proxy's TrainingSpec or None): the proxy trained on every
    labelled image when the strategy needs one, then `proxy.choose`."""
    wanted = plan_inputs([get_strategy(strategy)], "file", class_balanced)
    spec = None
    if needs_training(wanted):
        if len(labelled_indices) == 0:
            raise ValueError(f"nothing is labelled yet, and strategy {strategy!r} needs a proxy model trained on "
                             "labelled images: import some labels, or use strategy 'random' for the first cycle")
        spec = TrainingSpec.resolve(dataset, config["model"], config["preset"], config["recipe_overrides"],
                                    seed_option=SEED_OPTION, weights=config.get("weights"))
        spec = spec.attach(on_progress=on_progress)
    made = make_inputs(dataset, labelled_indices, pool_indices, wanted, spec, seed,
                       options=ProxyOptions(**config["proxy_options"]))
    choice = choose(strategy, made, pool_indices, budget, seed=seed, class_balanced=class_balanced, options=options)
    return made, choice, spec


def _write_cycle(folder: Path, dataset, record: dict, choice, predicted: list[str], started: float) -> None:
    """The contact sheet, the cycle's record, and last its queries CSV, which commits the cycle."""
    captions = [f"{rank}: {name}" if name else str(rank) for rank, name in enumerate(predicted, 1)]
    plots.contact_sheet(dataset.images[torch.from_numpy(choice.indices)], captions, folder / record["contact_sheet"])
    record["seconds"] = time.perf_counter() - started
    runs.write_json(folder / CYCLES / f"cycle_{record['cycle']}.json", record)
    paths = [dataset.paths[i] for i in choice.indices]
    runs.write_text(folder / record["queries_csv"], _queries_csv(paths, predicted, choice.scores))


def import_labels(run_dir: str | Path, answers_path: str | Path, *, force: bool = False) -> dict:
    """Add the labels of `answers_path` (a CSV path,label, or Label Studio's JSON export) to the
    folder's labels.csv.

    An image already labelled with the same class is left as it is; with another class it is an
    error unless `force`, which overwrites it. Any problem raises a DataError naming every bad row
    (CSV line or task index), and nothing is imported.

    Returns counts: added, unchanged, overwritten, unanswered (rows without a label), and the
    file's name.
    """
    folder = Path(run_dir)
    config = _read_config(folder)
    answers_path = Path(answers_path).expanduser()
    label_files.check_file(answers_path, "answers file")
    image_paths = data.list_images(config["data"])
    if answers_path.suffix.lower() == ".json":
        answers = label_files.read_label_studio(answers_path)
        problems = label_files.PathMatcher(image_paths).match(answers, config["data"])
    elif answers_path.suffix.lower() == ".csv":
        answers = label_files.read_csv(answers_path)
        problems = label_files.match_exact(answers, set(image_paths), config["data"])
    else:
        raise data.DataError(f"answers file {answers_path}: give a .csv (path,label) or Label Studio's .json export")
    existing = _read_labels(folder, config["class_names"])
    problems += label_files.answer_problems(answers, config["class_names"], existing, force)
    if problems:
        raise data.DataError(label_files.problem_report(answers_path, problems, "nothing was imported"))

    query_of = {path: f"cycle_{cycle}" for cycle, paths in sorted(_finished_cycles(folder).items())
                for path in paths}  # the latest query that asked about each image
    counts = {"added": 0, "unchanged": 0, "overwritten": 0, "unanswered": 0}
    labels = dict(existing)
    for answer in answers:
        if not answer.label:
            counts["unanswered"] += 1
            continue
        old = labels.get(answer.path)
        if old is not None and old[0] == answer.label:
            counts["unchanged"] += 1
            continue
        counts["overwritten" if old is not None else "added"] += 1
        labels[answer.path] = (answer.label, query_of.get(answer.path, answers_path.name))
    if counts["added"] or counts["overwritten"]:
        _write_labels(folder, labels)
    record = {"file": answers_path.name, **counts}
    runs.append_jsonl(folder / IMPORTS, {**record, "path": str(answers_path.resolve()), "force": force,
                                         "time": time.strftime("%Y-%m-%dT%H:%M:%S")})
    log.info("imported %s: %s", answers_path, ", ".join(f"{v} {k}" for k, v in counts.items()))
    return record


def status(run_dir: str | Path) -> dict:
    """Where a labelling folder stands, from its files and the folder's listing (no decoding).

    Returns: classes (labelled images per class name), labelled, images (in the folder),
    unlabelled, cycles (per finished cycle: cycle, queried, answered, pending), pending (queried
    images still without a label), next_cycle (the number the next query gets).
    """
    folder = Path(run_dir)
    config = _read_config(folder)
    labels = _read_labels(folder, config["class_names"])
    image_paths = set(data.list_images(config["data"]))
    labelled = {path: label for path, (label, _) in labels.items() if path in image_paths}
    queried = _finished_cycles(folder)
    cycles = []
    for cycle, paths in sorted(queried.items()):
        answered = sum(path in labelled for path in paths)
        cycles.append({"cycle": cycle, "queried": len(paths), "answered": answered, "pending": len(paths) - answered})
    pending = {path for paths in queried.values() for path in paths if path not in labelled}
    counts = Counter(labelled.values())
    return {
        "classes": {name: counts.get(name, 0) for name in config["class_names"]},
        "labelled": len(labelled),
        "images": len(image_paths),
        "unlabelled": len(image_paths) - len(labelled),
        "cycles": cycles,
        "pending": len(pending),
        "next_cycle": max((c["cycle"] for c in cycles), default=0) + 1,
    }


# ---------------------------------------------------------------- the folder's files


def _write_labels(folder: Path, labels: dict[str, tuple[str, str]]) -> None:
    runs.write_text(folder / LABELS_CSV, label_files.labels_csv_text(labels))


def _read_labels(folder: Path, class_names: list[str]) -> dict[str, tuple[str, str]]:
    return label_files.read_labels(folder / LABELS_CSV, class_names)


def _read_config(folder: Path) -> dict:
    if not (folder / runs.CONFIG).is_file():
        raise FileNotFoundError(f"{folder} is not a labelling folder (no {runs.CONFIG}): start one with init")
    config = runs.read_json(folder / runs.CONFIG)
    if config.get("command") != COMMAND:
        raise ValueError(f"{folder} holds a run of {config.get('command')!r}, not a labelling folder")
    return config


def _finished_cycles(folder: Path) -> dict[int, list[str]]:
    """cycle number -> the paths its queries/cycle_K.csv asked about, for every finished cycle."""
    cycles = {}
    for path in (folder / QUERIES).glob("cycle_*.csv"):
        match = _CYCLE_FILE.fullmatch(path.name)
        if match:
            with open(path, newline="", encoding="utf-8") as f:
                cycles[int(match.group(1))] = [row["path"] for row in csv.DictReader(f)]
    return cycles


def _queries_csv(paths: list[str], predicted: list[str], scores: np.ndarray) -> str:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(QUERY_COLUMNS)
    for rank, (path, name, score) in enumerate(zip(paths, predicted, scores), 1):
        writer.writerow([rank, path, name, repr(float(score)) if math.isfinite(score) else "", ""])
    return text.getvalue()


def _labelled_dataset(folder: Path, config: dict) -> tuple[data.Dataset, int]:
    """The folder's images with the labels of labels.csv, and how many labels name an image the
    folder no longer has (deleted, or unreadable with skip_bad_images): those are left out."""
    dataset = data.load_unlabelled(config["data"], class_names=config["class_names"], **config["data_options"])
    labels = _read_labels(folder, config["class_names"])
    index_of_path = {path: i for i, path in enumerate(dataset.paths)}
    class_index = {name: c for c, name in enumerate(config["class_names"])}
    values = np.full(len(dataset), -1, dtype=np.int64)
    missing = [path for path in labels if path not in index_of_path]
    for path, (label, _) in labels.items():
        if path in index_of_path:
            values[index_of_path[path]] = class_index[label]
    if missing:
        log.warning("%d labelled images are not among the images of %s and are left out, e.g. %s",
                    len(missing), config["data"], missing[0])
    return dataset.with_labels(values), len(missing)


# ---------------------------------------------------------------- checks


def _check_strategy(strategy: str, options: dict, class_balanced: bool) -> None:
    chosen = get_strategy(strategy)
    check_options(strategy, options)
    if not isinstance(class_balanced, bool):
        raise ValueError(f"class_balanced must be True or False, got {class_balanced!r}")
    plan_inputs([chosen], "file", class_balanced)  # a strategy this setting cannot serve fails here


def _check_budget(budget, pool_size: int, pending_count: int) -> None:
    if isinstance(budget, bool) or not isinstance(budget, (int, np.integer)) or budget < 1:
        raise ValueError(f"budget must be an int >= 1, got {budget!r}")
    if budget > pool_size:
        raise ValueError(f"budget {budget} is larger than the pool of {pool_size} images (the unlabelled images, "
                         f"less {pending_count} still waiting for answers to earlier queries: import them first)")


def _absolute_spec(spec: str) -> str:
    """`folder:PATH` with PATH made absolute, so that later calls from another directory find it."""
    scheme, has_path, path_text = str(spec).partition(":")
    if scheme == "folder" and has_path and path_text:
        return f"folder:{Path(path_text).expanduser().resolve()}"
    return spec  # load_unlabelled names what is wrong


def _class_counts(class_names: list[str], labels: np.ndarray) -> dict[str, int]:
    return {name: int((labels == c).sum()) for c, name in enumerate(class_names)}


def _proxy_record(result, spec: TrainingSpec) -> dict:
    history = result.history
    val_epoch = result.best_epoch or (history[-1]["epoch"] if history else None)
    val_accuracy = next((r.get("val_accuracy") for r in history if r["epoch"] == val_epoch), None)
    return {
        "preset": spec.preset,
        "model": spec.model,
        "recipe": result.recipe.to_dict(),
        "trained_on": len(result.train_indices),
        "val_count": 0 if result.val_indices is None else len(result.val_indices),
        "val_accuracy": val_accuracy,
        "epochs_run": len(history),
        "history": history,
        "device": result.device,
    }
