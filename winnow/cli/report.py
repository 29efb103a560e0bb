"""`winnow report`: one self-contained HTML page from run folders."""

from __future__ import annotations

from . import command


def add_arguments(parser) -> None:
    parser.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="run folders written by winnow commands")
    parser.add_argument("--out", default="report.html", metavar="HTML",
                        help="the HTML file to write (default report.html); an existing file is replaced only "
                             "when it is a Winnow report")
    parser.add_argument("--no-images", action="store_true",
                        help="do not load the runs' data for image grids (show tables instead)")
    parser.add_argument("--no-figures", action="store_true",
                        help="embed the figures only; do not write them as PNG files into the run folders")


@command("report", add_arguments, report_kind=None,
         help="one self-contained HTML page from run folders",
         description="Read the run folders and write one HTML file: per run, by its kind, the training curves, "
                     "confusion matrix and per-class accuracy; the chosen images; pruning results against random "
                     "and full data; active-learning curves and the images picked per cycle; cleaning flags; "
                     "calibration; and the config and versions. Runs of the same kind are also compared side by "
                     "side. Images are embedded, so the file opens anywhere without a network; the figures are "
                     "also saved as PNG files in each run folder. Every command writes RUN_DIR/report.html itself "
                     "at its end.",
         epilog="example: winnow report runs/al runs/al-warm --out al.html")
def report(args) -> int:
    from ..report import write_report

    path = write_report(args.run_dirs, args.out, images=not args.no_images, save_figures=not args.no_figures)
    print(f"report of {len(args.run_dirs)} run folder(s) in {path}")
    return 0
