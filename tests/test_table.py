"""winnow.table: one table, rendered as markdown, CSV, rich and HTML, against strings written by hand."""

from __future__ import annotations

import json
import math

import pytest
from rich.console import Console

from winnow.table import Column, Table


def _difference(mean, low, high, n=3):
    return {"mean": mean, "std": 0.01, "low": low, "high": high, "n": n, "confidence": 0.95}


def _table() -> Table:
    columns = [Column("fraction", kind="number"), Column("strategy"), Column("kept", kind="int"),
               Column("accuracy", "test accuracy %", "summary"),
               Column("vs_random", "vs random (95 % CI)", "difference"), Column("share", "share %", "percent"),
               Column("train_seconds", "training s", "seconds"),
               Column("records_seconds", kind="seconds", hidden=True)]
    rows = [
        {"fraction": 0.5, "strategy": "margin", "kept": 600, "accuracy": {"mean": 0.856, "std": 0.0021, "n": 3},
         "vs_random": _difference(0.0062, 0.0010, 0.0114), "share": 0.25, "train_seconds": 12.34,
         "records_seconds": 0.5},
        {"fraction": 0.5, "strategy": "entropy", "kept": 600, "accuracy": {"mean": 0.84, "std": 0.01, "n": 3},
         "vs_random": _difference(-0.01, -0.015, -0.005), "share": 0.1, "train_seconds": 11.0},
        {"fraction": 0.5, "strategy": "coreset", "accuracy": {"mean": 0.852, "std": 0.004, "n": 3},  # no "kept"
         "vs_random": _difference(0.002, -0.003, 0.007), "share": 0.125, "train_seconds": 10.0},
        {"fraction": 1.0, "strategy": "full", "kept": 1200, "accuracy": {"mean": 0.87, "std": 0.0, "n": 1},
         "vs_random": None, "share": None, "train_seconds": None},
    ]
    return Table("Pruning <test>", columns, rows, notes="Differences in points; < 0 is worse than random.")


MARKDOWN = """\
| fraction | strategy | kept | test accuracy % | vs random (95 % CI) | share % | training s |
| ---: | --- | ---: | ---: | ---: | ---: | ---: |
| 0.5 | margin | 600 | 85.60 ± 0.21 | +0.62 [+0.10, +1.14] | 25.00 | 12.3 |
| 0.5 | entropy | 600 | 84.00 ± 1.00 | -1.00 [-1.50, -0.50] | 10.00 | 11.0 |
| 0.5 | coreset |  | 85.20 ± 0.40 | +0.20 [-0.30, +0.70] | 12.50 | 10.0 |
| 1 | full | 1200 | 87.00 |  |  |  |
"""

CSV = """\
fraction,strategy,kept,accuracy_mean,accuracy_std,vs_random_mean,vs_random_low,vs_random_high,share,train_seconds,\
records_seconds
0.5,margin,600,0.856,0.0021,0.0062,0.001,0.0114,0.25,12.34,0.5
0.5,entropy,600,0.84,0.01,-0.01,-0.015,-0.005,0.1,11.0,
0.5,coreset,,0.852,0.004,0.002,-0.003,0.007,0.125,10.0,
1.0,full,1200,0.87,0.0,,,,,,
"""


def test_markdown_right_aligns_numbers_and_shows_one_value_alone():
    assert _table().to_markdown() == MARKDOWN


def test_csv_keeps_raw_values_and_splits_summaries_and_differences():
    assert _table().to_csv() == CSV


def test_a_subset_of_columns_in_a_chosen_order():
    table = _table()
    assert table.to_markdown(["strategy", "accuracy"]).splitlines()[:3] == [
        "| strategy | test accuracy % |", "| --- | ---: |", "| margin | 85.60 ± 0.21 |"]
    assert table.to_csv(["records_seconds", "strategy"]).splitlines()[:2] == ["records_seconds,strategy", "0.5,margin"]
    with pytest.raises(ValueError, match="'nope'"):
        table.to_markdown(["strategy", "nope"])


def test_html_colours_differences_and_escapes_text():
    html = _table().to_html()
    assert "<caption>Pruning &lt;test&gt;</caption>" in html
    assert '<th>strategy</th><th class="num">kept</th><th class="num">test accuracy %</th>' in html
    assert "records_seconds" not in html
    assert ('<td class="num">0.5</td><td>margin</td><td class="num">600</td><td class="num">85.60 ± 0.21</td>'
            '<td class="num"><span class="pos">+0.62 [+0.10, +1.14]</span></td>') in html
    assert '<td class="num"><span class="neg">-1.00 [-1.50, -0.50]</span></td>' in html
    assert '<td class="num">+0.20 [-0.30, +0.70]</td>' in html  # the interval spans 0: no colour
    assert ('<td class="num">1</td><td>full</td><td class="num">1200</td><td class="num">87.00</td>'
            '<td class="num"></td><td class="num"></td><td class="num"></td></tr>') in html
    assert html.endswith('<p class="note">Differences in points; &lt; 0 is worse than random.</p>')


def test_rich_table_renders_the_same_cells_with_colours():
    rich_table = _table().to_rich()
    console = Console(record=True, width=160)
    console.print(rich_table)
    text = console.export_text()
    assert "Pruning <test>" in text and "Differences in points" in text
    for cell in ("85.60 ± 0.21", "+0.62 [+0.10, +1.14]", "-1.00 [-1.50, -0.50]", "+0.20 [-0.30, +0.70]", "87.00",
                 "12.50", "12.3", "coreset"):
        assert cell in text
    assert "records_seconds" not in text
    differences = [(str(cell), cell.style) for cell in rich_table.columns[4].cells]
    assert differences == [("+0.62 [+0.10, +1.14]", "green"), ("-1.00 [-1.50, -0.50]", "red"),
                           ("+0.20 [-0.30, +0.70]", ""), ("", "")]


def test_dict_round_trip_through_json_renders_identically():
    table = _table()
    again = Table.from_dict(json.loads(json.dumps(table.to_dict())))
    assert again == table
    assert again.to_markdown() == MARKDOWN and again.to_csv() == CSV and again.to_html() == table.to_html()
    with pytest.raises(ValueError, match="colour"):
        Table.from_dict({**table.to_dict(), "colour": "red"})


def test_edge_cells():
    columns = [Column("name"), Column("value", kind="summary", scale=1.0, digits=1), Column("vs", kind="difference")]
    table = Table("", columns, [
        {"name": "a|b", "value": 12, "vs": _difference(0.01, math.nan, math.nan, n=1)},  # one pair: no interval
        {"name": "none", "value": {"mean": math.nan, "std": math.nan, "n": 0}},
    ])
    assert table.to_markdown().splitlines()[2:] == ["| a\\|b | 12.0 | +1.00 |", "| none | – |  |"]
    assert table.to_csv().splitlines()[1:] == ["a|b,12,,0.01,nan,nan", "none,nan,nan,,,"]
    assert "<td>a|b</td><td class=\"num\">12.0</td><td class=\"num\">+1.00</td>" in table.to_html()


@pytest.mark.parametrize("make, message", [
    (lambda: Column("x", kind="fraction"), "unknown kind 'fraction'"),
    (lambda: Table("t", [Column("x")], [{"x": 1, "y": 2}]), "unknown keys 'y'"),
    (lambda: Table("t", [Column("x"), Column("x")]), "repeated: x"),
    (lambda: Table("t", [Column("x", kind="summary")], [{"x": {"mean": 0.5}}]), "column 'x' \\(summary\\)"),
    (lambda: Table("t", [Column("x", kind="difference")], [{"x": 0.5}]), "column 'x' \\(difference\\)"),
    (lambda: Table("t", [Column("x", kind="int")], [{"x": "7"}]), "column 'x' \\(int\\)"),
])
def test_inputs_are_checked_once(make, message):
    with pytest.raises(ValueError, match=message):
        make()
