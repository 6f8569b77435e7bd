"""Fixtures for the data_mle tests: the faulty tiny world landed in a lake and ingested."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest

from data_mle.ingest import ingest_day
from shared.lake import Lake

START = dt.date(2026, 1, 5)
DAYS = [START + dt.timedelta(days=k) for k in range(4)]  # the faulty_dataset's days


def land(world: Path, lake_root: Path) -> Lake:
    """Copy a generated world's raw events into a lake's raw zone, as the landing task does."""
    shutil.copytree(world / "raw" / "events", lake_root / "raw" / "events")
    return Lake(lake_root)


@pytest.fixture(scope="session")
def ingested(spark, faulty_dataset, tmp_path_factory):
    """The four faulty tiny days, ingested in order: (lake, counts by day, injected faults)."""
    world, _ = faulty_dataset
    lake = land(world, tmp_path_factory.mktemp("lake"))
    counts = {day: ingest_day(spark, lake, day) for day in DAYS}
    faults = json.loads((world / "_faults.json").read_text())["days"]
    return lake, counts, faults
