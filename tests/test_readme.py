"""Every Python block of README.md runs as written: the blocks run in order in one namespace (a
later block may use what an earlier one made), in an empty working folder."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks(text: str) -> list[tuple[int, str]]:
    """(line number, code) of every ```python block."""
    blocks = []
    for match in re.finditer(r"^```python\n(.*?)^```", text, re.S | re.M):
        blocks.append((text.count("\n", 0, match.start()) + 2, match.group(1)))
    return blocks


def test_the_readme_has_python_blocks_and_they_are_found():
    blocks = python_blocks("# x\n```python\na = 1\n```\ntext\n```\nshell\n```\n```python\nb = a\n```\n")
    assert blocks == [(3, "a = 1\n"), (10, "b = a\n")]


def test_every_python_block_of_the_readme_runs(tmp_path, monkeypatch, one_thread):
    blocks = python_blocks(README.read_text(encoding="utf-8"))
    assert len(blocks) >= 3
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "readme"}
    for line, code in blocks:
        try:
            exec(compile(code, f"README.md:{line}", "exec"), namespace)
        except Exception as error:  # noqa: BLE001  (name the block that failed)
            raise AssertionError(f"the README block at line {line} fails: {type(error).__name__}: {error}") from error
