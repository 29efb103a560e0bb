"""Missing-modality evaluation: how a model trained on several modalities does when some are gone.

For a model that sees M >= 2 modalities (rgb, depth, ir...), the test split is predicted once
for every non-empty subset of them, the others zeroed (`data.dataset.zero_modalities`: a missing
sensor, as in the earlier experiments, and what modality dropout trains for). Each row holds the
accuracy and, when the data has a bona fide class (the class named `bona_fide`, as
`synthetic-pad` has, or the one `--pad-bona-fide` names) and attack classes, the
presentation-attack metrics of ISO/IEC 30107-3 (`metrics.pad_metrics`: APCER of the worst attack
type, BPCER, ACER, and the threshold-free EER), with the bona fide score the model's probability
of the bona fide class.

The decision threshold is fixed once, on the validation split with every modality present (the
EER threshold there), and applied unchanged to every row: the operating point a system is
deployed with, before a sensor fails. It is never tuned on the test split. Without a validation
split (neither the dataset's val split nor a recipe hold-out) the rows have accuracy and EER only,
and say why.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
import torch

from .. import data, metrics
from ..data.dataset import zero_modalities
from ..table import Column, Table

BONA_FIDE_CLASS = "bona_fide"  # the bona fide class of synthetic-pad, found by name


def modality_subsets(names) -> list[tuple[str, ...]]:
    """Every non-empty subset of `names`, the largest first, each in the order of `names`."""
    names = list(names)
    return [subset for size in range(len(names), 0, -1) for subset in combinations(names, size)]


def missing_modality_evaluation(spec, model: torch.nn.Module, dataset: data.Dataset, seed: int,
                                val_indices: np.ndarray | None = None, bona_fide: str | None = None) -> dict | None:
    """The missing-modality table of a trained model (see the module docstring); None when the
    model sees fewer than two modalities.

    spec : the run's `engine.TrainingSpec` (its recipe predicts; its modalities are the model's)
    val_indices : the validation split that fixes the PAD threshold (the recipe's hold-out); default
        the dataset's val split
    bona_fide : the bona fide class; default the class named bona_fide when the data has one
    Returns {"modalities": the model's, "rows": [{"present": [...], "missing": [...], "accuracy",
    and apcer, apcer_per_type, bpcer, acer, eer when PAD applies}], "pad": {"bona_fide_class",
    "threshold", "threshold_rule", "threshold_split", "threshold_split_count"} or None, "note"}.
    """
    view = spec.view(dataset)
    names = list(view.modalities or {})
    if len(names) < 2:
        return None
    bona_fide = bona_fide if bona_fide is not None else (BONA_FIDE_CLASS if BONA_FIDE_CLASS in view.class_names
                                                         else None)
    if bona_fide is not None and bona_fide not in view.class_names:
        raise ValueError(f"bona fide class {bona_fide!r} is not a class of the data; its classes: "
                         f"{', '.join(view.class_names)}")
    if val_indices is None or not len(val_indices):
        val_indices = view.val_indices
    # "val": the data's own val split; "dev": a hold-out of the training split (the recipe's val_fraction)
    split = "val" if np.array_equal(np.sort(val_indices), np.sort(view.val_indices)) else "dev"
    test_indices = view.test_indices
    pad, note = None, None
    if bona_fide is not None:
        index = view.class_names.index(bona_fide)
        if not len(val_indices):
            note = ("no validation split to fix the PAD threshold on (the data has no val split and the recipe no "
                    "val_fraction): accuracy and EER only")
        else:
            val = _predicted(spec, model, view, val_indices, names, seed)
            is_bona_fide, types = _pad_labels(val.labels, index, view.class_names)
            if is_bona_fide.all() or not is_bona_fide.any():
                note = "the validation split lacks bona fide or attack samples: accuracy and EER only"
            else:
                threshold = metrics.pad_threshold(is_bona_fide, val.probs[:, index], "eer", types)
                pad = {"bona_fide_class": bona_fide, "threshold": float(threshold), "threshold_rule": "eer",
                       "threshold_split": split, "threshold_split_count": int(len(val_indices)),
                       "threshold_modalities": names}
    rows = []
    for present in modality_subsets(names):
        outputs = _predicted(spec, model, view, test_indices, present, seed)
        row = {"present": list(present), "missing": [n for n in names if n not in present],
               "accuracy": outputs.accuracy}
        if bona_fide is not None:
            index = view.class_names.index(bona_fide)
            is_bona_fide, types = _pad_labels(outputs.labels, index, view.class_names)
            if is_bona_fide.any() and not is_bona_fide.all():
                threshold = pad["threshold"] if pad else 0.5  # without one, only the threshold-free EER is kept
                found = metrics.pad_metrics(is_bona_fide, outputs.probs[:, index], threshold, types,
                                            score_range=(0.0, 1.0))  # a probability; fixed on val, may lie outside
                row["eer"] = found["eer"]
                if pad:
                    row.update({key: found[key] for key in ("apcer", "apcer_per_type", "bpcer", "acer")})
        rows.append(row)
    return {"modalities": names, "rows": rows, "pad": pad, "note": note}


def pad_at_val_threshold(spec, model: torch.nn.Module, dataset: data.Dataset, seed: int,
                         bona_fide: str | None = None) -> dict | None:
    """The test split's APCER (worst type), BPCER, ACER and EER of `model` on its modalities, at
    the EER threshold of the dataset's val split (never tuned on test); None when the data has no
    bona fide class (`bona_fide`, default the class named bona_fide), no val split, or a split
    without both bona fide and attack samples."""
    view = spec.view(dataset)
    bona_fide = bona_fide if bona_fide is not None else (BONA_FIDE_CLASS if BONA_FIDE_CLASS in view.class_names
                                                         else None)
    if bona_fide is None or not len(view.val_indices) or not len(view.test_indices):
        return None
    index = view.class_names.index(bona_fide)
    found = {}
    for split in ("val", "test"):
        outputs = spec.predict(model, view, view.splits[split], seed, part="testing")
        is_bona_fide, types = _pad_labels(outputs.labels, index, view.class_names)
        if is_bona_fide.all() or not is_bona_fide.any():
            return None
        found[split] = (is_bona_fide, outputs.probs[:, index], types)
    threshold = metrics.pad_threshold(*found["val"][:2], "eer", found["val"][2])
    test = metrics.pad_metrics(*found["test"][:2], threshold, found["test"][2], score_range=(0.0, 1.0))
    return {**{key: test[key] for key in ("apcer", "apcer_per_type", "bpcer", "acer", "eer")},
            "threshold": float(threshold), "threshold_split": "val", "bona_fide_class": bona_fide}


def _pad_labels(labels: np.ndarray, index: int, class_names: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(is bona fide (N,) bool, attack type names (N,)) of class labels."""
    return labels == index, np.asarray(class_names, dtype=object)[labels].astype(str)


def _predicted(spec, model, view: data.Dataset, indices: np.ndarray, present, seed: int):
    """The outputs of `model` on `view[indices]` with the modalities not in `present` zeroed."""
    selected = torch.from_numpy(np.asarray(indices, dtype=np.int64))
    part = data.Dataset(images=zero_modalities(view.images[selected], view.modalities, present),
                        labels=view.labels[selected], class_names=view.class_names,
                        splits={"test": np.arange(len(selected))}, source=view.source, modalities=view.modalities)
    return spec.predict(model, part, np.arange(len(selected)), seed, part="testing")


def missing_modality_table(evaluation: dict) -> Table:
    """The rows of `missing_modality_evaluation` as a table: present and missing modalities,
    accuracy, and APCER, BPCER, ACER and EER (%) when PAD applies."""
    pad = evaluation.get("pad")
    has_eer = any("eer" in row for row in evaluation["rows"])
    columns = [Column("present", "modalities present"), Column("missing"),
               Column("accuracy", "accuracy %", "percent")]
    if pad:
        columns += [Column("apcer", "APCER %", "percent"), Column("bpcer", "BPCER %", "percent"),
                    Column("acer", "ACER %", "percent")]
    if has_eer:
        columns.append(Column("eer", "EER %", "percent"))
    keys = [column.key for column in columns]
    rows = [{**{key: row.get(key) for key in keys}, "present": "+".join(row["present"]),
             "missing": "+".join(row["missing"]) or "-"} for row in evaluation["rows"]]
    title = "Missing modalities (zeroed) on the test split"
    if pad:
        where = "val split" if pad.get("threshold_split", "val") == "val" else "development hold-out of the train split"
        title += (f": bona fide = {pad['bona_fide_class']}, threshold {pad['threshold']:.4g} fixed on the {where} "
                  "with every modality (EER there)")
    return Table(title, columns, rows=rows)
