"""`winnow report`: one self-contained HTML page from run folders alone.

    from winnow.report import write_report
    write_report(["runs/al", "runs/al-warm"], "report.html")

The page shows each run by its kind (the "command" of its config.json): training curves,
confusion matrix and per-class accuracy of a trained model; the chosen images of a selection;
pruning results against random and full data; active-learning curves, their areas and the
images picked in each cycle; cleaning flags and their quality; calibration where a run holds
calibration.json; and the resolved config and versions of every run. Several runs of one kind
are also compared side by side. Figures are embedded as PNG data URIs and saved into each run
folder as PNG files; the page has no script and loads nothing from a network.

The report reads run folders (JSON, CSV, NPY) and, for image grids, the run's data through
`winnow.data`; it never trains or loads a model. A new run kind is one builder function
registered with `register_kind` (`registry.py`) in a module named kinds*.py of this package, found automatically.
"""

from .build import read_run_folder, render_report, write_report
from .registry import ATTACHMENTS, KINDS, Block, Context, NotARunFolderError, Run, register_attachment, register_kind

__all__ = ["ATTACHMENTS", "KINDS", "Block", "Context", "NotARunFolderError", "Run", "read_run_folder",
           "register_attachment", "register_kind", "render_report", "write_report"]
