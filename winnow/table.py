"""One results table, built once by a command and rendered four ways: markdown (results.md), CSV
(results.csv), a rich table (the terminal) and HTML (the report). It is stored in results.json
with `to_dict` and read back with `from_dict`, so the report re-renders it from files alone.

    table = Table("Pruning: test accuracy (%), mean ± std over seeds", [
        Column("fraction", kind="number"), Column("strategy"),
        Column("accuracy", "test accuracy %", "summary"), Column("vs_random", "vs random (95 % CI)", "difference")],
        rows=[{"fraction": 0.5, "strategy": "margin", "accuracy": summary, "vs_random": difference}])
    table.to_markdown()  # | 0.5 | margin | 85.60 ± 0.21 | +0.62 [+0.10, +1.14] |

Cells hold raw values: fractions stay fractions, a summary is a `stats.Summary` dict (or a plain
number: one value), a difference a `stats.PairedDifference` dict, None an empty cell. Columns
scale and round them for reading; the CSV keeps them as they are.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import asdict, dataclass, field

from . import stats

# kind: (default scale, default digits); digits None writes the shortest form ("0.5", "12")
KINDS = {
    "text": (1.0, None),
    "int": (1.0, 0),
    "number": (1.0, None),
    "percent": (100.0, 2),  # a fraction shown in %: 0.856 -> "85.60" (the title carries the "%")
    "seconds": (1.0, 1),
    "summary": (100.0, 2),  # {"mean", "std", "n"} -> "85.60 ± 0.21"; the mean alone when n == 1
    "difference": (100.0, 2),  # {"mean", "low", "high", ...} -> "+0.62 [+0.10, +1.14]"
}
CSV_PARTS = {"summary": ("mean", "std"), "difference": ("mean", "low", "high")}


@dataclass(frozen=True)
class Column:
    """A column: `key` in the rows, `title` shown (default: the key), `kind` (one of KINDS), and
    optionally `scale` and `digits` (default: the kind's). A `hidden` column is in the CSV and the
    dict, not in markdown, the terminal or HTML."""

    key: str
    title: str = ""
    kind: str = "text"
    scale: float | None = None
    digits: int | None = None
    hidden: bool = False

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"column {self.key!r}: unknown kind {self.kind!r}; expected one of {', '.join(KINDS)}")

    @property
    def heading(self) -> str:
        return self.title or self.key

    @property
    def numeric(self) -> bool:
        return self.kind != "text"

    def format(self, value) -> str:
        """The cell as text; "" for None, "–" for a summary or difference of no values."""
        if value is None:
            return ""
        default_scale, default_digits = KINDS[self.kind]
        scale = default_scale if self.scale is None else self.scale
        digits = default_digits if self.digits is None else self.digits
        if self.kind == "text":
            return str(value)
        if self.kind == "difference":
            return stats.PairedDifference(**value).format(scale, digits)
        if self.kind == "summary":
            if isinstance(value, dict) and value["n"] != 1:
                return stats.Summary(**value).format(scale, digits)
            value = value["mean"] if isinstance(value, dict) else value  # one value: its std says nothing
        return f"{value * scale:g}" if digits is None else f"{value * scale:.{digits}f}"

    def tone(self, value) -> str:
        """"pos" for a difference whose interval is above 0, "neg" below, else ""."""
        if self.kind != "difference" or value is None:
            return ""
        low, high = value.get("low"), value.get("high")
        if low is not None and math.isfinite(low) and low > 0:
            return "pos"
        if high is not None and math.isfinite(high) and high < 0:
            return "neg"
        return ""

    def csv_header(self) -> list[str]:
        return [f"{self.key}_{part}" for part in CSV_PARTS[self.kind]] if self.kind in CSV_PARTS else [self.key]

    def csv_values(self, value) -> list:
        if self.kind not in CSV_PARTS:
            return [value]
        if not isinstance(value, dict):  # None, or a summary of one plain number
            return [value] + [None] * (len(CSV_PARTS[self.kind]) - 1)
        return [value.get(part) for part in CSV_PARTS[self.kind]]

    def check(self, value) -> None:
        """ValueError unless `value` fits the kind (private helpers then assume it does)."""
        if value is None or self.kind == "text":
            return
        if self.kind in CSV_PARTS and isinstance(value, dict):
            try:
                (stats.Summary if self.kind == "summary" else stats.PairedDifference)(**value)
                fits = True
            except TypeError:
                fits = False
        else:  # a number; a summary may be one plain value, a difference may not
            fits = isinstance(value, (int, float)) and not isinstance(value, bool) and self.kind != "difference"
        if not fits:
            raise ValueError(f"column {self.key!r} ({self.kind}): cannot show {value!r}")


@dataclass(frozen=True)
class Table:
    """`rows` are dicts of raw values by column key; a key left out is an empty cell. `notes`
    explain the table below it (in HTML and the terminal; markdown gets the table alone)."""

    title: str
    columns: list[Column]
    rows: list[dict] = field(default_factory=list)
    notes: str = ""

    def __post_init__(self):
        keys = [c.key for c in self.columns]
        repeated = sorted({k for k in keys if keys.count(k) > 1})
        if repeated:
            raise ValueError(f"table {self.title!r}: column keys repeated: {', '.join(repeated)}")
        by_key = dict(zip(keys, self.columns))
        for number, row in enumerate(self.rows):
            unknown = [k for k in row if k not in by_key]
            if unknown:
                raise ValueError(f"table {self.title!r}, row {number}: unknown keys {', '.join(map(repr, unknown))}; "
                                 f"the columns are {', '.join(keys)}")
            for key, value in row.items():
                by_key[key].check(value)

    def shown(self, keys: list[str] | None = None) -> list[Column]:
        """The columns named by `keys`, in that order; by default those not hidden."""
        if keys is None:
            return [c for c in self.columns if not c.hidden]
        by_key = {c.key: c for c in self.columns}
        unknown = [k for k in keys if k not in by_key]
        if unknown:
            raise ValueError(f"table {self.title!r}: no columns {', '.join(map(repr, unknown))}")
        return [by_key[k] for k in keys]

    def to_markdown(self, keys: list[str] | None = None) -> str:
        """A GitHub table: text left, numbers right; "|" in a cell is escaped."""
        columns = self.shown(keys)

        def line(cells):
            return "| " + " | ".join(str(c).replace("|", "\\|").replace("\n", " ") for c in cells) + " |"

        lines = [line(c.heading for c in columns), "|" + "".join(" ---: |" if c.numeric else " --- |" for c in columns)]
        lines += [line(c.format(row.get(c.key)) for c in columns) for row in self.rows]
        return "\n".join(lines) + "\n"

    def to_csv(self, keys: list[str] | None = None) -> str:
        """Raw values, hidden columns included; a summary as KEY_mean,KEY_std, a difference as
        KEY_mean,KEY_low,KEY_high."""
        columns = self.columns if keys is None else self.shown(keys)
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow([name for c in columns for name in c.csv_header()])
        for row in self.rows:
            writer.writerow([value for c in columns for value in c.csv_values(row.get(c.key))])
        return text.getvalue()

    def to_rich(self, keys: list[str] | None = None):
        """A rich.table.Table: differences green above 0, red below."""
        from rich.table import Table as RichTable
        from rich.text import Text

        columns = self.shown(keys)
        table = RichTable(title=Text(self.title) if self.title else None,
                          caption=Text(self.notes) if self.notes else None)
        for c in columns:
            table.add_column(Text(c.heading), justify="right" if c.numeric else "left")
        styles = {"pos": "green", "neg": "red", "": ""}
        for row in self.rows:  # Text, not str: a "[" in a name is not markup
            table.add_row(*[Text(c.format(row.get(c.key)), style=styles[c.tone(row.get(c.key))]) for c in columns])
        return table

    def to_html(self, keys: list[str] | None = None) -> str:
        """The report's table (winnow.report.html): the title as its caption, differences in the
        pos/neg classes, the notes below."""
        from .report import html as h  # here, not at the top: the report imports this module

        columns = self.shown(keys)
        rows = []
        for row in self.rows:
            cells = []
            for c in columns:
                text, tone = c.format(row.get(c.key)), c.tone(row.get(c.key))
                cells.append(h.span(text, tone) if tone else text)
            rows.append(cells)
        align = "".join("r" if c.numeric else "l" for c in columns)
        return h.Raw(h.table([c.heading for c in columns], rows, align=align, caption=self.title)
                     + (h.note(self.notes) if self.notes else ""))

    def to_dict(self) -> dict:
        return {"title": self.title, "columns": [asdict(c) for c in self.columns],
                "rows": [dict(row) for row in self.rows], "notes": self.notes}

    @classmethod
    def from_dict(cls, d: dict) -> Table:
        """The table `to_dict` gave (unknown keys are errors)."""
        unknown = set(d) - {"title", "columns", "rows", "notes"}
        if unknown:
            raise ValueError(f"unknown table keys: {', '.join(sorted(unknown))}")
        return cls(d["title"], [Column(**c) for c in d["columns"]], [dict(r) for r in d.get("rows", [])],
                   d.get("notes", ""))
