"""What every benchmark result file records about the run: the machine and the date."""

from __future__ import annotations

import json
import platform
from datetime import datetime, timezone
from pathlib import Path

import torch

from winnow import __version__
from winnow.train import resolve_device

RESULTS = Path(__file__).resolve().parent / "results"


def write_result(name: str, record: dict) -> Path:
    """Write `record` with the date and the machine to results/<name>-<device type>.json."""
    device = resolve_device("auto")
    path = RESULTS / f"{name}-{device.type}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    full = {
        "benchmark": name,
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "processor": platform.processor(), "torch": torch.__version__,
                    "threads": torch.get_num_threads(), "device": str(device), "winnow": __version__},
        **record,
    }
    path.write_text(json.dumps(full, indent=2) + "\n")
    return path
