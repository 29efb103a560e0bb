"""`winnow ensemble`: the mean of several trained models' test probabilities.

Each member is the run folder of one trained model (`winnow train`: config.json and model.pt,
read with weights_only=True); all must have been trained on the same data with the same classes.
Each member predicts the test split with its own recipe (test-time flips included when it had
them); its probabilities are a cell of the run folder (`member-{i}`), so a repeated command
predicts nothing again. The ensemble's probabilities are the members' mean, or with
`weights="fit"` their weighted mean, the weights (on the simplex) minimising the negative
log-likelihood on the hold-out the members share (their val_indices.npy: images none of them
trained on), never on the test split.

The results: each member, the mean member (mean ± std) and the ensemble: test accuracy,
expected calibration error, NLL and Brier score; the ensemble's confusion matrix and per-class
accuracy are in final.json.

    results = ensemble_run(["runs/s0", "runs/s1", "runs/s2"], "runs/ensemble")
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch

from .. import calibration, data, metrics, runs, stats
from ..table import Column, Table
from .engine import Run, TrainingSpec, load_data, run_config
from .evaluate import trained_config, trained_model

log = logging.getLogger("winnow.experiments.ensemble")

MEMBER_KEYS = ("data", "data_options", "class_names", "dataset")  # what members must share
ENSEMBLE_PROBS = "ensemble_probs.npy"  # (N, K) float32, the ensemble's test probabilities
runs.register_run_files("ensemble", r"ensemble_probs\.npy")


def ensemble_run(run_dirs: list[str | Path], out: str | Path, *, weights: str = "mean", device: str | None = None,
                 force: bool = False, on_progress=None, on_cell=None) -> dict:
    """Average the test probabilities of the models in `run_dirs` (at least two `winnow train`
    run folders of the same data and classes), write the run folder `out`, return the results.

    weights : "mean" (equal weights) or "fit" (fitted on the members' shared hold-out)
    device : overrides each member's recipe device for predicting
    """
    if weights not in ("mean", "fit"):
        raise ValueError(f"weights must be mean or fit, got {weights!r}")
    members = _read_members(run_dirs)
    hold_out = _shared_hold_out(members) if weights == "fit" else None
    first = members[0]["config"]
    dataset, data_seconds = load_data(first["data"], first.get("data_options") or {})
    if list(dataset.class_names) != list(first["class_names"]):
        raise ValueError(f"{first['data']} now has the classes {dataset.class_names}, but the members were trained "
                         f"on {first['class_names']}")
    config = {**run_config("ensemble", first["data"], first.get("data_options"), dataset),
              "members": [str(m["path"]) for m in members],
              "member_models": [m["config"]["model"] for m in members],
              "device": device, "weights": weights}
    run = Run.open(out, config, grid=("weights",), force=force, data_seconds=data_seconds)
    labels = dataset.labels.numpy()[dataset.test_indices]
    probs, val_probs = [], []
    for i, member in enumerate(members):
        name = member_cell(i)
        if not run.cells.done(name) or (hold_out is not None and not run.cells.has_array(name, "val_probs")):
            arrays = {"probs": _predict_member(member, dataset, dataset.test_indices, device, run, on_progress)}
            if hold_out is not None:
                arrays["val_probs"] = _predict_member(member, dataset, hold_out, device, run, on_progress)
            record = {"member": i, "run_dir": str(member["path"]), "model": member["config"]["model"],
                      "seed": member["config"].get("seed"), **probability_metrics(labels, arrays["probs"])}
            run.save_cell(name, record, arrays={k: v.astype(np.float32) for k, v in arrays.items()}, on_cell=on_cell)
        probs.append(run.cells.array(name, "probs"))
        if hold_out is not None:
            val_probs.append(run.cells.array(name, "val_probs"))
    member_weights = (fit_weights(np.stack(val_probs), dataset.labels.numpy()[hold_out]) if hold_out is not None
                      else np.full(len(members), 1 / len(members)))
    ensemble_probs = np.tensordot(member_weights, np.stack(probs), axes=1)  # (N, K)
    summary = metrics.summary(labels, ensemble_probs, dataset.class_names)
    ensemble = {**probability_metrics(labels, ensemble_probs), "test_count": int(len(labels)),
                "weights": member_weights.tolist(), "hold_out_count": 0 if hold_out is None else int(len(hold_out)),
                "per_class_accuracy": summary["per_class_accuracy"], "confusion_matrix": summary["confusion_matrix"]}
    runs.save_array(run.path / ENSEMBLE_PROBS, ensemble_probs.astype(np.float32))
    results = summarize(run.path, ensemble)
    return run.finish(results, [results_table(results)], **ensemble)


def member_cell(index: int) -> str:
    return f"member-{index}"


def fit_weights(val_probs: np.ndarray, val_labels: np.ndarray) -> np.ndarray:
    """(M,) weights on the simplex (softmax of free parameters) minimising the mean negative
    log-likelihood of the weighted mean of the members' probabilities.

    val_probs : (M, V, K) the members' probabilities of the hold-out;  val_labels : (V,)
    """
    from scipy.optimize import minimize

    given = np.clip(val_probs[:, np.arange(len(val_labels)), val_labels], 1e-12, None).astype(np.float64)  # (M, V)

    def nll(z):
        w = np.exp(z - z.max())
        w /= w.sum()
        mixed = w @ given  # (V,)
        gradient_w = -(given / mixed).mean(1)  # d NLL / d w
        return -np.log(mixed).mean(), w * (gradient_w - w @ gradient_w)  # through the softmax

    z = minimize(nll, np.zeros(len(given)), jac=True, method="L-BFGS-B").x
    w = np.exp(z - z.max())
    return w / w.sum()


def _shared_hold_out(members: list[dict]) -> np.ndarray:
    """The dataset indices in every member's hold-out (val_indices.npy); an error naming the
    member without one, or when they share fewer than 20 images."""
    shared = None
    for member in members:
        path = member["path"] / runs.VAL_INDICES
        if not path.is_file():
            raise ValueError(f"weights fit needs every member's hold-out ({runs.VAL_INDICES}: train with "
                             f"--calibrate or --set val_fraction=0.1); {member['path']} has none")
        indices = np.load(path, allow_pickle=False).astype(np.int64)
        shared = indices if shared is None else np.intersect1d(shared, indices)
    if len(shared) < 20:
        raise ValueError(f"the members' hold-outs share {len(shared)} images, too few to fit weights on: give them "
                         "the same hold-out (the same seed and val_fraction, or data with a val split)")
    return np.sort(shared)


def probability_metrics(labels: np.ndarray, probs: np.ndarray) -> dict:
    """Test accuracy, ECE (15 bins), NLL and Brier score of probabilities (N, K) for labels (N,)."""
    probs = np.asarray(probs, dtype=np.float64)
    return {"test_accuracy": float((probs.argmax(1) == labels).mean()),
            "test_ece": calibration.expected_calibration_error(labels, probs),
            "test_nll": calibration.negative_log_likelihood(labels, probs),
            "test_brier": calibration.brier_score(labels, probs)}


def _read_members(run_dirs) -> list[dict]:
    """Each member's folder and config; an error unless they are at least two distinct run
    folders of one trained model each, of the same data and classes."""
    paths = [Path(p).expanduser() for p in run_dirs]
    if len(paths) < 2:
        raise ValueError(f"an ensemble needs at least two run folders, got {len(paths)}")
    if len({p.resolve() for p in paths}) != len(paths):
        raise ValueError("a run folder is given twice")
    members = [{"path": path, "config": trained_config(path, "to ensemble")} for path in paths]
    first = members[0]
    for member in members[1:]:
        for key in MEMBER_KEYS:
            a, b = first["config"].get(key), member["config"].get(key)
            if a != b and not (key == "data_options" and not a and not b):
                raise ValueError(f"the members must share data and classes: {first['path']} has {key} {a!r}, "
                                 f"{member['path']} has {b!r}")
    return members


def _predict_member(member: dict, dataset: data.Dataset, indices: np.ndarray, device: str | None, run: Run,
                    on_progress) -> np.ndarray:
    """(N, K) probabilities of `dataset[indices]` by a member, predicted with its own recipe."""
    config = member["config"]
    recipe, model = trained_model(member["path"], config, dataset, device)
    spec = TrainingSpec(config["model"], config.get("preset", ""), recipe).attach(run.timing, on_progress)
    with torch.no_grad():
        outputs = spec.predict(model, dataset, indices, recipe.seed, part="testing")
    log.info("member %s: accuracy %.4f on %d images", member["path"], outputs.accuracy, len(indices))
    return outputs.probs


def summarize(run_dir: str | Path, ensemble: dict | None = None) -> dict:
    """The results from the cells of an ensemble folder (and the ensemble's metrics, else from
    final.json): each member, the mean member and the ensemble. Reads the folder only."""
    run_dir = Path(run_dir)
    config = runs.read_json(run_dir / runs.CONFIG)
    records = runs.Cells(run_dir).records()
    members = [records[member_cell(i)] for i in range(len(config["members"])) if member_cell(i) in records]
    ensemble = ensemble if ensemble is not None else runs.read_json(run_dir / runs.FINAL)
    keys = ("test_accuracy", "test_ece", "test_nll", "test_brier")
    mean_member = {key: stats.summarize([m[key] for m in members]).to_dict() for key in keys}
    return {"config": {k: config[k] for k in ("data", "members", "member_models")},
            "members": members, "mean_member": mean_member,
            "ensemble": {key: ensemble[key] for key in keys},
            "weights": ensemble.get("weights"), "hold_out_count": ensemble.get("hold_out_count", 0),
            "gain": ensemble["test_accuracy"] - mean_member["test_accuracy"]["mean"],
            "best_member": max(m["test_accuracy"] for m in members)}


def results_table(results: dict) -> Table:
    """One row per member, the mean member (mean ± std) and the ensemble."""
    columns = [Column("name", "model"), Column("run"), Column("weight", kind="number", digits=3),
               Column("accuracy", "test accuracy %", "summary"),
               Column("ece", "ECE %", "summary"), Column("nll", "NLL", "summary", scale=1.0, digits=4),
               Column("brier", "Brier", "summary", scale=1.0, digits=4)]

    def row(name, run, values):
        return {"name": name, "run": run, "accuracy": values["test_accuracy"], "ece": values["test_ece"],
                "nll": values["test_nll"], "brier": values["test_brier"]}

    weights = results.get("weights") or [None] * len(results["members"])
    rows = [{**row(f"member {m['member']}: {m['model']}", Path(m["run_dir"]).name, m), "weight": w}
            for m, w in zip(results["members"], weights)]
    rows.append(row("mean member", None, results["mean_member"]))
    fitted = results.get("hold_out_count", 0) > 0
    rows.append(row("ensemble (weighted mean)" if fitted else "ensemble (mean probabilities)", None,
                    results["ensemble"]))
    how = (f"Weights fitted by NLL on the {results['hold_out_count']} hold-out images the members share. "
           if fitted else "")
    return Table("Ensemble: the members and the mean of their test probabilities", columns, rows, notes=(
        how + f"The ensemble is {100 * results['gain']:+.2f} points from the mean member and "
        f"{100 * (results['ensemble']['test_accuracy'] - results['best_member']):+.2f} from the best. ECE: 15 "
        "equal-width bins of the top-1 confidence. One test split: the difference has no interval."))
