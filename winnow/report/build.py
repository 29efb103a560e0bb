"""The report's frame: run folders in, one HTML page out, built from the kinds registered in
`registry.py` (one per command, by the "command" field of config.json)."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Callable

from .. import __version__, runs
from . import html as h
from .registry import discover_kinds
from .registry import (ATTACHMENTS, KINDS, OPEN_ENDED, Block, Context, NotARunFolderError, Run, format_value,
                       wall_time)

log = logging.getLogger("winnow.report")

discover_kinds()


def read_run_folder(path: str | os.PathLike) -> Run:
    """A run folder as a `Run`; a NotARunFolderError names a path that is not one."""
    path = Path(path)
    if not path.exists():
        raise NotARunFolderError(f"{path} does not exist")
    if not path.is_dir():
        raise NotARunFolderError(f"{path} is not a folder; give the run folder a command wrote (--out)")
    if not (path / runs.CONFIG).is_file():
        raise NotARunFolderError(f"{path} is not a Winnow run folder: it has no {runs.CONFIG}")
    try:
        config = runs.read_json(path / runs.CONFIG)
        final = runs.read_json(path / runs.FINAL) if (path / runs.FINAL).is_file() else None
        metrics = runs.read_jsonl(path / runs.METRICS)
    except (json.JSONDecodeError, ValueError) as error:
        raise NotARunFolderError(f"{path}: a run file is not valid JSON ({error})") from None
    if not isinstance(config, dict) or "command" not in config:
        raise NotARunFolderError(f"{path / runs.CONFIG} has no \"command\" field: it is not a Winnow run's config")
    return Run(path=path, config=config, final=final, metrics=metrics)


def render_report(run_dirs, *, images: bool = True, save_figures: bool = True) -> str:
    """The HTML of the report on `run_dirs` (see `write_report`)."""
    paths = list(dict.fromkeys(Path(p).resolve() for p in ([run_dirs] if isinstance(run_dirs, (str, os.PathLike))
                                                            else run_dirs)))
    if not paths:
        raise ValueError("give at least one run folder")
    folders = [read_run_folder(p) for p in paths]
    _name(folders)
    context = Context(save_figures=save_figures, images=images)

    body = []
    if len(folders) > 1:
        body.append(_overview(folders))
    by_kind: dict[str, list[Run]] = {}
    for run in folders:
        by_kind.setdefault(run.kind, []).append(run)
    compared: dict[str, list[Run]] = {}  # a kind's runs join another kind's comparison when it says so
    for run in folders:
        compared.setdefault(getattr(KINDS.get(run.kind), "compare_with", None) or run.kind, []).append(run)
    for kind, group in compared.items():
        if len(group) > 1:
            body.append(_comparison(kind, group, context))
    body += [_run_section(run, context) for run in folders]

    kinds_text = ", ".join(f"{len(g)} {KINDS[k].title if k in KINDS else k}{'s' if len(g) > 1 else ''}"
                           for k, g in by_kind.items())
    title = f"Winnow report: {folders[0].name}" if len(folders) == 1 else "Winnow report"
    subtitle = f"{kinds_text} · made {h.timestamp(_now())} with winnow {__version__}"
    footer = ("Made from the run folders alone by `winnow report`. Self-contained: the figures are embedded and "
              "the page needs no network." + (" The run folders keep the figures as PNG files too." if save_figures
                                              else ""))
    return h.page(title, subtitle, "\n".join(body), footer)


def write_report(run_dirs, out_html: str | os.PathLike, *, images: bool = True, save_figures: bool = True) -> Path:
    """Write one self-contained HTML report on the run folders `run_dirs` to `out_html`, and
    return its path.

    run_dirs : a run folder, or several (runs of the same kind are also compared side by side)
    images : load the runs' data to show the images they chose (selection, active learning);
        without it, or when the data cannot be loaded, the tables are shown instead
    save_figures : also write each run's figures as PNG files into its folder (atomically)

    An existing `out_html` is replaced only when it is a Winnow report; anything else there is
    refused (runs.RunExistsError), so no file of the user's is overwritten.
    """
    out_html = Path(out_html)
    if out_html.exists() and not is_report(out_html):
        raise runs.RunExistsError(f"{out_html} exists and is not a Winnow report; choose another --out")
    text = render_report(run_dirs, images=images, save_figures=save_figures)
    runs.write_text(out_html, text)
    return out_html


def is_report(path: Path) -> bool:
    """Whether `path` is a file this module wrote (its head names the generator)."""
    try:
        with open(path, "rb") as f:
            head = f.read(1024)
    except OSError:
        return False
    return path.is_file() and f'<meta name="generator" content="{h.GENERATOR}">'.encode() in head


def _now() -> float:
    import time

    return time.time()


def _name(folders: list[Run]) -> None:
    """Short unique names (the folder name, with its parent where two are alike) and anchors."""
    names = [run.path.name for run in folders]
    for i, run in enumerate(folders):
        name = names[i]
        if names.count(name) > 1:
            name = f"{run.path.parent.name}/{name}"
        run.name = name
        run.anchor = f"run-{i + 1}"
    seen: dict[str, int] = {}
    for run in folders:
        seen[run.name] = seen.get(run.name, 0) + 1
        if seen[run.name] > 1:
            run.name = f"{run.name} ({seen[run.name]})"


def _overview(folders: list[Run]) -> str:
    rows = []
    for i, run in enumerate(folders, 1):
        kind = KINDS.get(run.kind)
        headline = _safely(lambda: kind.headline(run), "") if kind and kind.headline else ""
        rows.append([str(i), h.link(run.name, run.anchor), h.span(run.kind, f"kind kind-{run.kind}"),
                     run.config.get("data", ""), headline, _finished(run)])
    return '<nav class="runs"><h3>Runs in this report</h3>' + h.table(
        ["#", "run", "kind", "data", "result", "finished"], rows, align="rllllr") + "</nav>"


def _comparison(kind: str, group: list[Run], context: Context) -> str:
    spec = KINDS.get(kind)
    what = f"{spec.title if spec else kind}s" if all(r.kind == kind for r in group) else "runs"
    title = f"Comparison of {len(group)} {what}: " + ", ".join(r.name for r in group)
    if spec is not None and spec.compare is not None:
        blocks = _build(lambda: spec.compare(group, context), f"the comparison of the {kind} runs")
    else:
        blocks = [Block("Final records side by side", _final_side_by_side(group))]
    return (f'<section class="compare" id="compare-{h.esc(kind)}"><h2>{h.esc(title)}</h2>'
            + "".join(_block_html(b) for b in blocks) + "</section>")


def _run_section(run: Run, context: Context) -> str:
    spec = KINDS.get(run.kind)
    if spec is None:
        blocks = [Block("Final record", h.note(f"No report section is registered for runs of {run.kind!r}; "
                                               "the final record and configuration follow.")
                        + (h.pre(json.dumps(run.final, indent=2)) if run.final else ""))]
    else:
        blocks = _build(lambda: spec.sections(run, context), f"the {run.kind} section of {run.path}")
    for file_name, builder in ATTACHMENTS.items():
        if run.has(file_name) and not (spec and spec.name == file_name):
            blocks += _build(lambda b=builder: b(run, context), f"the {file_name} section of {run.path}")
    wall = _safely(lambda: wall_time(run), "")
    head = (f'<div class="run-head"><span class="kind kind-{h.esc(run.kind)}">{h.esc(run.kind)}</span>'
            f"<h2>{h.esc(run.name)}</h2>"
            + h.facts([("data", run.config.get("dataset") or run.config.get("data")),
                       ("model", _model_text(run.config)),
                       ("finished", _finished(run)),
                       ("wall time", wall),
                       ("folder", str(run.path))])
            + "</div>")
    return (f'<section class="run" id="{run.anchor}">{head}' + "".join(_block_html(b) for b in blocks)
            + _config_details(run) + "</section>")


def _build(make: Callable[[], list[Block]], what: str) -> list[Block]:
    """The blocks `make` returns; a run folder the builder cannot read (an older or unfinished
    run) gets a note instead of stopping the whole report."""
    try:
        return make()
    except (KeyError, TypeError, ValueError, IndexError, OSError) as error:
        log.warning("could not build %s: %r", what, error)
        return [Block("Not shown", h.note(f"Could not build {what}: {type(error).__name__}: {error}",
                                          "warn section-error"))]


def _safely(make, default):
    try:
        return make()
    except (KeyError, TypeError, ValueError, IndexError, OSError):
        return default


def _block_html(block: Block) -> str:
    return (f"<h3>{h.esc(block.title)}</h3>" if block.title else "") + block.html


def _config_details(run: Run) -> str:
    config = run.config
    versions = ", ".join(f"{name} {config[key]}" for name, key in (("winnow", "winnow_version"),
                                                                    ("torch", "torch_version"),
                                                                    ("python", "python_version")) if config.get(key))
    return h.details("Configuration and versions", h.paragraph(versions or "versions not recorded")
                     + h.pre(json.dumps(config, indent=2, sort_keys=False)))


def _model_text(config: dict) -> str:
    model, preset = config.get("model"), config.get("preset")
    if not model:
        return ""
    return f"{model} (preset {preset})" if preset else str(model)


def _finished(run: Run) -> str:
    final = run.file(runs.FINAL)
    if final.is_file():
        return h.timestamp(final.stat().st_mtime)
    if run.kind in OPEN_ENDED:  # a labelling folder grows with every cycle and import: its last change
        latest = max(p.stat().st_mtime for p in run.path.rglob("*") if p.is_file() and p.name != runs.REPORT_HTML)
        return f"ongoing (last change {h.timestamp(latest)})"
    return f"not finished (started {h.timestamp(run.file(runs.CONFIG).stat().st_mtime)})"


def _final_side_by_side(group: list[Run]) -> str:
    keys = list(dict.fromkeys(k for run in group for k, v in (run.final or {}).items()
                              if isinstance(v, (int, float, str)) and not isinstance(v, bool)))
    rows = [[key] + [format_value((run.final or {}).get(key)) for run in group] for key in keys]
    return h.table(["", *[run.name for run in group]], rows)


