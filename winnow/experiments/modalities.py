"""Missing-modality evaluation: how a model trained on several modalities does when some are gone.

For a model that sees M >= 2 modalities (rgb, depth, ir...), the test split is predicted once
for every non-empty subset of them, the others zeroed (`data.dataset.zero_modalities`: a missing
sensor, as in the earlier experiments, and what modality dropout trains for). Each row holds the
accuracy and, when the data has a bona fide class (the class named `bona_fide`, as
`synthetic-pad` has, or the one `--pad-bona-fide` names) and attack classes, the
presentation-attack metrics of ISO/IEC 30107-3 (`metrics.pad_metrics`: APCER of the worst attack
type, BPCER, ACER, and the threshold-free EER), with the bona fide score the model's probability
of the bona fide class.

The decision threshold is `experiments.pad`'s, the same code as `winnow train --pad-bona-fide`
and `winnow evaluate`: fixed once by the rule of `--pad-threshold` (eer by default, apcer:SHARE, or
a number) on the development split with every modality present (the dataset's val split, or the
recipe's hold-out of the train split), and applied unchanged to every row: the operating point a
system is deployed with, before a sensor fails. It is never tuned on the test split. Without a
development split (neither a val split nor a hold-out) and no given threshold, the rows have
accuracy and EER only, and say why.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
import torch

from .. import data
from ..data.dataset import zero_modalities
from ..table import Column, Table
from . import pad

BONA_FIDE_CLASS = "bona_fide"  # the bona fide class of synthetic-pad, found by name


def modality_subsets(names) -> list[tuple[str, ...]]:
    """Every non-empty subset of `names`, the largest first, each in the order of `names`."""
    names = list(names)
    return [subset for size in range(len(names), 0, -1) for subset in combinations(names, size)]


def default_pad_spec(class_names) -> pad.PadSpec | None:
    """The PAD spec of data with a class named `bona_fide` (as synthetic-pad has): that class bona
    fide, the EER threshold; None for other data."""
    return pad.PadSpec.resolve(BONA_FIDE_CLASS, "eer", class_names) if BONA_FIDE_CLASS in class_names else None


def development_split(dataset: data.Dataset, hold_out: np.ndarray | None, val_fraction: float,
                      seed: int) -> pad.DevelopmentSplit | None:
    """The split that fixes the threshold: the training's hold-out (`TrainResult.val_indices`,
    which is the dataset's val split when it has one), else the dataset's val split; None when
    there is neither."""
    if hold_out is not None and len(hold_out):
        return pad.DevelopmentSplit.of_training(dataset, hold_out, val_fraction, seed)
    if len(dataset.val_indices):
        return pad.DevelopmentSplit("val", dataset.val_indices, "the dataset's val split")
    return None


def missing_modality_evaluation(spec, model: torch.nn.Module, dataset: data.Dataset, seed: int,
                                val_indices: np.ndarray | None = None,
                                pad_spec: pad.PadSpec | None = None) -> dict | None:
    """The missing-modality table of a trained model (see the module docstring); None when the
    model sees fewer than two modalities.

    spec : the run's `engine.TrainingSpec` (its recipe predicts; its modalities are the model's)
    val_indices : the development split that fixes the PAD threshold (the recipe's hold-out);
        default the dataset's val split
    pad_spec : the bona fide class and the threshold rule (`experiments.pad.PadSpec`); default
        `default_pad_spec` (the class named bona_fide, the EER threshold) when the data has one
    Returns {"modalities": the model's, "rows": [{"present": [...], "missing": [...], "accuracy",
    and apcer, apcer_per_type, bpcer, acer, eer when PAD applies}], "pad": the threshold's record
    (`pad.fixed_threshold`: bona_fide_class, threshold, threshold_rule, threshold_split,
    threshold_split_count, threshold_how, development, and threshold_modalities) or None, "note"}.
    """
    view = spec.view(dataset)
    names = list(view.modalities or {})
    if len(names) < 2:
        return None
    pad_spec = pad_spec if pad_spec is not None else default_pad_spec(view.class_names)
    threshold, record, note = None, None, None
    if pad_spec is not None:
        threshold, record, note = _threshold(spec, model, view, seed, names, pad_spec, val_indices)
    rows = []
    for present in modality_subsets(names):
        outputs = _predicted(spec, model, view, view.test_indices, present, seed)
        row = {"present": list(present), "missing": [n for n in names if n not in present],
               "accuracy": outputs.accuracy}
        if pad_spec is not None and pad.has_both(pad_spec, outputs.labels):
            scores = pad.bona_fide_scores(outputs, pad_spec, "test")
            # without a threshold only the threshold-free EER is kept (0.5: any threshold gives the same EER)
            found = pad.metrics_at(pad_spec, outputs.labels, scores, 0.5 if threshold is None else threshold)
            row["eer"] = found["eer"]
            if threshold is not None:
                row.update({key: found[key] for key in ("apcer", "apcer_per_type", "bpcer", "acer")})
        rows.append(row)
    return {"modalities": names, "rows": rows, "pad": record, "note": note}


def _threshold(spec, model, view: data.Dataset, seed: int, names: list[str], pad_spec: pad.PadSpec,
               val_indices: np.ndarray | None) -> tuple[float | None, dict | None, str | None]:
    """(the threshold, its record, None), fixed by `pad.fixed_threshold` with every modality
    present; (None, None, why) when there is no development split to fix it on."""
    development = None
    if pad_spec.needs_development_split:
        split = development_split(view, val_indices, spec.recipe.val_fraction, seed)
        if split is None:
            return None, None, ("no validation split to fix the PAD threshold on (the data has no val split and "
                                "the recipe no val_fraction): accuracy and EER only")
        outputs = _predicted(spec, model, view, split.indices, names, seed)
        if not pad.has_both(pad_spec, outputs.labels):
            return None, None, f"the {split.name} split lacks bona fide or attack samples: accuracy and EER only"
        development = (split, outputs)
    threshold, record, _ = pad.fixed_threshold(pad_spec, development)
    return threshold, {**record, "threshold": float(threshold), "threshold_modalities": names}, None


def pad_at_val_threshold(spec, model: torch.nn.Module, dataset: data.Dataset, seed: int,
                         pad_spec: pad.PadSpec | None = None) -> dict | None:
    """The test split's APCER (worst type), BPCER, ACER and EER of `model` on its modalities, at
    the threshold `pad_spec` fixes on the dataset's val split (`pad.pad_evaluation`; never tuned
    on test), with the val split's own metrics under "development"; None when the data has no
    bona fide class (`pad_spec`, default `default_pad_spec`), no val or test split, or a split
    without both bona fide and attack samples."""
    view = spec.view(dataset)
    pad_spec = pad_spec if pad_spec is not None else default_pad_spec(view.class_names)
    if pad_spec is None or not len(view.val_indices) or not len(view.test_indices):
        return None
    found = {split: spec.predict(model, view, view.splits[split], seed, part="testing") for split in ("val", "test")}
    if not all(pad.has_both(pad_spec, outputs.labels) for outputs in found.values()):
        return None
    development = (pad.DevelopmentSplit("val", view.val_indices, "the dataset's val split"), found["val"])
    record, _ = pad.pad_evaluation(pad_spec, found["test"], development if pad_spec.needs_development_split else None)
    return record


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
        if pad.get("threshold_split") is None:
            where = "given"
        else:
            split = "val split" if pad["threshold_split"] == "val" else "development hold-out of the train split"
            where = f"fixed on the {split} with every modality ({pad.get('threshold_rule', 'eer')} there)"
        title += f": bona fide = {pad['bona_fide_class']}, threshold {pad['threshold']:.4g} {where}"
    return Table(title, columns, rows=rows)
