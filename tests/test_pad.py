"""Presentation-attack detection metrics (ISO/IEC 30107-3) on hand-worked cases and the notes'
golden example."""

from __future__ import annotations

import numpy as np
import pytest

from winnow.metrics import pad_metrics, pad_threshold


def test_the_notes_example_with_apcer_and_bpcer_the_right_way_round():
    """17 458 bona fide (15 636 accepted, 1 822 rejected), 40 252 attacks (2 010 accepted): the
    notes computed these swapped; ISO/IEC 30107-3 gives APCER = 2 010 / 40 252."""
    bona_fide = np.r_[np.ones(17_458, bool), np.zeros(40_252, bool)]
    scores = np.r_[np.full(15_636, 0.9), np.full(1_822, 0.1), np.full(2_010, 0.9), np.full(38_242, 0.1)]
    metrics = pad_metrics(bona_fide, scores, threshold=0.5)
    assert metrics["apcer"] == pytest.approx(0.049935, abs=5e-7)
    assert metrics["bpcer"] == pytest.approx(0.104365, abs=5e-7)
    assert metrics["acer"] == pytest.approx(0.07715, abs=5e-6)
    assert metrics["accuracy"] == pytest.approx(0.933599, abs=5e-7)
    assert (metrics["bona_fide_count"], metrics["attack_count"]) == (17_458, 40_252)


def test_several_attack_types_report_the_worst_and_each():
    bona_fide = np.array([True] * 4 + [False] * 6)
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.1, 0.7, 0.2, 0.3, 0.4, 0.95])
    types = np.array(["-"] * 4 + ["print"] * 2 + ["replay"] * 4)
    metrics = pad_metrics(bona_fide, scores, 0.65, attack_types=types)
    assert metrics["apcer_per_type"] == {"print": 0.5, "replay": 0.25}  # 0.7 of 2 prints, 0.95 of 4 replays
    assert metrics["apcer"] == 0.5 and metrics["bpcer"] == 0.25 and metrics["acer"] == 0.375
    assert metrics["accuracy"] == 0.7  # 3 bona fide accepted, 1 print and 3 replays rejected
    # APCER <= 10 % for both types needs a threshold above the 0.95 replay: every bona fide is rejected
    assert metrics["bpcer_at_apcer"]["10%"] == 1.0
    assert pad_threshold(bona_fide, scores, "apcer:0.25", attack_types=types) == 0.8  # print 0, replay 1/4


def test_the_equal_error_rate_by_hand():
    """Bona fide 0.6-0.9, attacks 0.1, 0.2, 0.3, 0.65: at 0.65 one of four of each is wrong."""
    bona_fide = np.array([True] * 4 + [False] * 4)
    scores = np.array([0.6, 0.7, 0.8, 0.9, 0.1, 0.2, 0.3, 0.65])
    metrics = pad_metrics(bona_fide, scores, 0.5)
    assert (metrics["eer"], metrics["eer_threshold"]) == (0.25, 0.65)
    assert pad_threshold(bona_fide, scores) == 0.65
    assert (metrics["apcer"], metrics["bpcer"]) == (0.25, 0.0)  # at 0.5: the 0.65 attack passes
    assert metrics["bpcer_at_apcer"] == {"1%": 0.25, "5%": 0.25, "10%": 0.25}  # above 0.65: the 0.6 is rejected


@pytest.mark.parametrize("args, message", [
    ((np.array([1, 0]), np.array([0.5, 0.1]), 0.3), "is_bona_fide must be booleans"),
    ((np.array([True, False]), np.array([0.5]), 0.3), "must be two \\(N,\\) arrays of the same N"),
    ((np.array([True, False]), np.array([0.5, np.nan]), 0.3), "bona_fide_scores\\[1\\] = nan is not finite"),
    ((np.array([True, True]), np.array([0.5, 0.1]), 0.3), "need both bona fide and attack presentations; got only "
                                                          "bona fide"),
    ((np.array([True, False]), np.array([0.5, 0.1]), 0.7), "threshold 0.7 is outside the scores' range \\[0.1, 0.5\\]"),
    ((np.array([True, False]), np.array([0.5, 0.1]), float("inf")), "threshold must be a finite number"),
])
def test_bad_input_is_a_one_line_error(args, message):
    with pytest.raises(ValueError, match=message):
        pad_metrics(*args)


@pytest.mark.parametrize("rule", ["apcer", "apcer:x", "apcer:2", "far:0.1"])
def test_a_threshold_rule_that_does_not_parse_is_named(rule):
    with pytest.raises(ValueError, match=f"threshold rule {rule!r} is not valid"):
        pad_threshold(np.array([True, False]), np.array([0.5, 0.1]), rule)
