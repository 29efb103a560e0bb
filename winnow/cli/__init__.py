"""The `winnow` command line: argument parsing and printing only.

Every command is a Python function in `winnow.experiments`; a command module of this package turns
arguments into that call and the result into tables. A module registers its commands with
`@command`, and `build_parser` finds every module of the package (`pkgutil`), so a new command is
one new module here:

    from . import command

    def add_arguments(parser):
        parser.add_argument("run_dir", metavar="RUN_DIR")

    @command("inspect", add_arguments, help="one line for `winnow --help`", report_kind=None)
    def inspect(args) -> int:
        print(args.run_dir)
        return 0

A name with a space ("al init") is a verb of a group: `winnow al init ...` is parsed by the
group's own parser, and the verbs are listed at the end of `winnow --help`.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys
import textwrap
from dataclasses import dataclass
from typing import Callable

from .. import __version__


@dataclass(frozen=True)
class Command:
    """One registered command: how its arguments are added, how it runs, and which kind of run
    folder it leaves (the report kind of `winnow.report`; None: it writes no report.html)."""

    name: str  # "prune", or "al init" for a verb of the group "al"
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]  # the exit code
    help: str
    description: str | None = None
    epilog: str | None = None
    report_kind: str | None = None

    @property
    def group(self) -> str | None:
        return self.name.split(" ")[0] if " " in self.name else None


COMMANDS: dict[str, Command] = {}  # name -> command, in order of registration
GROUPS: dict[str, str] = {}  # group name -> the description of `winnow GROUP VERB`'s parser


def command(name: str, add_arguments: Callable[[argparse.ArgumentParser], None], *, help: str,
            description: str | None = None, epilog: str | None = None, report_kind: str | None = None):
    """Decorator: register `run(args) -> exit code` as the command `name`, whose parser gets its
    arguments from `add_arguments(parser)`. `report_kind` names the kind of run folder the
    command writes (its --out, or the RUN_DIR or DIR it worked on), whose report.html is rewritten
    after a successful run; None for a command that leaves no run folder of its own."""
    parts = name.split(" ")
    if len(parts) > 2 or not all(part.replace("-", "_").isidentifier() for part in parts):
        raise ValueError(f"command name {name!r}: one word, or a group and a verb ('al init')")

    def decorate(run: Callable[[argparse.Namespace], int]):
        if name in COMMANDS:
            raise ValueError(f"command {name!r} is registered twice")
        COMMANDS[name] = Command(name, add_arguments, run, help, description, epilog, report_kind)
        return run
    return decorate


def command_group(name: str, description: str) -> None:
    """Describe the group `name` whose verbs are commands named "NAME VERB"."""
    GROUPS[name] = description


def discover_commands() -> dict[str, Command]:
    """Import every module of this package (not those named _*), which registers its commands."""
    for module in pkgutil.iter_modules(__path__):
        if not module.name.startswith("_"):
            importlib.import_module(f"{__name__}.{module.name}")
    return COMMANDS


def build_parser(group: str | None = None) -> argparse.ArgumentParser:
    """The parser of `winnow` (group None) or of `winnow GROUP VERB ...`, with a sub-parser per
    registered command of that level."""
    commands = [c for c in discover_commands().values() if c.group == group]
    if group is None:
        verbs = [c for c in COMMANDS.values() if c.group is not None]
        parser = argparse.ArgumentParser(
            prog="winnow", formatter_class=argparse.RawDescriptionHelpFormatter,
            description=textwrap.fill("Winnow chooses the data worth training on: one fast trainer for image "
                                      "classification, and the experiments built on it."),
            epilog="verbs:\n" + "\n".join(f"  {c.name:<20}{c.help}" for c in verbs) if verbs else None,
        )
        parser.add_argument("--version", action="version", version=f"winnow {__version__}")
    else:
        parser = argparse.ArgumentParser(prog=f"winnow {group}", description=GROUPS.get(group))
    parser.add_argument("-v", "--verbose", action="store_true", help="log every epoch")
    subparsers = parser.add_subparsers(dest="verb" if group else "command", metavar="VERB" if group else "COMMAND",
                                       required=True)
    for spec in commands:
        sub = subparsers.add_parser(spec.name.split(" ")[-1], help=spec.help, description=spec.description,
                                    epilog=spec.epilog)
        spec.add_arguments(sub)
        sub.set_defaults(cli_command=spec)
    return parser


def console():
    """A rich console; 160 columns when the output is not a terminal, so tables stay unwrapped in logs."""
    from rich.console import Console

    return Console() if sys.stdout.isatty() else Console(width=160)


def print_results(results: dict, out, *extra_files: str) -> None:
    """The tables a command stored in its results (`Run.finish`), whether anything was run in
    this session, the wall time, and where the files are."""
    from pathlib import Path

    from ..report.registry import timing_text
    from ..runs import RESULTS_CSV, RESULTS_JSON, RESULTS_MD
    from ..table import Table

    output = console()
    for table in results.get("tables", []):
        output.print(Table.from_dict(table).to_rich())
    timing = results.get("timing") or {}
    if results.get("cells_run") == 0:
        output.print(f"all {len(results.get('cells', results.get('cycles', [])))} cells already done: nothing was "
                     "trained; the results are recomputed from the run folder")
    if timing:
        output.print(f"wall time {timing_text(timing)}")
    files = (RESULTS_MD, RESULTS_CSV, RESULTS_JSON, *extra_files)
    output.print(f"results in {', '.join(str(Path(out) / f) for f in files)}")


def _group_of(argv: list[str]) -> str | None:
    """"al" for `al init ...`: the group when the first two words name a registered verb."""
    if len(argv) > 1 and f"{argv[0]} {argv[1]}" in discover_commands():
        return argv[0]
    return None


def _write_run_report(spec: Command, args) -> None:
    """Rewrite the report.html of the run folder a command just wrote (its --out, or the RUN_DIR
    or DIR it worked on). A report that cannot be made is a warning: the run itself is done."""
    if spec.report_kind is None:
        return
    folder = next((getattr(args, name) for name in ("out", "run_dir", "dir") if getattr(args, name, None)), None)
    if folder is None:
        return
    from pathlib import Path

    from ..report import write_report
    from ..runs import REPORT_HTML

    try:
        path = write_report([folder], Path(folder) / REPORT_HTML)
    except Exception as error:  # noqa: BLE001  (a plotting or reading problem must not fail a finished run)
        print(f"winnow {spec.name}: warning: no report written: {type(error).__name__}: {error}", file=sys.stderr)
        return
    print(f"report in {path}")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    group = _group_of(argv)
    args = build_parser(group).parse_args(argv[1:] if group else argv)
    spec: Command = args.cli_command
    args.command = spec.name
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    from ..data import DataError
    from ..experiments.backend import CellsFailed
    from ..progress import reporter
    from ..runs import RunExistsError

    args.on_progress = reporter()  # a bar on a terminal, a plain line at least once a minute otherwise
    try:
        code = spec.run(args)
        if code == 0:
            _write_run_report(spec, args)
        return code
    except (DataError, RunExistsError, FileNotFoundError, ValueError) as error:
        print(f"winnow {spec.name}: error: {error}", file=sys.stderr)
        return 2
    except CellsFailed as error:  # the finished cells are kept: the same command resumes
        print(f"winnow {spec.name}: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"winnow {spec.name}: interrupted", file=sys.stderr)
        return 130
    finally:
        if args.on_progress is not None:
            args.on_progress.close()
