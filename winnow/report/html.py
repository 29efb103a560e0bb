"""HTML pieces of the report: escaping, tables, figures, the page and its style sheet.

Everything here returns strings. Text is escaped; a `Raw` string is HTML already made safe by
one of these helpers. Images are embedded as data URIs, the style sheet is inline and there is
no script, so a page opens anywhere without a network.
"""

from __future__ import annotations

import base64
import html
from datetime import datetime

GENERATOR = "winnow report"  # in <meta name="generator">: marks a file as a report we may overwrite


class Raw(str):
    """HTML that needs no escaping."""


def esc(value) -> str:
    return value if isinstance(value, Raw) else html.escape("" if value is None else str(value))


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def figure(png: bytes, caption: str = "", alt: str = "", *, pixelated: bool = False, scale: float = 1.0) -> Raw:
    """A figure with its caption, shown at `scale` times the PNG's pixel size (plots are drawn at
    150 dpi and shown at 2/3 of it, sharp on dense screens) or narrower on a narrow screen;
    `pixelated` keeps enlarged small images crisp in the browser."""
    width, height = png_size(png)
    image = (f'<img src="{data_uri(png)}" alt="{esc(alt or caption)}" width="{round(width * scale)}" '
             f'height="{round(height * scale)}"' + (' class="pixelated"' if pixelated else "") + ">")
    text = f"<figcaption>{esc(caption)}</figcaption>" if caption else ""
    return Raw(f"<figure>{image}{text}</figure>")


def png_size(png: bytes) -> tuple[int, int]:
    """(width, height) in pixels, from the PNG header."""
    if png[:8] != b"\x89PNG\r\n\x1a\n" or png[12:16] != b"IHDR":
        raise ValueError("not a PNG image")
    return int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")


def table(header: list, rows: list[list], align: str | None = None, caption: str = "", css: str = "") -> Raw:
    """A table; `align` has one letter per column (l, r, c), default: the first column left,
    the others right (numbers line up, with tabular figures from the style sheet)."""
    width = len(header)
    align = align or "l" + "r" * (width - 1)
    classes = {"l": "", "r": ' class="num"', "c": ' class="mid"'}
    css_attribute = f' class="{esc(css)}"' if css else ""
    parts = [f'<div class="table-wrap"><table{css_attribute}>']
    if caption:
        parts.append(f"<caption>{esc(caption)}</caption>")
    parts.append("<thead><tr>" + "".join(f"<th{classes[a]}>{esc(h)}</th>" for h, a in zip(header, align))
                 + "</tr></thead><tbody>")
    for row in rows:
        parts.append("<tr>" + "".join(f"<td{classes[a]}>{esc(c)}</td>" for c, a in zip(row, align)) + "</tr>")
    parts.append("</tbody></table></div>")
    return Raw("".join(parts))


def cards(items: list[tuple[str, str]]) -> Raw:
    """Headline numbers: (value, label) pairs as a row of cards."""
    return Raw('<div class="cards">' + "".join(
        f'<div class="card"><div class="value">{esc(value)}</div><div class="label">{esc(label)}</div></div>'
        for value, label in items) + "</div>")


def facts(items: list[tuple[str, str]]) -> Raw:
    """A definition list of short facts (label, value); empty values are left out."""
    return Raw('<dl class="facts">' + "".join(f"<div><dt>{esc(k)}</dt><dd>{esc(v)}</dd></div>"
                                              for k, v in items if v not in (None, "")) + "</dl>")


def note(text: str, kind: str = "") -> Raw:
    return Raw(f'<p class="note{f" {kind}" if kind else ""}">{esc(text)}</p>')


def paragraph(text: str) -> Raw:
    return Raw(f"<p>{esc(text)}</p>")


def details(summary: str, body: str, open_: bool = False) -> Raw:
    return Raw(f"<details{' open' if open_ else ''}><summary>{esc(summary)}</summary>{body}</details>")


def pre(text: str) -> Raw:
    return Raw(f"<pre>{esc(text)}</pre>")


def columns(parts: list[str], css: str = "cols") -> Raw:
    """Side by side (wrapping on narrow screens)."""
    return Raw(f'<div class="{css}">' + "".join(f"<div>{p}</div>" for p in parts) + "</div>")


def span(text: str, css: str) -> Raw:
    return Raw(f'<span class="{css}">{esc(text)}</span>')


def link(text: str, anchor: str) -> Raw:
    return Raw(f'<a href="#{esc(anchor)}">{esc(text)}</a>')


def page(title: str, subtitle: str, body: str, footer: str) -> str:
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="{GENERATOR}">
<title>{esc(title)}</title>
<style>{STYLE}</style>
</head>
<body>
<main>
<header class="page-head"><h1>{esc(title)}</h1><p class="subtitle">{esc(subtitle)}</p></header>
{body}
<footer>{esc(footer)}</footer>
</main>
</body>
</html>
"""


def timestamp(seconds: float) -> str:
    return datetime.fromtimestamp(seconds).strftime("%Y-%m-%d %H:%M")


STYLE = """
:root { --fg: #1d2330; --muted: #5d6675; --line: #e3e6ec; --panel: #f6f7f9; --accent: #2f6fde;
  --good: #137a44; --bad: #b3261e; }
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin: 0; color: var(--fg); background: #fff;
  font: 15px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, "Noto Sans",
    "Liberation Sans", sans-serif; }
main { max-width: 1120px; margin: 0 auto; padding: 36px 28px 56px; }
h1 { font-size: 30px; line-height: 1.2; margin: 0 0 4px; letter-spacing: -0.01em; }
h2 { font-size: 22px; line-height: 1.25; margin: 0; letter-spacing: -0.005em; }
h3 { font-size: 16px; margin: 30px 0 10px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
p { margin: 8px 0; }
a { color: var(--accent); text-decoration: none; }
a:hover { text-decoration: underline; }
.subtitle { color: var(--muted); margin: 0; }
.page-head { padding-bottom: 18px; margin-bottom: 8px; border-bottom: 3px solid var(--fg); }
section.run, section.compare { margin-top: 44px; }
section.compare { background: var(--panel); border-radius: 10px; padding: 20px 24px 24px; }
section.compare h3 { border-color: #d5d9e0; }
.run-head { display: flex; flex-wrap: wrap; align-items: baseline; gap: 10px 14px;
  padding-bottom: 10px; border-bottom: 2px solid var(--line); }
.kind { display: inline-block; font-size: 12px; font-weight: 600; letter-spacing: 0.04em; text-transform: uppercase;
  padding: 2px 9px; border-radius: 999px; color: #fff; background: var(--muted); position: relative; top: -3px; }
.kind-train { background: #2f6fde; } .kind-select { background: #0f8a96; } .kind-prune { background: #d0650a; }
.kind-al { background: #7b3fb0; } .kind-clean { background: #b3261e; } .kind-al-labelling { background: #1e8a4f; }
.facts { display: flex; flex-wrap: wrap; gap: 6px 22px; margin: 10px 0 0; width: 100%; font-size: 13.5px; }
.facts div { display: flex; gap: 6px; } .facts dt { color: var(--muted); } .facts dd { margin: 0; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; margin: 16px 0 4px; }
.card { flex: 1 1 150px; max-width: 240px; border: 1px solid var(--line); border-radius: 10px; padding: 10px 14px; }
.card .value { font-size: 21px; font-weight: 650; font-variant-numeric: tabular-nums; line-height: 1.3;
  overflow-wrap: anywhere; }
.card .label { color: var(--muted); font-size: 12.5px; }
.table-wrap { overflow-x: auto; margin: 8px 0 14px; }
table { border-collapse: collapse; font-size: 13.5px; font-variant-numeric: tabular-nums; }
caption { caption-side: top; text-align: left; color: var(--muted); font-size: 13px; padding-bottom: 4px; }
th, td { padding: 5px 12px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { text-align: left; font-weight: 600; border-bottom: 2px solid #cfd4dc; white-space: nowrap; }
td.num, th.num { text-align: right; white-space: nowrap; }
td.mid, th.mid { text-align: center; }
tbody tr:hover { background: #fafbfc; }
section.compare tbody tr:hover { background: #eef0f3; }
.pos { color: var(--good); font-weight: 600; } .neg { color: var(--bad); font-weight: 600; }
.muted { color: var(--muted); }
figure { margin: 12px 0 18px; }
figure img { display: block; max-width: 100%; height: auto; border: 1px solid var(--line); border-radius: 8px;
  background: #fff; }
img.pixelated { image-rendering: pixelated; }
figcaption { color: var(--muted); font-size: 13px; margin-top: 6px; max-width: 760px; }
.cols { display: grid; grid-template-columns: repeat(auto-fit, minmax(360px, 1fr)); gap: 8px 28px;
  align-items: start; }
.note { color: var(--muted); font-size: 13.5px; border-left: 3px solid var(--line); padding: 2px 0 2px 10px; }
.note.warn { color: #7a4b00; border-color: #f0b44c; background: #fff8eb; padding: 6px 10px; }
details { margin: 26px 0 0; border: 1px solid var(--line); border-radius: 8px; padding: 8px 14px; }
details summary { cursor: pointer; font-weight: 600; font-size: 14px; }
details[open] summary { margin-bottom: 8px; }
pre { margin: 8px 0; padding: 12px 14px; background: var(--panel); border-radius: 6px; overflow: auto;
  max-height: 520px; font: 12.5px/1.45 ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace; }
nav.runs { margin-top: 22px; }
footer { margin-top: 56px; padding-top: 12px; border-top: 1px solid var(--line); color: var(--muted);
  font-size: 12.5px; }
@media print { main { max-width: none; padding: 0; } section.run { break-before: page; }
  details { border: none; padding: 0; } }
"""
