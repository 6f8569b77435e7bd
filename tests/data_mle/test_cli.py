"""The steps' shared command line: a missing input is one line on stderr and exit status 1."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys

import pytest

from shared.lake import Lake
from shared.settings import REPO_ROOT

pytestmark = pytest.mark.slow


def test_a_step_without_its_input_says_so_in_one_line(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "data_mle.ingest", "--day", "2026-01-05", "--lake", str(tmp_path)],
        capture_output=True, text=True, timeout=180, cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )  # fmt: skip
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("ingest: error:")]
    missing = Lake(tmp_path).raw_events(dt.date(2026, 1, 5))
    assert errors == [f"ingest: error: no raw partition for 2026-01-05: {missing} does not exist"]
    assert "Traceback" not in result.stderr


def test_a_bad_day_is_refused_before_spark_starts(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "data_mle.features", "--day", "yesterday"],
        capture_output=True, text=True, timeout=60,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )  # fmt: skip
    assert result.returncode == 2 and "invalid fromisoformat value" in result.stderr
