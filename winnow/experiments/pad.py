"""Presentation-attack detection (PAD) on an ordinary labelled dataset: `winnow train
--pad-bona-fide CLASS` and `winnow evaluate RUN_DIR --pad-bona-fide CLASS`, one implementation.

One class is bona fide, every other class is an attack type (a PAI species of ISO/IEC 30107-3),
so a folder {real, print, replay} gets the whole PAD table. The bona fide score of a sample is
the model's probability of the bona fide class (the softmax of its logits, uncalibrated); a
presentation is accepted as bona fide when its score >= the threshold.

The threshold is fixed on a development split, never on the test split, and applied unchanged
to the test split:

- `eer` (default): the equal-error threshold of the development split;
- `apcer:SHARE`: the lowest threshold whose worst-type APCER there is at most SHARE;
- a number in [0, 1]: that threshold, given (no development split is needed).

The development split is the dataset's val split when it has one; otherwise a stratified part of
the train split held out under the training seed and never trained on (the recipe's val_fraction,
0.1 when it has none: the same hold-out as `train --calibrate`, saved as val_indices.npy).

final.json["pad"] holds the test metrics of `metrics.pad_metrics` with the threshold, the rule,
and the split that fixed it; pad_scores.npz the scores and labels of the test and development
splits, from which the report draws the ROC and DET curves.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import data, metrics, runs
from ..table import Column, Table
from ..train import Outputs

SCORE_RANGE = (0.0, 1.0)  # a probability
RULES_TEXT = "eer, apcer:SHARE (e.g. apcer:0.05) or a threshold in [0, 1]"
SCORE_TEXT = "the model's probability of the bona fide class"


@dataclass(frozen=True)
class PadSpec:
    """The bona fide class and the threshold rule, checked against the data's classes."""

    bona_fide: str
    class_names: tuple[str, ...]
    rule: str = "eer"  # as given: eer, apcer:SHARE or a number

    @classmethod
    def resolve(cls, bona_fide: str, rule: str | float | None, class_names, data_name: str = "the data") -> "PadSpec":
        """The spec; a one-line error naming --pad-bona-fide for a class the data does not have,
        and --pad-threshold for a rule that does not parse or a value outside [0, 1]."""
        class_names = tuple(str(c) for c in class_names)
        if len(class_names) < 2:
            raise data.DataError(f"--pad-bona-fide {bona_fide}: {data_name} has {len(class_names)} class "
                                 f"({', '.join(class_names)}); PAD needs the bona fide class and at least one attack "
                                 "class")
        if bona_fide not in class_names:
            raise ValueError(f"--pad-bona-fide {bona_fide!r} is not a class of {data_name}; its classes: "
                             f"{', '.join(class_names)}")
        rule = "eer" if rule is None else str(rule).strip()
        parse_rule(rule)
        return cls(bona_fide, class_names, rule)

    @property
    def index(self) -> int:
        return self.class_names.index(self.bona_fide)

    @property
    def attack_types(self) -> list[str]:
        return [c for c in self.class_names if c != self.bona_fide]

    @property
    def given_threshold(self) -> float | None:
        """The threshold itself when the rule is a number, else None (fixed on a development split)."""
        value = parse_rule(self.rule)
        return value if isinstance(value, float) else None

    @property
    def needs_development_split(self) -> bool:
        return self.given_threshold is None

    def to_config(self) -> dict:
        return {"bona_fide": self.bona_fide, "attack_types": self.attack_types, "threshold_rule": self.rule,
                "score": SCORE_TEXT}


def parse_rule(rule: str) -> str | float:
    """"eer", "apcer:SHARE" (checked by `metrics.pad_threshold`'s rules) or a float in [0, 1];
    a ValueError naming --pad-threshold otherwise."""
    text = str(rule).strip()
    if text == "eer":
        return text
    if text.startswith("apcer:"):
        try:
            share = float(text.partition(":")[2])
        except ValueError:
            share = math.nan
        if not 0 <= share <= 1:
            raise ValueError(f"--pad-threshold {text!r} does not parse: apcer:SHARE needs a share in [0, 1], e.g. "
                             "apcer:0.05")
        return text
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"--pad-threshold {text!r} does not parse: write {RULES_TEXT}") from None
    if not SCORE_RANGE[0] <= value <= SCORE_RANGE[1]:  # NaN fails too
        raise ValueError(f"--pad-threshold {text} is outside the score range [0, 1]: the bona fide score is "
                         f"{SCORE_TEXT}")
    return value


@dataclass(frozen=True)
class DevelopmentSplit:
    """The split that fixes the threshold: its name ("val": the dataset's own; "dev": held out of
    the train split), dataset indices and how it was made."""

    name: str
    indices: np.ndarray  # (V,) int64
    how: str

    @classmethod
    def of_training(cls, dataset: data.Dataset, hold_out: np.ndarray, val_fraction: float,
                    seed: int) -> "DevelopmentSplit":
        """The hold-out the trainer used (`TrainResult.val_indices`) described: the dataset's val
        split, or a stratified `val_fraction` of the train split under `seed`."""
        hold_out = np.asarray(hold_out, dtype=np.int64)
        if len(dataset.val_indices) and np.array_equal(np.sort(hold_out), np.sort(dataset.val_indices)):
            return cls("val", hold_out, "the dataset's val split")
        return cls("dev", hold_out, f"a stratified {val_fraction:g} of the train split held out under seed {seed}, "
                                    "never trained on")


def bona_fide_scores(outputs: Outputs, spec: PadSpec, split: str) -> np.ndarray:
    """(N,) float32 scores of `outputs`: the probability of the bona fide class. A one-line
    error when a score is not finite, or the split lacks bona fide or attack presentations."""
    scores = np.asarray(outputs.probs[:, spec.index], dtype=np.float32)
    bad = np.flatnonzero(~np.isfinite(scores))
    if len(bad):
        raise ValueError(f"--pad-bona-fide {spec.bona_fide}: {len(bad)} bona fide scores on the {split} split are "
                         f"not finite (the first: image {bad[0]} of the split, {scores[bad[0]]}); the model's "
                         "probabilities hold NaN or inf (did training diverge?)")
    check_split(spec, outputs.labels, split)
    return scores


def has_both(spec: PadSpec, labels) -> bool:
    """Whether the labels (N,) hold both bona fide and attack presentations."""
    is_bona_fide = np.asarray(labels) == spec.index
    return bool(is_bona_fide.any() and not is_bona_fide.all())


def check_split(spec: PadSpec, labels, split: str) -> None:
    """A one-line error unless the labels (N,) of `split` hold both bona fide and attack presentations."""
    if not has_both(spec, labels):
        is_bona_fide = np.asarray(labels) == spec.index
        missing = "attack presentation" if is_bona_fide.all() else f"{spec.bona_fide!r} image"
        raise data.DataError(f"--pad-bona-fide {spec.bona_fide}: the {split} split ({len(is_bona_fide)} images) "
                             f"holds no {missing}; PAD metrics need both")


def pad_evaluation(spec: PadSpec, test_outputs: Outputs, development: tuple[DevelopmentSplit, Outputs] | None
                   ) -> tuple[dict, dict]:
    """(final.json's "pad" record, the arrays of pad_scores.npz): the threshold fixed on the
    development split (or given), the test metrics at it.

    test_outputs : the model's outputs on the test split
    development : (the split, the model's outputs on it); None for a given threshold
    """
    threshold, record, arrays = fixed_threshold(spec, development)
    test_scores = bona_fide_scores(test_outputs, spec, "test")
    arrays.update(test_scores=test_scores, test_labels=test_outputs.labels.astype(np.int64))
    return {**metrics_at(spec, test_outputs.labels, test_scores, threshold), **record}, arrays


def fixed_threshold(spec: PadSpec, development: tuple[DevelopmentSplit, Outputs] | None) -> tuple[float, dict, dict]:
    """(the threshold, its record: the rule, the split that fixed it and the metrics there, the
    development scores and labels for pad_scores.npz): the threshold of `spec`'s rule on the
    development split (its outputs), or the given one (`development` None)."""
    record = {"bona_fide_class": spec.bona_fide, "attack_types": spec.attack_types, "score": SCORE_TEXT,
              "threshold_rule": spec.rule}
    if spec.given_threshold is not None:
        record.update(threshold_split=None, threshold_split_count=0, threshold_how="given by --pad-threshold")
        return spec.given_threshold, record, {}
    split, outputs = development
    scores = bona_fide_scores(outputs, spec, split.name)
    is_bona_fide, types = outputs.labels == spec.index, np.array(spec.class_names)[outputs.labels]
    threshold = metrics.pad_threshold(is_bona_fide, scores, spec.rule, types)
    at_development = metrics.pad_metrics(is_bona_fide, scores, threshold, types)
    record.update(threshold_split=split.name, threshold_split_count=int(len(scores)), threshold_how=split.how,
                  development={key: at_development[key] for key in ("apcer", "apcer_per_type", "bpcer", "acer",
                                                                       "eer", "eer_threshold")})
    return threshold, record, {"development_scores": scores, "development_labels": outputs.labels.astype(np.int64)}


def metrics_at(spec: PadSpec, labels: np.ndarray, scores: np.ndarray, threshold: float) -> dict:
    """`metrics.pad_metrics` of the presentations with class `labels` (N,) and bona fide `scores`
    (N,) at a threshold fixed elsewhere (which may lie outside these scores, or one step above 1:
    reject every presentation)."""
    return metrics.pad_metrics(labels == spec.index, scores, threshold, np.array(spec.class_names)[labels],
                               score_range=(SCORE_RANGE[0], max(SCORE_RANGE[1], threshold)))


def write_scores(run_dir: str | Path, arrays: dict) -> None:
    runs.save_arrays(Path(run_dir) / runs.PAD_SCORES, **arrays)


def read_scores(run_dir: str | Path, record: dict, class_names: list[str]) -> dict:
    """The test (and development) scores of pad_scores.npz as `metrics.pad_metrics` inputs:
    {"test": (is_bona_fide, scores, attack_types), "development": ... when saved}."""
    names = np.array(class_names)
    index = class_names.index(record["bona_fide_class"])
    with np.load(Path(run_dir) / runs.PAD_SCORES, allow_pickle=False) as saved:
        parts = {}
        for part, prefix in (("test", "test"), ("development", "development")):
            if f"{prefix}_scores" in saved:
                labels = saved[f"{prefix}_labels"]
                parts[part] = (labels == index, saved[f"{prefix}_scores"], names[labels])
    return parts


def threshold_text(record: dict) -> str:
    """Where the threshold of a "pad" record came from, in one sentence."""
    threshold = f"threshold {record['threshold']:.6g}"
    if record.get("threshold_split") is None:
        return f"{threshold}, {record.get('threshold_how', 'given')}, applied to the test split"
    return (f"{threshold} ({record['threshold_rule']}) fixed on the {record['threshold_split']} split "
            f"({record['threshold_split_count']} images: {record['threshold_how']}) and applied unchanged to the test "
            "split")


def pad_table(record: dict) -> Table:
    """The PAD table of final.json's "pad" record: APCER per attack type and the worst type's,
    BPCER, ACER, accuracy, EER and BPCER at APCER 1/5/10 % on the test split, beside the
    development split's where it fixed the threshold. Built once; rendered in the terminal and
    the report."""
    development = record.get("development") or {}
    rows = [{"measure": f"APCER {name}", "test": value, "development": development.get("apcer_per_type", {}).get(name)}
            for name, value in record["apcer_per_type"].items()]
    rows += [{"measure": label, "test": record[key], "development": development.get(key)} for key, label in (
        ("apcer", "APCER (worst attack type)"), ("bpcer", "BPCER"), ("acer", "ACER"), ("accuracy", "accuracy"),
        ("eer", "EER (from the scores alone)"))]
    rows += [{"measure": f"BPCER at APCER <= {target}", "test": value}
             for target, value in record["bpcer_at_apcer"].items()]
    columns = [Column("measure"), Column("test", "test split %", "percent")]
    if development:
        columns.append(Column("development", f"{record['threshold_split']} split %", "percent"))
    return Table(f"Presentation-attack detection, bona fide: {record['bona_fide_class']}", columns, rows,
                 notes=f"The {threshold_text(record)}. The score is {record['score']}; a presentation is accepted "
                       "as bona fide when its score >= the threshold. APCER: attacks accepted (per type; the worst "
                       "type's overall); BPCER: bona fide rejected; ACER: their mean (ISO/IEC 30107-3).")
