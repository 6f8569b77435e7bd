"""A pytest plugin that writes each test's outcome, duration and figure to a JSON file.

Loaded by the exercise tools with `-p workshop.outcomes` and `WORKSHOP_OUTCOMES=<file>`. A check
records the figure its README asks for with pytest's own `record_property("figure", text)`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

_results: dict[str, dict] = {}


def _first_error_line(text: str) -> str:
    """The exception pytest reports ("AssertionError: expected ... got ..."), not the traceback."""
    errors = [line[1:].strip() for line in text.splitlines() if line.startswith("E ")]
    lines = errors or [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0] if lines else ""


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    entry = _results.setdefault(
        report.nodeid, {"outcome": "passed", "seconds": 0.0, "figures": [], "message": ""}
    )
    entry["seconds"] += report.duration
    if report.when == "call":
        entry["figures"] = [str(v) for k, v in report.user_properties if k == "figure"]
    if report.failed:
        entry["outcome"] = "failed" if report.when == "call" else "error"
        entry["message"] = _first_error_line(report.longreprtext)
    elif report.skipped and entry["outcome"] == "passed":
        entry["outcome"] = "skipped"
        entry["message"] = str(report.longrepr[-1]) if isinstance(report.longrepr, tuple) else ""


def pytest_sessionfinish(session: pytest.Session) -> None:
    target = os.environ.get("WORKSHOP_OUTCOMES")
    if target:
        Path(target).write_text(json.dumps(_results, indent=1))
