"""winnow.stats against values worked out by hand."""

from __future__ import annotations

import math

import pytest

from winnow.stats import paired_difference, summarize


def test_summary_is_mean_and_sample_std():
    s = summarize([0.80, 0.82, 0.84])
    assert s.mean == pytest.approx(0.82) and s.std == pytest.approx(0.02) and s.n == 3
    assert s.format() == "82.00 ± 2.00"
    assert summarize([0.5]).std == 0.0
    assert summarize([]).n == 0 and summarize([]).format() == "–"


def test_paired_difference_uses_the_t_interval():
    # differences 1, 2, 3: mean 2, std 1; t(0.975, 2) = 4.302652729749464
    d = paired_difference([11.0, 12.0, 13.0], [10.0, 10.0, 10.0])
    half = 4.302652729749464 / math.sqrt(3)
    assert (d.mean, d.std, d.n) == (pytest.approx(2.0), pytest.approx(1.0), 3)
    assert d.low == pytest.approx(2 - half) and d.high == pytest.approx(2 + half)
    assert d.format(scale=1) == f"+2.00 [{2 - half:+.2f}, {2 + half:+.2f}]"
    # a 90 % interval is narrower: t(0.95, 2) = 2.919985580355516
    assert paired_difference([11, 12, 13], [10, 10, 10], confidence=0.9).high == pytest.approx(
        2 + 2.919985580355516 / math.sqrt(3))


def test_pairing_matters_when_seeds_move_both_methods():
    a, b = [0.70, 0.80, 0.90], [0.69, 0.79, 0.89]  # a is always 1 point better; unpaired stds are 10 points
    d = paired_difference(a, b)
    assert d.mean == pytest.approx(0.01) and d.std == pytest.approx(0, abs=1e-12)
    assert d.low == pytest.approx(0.01) and d.high == pytest.approx(0.01)


def test_one_pair_has_no_interval_and_bad_input_is_named():
    d = paired_difference([0.5], [0.4])
    assert d.mean == pytest.approx(0.1) and math.isnan(d.low) and d.format() == "+10.00"
    with pytest.raises(ValueError, match="same length"):
        paired_difference([1, 2], [1])
    with pytest.raises(ValueError, match="confidence"):
        paired_difference([1, 2], [1, 2], confidence=1.5)


def test_paired_by_key_pairs_the_shared_keys_only():
    from winnow.stats import paired_by_key

    d = paired_by_key({0: 11.0, 1: 12.0, 2: 13.0, 5: 99.0}, {2: 10.0, 1: 10.0, 0: 10.0, 7: 0.0})
    assert d == paired_difference([11.0, 12.0, 13.0], [10.0, 10.0, 10.0]).to_dict()
    assert paired_by_key({0: 1.0}, {1: 1.0}) is None
