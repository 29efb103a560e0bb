"""Tests of winnow.metrics: golden values worked out by hand, ties, empty classes and bad inputs."""

from __future__ import annotations

import math

import numpy as np
import pytest

from winnow import metrics

# Five samples, four classes; class 3 has no sample. Worked out by hand:
#
#   sample  label  pred_probs                 argmax        top-2 (ties: lower class id first)
#   0       0      [0.70, 0.10, 0.10, 0.10]   0  right      {0, 1}  in
#   1       1      [0.40, 0.40, 0.10, 0.10]   0  (tie 0/1)  {0, 1}  in
#   2       1      [0.10, 0.20, 0.60, 0.10]   2             {2, 1}  in
#   3       2      [0.50, 0.25, 0.25, 0.00]   0             {0, 1}  out (tie 1/2 at 2nd place)
#   4       0      [0.10, 0.10, 0.10, 0.70]   3             {3, 0}  in
#
# accuracy 1/5; top-2 4/5; top-4 5/5
# confusion (row = true, column = predicted):
#   class 0: samples 0 -> 0, 4 -> 3      [1, 0, 0, 1]
#   class 1: samples 1 -> 0, 2 -> 2      [1, 0, 1, 0]
#   class 2: sample 3 -> 0               [1, 0, 0, 0]
#   class 3: none                        [0, 0, 0, 0]
# per-class accuracy: [1/2, 0/2, 0/1, NaN]
LABELS = np.array([0, 1, 1, 2, 0])
PRED_PROBS = np.array([
    [0.70, 0.10, 0.10, 0.10],
    [0.40, 0.40, 0.10, 0.10],
    [0.10, 0.20, 0.60, 0.10],
    [0.50, 0.25, 0.25, 0.00],
    [0.10, 0.10, 0.10, 0.70],
])
CONFUSION = [
    [1, 0, 0, 1],
    [1, 0, 1, 0],
    [1, 0, 0, 0],
    [0, 0, 0, 0],
]


def test_accuracy_breaks_ties_towards_the_lower_class_id():
    assert metrics.accuracy(LABELS, PRED_PROBS) == pytest.approx(1 / 5)


# k = 3: sample 3 ranks {0, 1, 2} -> in, sample 4 ranks {3, 0, 1} -> in, so every sample is in.
@pytest.mark.parametrize("k, expected", [(1, 1 / 5), (2, 4 / 5), (3, 1.0), (4, 1.0), (10, 1.0)])
def test_top_k_accuracy_counts_ties_at_the_kth_place_against_the_sample(k, expected):
    assert metrics.top_k_accuracy(LABELS, PRED_PROBS, k) == pytest.approx(expected)


def test_confusion_matrix_rows_are_true_classes_columns_predictions():
    matrix = metrics.confusion_matrix(LABELS, PRED_PROBS)
    assert matrix.dtype.kind == "i"
    assert matrix.tolist() == CONFUSION


def test_per_class_accuracy_is_nan_for_a_class_without_samples():
    values = metrics.per_class_accuracy(LABELS, PRED_PROBS)
    assert values.shape == (4,)
    assert values[:3].tolist() == [0.5, 0.0, 0.0]
    assert math.isnan(values[3])


def test_summary_is_json_ready_and_names_classes():
    result = metrics.summary(LABELS, PRED_PROBS, ["ant", "bee", "cat", "dog"])
    assert result == {
        "accuracy": pytest.approx(0.2),
        "per_class_accuracy": {"ant": 0.5, "bee": 0.0, "cat": 0.0, "dog": None},
        "confusion_matrix": CONFUSION,
    }
    assert "top5_accuracy" not in result  # only 4 classes
    assert all(type(v) is int for row in result["confusion_matrix"] for v in row)


def test_summary_without_names_uses_class_ids_and_adds_top5_above_five_classes():
    # Six classes. Sample 0 (label 5) ranks its class last -> out of the top 5 and wrong.
    # Sample 1 (label 0) is right. Sample 2 (label 5): all six tied -> ranks 0..4 -> out, predicted 0.
    labels = np.array([5, 0, 5])
    pred_probs = np.array([
        [0.30, 0.20, 0.20, 0.15, 0.10, 0.05],
        [0.50, 0.10, 0.10, 0.10, 0.10, 0.10],
        [1 / 6] * 6,
    ])
    result = metrics.summary(labels, pred_probs)
    assert result["accuracy"] == pytest.approx(1 / 3)
    assert result["top5_accuracy"] == pytest.approx(1 / 3)
    assert result["per_class_accuracy"] == {"0": 1.0, "1": None, "2": None, "3": None, "4": None, "5": 0.0}
    assert result["confusion_matrix"][5] == [2, 0, 0, 0, 0, 0]
    assert result["confusion_matrix"][0] == [1, 0, 0, 0, 0, 0]
    assert sum(map(sum, result["confusion_matrix"])) == 3


def test_plain_lists_and_other_integer_dtypes_are_accepted():
    as_lists = metrics.confusion_matrix(LABELS.tolist(), PRED_PROBS.tolist())
    as_uint8 = metrics.confusion_matrix(LABELS.astype(np.uint8), PRED_PROBS.astype(np.float32))
    assert as_lists.tolist() == CONFUSION
    assert as_uint8.tolist() == CONFUSION


def test_empty_input_gives_nan_accuracy_and_an_all_zero_matrix():
    labels, pred_probs = np.zeros(0, dtype=np.int64), np.zeros((0, 3))
    assert math.isnan(metrics.accuracy(labels, pred_probs))
    assert math.isnan(metrics.top_k_accuracy(labels, pred_probs, 2))
    assert metrics.confusion_matrix(labels, pred_probs).tolist() == [[0] * 3] * 3


ALL_METRICS = [metrics.accuracy, metrics.top_k_accuracy, metrics.confusion_matrix, metrics.per_class_accuracy,
               metrics.summary]


@pytest.mark.parametrize("function", ALL_METRICS, ids=lambda f: f.__name__)
@pytest.mark.parametrize(
    "labels, pred_probs, message",
    [
        ([0, 1, 2], np.full((4, 3), 1 / 3), r"labels has shape \(3,\), expected \(4,\)"),
        ([[0], [1]], np.full((2, 3), 1 / 3), r"labels has shape \(2, 1\)"),
        ([0, 1], np.full(2, 0.5), r"pred_probs must have shape \(N, K\)"),
        ([0, 3, 1], np.full((3, 3), 1 / 3), r"label 3 at index 1 is outside \[0, 3\)"),
        ([0, 1, -1], np.full((3, 3), 1 / 3), r"label -1 at index 2"),
        ([0.0, 1.0], np.full((2, 3), 1 / 3), r"labels must be integers"),
        ([True, False], np.full((2, 3), 1 / 3), r"labels must be integers"),
    ],
    ids=["length", "2-d labels", "1-d probs", "too large", "negative", "float labels", "bool labels"],
)
def test_bad_inputs_are_value_errors_naming_the_problem(function, labels, pred_probs, message):
    with pytest.raises(ValueError, match=message):
        function(labels, pred_probs)


@pytest.mark.parametrize("k", [0, -1])
def test_top_k_needs_a_positive_k(k):
    with pytest.raises(ValueError, match="k must be >= 1"):
        metrics.top_k_accuracy(LABELS, PRED_PROBS, k)


@pytest.mark.parametrize("class_names", [["ant", "bee"], ["ant", "bee", "cat", "dog", "eel"]], ids=["few", "many"])
def test_summary_refuses_class_names_of_the_wrong_length(class_names):
    with pytest.raises(ValueError, match="class_names"):
        metrics.summary(LABELS, PRED_PROBS, class_names)
